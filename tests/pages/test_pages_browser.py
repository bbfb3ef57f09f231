"""A person on the client pages in a real browser: Debian's headless Chromium driven by Playwright
against `allmende serve` on a loopback port.

One journey in one test (the suite runs under xdist, which would split a module's tests over two
workers and start two servers): sign in with a voucher, see the aid, claim it, see the receipt whose
transaction an auditor finds, switch to English, sign out and find nothing behind the back button,
then a wrong PIN and its message, a phone-sized screen, every page in every language checked by
axe-core (from npm, injected by the test) against WCAG 2.1 AA at 1280 and 390 px, Arabic and Persian
right to left included, and finally the server's own log, scanned for anything personal or secret.
The journey itself runs with JavaScript switched off.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.i18n import LANGUAGES, direction, translate, wrong_pin_text
from tests.api.conftest import copy_deployed
from tests.e2e._server import ServerProcess
from tests.pages._scenario import PERSON, PROGRAM_NAME, Scenario, auth, set_up

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 30_000
AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
WIDTHS = (1280, 390)


@pytest.fixture
def server(tmp_path: Path, deployed_data_dir: Path) -> Iterator[ServerProcess]:
    """`allmende serve` on a copy of the session's deployed chain, on a free loopback port."""
    data = tmp_path / "data"
    data.mkdir()
    copy_deployed(deployed_data_dir, data)
    process = ServerProcess(data, tmp_path / "admin.key").start()
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.fail(
            f"the browser tests need Debian's chromium at {CHROMIUM} (`make test` installs it as root; "
            "else `apt-get install chromium`), or leave them out with -m 'not browser'"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True, timeout=TIMEOUT_MS
        )
        try:
            yield chromium
        finally:
            chromium.close()


def test_a_client_uses_the_pages_in_a_real_browser(
    server: ServerProcess, browser: object, tmp_path: Path
) -> None:
    from playwright.sync_api import Browser, expect

    assert isinstance(browser, Browser)
    with httpx.Client(base_url=server.url, timeout=60) as http:
        scenario = set_up(http, server.admin_key)

    # --- without JavaScript: sign in, see the aid, claim it ---------------------------------
    context = browser.new_context(
        java_script_enabled=False, locale="de-DE", viewport={"width": 1024, "height": 768}
    )
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.goto(f"{server.url}/")
    expect(page).to_have_url(f"{server.url}/client/sign-in")
    expect(page.locator("html")).to_have_attribute("lang", "de")
    expect(page.get_by_role("heading", level=1)).to_have_text("Anmelden")
    page.get_by_label("Gutschein-Code").fill(scenario.voucher.lower().replace("-", " "))  # as people type
    page.get_by_label("PIN", exact=True).fill(scenario.pin)
    page.get_by_role("button", name="Anmelden").click()
    expect(page).to_have_url(f"{server.url}/client/")
    card = page.locator(f"#offer-{scenario.claim_program_id}")
    expect(card.get_by_role("heading")).to_have_text(PROGRAM_NAME)
    expect(card).to_contain_text("40,00\u00a0€")
    session = next(c for c in context.cookies() if c["name"].endswith("allmende-session"))
    assert session["httpOnly"] and session["sameSite"] == "Strict"

    card.get_by_role("button", name="40,00\u00a0€ jetzt abholen").click()
    expect(page.get_by_role("status")).to_have_text(
        translate("de", "Done: %(amount)s has been credited to you.", amount="40,00\u00a0€")
    )
    expect(card).to_contain_text(translate("de", "You received %(amount)s.", amount="40,00\u00a0€"))
    expect(card.get_by_role("button")).to_have_count(0)

    # --- the receipt, and the auditor finds its transaction ---------------------------------
    page.get_by_role("link", name="Belege").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Belege")
    receipt_hash = page.locator("table.receipts code.hash").first.inner_text()
    assert re.fullmatch(r"0x[0-9a-f]{64}", receipt_hash)
    with httpx.Client(base_url=server.url, timeout=60) as http:
        events = http.get("/v1/audit/events", headers=auth(scenario.admin_key)).json()
    claimed = [e for e in events if e["event"] == "Claimed" and e["transaction"] == receipt_hash]
    assert len(claimed) == 1 and json.loads(claimed[0]["args"])["amount"] == 40_000_000

    # --- English on the visible switch, on the same page ------------------------------------
    page.get_by_role("link", name="English").click()
    expect(page).to_have_url(f"{server.url}/client/receipts")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", level=1)).to_have_text("Receipts")
    expect(page.locator("table.receipts")).to_contain_text(f"Aid: {PROGRAM_NAME}")

    # --- sign out: the back button shows nothing of the person ------------------------------
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(f"{server.url}/client/sign-in?reason=signed-out")
    expect(page.get_by_role("status")).to_have_text(
        translate("en", "You are signed out. You can hand over the computer now.")
    )
    page.go_back()
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    assert receipt_hash not in page.content()
    context.close()

    # --- a wrong PIN, on a phone-sized screen ----------------------------------------------
    phone = browser.new_context(viewport={"width": 360, "height": 740}, locale="de-DE", is_mobile=True)
    phone.set_default_timeout(TIMEOUT_MS)
    page = phone.new_page()
    page.goto(f"{server.url}/client/sign-in?voucher={scenario.voucher}")  # as a voucher's QR code opens it
    expect(page.get_by_label("Gutschein-Code")).to_have_value(scenario.voucher)
    page.get_by_label("PIN", exact=True).fill("11111")
    page.get_by_role("button", name="Anmelden").click()
    expect(page.get_by_role("alert")).to_have_text(wrong_pin_text("de", 4))
    expect(page.get_by_label("PIN", exact=True)).to_have_value("")
    button = page.get_by_role("button", name="Anmelden").bounding_box()
    assert button is not None and button["height"] >= 48 and button["width"] >= 300  # a large target
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")  # no sideways scrolling
    shot = tmp_path / "shots" / "wrong-pin-phone.png"
    shot.parent.mkdir()
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 1000 and shot.read_bytes().startswith(b"\x89PNG")
    phone.close()

    # --- every page in every language passes axe-core's WCAG 2.1 AA rules, wide and narrow -----
    _every_page_in_every_language_is_accessible(browser, server.url, scenario)

    # --- and the server's log holds nothing personal or secret ------------------------------
    server.stop()
    log = server.log.read_text(errors="replace")
    assert "GET /client/sign-in?voucher=[redacted]" in log  # the access log was written, and redacted
    secrets = _secrets(scenario, session["value"])
    leaked = [s for s in secrets if s in log]
    assert not leaked, f"found in the server log: {leaked}"


