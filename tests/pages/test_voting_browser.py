"""A client takes part in a budget round in a real browser: Debian's headless Chromium driven by
Playwright against the gateway served by uvicorn on a loopback port (in this process, so the test can
move the chain's clock from the proposal phase to voting and on to the results).

One journey in one test, with JavaScript switched off: sign in, propose, vote after checking the cost,
replace the ballot, check both receipts on the public page without a session, sign out. Then every
new page in every language ("What I have", the rounds, a round taking proposals with a field error,
the ballot form with an over-budget check, the check page with a result, the results with their
chart) is checked by axe-core against WCAG 2.1 AA at 1280 and 390 px, Arabic and Persian right to
left included.
"""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest

from api.gateway import Gateway
from api.pages.i18n import LANGUAGES, direction
from tests.e2e.test_gateway_http import ThreadedServer
from tests.pages._rounds import PROPOSALS, ROUND_TITLE, open_round
from tests.pages._scenario import open_claims
from tests.pages.conftest import scenario_over_http
from tests.pages.test_pages_browser import AXE, TIMEOUT_MS, WIDTHS, _axe_violations, browser

pytestmark = [pytest.mark.browser, pytest.mark.slow]

__all__ = ["browser"]  # the fixture, shared with the client pages' browser test

CODE = re.compile(r"^[0-9A-Z]{4}(-[0-9A-Z]{4}){3}$")


def test_a_client_proposes_votes_replaces_and_checks_in_a_real_browser(
    served: ThreadedServer, gateway: Gateway, browser: object
) -> None:
    from playwright.sync_api import Browser, expect

    assert isinstance(browser, Browser)
    with httpx.Client(base_url=served.url, timeout=60) as http:
        scenario = scenario_over_http(http, gateway)
        setup = open_round(http, scenario, gateway.chain.now(), clients_propose=True, budget="300")
    url, rid = served.url, setup.round_id

    context = browser.new_context(
        java_script_enabled=False, locale="en-GB", viewport={"width": 1024, "height": 768}
    )
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.goto(f"{url}/client/sign-in")
    page.get_by_label("Voucher code").fill(scenario.voucher)
    page.get_by_label("PIN", exact=True).fill(scenario.pin)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{url}/client/")

    # --- the round, while it takes proposals: propose one ----------------------------------
    page.get_by_role("link", name="Voting").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Voting")
    page.get_by_role("link", name=ROUND_TITLE).click()
    expect(page).to_have_url(f"{url}/client/rounds/{rid}")
    page.get_by_label("Title").fill("Bänke am Ufer")
    page.get_by_label("What it is about").fill("Zum Ausruhen mit Blick aufs Wasser")
    page.get_by_label("What it costs, in euros").fill("75,50")
    page.get_by_role("button", name="Send my proposal").click()
    expect(page.get_by_role("status").first).to_have_text("Thank you. Your proposal is now on the list.")
    expect(page.get_by_role("heading", name="Bänke am Ufer")).to_be_visible()

    # --- voting: check the cost, cast, replace ---------------------------------------------
    gateway.advance_time(setup.voting_start - gateway.chain.now())
    page.reload()
    expect(page.get_by_text("You have 100 credits.")).to_be_visible()
    page.get_by_label(f"Your votes for “{PROPOSALS[0][0]}”").fill("6")
    page.get_by_label(f"Your votes for “{PROPOSALS[1][0]}”").fill("3")
    page.get_by_role("button", name="Check the cost").click()
    expect(page.locator(".tally")).to_have_text(re.compile(r"Credits used: 45 of 100\.\s+55 credits left\."))
    page.get_by_label("Your votes for “Bänke am Ufer”").fill("8")
    page.get_by_role("button", name="Check the cost").click()
    expect(page.get_by_role("alert")).to_contain_text("9 credits more than the 100 you have")
    page.get_by_label("Your votes for “Bänke am Ufer”").fill("5")
    page.get_by_role("button", name="Cast my ballot").click()
    first = page.locator("#receipt-code").inner_text()
    assert CODE.fullmatch(first), first
    expect(page.get_by_role("status").first).to_have_text("Your ballot has been counted.")
    assert gateway.system.budget.proposals(rid)[4].votes == 5

    page.get_by_label(f"Your votes for “{PROPOSALS[0][0]}”").fill("")
    page.get_by_label(f"Your votes for “{PROPOSALS[2][0]}”").fill("2")
    page.get_by_role("button", name="Replace my ballot").click()
    second = page.locator("#receipt-code").inner_text()
    assert CODE.fullmatch(second) and second != first
    assert [p.votes for p in gateway.system.budget.proposals(rid).values()] == [0, 3, 2, 5]

    # --- anyone checks a vote by its receipt, without signing in ---------------------------
    public = browser.new_context(java_script_enabled=False, locale="en-GB")
    public.set_default_timeout(TIMEOUT_MS)
    anyone = public.new_page()
    anyone.goto(f"{url}/client/check")
    anyone.get_by_label("Receipt code").fill(second.lower())
    anyone.get_by_role("button", name="Check", exact=True).click()
    result = anyone.locator(".check-result")
    expect(result).to_contain_text("This ballot is counted")
    expect(result.locator("tbody tr")).to_have_count(3)
    expect(result).to_contain_text("Bänke am Ufer")
    expect(anyone.locator(".counter")).to_have_text("1 voter has checked their vote in this round.")
    anyone.get_by_label("Receipt code").fill(first)
    anyone.get_by_role("button", name="Check", exact=True).click()
    expect(anyone.locator(".check-result")).to_contain_text("replaced by a later ballot")
    expect(anyone.locator(".counter")).to_have_text("2 voters have checked their vote in this round.")
    public.close()

    # --- sign out ------------------------------------------------------------------------
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(f"{url}/client/sign-in?reason=signed-out")
    page.goto(f"{url}/client/rounds/{rid}")
    expect(page).to_have_url(re.compile(r"/client/sign-in"))
    context.close()

    _every_voting_page_in_every_language_is_accessible(browser, url, gateway, scenario, setup, second)


