"""Printable voucher sheets: pages, codes, QR images and instructions, and no personal data by default."""

from __future__ import annotations

import re
import shutil
import subprocess
import zlib
from pathlib import Path

import pytest

from api.voucher_pdf import INSTRUCTIONS_DE, INSTRUCTIONS_EN, VoucherCard, printable, render_voucher_sheets
from governance.exceptions import VoucherCodeError
from governance.vouchers import ProgramRef, new_client_secret, voucher_code

PROGRAM = ProgramRef(1337, "0x" + "ab" * 20, 4)


def _codes(n: int) -> list[str]:
    return [voucher_code(new_client_secret(), PROGRAM) for _ in range(n)]


def _text(pdf: bytes) -> str:
    """Every content stream of the PDF, inflated, as Latin-1 text."""
    streams = re.findall(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.S)
    out = []
    for raw in streams:
        try:
            out.append(zlib.decompress(raw).decode("latin-1"))
        except zlib.error:
            out.append(raw.decode("latin-1"))
    return "\n".join(out)


def _page_count(pdf: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page\b", pdf))


def test_sheet_prints_eight_vouchers_a_page_with_code_qr_and_instructions() -> None:
    codes = _codes(9)
    pdf = render_voucher_sheets(
        "Lebensmittelhilfe Nord", [VoucherCard(c) for c in codes], valid_until="31.01.2027"
    )
    assert pdf.startswith(b"%PDF-")
    assert _page_count(pdf) == 2
    text = _text(pdf)
    for code in codes:
        assert f"({code})" in text
    assert text.count("(Lebensmittelhilfe Nord)") == 9
    assert "31.01.2027" in text
    assert "Gutschein" in text and "Voucher" in text
    assert "Ausgabestelle" in text and "aid desk" in text  # German and English instructions
    assert len(re.findall(rb"/Subtype\s*/Image", pdf)) == 9  # one QR code per card


def test_nothing_about_the_person_unless_the_ngo_prints_a_label() -> None:
    codes = _codes(2)
    plain = _text(render_voucher_sheets("Winterhilfe", [VoucherCard(c) for c in codes]))
    labelled = _text(
        render_voucher_sheets("Winterhilfe", [VoucherCard(codes[0], "Fall 0815"), VoucherCard(codes[1])])
    )
    assert "Fall 0815" not in plain
    assert "Fall 0815" in labelled


def test_a_code_with_a_typo_is_never_printed() -> None:
    code = _codes(1)[0]
    typo = ("B" if code[0] != "B" else "C") + code[1:]
    with pytest.raises(VoucherCodeError):
        render_voucher_sheets("Winterhilfe", [VoucherCard(typo)])
    with pytest.raises(ValueError, match="no vouchers"):
        render_voucher_sheets("Winterhilfe", [])


def test_names_outside_latin1_are_printed_plainly() -> None:
    assert printable("Hilfe \u2013 \u201eNord\u201c \u2026 5 \u20ac") == 'Hilfe - "Nord" ... 5 EUR'
    assert printable("Čapek Straße Łódź") == "Capek Straße ?ódz"  # accents dropped, the rest kept or ?
    pdf = render_voucher_sheets("Čapek \u2013 Hilfe", [VoucherCard(_codes(1)[0])])
    assert "(Capek - Hilfe)" in _text(pdf)


def test_instructions_fit_the_card() -> None:
    assert len(INSTRUCTIONS_DE) < 260 and len(INSTRUCTIONS_EN) < 260


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="poppler's pdftoppm is not installed")
def test_sheet_renders_to_an_image(tmp_path: Path) -> None:
    pdf = tmp_path / "vouchers.pdf"
    pdf.write_bytes(render_voucher_sheets("Winterhilfe", [VoucherCard(c) for c in _codes(3)]))
    subprocess.run(["pdftoppm", "-r", "30", "-png", str(pdf), str(tmp_path / "page")], check=True)
    page = tmp_path / "page-1.png"
    assert page.read_bytes().startswith(b"\x89PNG")
