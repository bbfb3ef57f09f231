"""Money to the client's own bank account, as a page: signed in, no JavaScript, a form with the
session's CSRF token and a one-time field (the same form sent twice pays once), kind refusals of a bad
IBAN, a bad amount or more than their cash, every language, and in a real browser axe-core's WCAG 2.1
AA rules at 1280 and 390 px."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from api.gateway import Gateway
from api.pages.i18n import LANGUAGES, direction
from tests.e2e.test_gateway_http import ThreadedServer
from tests.pages._scenario import Scenario, auth
from tests.pages.conftest import csrf_of, scenario_over_http, sign_in
from tests.pages.test_pages import text_of
from tests.pages.test_pages_browser import AXE, TIMEOUT_MS, WIDTHS, _axe_violations, browser

__all__ = ["browser"]

IBAN = "DE75 5121 0800 1245 1261 99"
MICRO = 10**6


def _claim(http: Any, scenario: Scenario) -> None:
    token = http.post("/v1/client/session", json={"voucherCode": scenario.voucher, "pin": scenario.pin})
    r = http.post(f"/v1/client/claims/{scenario.claim_program_id}", headers=auth(token.json()["token"]))
    assert r.status_code == 201, r.text


def _once(html: str) -> str:
    match = re.search(r'name="once" value="([^"]+)"', html)
    assert match is not None, "the form has no one-time field"
    return match.group(1)


def test_client_has_their_cash_paid_out_on_the_page(
    client: TestClient, scenario: Scenario, gateway: Gateway
) -> None:
    sign_in(client, scenario.voucher, scenario.pin)
    client.cookies.set("allmende-lang", "en")
    empty = text_of(client.get("/client/payout").text)
    assert "You have no cash that can be paid out." in empty
    _claim(client, scenario)
    shown = client.get("/client/payout")
    assert shown.status_code == 200 and "<script" not in shown.text
    words = text_of(shown.text)
    assert "Money to your bank account" in words and "Cash you can have paid out: €40.00" in words
    assert "within a few days" in words
    form = {"csrf": csrf_of(shown.text), "once": _once(shown.text), "iban": IBAN, "amount": "10,50"}
    assert client.post("/client/payout", data={**form, "csrf": "forged"}).status_code == 403
    bad = client.post("/client/payout", data={**form, "iban": "DE75512108001245126198"})
    assert bad.status_code == 422 and "This IBAN is not valid." in text_of(bad.text)
    assert "DE75512108001245126198" not in bad.text  # not echoed back
    cents = client.post("/client/payout", data={**form, "amount": "1.005"})
    assert cents.status_code == 422 and "euros and cents" in text_of(cents.text)
    much = client.post("/client/payout", data={**form, "amount": "41"})
    assert much.status_code == 409 and "Your cash does not cover this amount." in text_of(much.text)

    paid = client.post("/client/payout", data=form)
    assert (paid.status_code, paid.headers["location"]) == (303, "/client/payout?sent=1")
    again = client.post("/client/payout", data=form)  # the same form sent twice pays once
    assert again.status_code == 303
    after = text_of(client.get(paid.headers["location"]).text)
    assert "Done: your money is on its way to your bank account." in after
    assert "Cash you can have paid out: €29.50" in after and "Waiting for the bank transfer" in after
    assert "******************6199" in after and IBAN.replace(" ", "") not in after
    assert gateway.system.balance(gateway.system.payouts.address) == 10_500_000
    assert "€10.50 was paid out to your bank account." in text_of(client.get("/client/what-i-have").text)
    client.cookies.set("allmende-lang", "de")
    assert "Geld auf Ihr Bankkonto" in text_of(client.get("/client/payout").text)


@pytest.mark.browser
@pytest.mark.slow
def test_payout_page_is_accessible_in_every_language(
    served: ThreadedServer, gateway: Gateway, browser: object
) -> None:
    from playwright.sync_api import Browser, expect

    assert isinstance(browser, Browser) and AXE.is_file()
    with httpx.Client(base_url=served.url, timeout=60) as http:
        scenario = scenario_over_http(http, gateway)
        _claim(http, scenario)
        token = http.post("/v1/client/session", json={"voucherCode": scenario.voucher, "pin": scenario.pin})
        r = http.post(
            "/v1/client/payouts", json={"amount": "5", "iban": IBAN}, headers=auth(token.json()["token"])
        )
        assert r.status_code == 201, r.text  # so the page shows the list of payouts too
    path = "/client/payout"
    context = browser.new_context(bypass_csp=True, viewport={"width": WIDTHS[0], "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.goto(f"{served.url}/client/sign-in")
    page.locator("#code").fill(scenario.voucher)
    page.locator("#pin").fill(scenario.pin)
    page.locator("form[action$='/sign-in'] button[type=submit]").click()
    expect(page).to_have_url(f"{served.url}/client/")
    found: dict[str, list[dict[str, Any]]] = {}
    for lang in LANGUAGES:
        page.goto(f"{served.url}/client/language/{lang}?next={path}")
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 900})
            page.goto(f"{served.url}{path}")
            expect(page.locator("html")).to_have_attribute("lang", lang)
            expect(page.locator("html")).to_have_attribute("dir", direction(lang))
            expect(page.locator("form button.primary")).to_have_count(1)
            violations = _axe_violations(page)
            if violations:
                found[f"{lang} {width}px"] = violations
            assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), (lang, width)
    page.locator("#iban").fill(IBAN)
    page.locator("form button.primary").click()  # pays out, without JavaScript needed by the page
    expect(page.locator(".notice.success")).to_have_count(1)
    context.close()
    assert found == {}, json.dumps(found, ensure_ascii=False, indent=1)
