"""The staff desk in a real browser (Debian's headless Chromium, Playwright) against `allmende serve`:
with JavaScript off, a caseworker signs in with password and TOTP, finds a client by voucher code and
opens an assisted session the client signs into with their PIN; then every desk page in every
language passes axe-core's WCAG 2.1 AA rules at 1280 and 390 px (Arabic and Persian right to left)
and fits a phone's width. One journey in one test, as in test_pages_browser.py."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pyotp
import pytest

from api.i18n import LANGUAGES, direction
from tests.e2e._server import ServerProcess
from tests.pages._scenario import PERSON, auth, set_up
from tests.pages.test_pages_browser import AXE, TIMEOUT_MS, WIDTHS, _axe_violations, browser, server

pytestmark = [pytest.mark.browser, pytest.mark.slow]
__all__ = ["browser", "server"]  # the fixtures, shared with the client pages' browser test

PASSWORD = "correct horse battery staple"


def _caseworker(http: httpx.Client, ngo_key: str) -> pyotp.TOTP:
    made = http.post(
        "/v1/people",
        json={"login": "desk", "displayName": "Dilara Desk", "roles": ["caseworker"]},
        headers=auth(ngo_key),
    ).json()
    secret = http.post(
        "/v1/people/setup", json={"login": "desk", "setupCode": made["setupCode"], "password": PASSWORD}
    ).json()["secret"]
    totp = pyotp.TOTP(secret)
    confirmed = http.post(
        "/v1/people/second-factor", json={"login": "desk", "password": PASSWORD, "code": totp.now()}
    )
    assert confirmed.status_code == 200, confirmed.text
    return totp


def test_a_caseworker_uses_the_desk_in_a_real_browser(server: ServerProcess, browser: Any) -> None:
    from playwright.sync_api import expect

    with httpx.Client(base_url=server.url, timeout=60) as http:
        scenario = set_up(http, server.admin_key)
        totp = _caseworker(http, scenario.ngo_key)
    assert AXE.is_file(), "axe-core comes from npm: run `make setup`"

    # --- without JavaScript: sign in, find the client, open their pages with their PIN --------
    context = browser.new_context(
        java_script_enabled=False, locale="de-DE", viewport={"width": 1024, "height": 768}
    )
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.goto(f"{server.url}/staff/")
    expect(page).to_have_url(f"{server.url}/staff/sign-in")
    page.get_by_label("Benutzername").fill("desk")
    page.get_by_label("Passwort").fill(PASSWORD)
    page.get_by_label("Code aus Ihrer Authenticator-App").fill(_next(totp))
    page.get_by_role("button", name="Anmelden").click()
    expect(page).to_have_url(f"{server.url}/staff/")
    expect(page.locator("main")).to_contain_text("Dilara Desk")
    page.get_by_label("Gutschein-Code").fill(scenario.voucher.lower())
    page.get_by_role("button", name="Suchen").click()
    expect(page).to_have_url(f"{server.url}/staff/clients/{scenario.client_id}")
    expect(page.get_by_role("heading", level=1)).to_have_text(PERSON["name"])
    page.get_by_label("PIN (tippt die Klientin oder der Klient ein)").fill(scenario.pin)
    page.get_by_role("button", name="Seiten der Klientin oder des Klienten öffnen").click()
    expect(page).to_have_url(f"{server.url}/client/")
    expect(page.locator("main")).to_contain_text("hilft Ihnen")  # the assisted-session notice
    signed_in = context.storage_state()  # the desk session goes on in the checks below
    context.close()

    # --- every desk page in every language: axe-core WCAG 2.1 AA, wide and narrow -----------
    found: dict[str, list[dict[str, Any]]] = {}
    context = browser.new_context(bypass_csp=True, viewport={"width": WIDTHS[0], "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()

    def check(lang: str, path: str | None) -> None:
        if path is not None:
            page.goto(f"{server.url}{path}")  # loaded once, then laid out at each width
        expect(page.locator("html")).to_have_attribute("lang", lang)
        expect(page.locator("html")).to_have_attribute("dir", direction(lang))
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 900})
            violations = _axe_violations(page)
            if violations:
                found[f"{lang} {path or page.url} {width}px"] = violations
            assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), (
                lang,
                path,
                width,
            )

    for lang in LANGUAGES:
        page.goto(f"{server.url}/client/language/{lang}?next=/staff/sign-in")
        check(lang, "/staff/sign-in")
        page.locator("#login").fill("desk")
        page.locator("#password").fill("not the password")
        page.locator("#code").fill("123456")
        page.locator("form[action$='/sign-in'] button[type=submit]").click()
        expect(page.locator(".notice.problem")).to_be_visible()
        check(lang, None)  # the sign-in page with its problem
    context.close()
    context = browser.new_context(
        bypass_csp=True, storage_state=signed_in, viewport={"width": WIDTHS[0], "height": 900}
    )
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    for i, lang in enumerate(LANGUAGES):
        page.goto(f"{server.url}/client/language/{lang}?next=/staff/")
        for path in ("/staff/", f"/staff/clients/{scenario.client_id}", "/staff/register"):
            check(lang, path)
        page.goto(f"{server.url}/staff/register")
        page.locator("#name").fill(f"Desk Person {i} Юлія Y\u0131ld\u0131z")
        page.locator("form[action$='/register'] button[type=submit]").click()
        expect(page.locator("dd.code").first).to_be_visible()
        check(lang, None)  # the voucher card's codes, as shown once
    context.close()
    assert found == {}, json.dumps(found, ensure_ascii=False, indent=1)


def _next(totp: pyotp.TOTP) -> str:
    """The code of the next time step (the current one confirmed the second factor; each step's code
    is accepted once, and one step ahead is allowed)."""
    return totp.at(int(time.time()) + totp.interval)