def _claim_restricted_aid(http: httpx.Client, scenario: Any) -> None:
    """The scenario's client claims aid of their program restricted to food."""
    ngo = {"Authorization": f"Bearer {scenario.ngo_key}"}
    rule = {"kind": "restricted", "categories": ["food"]}
    assert http.put(f"/v1/ngo/programs/{scenario.program_id}/rule", json=rule, headers=ngo).status_code == 200
    restricted = open_claims(http, scenario.ngo_key, scenario.program_id, [(scenario.client_id, "5")])
    session = http.post("/v1/client/session", json={"voucherCode": scenario.voucher, "pin": scenario.pin})
    token = session.json()["token"]
    claimed = http.post(f"/v1/client/claims/{restricted}", headers={"Authorization": f"Bearer {token}"})
    assert claimed.status_code == 201, claimed.text


def _every_voting_page_in_every_language_is_accessible(
    browser: Any, url: str, gateway: Gateway, scenario: Any, setup: Any, receipt: str
) -> None:
    from playwright.sync_api import expect

    assert AXE.is_file(), "axe-core comes from npm: run `make setup`"
    with httpx.Client(base_url=url, timeout=60) as http:  # a second round, still taking proposals
        later = open_round(http, scenario, gateway.chain.now(), clients_propose=True, budget="200")
        _claim_restricted_aid(http, scenario)  # "What I have" then says when restricted aid ends
    context = browser.new_context(bypass_csp=True, viewport={"width": WIDTHS[0], "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.goto(f"{url}/client/sign-in")
    page.locator("#code").fill(scenario.voucher)
    page.locator("#pin").fill(scenario.pin)
    page.locator("form[action$='/sign-in'] button[type=submit]").click()
    expect(page).to_have_url(f"{url}/client/")
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
                found[f"{lang} {path} {width}px {getattr(prepare, '__name__', '')}"] = violations
            assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), (
                lang,
                path,
                width,
            )

    def bad_proposal() -> None:
        page.locator("#amount").fill("1")
        page.locator("form[action$='/proposals'] button[type=submit]").click()
        expect(page.locator("#amount")).to_have_attribute("aria-invalid", "true")

    def over_budget() -> None:
        page.locator("input.votes").first.fill("11")
        page.locator("button[value=check]").click()
        expect(page.locator(".notice.problem")).to_be_visible()

    def expiry_notice() -> None:
        expect(page.locator(".notice.expiry")).to_be_visible()

    def checked_receipt() -> None:
        page.locator("#code").fill(receipt)
        page.locator("form[action$='/check'] button[type=submit]").click()
        expect(page.locator(".check-result")).to_be_visible()

    for lang in LANGUAGES:
        page.goto(f"{url}/client/language/{lang}?next=/client/rounds")
        check(lang, "/client/rounds")
        check(lang, "/client/what-i-have", expiry_notice)
        check(lang, f"/client/rounds/{later.round_id}", bad_proposal)
        check(lang, f"/client/rounds/{setup.round_id}", over_budget)
        check(lang, "/client/check", checked_receipt)
    gateway.advance_time(setup.voting_end + 1 - gateway.chain.now())
    for lang in LANGUAGES:
        page.goto(f"{url}/client/language/{lang}?next=/client/rounds")
        check(lang, f"/client/rounds/{setup.round_id}")
        chart = page.locator("img.chart")
        expect(chart).to_be_visible()
        assert page.evaluate("document.querySelector('img.chart').naturalWidth") > 0  # the SVG loads
    context.close()
    assert found == {}, json.dumps(found, ensure_ascii=False, indent=1)