def _axe_violations(page: Any) -> list[dict[str, Any]]:
    """axe-core's WCAG 2.1 AA violations on the page as it is now (axe injected by the test)."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):  # once per loaded document
        page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})",
        WCAG_21_AA,
    )
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in result["violations"]
    ]


def _every_page_in_every_language_is_accessible(browser: Any, url: str, scenario: Scenario) -> None:
    """The sign-in page (with a field error too), the overview, the receipts and a missing page, in
    each language at 1280 and 390 px: zero violations. One browser context and one tab for all."""
    from playwright.sync_api import expect

    assert AXE.is_file(), "axe-core comes from npm: run `make setup`"
    context = browser.new_context(bypass_csp=True, viewport={"width": WIDTHS[0], "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    found: dict[str, list[dict[str, Any]]] = {}

    def check(lang: str, path: str, prepare: Any = None) -> None:
        page.goto(f"{url}{path}")  # loaded once, then laid out at each width
        if prepare is not None:
            prepare()
        expect(page.locator("html")).to_have_attribute("lang", lang)
        expect(page.locator("html")).to_have_attribute("dir", direction(lang))
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 900})
            violations = _axe_violations(page)
            if violations:
                found[f"{lang} {path} {width}px"] = violations
            assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), (
                lang,
                path,
                width,
            )

    def wrong_code() -> None:
        page.locator("#code").fill("ABCD")
        page.locator("#pin").fill("12")
        page.locator("form[action$='/sign-in'] button[type=submit]").click()
        expect(page.locator("#code")).to_have_attribute("aria-invalid", "true")

    for lang in LANGUAGES:
        page.goto(f"{url}/client/language/{lang}?next=/client/sign-in")
        check(lang, "/client/sign-in")
        check(lang, "/client/sign-in", wrong_code)
    page.goto(f"{url}/client/sign-in")
    page.locator("#code").fill(scenario.voucher)
    page.locator("#pin").fill(scenario.pin)
    page.locator("form[action$='/sign-in'] button[type=submit]").click()
    expect(page).to_have_url(f"{url}/client/")
    for lang in LANGUAGES:
        page.goto(f"{url}/client/language/{lang}?next=/client/")
        for path in ("/client/", "/client/receipts", "/client/no-such-page"):
            check(lang, path)
        if direction(lang) == "rtl":  # the layout mirrors: the name on the right, the languages on the left
            page.set_viewport_size({"width": WIDTHS[0], "height": 900})
            page.goto(f"{url}/client/")
            brand = page.locator(".brand").bounding_box()
            switch = page.locator("nav.languages").bounding_box()
            assert brand is not None and switch is not None and brand["x"] > switch["x"], lang
    # the checker sees a fault when there is one: an image without a text alternative
    page.evaluate("document.querySelector('main').append(Object.assign(new Image(8, 8), {src: '/x.png'}))")
    assert "image-alt" in {v["id"] for v in _axe_violations(page)}
    context.close()
    assert found == {}, json.dumps(found, ensure_ascii=False, indent=1)


def _secrets(scenario: Scenario, session_token: str) -> list[str]:
    return [
        *PERSON.values(),
        "Kowalczyk",
        scenario.pin,
        scenario.voucher,
        scenario.voucher.replace("-", ""),
        scenario.recovery,
        scenario.ngo_key,
        scenario.funder_key,
        scenario.admin_key,
        session_token,
    ]
