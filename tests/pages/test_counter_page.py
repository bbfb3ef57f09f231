"""The counter without JavaScript: a cashier of a provider signs in with password and TOTP, asks for an
amount with a note, shows the code and its QR code, lets the client type voucher code and PIN (a wrong
PIN is counted and said kindly), sees the day's total and refunds. People of an NGO, a viewer of the
provider and API keys get nothing of it. In a real browser over real HTTP: axe-core's rules at 1280
and 390 px, and a payment confirmed with voucher code and PIN on the counter."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pyotp
import pytest
from fastapi.testclient import TestClient

from api.gateway import Gateway
from api.models import Payment
from api.pages.i18n import LANGUAGES, direction
from tests.api.people_support import PASSWORD, next_code
from tests.e2e.test_gateway_http import ThreadedServer
from tests.pages._scenario import Scenario, auth
from tests.pages.conftest import csrf_of, scenario_over_http
from tests.pages.test_pages import text_of
from tests.pages.test_pages_browser import AXE, TIMEOUT_MS, WIDTHS, _axe_violations, browser
from tests.pages.test_staff_desk import person

__all__ = ["browser"]

SHOP = {"name": "Frischemarkt Nord", "street": "Hafenstr. 3", "postcode": "18055", "city": "Rostock"}
COUNTER = "__Host-allmende-counter"


def _shop(http: Any, scenario: Scenario) -> str:
    """A food shop admitted by the scenario's NGO, and the client's claimed aid: the shop's API key."""
    r = http.post("/v1/providers", json={**SHOP, "categories": ["food"]}, headers=auth(scenario.ngo_key))
    assert r.status_code == 201, r.text
    token = http.post("/v1/client/session", json={"voucherCode": scenario.voucher, "pin": scenario.pin})
    claimed = http.post(f"/v1/client/claims/{scenario.claim_program_id}", headers=auth(token.json()["token"]))
    assert claimed.status_code == 201, claimed.text
    key: str = r.json()["apiKey"]
    return key


def _sign_in(client: TestClient, login: str, totp: pyotp.TOTP) -> Any:
    token = csrf_of(client.get("/counter/sign-in").text)
    return client.post(
        "/counter/sign-in",
        data={"login": login, "password": PASSWORD, "code": next_code(totp), "csrf": token},
    )


def test_a_cashier_takes_a_payment_and_only_cashiers_may(
    client: TestClient, scenario: Scenario, gateway: Gateway
) -> None:
    shop = _shop(client, scenario)
    cashier = person(client, shop, "kasse.eins", ["cashier"])
    r = _sign_in(client, "kasse.eins", cashier)
    assert (r.status_code, r.headers.get("location")) == (303, "/counter/"), r.text
    client.cookies.set("allmende-lang", "en")
    home = client.get("/counter/")
    assert home.status_code == 200 and "<script" not in home.text
    assert "No payments yet today." in text_of(home.text)
    form = csrf_of(home.text)
    assert client.post("/counter/payments", data={"amount": "zwölf", "csrf": form}).status_code == 400
    asked = client.post("/counter/payments", data={"amount": "12,80", "note": "Brot", "csrf": form})
    assert asked.status_code == 303, asked.text
    path = asked.headers["location"]
    code = path.rsplit("/", 1)[1]
    shown = client.get(path)
    assert shown.status_code == 200 and "<svg" in shown.text and f"Payment {code}" in text_of(shown.text)
    wrong = client.post(f"{path}/confirm", data={"voucher": scenario.voucher, "pin": "0000", "csrf": form})
    assert wrong.status_code == 400 and "The code or the PIN is not right" in text_of(wrong.text)
    paid = client.post(
        f"{path}/confirm", data={"voucher": scenario.voucher, "pin": scenario.pin, "csrf": form}
    )
    assert (paid.status_code, paid.headers["location"]) == (303, path)
    assert "Paid: 12,80 €" in text_of(client.get(path).text) or "Paid: €12.80" in text_of(
        client.get(path).text
    )
    day = text_of(client.get("/counter/").text)
    assert code in day and "Total today:" in day
    assert client.get("/v1/provider/payments", headers=auth(shop)).json()["total"] == "12.800000"
    assert client.post(f"{path}/refund", data={"csrf": form}).status_code == 303
    assert client.get("/v1/provider/payments", headers=auth(shop)).json()["total"] == "0.000000"
    again = client.post(
        f"{path}/confirm", data={"voucher": scenario.voucher, "pin": scenario.pin, "csrf": form}
    )
    assert again.status_code == 409  # refunded: paid already, never paid twice
    assert client.get("/counter/payments/ZZZZZZZZ").status_code == 404

    # a payment left "paying" (a leg refused after others went through) offers to give back what was paid
    second = client.post("/counter/payments", data={"amount": "2", "csrf": form}).headers["location"]
    assert (
        client.post(
            f"{second}/confirm", data={"voucher": scenario.voucher, "pin": scenario.pin, "csrf": form}
        ).status_code
        == 303
    )
    with gateway.db.session() as s:
        s.query(Payment).filter_by(code=second.rsplit("/", 1)[1]).one().status = "paying"
    partly = text_of(client.get(second).text)
    assert "went through only in part" in partly and "Give back what was paid" in partly
    assert client.post(f"{second}/refund", data={"csrf": form}).status_code == 303
    assert "Refunded: " in text_of(client.get(second).text)
    assert client.get("/v1/provider/payments", headers=auth(shop)).json()["total"] == "0.000000"

    # the counter is for cashiers of a provider only
    client.post("/counter/sign-out")
    client.cookies.clear()
    viewer = person(client, shop, "kasse.viewer", ["viewer"])
    assert _sign_in(client, "kasse.viewer", viewer).status_code == 403
    caseworker = person(client, scenario.ngo_key, "ngo.caseworker", ["caseworker"])
    r = _sign_in(client, "ngo.caseworker", caseworker)
    assert r.status_code == 403 and COUNTER not in r.cookies
    for key in (shop, scenario.ngo_key):  # an API key opens no counter page
        assert client.get("/counter/", headers=auth(key)).headers["location"] == "/counter/sign-in"
        client.cookies.set(COUNTER, key, domain="testserver")
        assert client.get("/counter/").headers["location"] == "/counter/sign-in"
        client.cookies.clear()


