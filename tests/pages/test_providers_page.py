"""Where a program's aid may be used, as a page: no sign-in, no JavaScript, every language, and in a
real browser axe-core's WCAG 2.1 AA rules at 1280 and 390 px."""

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
from tests.pages.conftest import scenario_over_http, sign_in
from tests.pages.test_pages import text_of
from tests.pages.test_pages_browser import AXE, TIMEOUT_MS, WIDTHS, _axe_violations, browser

__all__ = ["browser"]

SHOPS = (
    {
        "name": "Frischemarkt Nord",
        "street": "Hafenstr. 3",
        "postcode": "18055",
        "city": "Rostock",
        "categories": ["food"],
    },
    {
        "name": "SV Blau-Weiß",
        "street": "Am Sportplatz 1",
        "postcode": "18055",
        "city": "Rostock",
        "categories": ["sports", "culture"],
    },
)


def _providers(http: Any, scenario: Scenario) -> list[dict[str, Any]]:
    made = []
    for shop in SHOPS:
        r = http.post("/v1/providers", json=shop, headers=auth(scenario.ngo_key))
        assert r.status_code == 201, r.text
        made.append(r.json())
    return made


def _restrict(http: Any, scenario: Scenario, categories: list[str]) -> None:
    kind = "restricted" if categories else "cash"
    r = http.put(
        f"/v1/ngo/programs/{scenario.program_id}/rule",
        json={"kind": kind, "categories": categories},
        headers=auth(scenario.ngo_key),
    )
    assert r.status_code == 200, r.text


def test_page_lists_the_accepted_providers_without_sign_in(client: TestClient, scenario: Scenario) -> None:
    made = _providers(client, scenario)
    path = f"/client/programs/{scenario.program_id}/providers"
    client.cookies.set("allmende-lang", "en")
    cash = client.get(path)
    assert cash.status_code == 200 and "<script" not in cash.text
    words = text_of(cash.text)
    assert "This aid is cash" in words and "Frischemarkt Nord" in words and "SV Blau-Weiß" in words
    assert "Offers: Sports, Culture" in words and "Hafenstr. 3 18055 Rostock" in words

    _restrict(client, scenario, ["food"])
    words = text_of(client.get(path).text)
    assert "This aid is meant for: Food." in words and "Other payments are refused." in words
    assert "Frischemarkt Nord" in words and "SV Blau-Weiß" not in words

    client.post(f"/v1/providers/{made[0]['providerId']}/suspend", json={}, headers=auth(scenario.ngo_key))
    words = text_of(client.get(path).text)
    assert "Frischemarkt Nord" not in words and "No place accepts this aid yet." in words

    client.cookies.set("allmende-lang", "de")
    german = text_of(client.get(path).text)
    assert "Wo Sie Ihre Hilfe nutzen können" in german and "Lebensmittel" in german
    assert client.get("/client/programs/999/providers").status_code == 404
    assert client.get("/client/programs/0/providers").status_code == 404


@pytest.mark.browser
@pytest.mark.slow
def test_providers_page_is_accessible_in_every_language(
    served: ThreadedServer, gateway: Gateway, browser: object
) -> None:
    from playwright.sync_api import Browser, expect

    assert isinstance(browser, Browser) and AXE.is_file()
    with httpx.Client(base_url=served.url, timeout=60) as http:
        scenario = scenario_over_http(http, gateway)
        _providers(http, scenario)
        _restrict(http, scenario, ["food", "sports"])
    context = browser.new_context(java_script_enabled=False, viewport={"width": WIDTHS[0], "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    path = f"/client/programs/{scenario.program_id}/providers"
    page.goto(f"{served.url}/client/language/en?next={path}")
    expect(page.locator("h1")).to_have_text("Where you can use your aid")  # no JavaScript needed
    expect(page.locator("li.provider")).to_have_count(2)
    context.close()

    context = browser.new_context(bypass_csp=True, viewport={"width": WIDTHS[0], "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    found: dict[str, list[dict[str, Any]]] = {}
    for lang in LANGUAGES:
        page.goto(f"{served.url}/client/language/{lang}?next={path}")
        page.goto(f"{served.url}{path}")  # loaded once, then laid out at each width
        expect(page.locator("html")).to_have_attribute("lang", lang)
        expect(page.locator("html")).to_have_attribute("dir", direction(lang))
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 900})
            violations = _axe_violations(page)
            if violations:
                found[f"{lang} {width}px"] = violations
            assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), (lang, width)
    context.close()
    assert found == {}, json.dumps(found, ensure_ascii=False, indent=1)


def test_what_i_have_says_where_each_aid_can_be_used(client: TestClient, scenario: Scenario) -> None:
    sign_in(client, scenario.voucher, scenario.pin)
    client.cookies.set("allmende-lang", "en")
    html = client.get("/client/what-i-have").text
    link = f'href="/client/programs/{scenario.program_id}/providers"'
    assert link in html and "Where can I use it?" in text_of(html)
