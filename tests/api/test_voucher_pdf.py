"""Printable voucher sheets: pages, codes, QR images and instructions, and no personal data by default;
over HTTP, a sheet of the vouchers a request just issued, downloadable once and never stored."""

from __future__ import annotations

import re
import shutil
import subprocess
import zlib
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.gateway import Gateway, NotFound
from api.voucher_pdf import INSTRUCTIONS_DE, INSTRUCTIONS_EN, VoucherCard, printable, render_voucher_sheets
from api.voucher_sheets import VoucherSheets
from governance.exceptions import VoucherCodeError
from governance.vouchers import ProgramRef, new_client_secret, voucher_code
from tests.api.conftest import Keys, auth, database_text

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


# --- over HTTP: a sheet of the vouchers just issued, downloadable once ---------------------------


def test_a_registration_holds_its_voucher_card_for_one_download_by_its_ngo(
    client: TestClient, keys: Keys, gateway: Gateway
) -> None:
    r = client.post(
        "/v1/ngo/clients?voucherSheet=true&sheetTitle=Winterhilfe%20Nord",
        json={"personal": {"name": "Maria Muster"}},
        headers=auth(keys.ngo),
    )
    assert r.status_code == 201, r.text
    reg = r.json()
    assert reg["recoveryCode"] and reg["pin"]  # the JSON still carries everything shown once
    sheet = reg["voucherSheet"]
    assert sheet["cards"] == 1 and sheet["expiresIn"] == gateway.settings.voucher_sheet_ttl_s
    assert sheet["href"] == f"/v1/ngo/voucher-sheets/{sheet['sheetId']}"

    other = client.get(sheet["href"], headers=auth(keys.ngo2))  # another NGO finds nothing
    assert (other.status_code, other.json()["code"]) == (404, "UnknownVoucherSheet")
    pdf = client.get(sheet["href"], headers=auth(keys.ngo))
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.headers["cache-control"] == "no-store"
    text = _text(pdf.content)
    assert f"({reg['voucherCode']})" in text and "(Winterhilfe Nord)" in text
    assert "Maria" not in text and reg["recoveryCode"] not in text and reg["pin"] not in text
    again = client.get(sheet["href"], headers=auth(keys.ngo))
    assert (again.status_code, again.json()["code"]) == (404, "UnknownVoucherSheet")
    assert again.headers["content-type"].startswith("application/problem+json")

    plain = client.post("/v1/ngo/clients", json={"personal": {"name": "Ohne Blatt"}}, headers=auth(keys.ngo))
    assert plain.json()["voucherSheet"] is None
    stored = database_text(gateway)
    for code in (reg["voucherCode"], plain.json()["voucherCode"]):
        assert code not in stored and code.replace("-", "") not in stored


def test_an_import_prints_one_card_per_client_created_and_names_only_on_request(
    client: TestClient, keys: Keys, gateway: Gateway
) -> None:
    csv_text = "name,birthDate\nAnna Alt,1950-01-01\nBernd Bau,1960-02-02\nanna alt,1950-01-01\n,\n"
    r = client.post(
        "/v1/ngo/clients/import?voucherSheet=true&sheetLabel=name",
        content=csv_text,
        headers={**auth(keys.ngo), "Content-Type": "text/csv"},
    )
    assert r.status_code == 200, r.text
    report = r.json()
    assert len(report["created"]) == 2 and len(report["duplicates"]) == 1 and len(report["errors"]) == 1
    assert report["voucherSheet"]["cards"] == 2
    pdf = client.get(report["voucherSheet"]["href"], headers=auth(keys.ngo)).content
    text = _text(pdf)
    for row in report["created"]:
        assert f"({row['voucherCode']})" in text
    assert "(Anna Alt)" in text and "(Bernd Bau)" in text
    assert text.count("(ngo)") == 2  # the title defaults to the NGO's name

    nobody = client.post(
        "/v1/ngo/clients/import?voucherSheet=true",
        content="name,birthDate\nAnna Alt,1950-01-01\n",  # registered already: no client, no sheet
        headers={**auth(keys.ngo), "Content-Type": "text/csv"},
    )
    assert nobody.json()["voucherSheet"] is None and nobody.json()["duplicates"]
    assert gateway.clients.sheets.pending() == 0


def test_a_pin_reset_can_print_the_new_voucher(client: TestClient, keys: Keys) -> None:
    reg = client.post(
        "/v1/ngo/clients", json={"personal": {"name": "Clara Neu"}, "pin": "2468"}, headers=auth(keys.ngo)
    ).json()
    r = client.post(
        f"/v1/ngo/clients/{reg['clientId']}/pin-reset?voucherSheet=true&sheetLabel=name",
        json={"recoveryCode": reg["recoveryCode"], "newPin": "1357"},
        headers=auth(keys.ngo),
    )
    assert r.status_code == 201, r.text
    text = _text(client.get(r.json()["voucherSheet"]["href"], headers=auth(keys.ngo)).content)
    assert f"({r.json()['voucherCode']})" in text and "(Clara Neu)" in text
    assert reg["voucherCode"] not in text


def test_held_sheets_expire_and_the_oldest_give_way() -> None:
    cards = [VoucherCard(c) for c in _codes(1)]
    expired = VoucherSheets(ttl_s=0)
    held = expired.hold("ngo", "T", cards)
    with pytest.raises(NotFound):
        expired.take("ngo", held.sheet_id)
    sheets = VoucherSheets(ttl_s=600, max_pending=2)
    first, second, third = (sheets.hold("ngo", "T", cards) for _ in range(3))
    assert sheets.pending() == 2
    with pytest.raises(NotFound):
        sheets.take("ngo", first.sheet_id)
    with pytest.raises(NotFound):
        sheets.take("other ngo", second.sheet_id)
    assert sheets.take("ngo", second.sheet_id).startswith(b"%PDF-")
    assert sheets.take("ngo", third.sheet_id).startswith(b"%PDF-")
    with pytest.raises(ValueError, match="no vouchers"):
        sheets.hold("ngo", "T", [])


def test_one_ngo_filling_its_pool_of_sheets_never_pushes_out_another_ngos() -> None:
    cards = [VoucherCard(c) for c in _codes(1)]
    sheets = VoucherSheets(ttl_s=600, max_pending=2)
    theirs = sheets.hold("ngo b", "T", cards)
    flood = [sheets.hold("ngo a", "T", cards) for _ in range(5)]
    assert (sheets.pending("ngo a"), sheets.pending("ngo b"), sheets.pending()) == (2, 1, 3)
    with pytest.raises(NotFound):
        sheets.take("ngo a", theirs.sheet_id)  # nor can it read the other's
    assert sheets.take("ngo b", theirs.sheet_id).startswith(b"%PDF-")
    assert sheets.take("ngo a", flood[-1].sheet_id).startswith(b"%PDF-")
    with pytest.raises(NotFound):
        sheets.take("ngo a", flood[0].sheet_id)  # its own oldest gave way
