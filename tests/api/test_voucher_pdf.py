"""Printable voucher sheets: pages, codes, QR images that open the sign-in page, instructions in German
and the client's language, every name as written (read back from the PDF), and no personal data by
default; over HTTP, a sheet of the vouchers a request just issued, downloadable once and never stored."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import segno
from fastapi.testclient import TestClient
from PIL import Image
from pypdf import PdfReader

from api.gateway import Gateway, NotFound
from api.i18n import LANGUAGES, translate
from api.services.voucher_sheets import SheetLanguage, VoucherSheets
from api.voucher_pdf import INSTRUCTIONS, VoucherCard, render_voucher_sheets
from governance.errors import VoucherCodeError
from governance.vouchers import ProgramRef, new_client_secret, qr_png, voucher_code, voucher_qr
from tests.api.conftest import Keys, auth, database_text

PROGRAM = ProgramRef(1337, "0x" + "ab" * 20, 4)
URL = "https://hilfe.example.org/client/sign-in"


def _codes(n: int) -> list[str]:
    return [voucher_code(new_client_secret(), PROGRAM) for _ in range(n)]


def _text(pdf: bytes) -> str:
    """The text a reader of the PDF gets back (through the embedded fonts' Unicode maps)."""
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def _page_count(pdf: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page\b", pdf))


def test_sheet_prints_eight_vouchers_a_page_with_code_qr_and_instructions() -> None:
    codes = _codes(9)
    pdf = render_voucher_sheets(
        "Lebensmittelhilfe Nord",
        [VoucherCard(c, None, "en") for c in codes],
        sign_in_url=URL,
        valid_until="31.01.2027",
    )
    assert pdf.startswith(b"%PDF-")
    assert _page_count(pdf) == 2
    text = _text(pdf)
    for code in codes:
        assert code in text
    assert text.count("Lebensmittelhilfe Nord") == 9
    assert "31.01.2027" in text
    assert "Gutschein" in text and "Voucher" in text
    assert "Ausgabestelle" in text and "aid desk" in text  # German and the client's English
    assert text.count(URL) == 18  # the address in words, in both languages on every card
    assert len(re.findall(rb"/Subtype\s*/Image", pdf)) == 9  # one QR code per card


def test_nothing_about_the_person_unless_the_ngo_prints_a_label() -> None:
    codes = _codes(2)
    plain = _text(render_voucher_sheets("Winterhilfe", [VoucherCard(c) for c in codes], sign_in_url=URL))
    labelled = _text(
        render_voucher_sheets(
            "Winterhilfe", [VoucherCard(codes[0], "Fall 0815"), VoucherCard(codes[1])], sign_in_url=URL
        )
    )
    assert "Fall 0815" not in plain
    assert "Fall 0815" in labelled


def test_a_code_with_a_typo_is_never_printed() -> None:
    code = _codes(1)[0]
    typo = ("B" if code[0] != "B" else "C") + code[1:]
    with pytest.raises(VoucherCodeError):
        render_voucher_sheets("Winterhilfe", [VoucherCard(typo)], sign_in_url=URL)
    with pytest.raises(ValueError, match="no vouchers"):
        render_voucher_sheets("Winterhilfe", [], sign_in_url=URL)


NAMES = {
    "uk": ("Олена Коваленко", "Допомога взимку"),
    "ru": ("Наталья Смирнова", "Зимняя помощь"),
    "ar": ("فاطمة الزهراء", "مساعدة الشتاء"),
    "fa": ("زهرا محمدی", "کمک زمستانی"),
    "tr": ("Yıldız Çağlar Şahin", "Kış yardımı"),  # noqa: RUF001 (Turkish dotless i)
}


@pytest.mark.parametrize("lang", sorted(NAMES))
def test_every_name_prints_as_written_and_the_card_speaks_the_clients_language_and_german(lang: str) -> None:
    name, program = NAMES[lang]
    url = URL
    code = _codes(1)[0]
    pdf = render_voucher_sheets(
        program, [VoucherCard(code, name, lang)], valid_until="31.01.2027", sign_in_url=url
    )
    text = _text(pdf)
    words = set(text.split())
    # right-to-left scripts come back in visual order: word by word, each word as written
    for word in f"{name} {program}".split():
        assert word in words, f"{word!r} not in {text!r}"
    assert code in text and url in text  # the address in words
    assert "Ausgabestelle" in text  # German
    theirs = translate(lang, INSTRUCTIONS, address=url)
    for word in theirs.split()[:4]:
        assert word.strip(".,:") in text, word
    assert "??" not in text  # what a font without these letters used to print


def test_the_qr_code_opens_the_sign_in_page_with_the_code_filled_in() -> None:
    code = _codes(1)[0]
    url = URL
    pdf = PdfReader(io.BytesIO(render_voucher_sheets("Winterhilfe", [VoucherCard(code)], sign_in_url=url)))
    printed = next(iter(pdf.pages[0].images)).image
    assert isinstance(printed, Image.Image)
    assert voucher_qr(code, url).designator and f"{url}?voucher={code}" == _qr_content(code, url)
    expected = Image.open(io.BytesIO(qr_png(code, url))).convert("L")
    assert printed.convert("L").tobytes() == expected.tobytes()  # the very QR code of that address
    bare = Image.open(io.BytesIO(qr_png(code))).convert("L")
    assert printed.convert("L").tobytes() != bare.tobytes()


def _qr_content(code: str, url: str) -> str:
    """What a phone reads from the card's QR code: segno decodes nothing, so rebuild its input."""
    for candidate in (f"{url}?voucher={code}",):
        if segno.make_qr(candidate, error="m").matrix == voucher_qr(code, url).matrix:
            return candidate
    return ""


def test_the_cards_languages_are_the_pages_languages() -> None:
    assert set(SheetLanguage.__args__) == set(LANGUAGES)  # type: ignore[attr-defined]


def test_instructions_fit_the_card() -> None:
    for lang in LANGUAGES:
        assert len(translate(lang, INSTRUCTIONS, address=URL)) < 300


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="poppler's pdftoppm is not installed")
def test_sheet_renders_to_an_image(tmp_path: Path) -> None:
    pdf = tmp_path / "vouchers.pdf"
    pdf.write_bytes(
        render_voucher_sheets("Winterhilfe", [VoucherCard(c) for c in _codes(3)], sign_in_url=URL)
    )
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
    assert reg["voucherCode"] in text and "Winterhilfe Nord" in text
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
        assert row["voucherCode"] in text
    assert "Anna Alt" in text and "Bernd Bau" in text
    assert len(re.findall(r"^ngo$", text, re.M)) == 2  # the title defaults to the NGO's name

    nobody = client.post(
        "/v1/ngo/clients/import?voucherSheet=true",
        content="name,birthDate\nAnna Alt,1950-01-01\n",  # registered already: no client, no sheet
        headers={**auth(keys.ngo), "Content-Type": "text/csv"},
    )
    assert nobody.json()["voucherSheet"] is None and nobody.json()["duplicates"]
    assert gateway.clients.sheets.pending() == 0


def test_a_pin_reset_can_print_the_new_voucher_in_the_clients_language(
    client: TestClient, keys: Keys, gateway: Gateway
) -> None:
    reg = client.post(
        "/v1/ngo/clients", json={"personal": {"name": "Clara Neu"}, "pin": "2468"}, headers=auth(keys.ngo)
    ).json()
    r = client.post(
        f"/v1/ngo/clients/{reg['clientId']}/pin-reset?voucherSheet=true&sheetLabel=name&sheetLanguage=uk",
        json={"recoveryCode": reg["recoveryCode"], "newPin": "1357"},
        headers=auth(keys.ngo),
    )
    assert r.status_code == 201, r.text
    text = _text(client.get(r.json()["voucherSheet"]["href"], headers=auth(keys.ngo)).content)
    assert r.json()["voucherCode"] in text and "Clara Neu" in text
    assert reg["voucherCode"] not in text
    assert "Gutschein / Ваучер" in text and "Як отримати допомогу" in text  # German and Ukrainian
    assert text.count(gateway.settings.sign_in_url) == 2  # the gateway's own sign-in address, in words


def test_held_sheets_expire_and_the_oldest_give_way() -> None:
    cards = [VoucherCard(c) for c in _codes(1)]
    expired = VoucherSheets(ttl_s=0, sign_in_url=URL)
    held = expired.hold("ngo", "T", cards)
    with pytest.raises(NotFound):
        expired.take("ngo", held.sheet_id)
    sheets = VoucherSheets(ttl_s=600, max_pending=2, sign_in_url=URL)
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
