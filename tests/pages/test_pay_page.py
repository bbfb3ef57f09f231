"""Paying at the counter from the client's own phone, as a page: signed in, no JavaScript, a form with
the session's CSRF token, post/redirect/get (a second post is refused kindly, never paid twice), every
language, and in a real browser axe-core's WCAG 2.1 AA rules at 1280 and 390 px."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from api.gateway import Gateway
from api.pages.i18n import LANGUAGES, direction
from tests.e2e.test_gateway_http import ThreadedServer
from tests.pages._scenario import Scenario, auth
from tests.pages.conftest import csrf_of, scenario_over_http
from tests.pages.test_pages import text_of
from tests.pages.test_pages_browser import AXE, TIMEOUT_MS, WIDTHS, _axe_violations, browser

__all__ = ["browser"]

SHOP = {"name": "Frischemarkt Nord", "street": "Hafenstr. 3", "postcode": "18055", "city": "Rostock"}


def _ask(http: Any, scenario: Scenario, amount: str) -> tuple[str, str]:
    """A food shop admitted by the scenario's NGO asks for `amount`: (the shop's key, the payment code)."""
    r = http.post("/v1/providers", json={**SHOP, "categories": ["food"]}, headers=auth(scenario.ngo_key))
    assert r.status_code == 201, r.text
    key = r.json()["apiKey"]
    r = http.post(
        "/v1/provider/payments", json={"amount": amount, "note": "Brot und Obst"}, headers=auth(key)
    )
    assert r.status_code == 201, r.text
    return key, r.json()["code"]


def _claim(http: Any, scenario: Scenario) -> None:
    token = http.post("/v1/client/session", json={"voucherCode": scenario.voucher, "pin": scenario.pin})
    r = http.post(f"/v1/client/claims/{scenario.claim_program_id}", headers=auth(token.json()["token"]))
    assert r.status_code == 201, r.text


def test_client_pays_on_their_phone(client: TestClient, scenario: Scenario) -> None:
    _claim(client, scenario)
    shop, code = _ask(client, scenario, "12.80")
    path = f"/client/pay/{code}"
    # the counter's QR code opens the page on a phone not signed in: sign in, then back to the payment
    to_sign_in = client.get(path)
    assert (to_sign_in.status_code, to_sign_in.headers["location"]) == (303, f"/client/sign-in?pay={code}")
    form = client.get(to_sign_in.headers["location"])
    assert f'name="pay" value="{code}"' in form.text
    r = client.post(
        "/client/sign-in",
        data={"code": scenario.voucher, "pin": scenario.pin, "csrf": csrf_of(form.text), "pay": code},
    )
    assert (r.status_code, r.headers["location"]) == (303, path)
    client.cookies.set("allmende-lang", "en")
    shown = client.get(path)
    assert shown.status_code == 200 and "<script" not in shown.text
    words = text_of(shown.text)
    assert "Pay at Frischemarkt Nord" in words and "Brot und Obst" in words
    form = csrf_of(shown.text)
    assert client.post(path, data={"csrf": "forged"}).status_code == 403
    paid = client.post(path, data={"csrf": form})
    assert (paid.status_code, paid.headers["location"]) == (303, path)
    assert "Done: you paid" in text_of(client.get(path).text)
    again = client.post(path, data={"csrf": form})
    assert again.status_code == 409 and "This payment has been paid already." in text_of(again.text)
    day = client.get("/v1/provider/payments", headers=auth(shop)).json()
    assert day["total"] == "12.800000"  # paid once
    receipts = text_of(client.get("/client/receipts").text)
    assert (
        "Paid at accepted places" in receipts
        and "Frischemarkt Nord" in receipts
        and "Brot und Obst" in receipts
    )

    _, big = _ask(client, scenario, "30")  # 40 claimed, 12.80 spent
    refused = client.post(f"/client/pay/{big}", data={"csrf": form})
    assert refused.status_code == 409 and "does not cover this amount" in text_of(refused.text)
    client.cookies.set("allmende-lang", "de")
    assert "Bezahlen bei Frischemarkt Nord" in text_of(client.get(f"/client/pay/{big}").text)
    assert client.get("/client/pay/ZZZZZZZZ").status_code == 404


@pytest.mark.browser
@pytest.mark.slow
def test_pay_page_is_accessible_in_every_language(
    served: ThreadedServer, gateway: Gateway, browser: object
) -> None:
    from playwright.sync_api import Browser, expect

    assert isinstance(browser, Browser) and AXE.is_file()
    with httpx.Client(base_url=served.url, timeout=60) as http:
        scenario = scenario_over_http(http, gateway)
        _claim(http, scenario)
        _, code = _ask(http, scenario, "12.80")
    path = f"/client/pay/{code}"
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
    page.locator("form button.primary").click()  # pays, without JavaScript needed by the page
    expect(page.locator(".notice.success")).to_have_count(1)
    context.close()
    assert found == {}, json.dumps(found, ensure_ascii=False, indent=1)
