"""Printable voucher sheets for clients without a phone: eight cards per A4 page, cut along the lines.

A card shows the program's name, the voucher code in large type, a QR code that opens the sign-in
page with the code filled in, that page's address in words, and short instructions in German and,
when the client chose another language, in theirs too. Only if the NGO asks for it, a label of its
choice (a first name, a case number) is printed. By default nothing about the person is printed.

Every text prints as written, in any script: Noto Sans (Latin, Cyrillic, Greek) and Noto Sans
Arabic from Debian's `fonts-noto-core` are embedded (DejaVu from `fonts-dejavu-core` where Noto is
missing), and Arabic and Persian are shaped and laid out right to left by HarfBuzz (`uharfbuzz`).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from fpdf import FPDF

from api.i18n import LANGUAGES, direction, translate
from governance.vouchers import parse_code, qr_png

_COLUMNS, _ROWS = 2, 4
_PAGE_W, _PAGE_H = 210.0, 297.0
_MARGIN = 10.0
_CARD_W = (_PAGE_W - 2 * _MARGIN) / _COLUMNS
_CARD_H = (_PAGE_H - 2 * _MARGIN) / _ROWS
_PAD = 5.0
_QR = 30.0

FONT_DIRS: Final = (Path("/usr/share/fonts/truetype/noto"), Path("/usr/share/fonts/truetype/dejavu"))
FONTS: Final = {
    # family: candidate files in order of preference, (regular, bold)
    "Sans": (("NotoSans-Regular.ttf", "DejaVuSans.ttf"), ("NotoSans-Bold.ttf", "DejaVuSans-Bold.ttf")),
    "Arabic": (("NotoSansArabic-Regular.ttf",), ("NotoSansArabic-Bold.ttf",)),
    "Mono": ((), ("NotoSansMono-Bold.ttf", "DejaVuSansMono-Bold.ttf")),
}


class FontMissing(RuntimeError):
    """A font the voucher cards embed is not installed (`make setup` installs Debian's font packages)."""


def N_(message: str) -> str:
    """Marks `message` for extraction into the message catalogs; translated when printed."""
    return message


VOUCHER = N_("Voucher")
VALID_UNTIL = N_("Valid until %(date)s")
INSTRUCTIONS = N_(
    "How to receive your aid: show this voucher at the aid desk, or sign in with the code and your "
    "PIN at %(address)s. The code is for you alone. Please do not share it."
)


@dataclass(frozen=True)
class VoucherCard:
    """One voucher to print: its code, if the NGO wants one a label printed on the card, and the
    language the client reads (printed next to German)."""

    code: str
    label: str | None = None
    language: str = "de"


def _font_file(names: Sequence[str]) -> Path:
    for name in names:
        for folder in FONT_DIRS:
            if (folder / name).is_file():
                return folder / name
    raise FontMissing(f"none of {', '.join(names)} is installed: apt-get install fonts-noto-core")


def _new_pdf() -> FPDF:
    pdf = FPDF(orientation="P", unit="mm", format="A4")
    pdf.set_auto_page_break(False)
    for family, (regular, bold) in FONTS.items():
        if regular:
            pdf.add_font(family, "", str(_font_file(regular)))
        if bold:
            pdf.add_font(family, "B", str(_font_file(bold)))
    pdf.set_fallback_fonts(["Arabic"], exact_match=False)
    pdf.set_text_shaping(True)
    return pdf


def render_voucher_sheets(
    program_name: str,
    cards: Sequence[VoucherCard],
    *,
    sign_in_url: str,
    valid_until: str | None = None,
) -> bytes:
    """The PDF (bytes) with one card per voucher, eight to a page; the QR code opens `sign_in_url`
    (the client pages' sign-in page) with the code filled in, and the card prints that address."""
    if not cards:
        raise ValueError("no vouchers to print")
    pdf = _new_pdf()
    pdf.set_title(f"Gutscheine / Vouchers - {program_name}")
    pdf.set_creator("Allmende")
    per_page = _COLUMNS * _ROWS
    for i, card in enumerate(cards):
        if i % per_page == 0:
            pdf.add_page()
            _cut_lines(pdf)
        slot = i % per_page
        x = _MARGIN + (slot % _COLUMNS) * _CARD_W
        y = _MARGIN + (slot // _COLUMNS) * _CARD_H
        _card(pdf, x, y, program_name, card, valid_until, sign_in_url)
    return bytes(pdf.output())


def _cut_lines(pdf: FPDF) -> None:
    pdf.set_draw_color(170, 170, 170)
    pdf.set_line_width(0.2)
    pdf.set_dash_pattern(dash=2, gap=2)
    for c in range(_COLUMNS + 1):
        x = _MARGIN + c * _CARD_W
        pdf.line(x, _MARGIN, x, _PAGE_H - _MARGIN)
    for r in range(_ROWS + 1):
        y = _MARGIN + r * _CARD_H
        pdf.line(_MARGIN, y, _PAGE_W - _MARGIN, y)
    pdf.set_dash_pattern()


def _texts(card: VoucherCard, valid_until: str | None, address: str) -> list[dict[str, str]]:
    """The card's words in German and, if the client reads another language, in theirs."""
    languages = ["de"] if card.language == "de" or card.language not in LANGUAGES else ["de", card.language]
    return [
        {
            "voucher": translate(lang, VOUCHER),
            "valid": translate(lang, VALID_UNTIL, date=valid_until) if valid_until else "",
            "instructions": translate(lang, INSTRUCTIONS, address=address),
            "align": "R" if direction(lang) == "rtl" else "L",
        }
        for lang in languages
    ]


def _card(
    pdf: FPDF,
    x: float,
    y: float,
    program_name: str,
    card: VoucherCard,
    valid_until: str | None,
    sign_in_url: str,
) -> None:
    code = parse_code(card.code)  # refuses to print a code with a typo
    texts = _texts(card, valid_until, sign_in_url)
    inner_w = _CARD_W - 2 * _PAD
    text_w = inner_w - _QR - 3
    pdf.set_text_color(0, 0, 0)
    pdf.set_xy(x + _PAD, y + _PAD)
    pdf.set_font("Sans", "B", 11)
    pdf.multi_cell(text_w, 5, program_name, align="L", max_line_height=5, new_x="LEFT", new_y="NEXT")
    pdf.set_font("Sans", "", 8)
    pdf.cell(text_w, 4, " / ".join(words["voucher"] for words in texts), new_x="LEFT", new_y="NEXT")
    if card.label:
        pdf.cell(text_w, 4, card.label, new_x="LEFT", new_y="NEXT")
    if valid_until:
        for words in texts:
            pdf.cell(text_w, 4, words["valid"], new_x="LEFT", new_y="NEXT")
    pdf.image(io.BytesIO(qr_png(code, sign_in_url)), x=x + _CARD_W - _PAD - _QR, y=y + _PAD, w=_QR, h=_QR)

    pdf.set_xy(x + _PAD, y + _PAD + _QR + 1)
    pdf.set_font("Mono", "B", 16)
    pdf.cell(inner_w, 8, code, align="C")

    pdf.set_xy(x + _PAD, y + _PAD + _QR + 10)
    pdf.set_font("Sans", "", 6)
    for i, words in enumerate(texts):
        shade = 0 if i == 0 else 60
        pdf.set_text_color(shade, shade, shade)
        pdf.multi_cell(
            inner_w,
            2.8,
            words["instructions"],
            align=words["align"],
            max_line_height=2.8,
            new_x="LEFT",
            new_y="NEXT",
        )
