"""A person on the client pages in a real browser: Debian's headless Chromium driven by Playwright
against `allmende serve` on a loopback port.

One journey in one test (the suite runs under xdist, which would split a module's tests over two
workers and start two servers): sign in with a voucher, see the aid, claim it, see the receipt whose
transaction an auditor finds, switch to English, sign out and find nothing behind the back button,
then a wrong PIN and its message, a phone-sized screen, and finally the server's own log, scanned
for anything personal or secret. The journey itself runs with JavaScript switched off.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from api.pages.i18n import PROBLEMS, translate
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
    expect(page.get_by_role("alert")).to_have_text(translate("de", PROBLEMS["InvalidVoucherOrPin"]))
    expect(page.get_by_label("PIN", exact=True)).to_have_value("")
    button = page.get_by_role("button", name="Anmelden").bounding_box()
    assert button is not None and button["height"] >= 48 and button["width"] >= 300  # a large target
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")  # no sideways scrolling
    shot = tmp_path / "shots" / "wrong-pin-phone.png"
    shot.parent.mkdir()
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 1000 and shot.read_bytes().startswith(b"\x89PNG")
    phone.close()

    # --- and the server's log holds nothing personal or secret ------------------------------
    server.stop()
    log = server.log.read_text(errors="replace")
    assert "GET /client/sign-in?voucher=[redacted]" in log  # the access log was written, and redacted
    secrets = _secrets(scenario, session["value"])
    leaked = [s for s in secrets if s in log]
    assert not leaked, f"found in the server log: {leaked}"


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
