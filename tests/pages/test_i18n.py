"""The translation tables: the same keys and placeholders in every language, every key in use, every
key a page uses present, and the language a browser gets."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from api.pages import _format
from api.pages.i18n import DEFAULT_LANGUAGE, TABLES, choose, from_accept_language, placeholders

PAGES = Path(__file__).resolve().parents[2] / "api" / "pages"
# t('key'), page.t("key", ...), NavItem(path, "key") and table["key"]; problem.<code> keys are looked up
# by the code of the error at hand
USES = re.compile(r"""\bt\(\s*['"]([A-Za-z_.]+)['"]""")
NAV_USES = re.compile(r"""NavItem\([^)]*,\s*['"]([a-z_.]+)['"]\)|table\[['"]([a-z_.]+)['"]\]""")
CONDITIONAL = re.compile(r"""t\(\s*'([a-z_.]+)'\s+if\s+[^']+'[^']*'\s+else\s+'([a-z_.]+)'""")


def used_keys() -> set[str]:
    """Every key the templates and the page code name literally."""
    found: set[str] = set()
    for path in [*PAGES.glob("*.py"), *PAGES.glob("templates/*.html")]:
        text = path.read_text(encoding="utf-8")
        found |= set(USES.findall(text))
        found |= {key for pair in NAV_USES.findall(text) for key in pair if key}
        for pair in CONDITIONAL.findall(text):
            found |= set(pair)
    return found


def test_every_language_has_the_same_keys() -> None:
    reference = set(TABLES[DEFAULT_LANGUAGE])
    for lang, table in TABLES.items():
        assert set(table) == reference, (
            f"{lang}: missing {reference - set(table)}, extra {set(table) - reference}"
        )


def test_every_translation_keeps_the_placeholders() -> None:
    for key, text in TABLES[DEFAULT_LANGUAGE].items():
        for lang, table in TABLES.items():
            assert placeholders(table[key]) == placeholders(text), f"{lang}:{key}"


def test_every_text_is_filled_in_and_names_its_language() -> None:
    for lang, table in TABLES.items():
        assert all(v.strip() for v in table.values()), lang
        assert table["dir"] in ("ltr", "rtl")
        assert len({t["lang.name"] for t in TABLES.values()}) == len(TABLES)


def test_every_key_a_page_names_exists_and_every_key_is_used() -> None:
    used = used_keys()
    problems = {k for k in TABLES[DEFAULT_LANGUAGE] if k.startswith("problem.")}  # looked up by code
    assert used - set(TABLES[DEFAULT_LANGUAGE]) == set(), "pages name keys the tables lack"
    assert set(TABLES[DEFAULT_LANGUAGE]) - used - problems == set(), "keys no page uses"


def test_problem_messages_are_named_after_the_json_apis_codes() -> None:
    from api.clients import SignInFailed, SignInLocked
    from api.problems import REVERT_STATUS

    known = {"InvalidVoucherOrPin", "SignInLocked", "SessionExpired", "NoEntitlement", "Unavailable", "Other"}
    known |= set(REVERT_STATUS)
    for key in TABLES[DEFAULT_LANGUAGE]:
        if key.startswith("problem."):
            assert key.removeprefix("problem.") in known, key
    assert SignInFailed.kind == "unauthorized" and SignInLocked.kind == "locked"


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
        ("tr, ar;q=0.9", None),
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
    assert choose(None, "en") == "en"
    assert choose("xx", None) == "de"
    assert choose(None, None) == DEFAULT_LANGUAGE == "de"


@pytest.mark.parametrize(
    ("micro", "de", "en"),
    [
        (40_000_000, "40,00\u00a0€", "€40.00"),
        (1_234_567_890_000, "1.234.567,89\u00a0€", "€1,234,567.89"),
        (1_500_000, "1,50\u00a0€", "€1.50"),
        (1_234_500, "1,2345\u00a0€", "€1.2345"),
        (1, "0,000001\u00a0€", "€0.000001"),
        (0, "0,00\u00a0€", "€0.00"),
    ],
)
def test_money_is_written_as_people_read_it(micro: int, de: str, en: str) -> None:
    assert _format.money(micro, "de") == de
    assert _format.money(micro, "en") == en


def test_dates_are_written_as_people_read_them() -> None:
    new_year_in_berlin = 1_767_222_000  # 2025-12-31T23:00:00Z
    assert _format.day(new_year_in_berlin, "de") == "01.01.2026"
    assert _format.day(new_year_in_berlin, "en") == "2026-01-01"
