"""The message catalogs: the committed template is what the code says today, every language translates
every message (nothing fuzzy, the same placeholders), the language a browser gets, and money and dates
in each language."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

from api.i18n import (
    DEFAULT_LANGUAGE,
    LANGUAGES,
    LOCALE_DIR,
    PROBLEMS,
    choose,
    direction,
    from_accept_language,
    language_name,
    locked_text,
    translate,
    wrong_pin_text,
)
from api.pages import _format

ROOT = Path(__file__).resolve().parents[2]
PYBABEL = Path(sys.executable).parent / "pybabel"


def _catalog(path: Path, lang: str | None = None) -> Catalog:
    with path.open("rb") as f:
        return read_po(f, locale=lang)


def _ids(catalog: Catalog) -> set[object]:
    return {m.id for m in catalog if m.id}


def _extract(out: Path) -> Catalog:
    """The template as `make messages` extracts it from the code now."""
    make = (ROOT / "Makefile").read_text(encoding="utf-8")
    keywords = [w for w in make.split() if w.startswith("tn:") or w.startswith("translate_plural:")]
    assert keywords, "the Makefile's messages target names the plural keywords"
    args = ["-k", "t", "-k", "N_"] + [a for k in keywords for a in ("-k", k)]
    subprocess.run(
        [
            str(PYBABEL),
            "extract",
            "-F",
            "babel.cfg",
            *args,
            "--no-location",
            "--omit-header",
            "-o",
            str(out),
            ".",
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    return _catalog(out)


def test_the_committed_template_holds_exactly_the_messages_of_the_code(tmp_path: Path) -> None:
    fresh = _extract(tmp_path / "messages.pot")
    committed = _catalog(LOCALE_DIR / "messages.pot")
    assert _ids(fresh) - _ids(committed) == set(), "new messages: run `make messages` and translate them"
    assert _ids(committed) - _ids(fresh) == set(), "stale messages: run `make messages`"
    assert len(_ids(fresh)) > 50 and PROBLEMS["Other"] in _ids(fresh)


def _faults(lang: str, catalog: Catalog) -> list[str]:
    """What keeps a catalog from being complete: untranslated, fuzzy, placeholders changed, English."""
    faults = []
    for message in catalog:
        if not message.id:
            continue
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if message.fuzzy:
            faults.append(f"fuzzy: {message.id!r}")
        if len(strings) != (catalog.num_plurals if message.pluralizable else 1):
            faults.append(f"plural forms: {message.id!r}")
        if not all(s.strip() for s in strings):
            faults.append(f"untranslated: {message.id!r}")
        faults += [f"{message.id!r}: {error}" for error in message.check(catalog)]
        if (
            lang != "en"
            and not message.pluralizable
            and len(message.id) > 12
            and message.string == message.id
        ):
            faults.append(f"left in English: {message.id!r}")
    return faults


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_language_translates_every_message_with_its_placeholders(lang: str) -> None:
    template = _catalog(LOCALE_DIR / "messages.pot")
    catalog = _catalog(LOCALE_DIR / lang / "LC_MESSAGES" / "messages.po", lang)
    assert _ids(catalog) == _ids(template), "run `make messages`"
    assert _faults(lang, catalog) == []


def test_an_untranslated_fuzzy_or_broken_entry_is_caught(tmp_path: Path) -> None:
    text = (LOCALE_DIR / "de" / "LC_MESSAGES" / "messages.po").read_text(encoding="utf-8")
    broken = text.replace('msgstr "Anmelden"', 'msgstr ""', 1)
    broken = broken.replace('msgid "Block"', '#, fuzzy\nmsgid "Block"', 1)
    broken = broken.replace(
        'msgstr "Sie haben %(amount)s erhalten."', 'msgstr "Sie haben %(betrag)s erhalten."', 1
    )
    assert broken.count("\n") > text.count("\n")
    (tmp_path / "messages.po").write_text(broken, encoding="utf-8")
    faults = _faults("de", _catalog(tmp_path / "messages.po", "de"))
    assert any(f == "untranslated: 'Sign in'" for f in faults)
    assert any(f == "fuzzy: 'Block'" for f in faults)
    assert any(f.startswith("'You received %(amount)s.'") for f in faults)


def test_every_language_has_its_name_and_its_direction() -> None:
    names = [language_name(lang) for lang in LANGUAGES]
    assert names == ["Deutsch", "English", "العربية", "فارسی", "Русский", "Türkçe", "Українська"]
    assert [direction(lang) for lang in LANGUAGES] == ["ltr", "ltr", "rtl", "rtl", "ltr", "ltr", "ltr"]


def test_messages_are_translated_and_filled_in() -> None:
    assert translate("de", "Claim %(amount)s now", amount="5,00\u00a0€") == "5,00\u00a0€ jetzt abholen"
    assert translate("uk", "Sign in") == "Увійти"
    assert translate("ar", "Sign in") == "تسجيل الدخول"
    assert translate("en", "Sign in") == "Sign in"


@pytest.mark.parametrize(
    ("lang", "minutes", "expected"),
    [("de", 1, "in 1 Minute "), ("de", 15, "in 15 Minuten "), ("ru", 2, "2 минуты"), ("ru", 15, "15 минут")],
)
def test_the_lockout_says_when_to_try_again_in_the_right_plural(
    lang: str, minutes: int, expected: str
) -> None:
    assert expected in locked_text(lang, minutes)


def test_a_wrong_pin_says_how_many_tries_are_left() -> None:
    assert "noch 1 Versuch," in wrong_pin_text("de", 1)
    assert "noch 3 Versuche," in wrong_pin_text("de", 3)
    assert "осталось 3 попытки" in wrong_pin_text("ru", 3)
    assert "3 deneme hakkınız kaldı" in wrong_pin_text("tr", 3)  # noqa: RUF001 (Turkish dotless i)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("", None),
        ("en", "en"),
        ("en-US,en;q=0.9", "en"),
        ("de-CH, en;q=0.5", "de"),
        ("fr, en;q=0.1, de;q=0.05", "en"),
        ("en;q=0, de;q=0.3", "de"),
        ("*", None),
        ("tr, ar;q=0.9", "tr"),
        ("fa-IR", "fa"),
        ("uk-UA, ru;q=0.8", "uk"),
        ("fr, ar-SY;q=0.7", "ar"),
        ("EN", "en"),
        ("en;q=abc, de", "de"),
        ("de;q=0.5, en;q=0.5", "de"),  # a tie goes to the one named first
        ("x" * 5000, None),
        (",,,;;;==", None),
    ],
)
def test_the_browsers_language_is_used_when_we_speak_it(header: str | None, expected: str | None) -> None:
    assert from_accept_language(header) == expected


def test_the_switch_beats_the_browser_and_german_is_the_default() -> None:
    assert choose("en", "de") == "en"
    assert choose("ar", "de") == "ar"
    assert choose(None, "en") == "en"
    assert choose("xx", None) == "de"
    assert choose(None, None) == DEFAULT_LANGUAGE == "de"


@pytest.mark.parametrize(
    ("micro", "de", "en", "tr"),
    [
        (40_000_000, "40,00\u00a0€", "€40.00", "€40,00"),
        (1_234_567_890_000, "1.234.567,89\u00a0€", "€1,234,567.89", "€1.234.567,89"),
        (1_500_000, "1,50\u00a0€", "€1.50", "€1,50"),
        (1_234_500, "1,2345\u00a0€", "€1.2345", "€1,2345"),
        (1, "0,000001\u00a0€", "€0.000001", "€0,000001"),
        (0, "0,00\u00a0€", "€0.00", "€0,00"),
    ],
)
def test_money_is_written_as_people_read_it(micro: int, de: str, en: str, tr: str) -> None:
    assert _format.money(micro, "de") == de
    assert _format.money(micro, "en") == en
    assert _format.money(micro, "tr") == tr
    assert _format.money(micro, "ru") == de.replace(".", "\u00a0")  # Russian groups with spaces


def test_dates_are_written_as_people_read_them() -> None:
    new_year_in_berlin = 1_767_222_000  # 2025-12-31T23:00:00Z
    assert _format.day(new_year_in_berlin, "de") == "1. Januar 2026"
    assert _format.day(new_year_in_berlin, "en") == "January 1, 2026"
    assert _format.day(new_year_in_berlin, "tr") == "1 Ocak 2026"
    assert _format.day(new_year_in_berlin, "uk").startswith("1 січня 2026")