@pytest.mark.browser
@pytest.mark.slow
def test_counter_pages_are_accessible_in_every_language(
    served: ThreadedServer, gateway: Gateway, browser: object
) -> None:
    from playwright.sync_api import Browser, expect

    assert isinstance(browser, Browser) and AXE.is_file()
    with httpx.Client(base_url=served.url, timeout=60) as http:
        scenario = scenario_over_http(http, gateway)
        shop = _shop(http, scenario)
        totp = person(http, shop, "kasse.browser", ["cashier"])  # type: ignore[arg-type]
        code = http.post("/v1/provider/payments", json={"amount": "3.50", "note": "Obst"}, headers=auth(shop))
        code = code.json()["code"]
    context = browser.new_context(bypass_csp=True, viewport={"width": WIDTHS[0], "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.goto(f"{served.url}/counter/sign-in")
    page.locator("#login").fill("kasse.browser")
    page.locator("#password").fill(PASSWORD)
    page.locator("#code").fill(next_code(totp))
    page.locator("form[action$='/sign-in'] button[type=submit]").click()
    expect(page).to_have_url(f"{served.url}/counter/")
    found: dict[str, list[dict[str, Any]]] = {}
    for lang in LANGUAGES:  # the payment page in every language; the day's page (same layout) in two
        paths = (
            ("/counter/", f"/counter/payments/{code}")
            if lang in ("de", "ar")
            else (f"/counter/payments/{code}",)
        )
        for path in paths:
            page.goto(f"{served.url}/client/language/{lang}?next={path}")
            for width in WIDTHS:
                page.set_viewport_size({"width": width, "height": 900})
                page.goto(f"{served.url}{path}")
                expect(page.locator("html")).to_have_attribute("lang", lang)
                expect(page.locator("html")).to_have_attribute("dir", direction(lang))
                violations = _axe_violations(page)
                if violations:
                    found[f"{lang} {path} {width}px"] = violations
                assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), (
                    lang,
                    width,
                )
    page.goto(f"{served.url}/counter/payments/{code}")  # the client types voucher code and PIN here
    page.locator("#voucher").fill(scenario.voucher)
    page.locator("#pin").fill(scenario.pin)
    page.locator("form[action$='/confirm'] button[type=submit]").click()
    expect(page.locator(".notice.success")).to_have_count(1)
    expect(page.locator("form[action$='/refund'] button")).to_have_count(1)
    context.close()
    assert found == {}, json.dumps(found, ensure_ascii=False, indent=1)
