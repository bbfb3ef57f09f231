"""Printable voucher sheets for clients without a phone: eight cards per A4 page, cut along the lines.

A card shows the program's name, the voucher code in large type, its QR code, short instructions in
German and English and, only if the NGO asks for it, a label of its choice (a first name, a case
number). By default nothing about the person is printed.
"""

from __future__ import annotations

import io
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from fpdf import FPDF

from governance.vouchers import parse_code, qr_png

_COLUMNS, _ROWS = 2, 4
_PAGE_W, _PAGE_H = 210.0, 297.0
_MARGIN = 10.0
_CARD_W = (_PAGE_W - 2 * _MARGIN) / _COLUMNS
_CARD_H = (_PAGE_H - 2 * _MARGIN) / _ROWS
_PAD = 5.0
_QR = 30.0

INSTRUCTIONS_DE = (
    "So erhalten Sie Ihre Hilfe: Zeigen Sie diesen Gutschein bei der Ausgabestelle vor oder geben Sie "
    "den Code mit Ihrer PIN im Portal ein. Der Code gilt nur für Sie - bitte nicht weitergeben."
)
INSTRUCTIONS_EN = (
    "How to receive your aid: show this voucher at the aid desk, or enter the code with your PIN on "
    "the portal. The code is for you alone - please do not share it."
)


_TYPOGRAPHY = str.maketrans(
    {
        "\u2013": "-",  # en dash
        "\u2014": "-",  # em dash
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": ",",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u2026": "...",
        "\u20ac": "EUR",
    }
)


def printable(text: str) -> str:
    """`text` in the PDF core fonts' Latin-1: typographic marks simplified, accents kept where possible."""
    out = []
    for ch in text.translate(_TYPOGRAPHY):
        if ord(ch) < 256:
            out.append(ch)
            continue
        base = unicodedata.normalize("NFKD", ch).encode("latin-1", "ignore").decode("latin-1")
        out.append(base or "?")
    return "".join(out)


@dataclass(frozen=True)
class VoucherCard:
    """One voucher to print: its code and, if the NGO wants one, a label printed on the card."""

    code: str
    label: str | None = None


def render_voucher_sheets(
    program_name: str,
    cards: Sequence[VoucherCard],
    *,
    valid_until: str | None = None,
    claim_url: str | None = None,
) -> bytes:
    """The PDF (bytes) with one card per voucher, eight to a page."""
    if not cards:
        raise ValueError("no vouchers to print")
    pdf = FPDF(orientation="P", unit="mm", format="A4")
    pdf.set_auto_page_break(False)
    program_name = printable(program_name)
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
        _card(pdf, x, y, program_name, card, valid_until, claim_url)
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


def _card(
    pdf: FPDF,
    x: float,
    y: float,
    program_name: str,
    card: VoucherCard,
    valid_until: str | None,
    claim_url: str | None,
) -> None:
    code = parse_code(card.code)  # refuses to print a code with a typo
    inner_w = _CARD_W - 2 * _PAD
    text_w = inner_w - _QR - 3
    pdf.set_text_color(0, 0, 0)
    pdf.set_xy(x + _PAD, y + _PAD)
    pdf.set_font("Helvetica", "B", 11)
    pdf.multi_cell(text_w, 5, program_name, align="L", max_line_height=5)
    pdf.set_x(x + _PAD)
    pdf.set_font("Helvetica", "", 8)
    pdf.cell(text_w, 4, "Gutschein / Voucher", new_x="LMARGIN", new_y="NEXT")
    if card.label:
        pdf.set_x(x + _PAD)
        pdf.cell(text_w, 4, printable(card.label), new_x="LMARGIN", new_y="NEXT")
    if valid_until:
        pdf.set_x(x + _PAD)
        pdf.cell(
            text_w, 4, f"Gültig bis / valid until: {printable(valid_until)}", new_x="LMARGIN", new_y="NEXT"
        )
    pdf.image(io.BytesIO(qr_png(code, claim_url)), x=x + _CARD_W - _PAD - _QR, y=y + _PAD, w=_QR, h=_QR)

    pdf.set_xy(x + _PAD, y + _PAD + _QR + 1)
    pdf.set_font("Courier", "B", 17)
    pdf.cell(inner_w, 9, code, align="C")

    pdf.set_xy(x + _PAD, y + _PAD + _QR + 12)
    pdf.set_font("Helvetica", "", 6.5)
    pdf.multi_cell(inner_w, 3, INSTRUCTIONS_DE, align="L", max_line_height=3)
    pdf.set_x(x + _PAD)
    pdf.set_text_color(90, 90, 90)
    pdf.multi_cell(inner_w, 3, INSTRUCTIONS_EN, align="L", max_line_height=3)
