"""The "What I have" page: each entitlement with its own name and NGO, what is left of it, and what
happened to each euro in plain words, transaction numbers behind "details"."""

from __future__ import annotations

from datetime import UTC, datetime

from eth_account import Account
from fastapi.testclient import TestClient

from api.gateway import Gateway
from api.pages._format import day
from governance.pseudonyms import Purpose, pseudonym_key
from governance.vouchers import program_index
from tests.api.conftest import auth
from tests.pages._scenario import PIN, Scenario, open_claims, register
from tests.pages.conftest import BASE_URL, csrf_of, sign_in
from tests.pages.test_pages import text_of

SESSION = "__Host-allmende-session"


def test_each_entitlement_says_what_it_is_for_what_is_left_and_where_each_euro_went(
    client: TestClient, gateway: Gateway, scenario: Scenario
) -> None:
    second = open_claims(client, scenario.ngo_key, scenario.program_id, [(scenario.client_id, "15")])
    sign_in(client, scenario.voucher, scenario.pin)
    client.cookies.set("allmende-lang", "en")
    before = client.get("/client/what-i-have")
    words = text_of(before.text)
    assert before.status_code == 200 and words.count("Winter") >= 2  # the claim programs' own name
    assert "From: ngo" in words and "Not collected yet" in words and "<details>" not in before.text

    home = client.get("/client/").text
    claimed = client.post(f"/client/claims/{scenario.claim_program_id}", data={"csrf": csrf_of(home)})
    assert claimed.status_code == 303

    # the client spends 12.50 € of it: a token transfer signed with their payout key, relayed
    session = gateway.clients.session(client.cookies[SESSION])
    ref = gateway.claims._ref(scenario.claim_program_id)
    payout = Account.from_key(pseudonym_key(session.root, Purpose.PAYOUT, program_index(ref)))
    shop = Account.create().address
    gateway.execute(session.principal, payout, gateway.system.token.transfer_call(shop, 12_500_000))

    after = client.get("/client/what-i-have")
    card = _card(after.text, scenario.claim_program_id)
    words = text_of(card)
    assert "Left: €27.50" in words and "You received €40.00." in words
    assert "You paid €12.50 with it." in words and "€27.50 is still yours to use." in words
    assert "<details>" in card and card.count('<code class="hash">0x') == 2  # the numbers, behind details
    other = text_of(_card(after.text, second))
    assert "€15.00" in other and "Not collected yet" in other


def _card(html: str, claim_program_id: int) -> str:
    return html.split(f'id="holding-{claim_program_id}"')[1].split('<li class="card holding"')[0]


def test_another_client_sees_only_their_own(client: TestClient, scenario: Scenario) -> None:
    other = register(client, scenario.ngo_key, "Jonas Beispiel")
    browser = TestClient(client.app, base_url=BASE_URL, follow_redirects=False)
    sign_in(browser, other["voucherCode"], scenario.pin)
    browser.cookies.set("allmende-lang", "en")
    page = browser.get("/client/what-i-have")
    assert page.status_code == 200 and "There is nothing ready for you" in text_of(page.text)
    stranger = TestClient(client.app, base_url=BASE_URL, follow_redirects=False)
    r = stranger.get("/client/what-i-have")
    assert r.status_code == 303 and r.headers["location"].startswith("/client/sign-in")


def test_restricted_aid_says_its_end_before_and_what_went_back_after(
    client: TestClient, gateway: Gateway, scenario: Scenario
) -> None:
    rule = client.put(
        f"/v1/ngo/programs/{scenario.program_id}/rule",
        json={"kind": "restricted", "categories": ["food"]},
        headers=auth(scenario.ngo_key),
    )
    assert rule.status_code == 200, rule.text
    restricted = open_claims(client, scenario.ngo_key, scenario.program_id, [(scenario.client_id, "20")])
    sign_in(client, scenario.voucher, scenario.pin)
    client.cookies.set("allmende-lang", "en")
    home = client.get("/client/").text
    assert client.post(f"/client/claims/{restricted}", data={"csrf": csrf_of(home)}).status_code == 303

    expiry = gateway.system.claims.program(restricted).info().expiry
    before = text_of(_card(client.get("/client/what-i-have").text, restricted))
    assert (
        f"Use it by {day(expiry, 'en')}. What is left then goes back to the people who gave the money."
        in before
    )
    assert "€20.00 is still yours to use." in before
    cash = text_of(_card(client.get("/client/what-i-have").text, scenario.claim_program_id))
    assert "Use it by" not in cash  # cash aid has no such end

    gateway.advance_time(31 * 86_400)
    sent = client.post(f"/v1/claim-programs/{restricted}/expiry", headers=auth(scenario.ngo_key))
    assert sent.status_code == 200 and sent.json()["reclaimed"] == "20.000000", sent.text
    after_html = _card(client.get("/client/what-i-have").text, restricted)
    after = text_of(after_html)
    assert "€20.00 was not used in time and went back to the people who gave the money." in after
    assert "Use it by" not in after and "still yours to use" not in after and "Left: €0.00" in after
    assert "Went back" in after_html


def test_restricted_aid_paid_directly_says_its_end_before_and_what_went_back_after(
    client: TestClient, gateway: Gateway, scenario: Scenario
) -> None:
    reg = register(client, scenario.ngo_key, "Mira Beispiel")
    ngo, funder = auth(scenario.ngo_key), auth(scenario.funder_key)
    program = client.post("/v1/ngo/programs", json={"name": "Sommerhilfe"}, headers=ngo).json()["programId"]
    lot = client.post("/v1/funder/lots", json={"amount": "30"}, headers=funder).json()["lotId"]
    allocation = {"programId": program, "amount": "30"}
    assert (
        client.post(f"/v1/funder/lots/{lot}/allocations", json=allocation, headers=funder).status_code == 201
    )
    tranche = client.post(
        f"/v1/ngo/programs/{program}/tranches", json={"amount": "30", "milestone": "summer"}, headers=ngo
    ).json()["trancheId"]
    assert client.post(f"/v1/tranches/{tranche}/approve", headers=funder).status_code == 201
    ends_at = gateway.chain.now() + 30 * 86_400
    rule = {
        "kind": "restricted",
        "categories": ["food"],
        "endsAt": datetime.fromtimestamp(ends_at, UTC).isoformat(),
    }
    assert client.put(f"/v1/ngo/programs/{program}/rule", json=rule, headers=ngo).status_code == 200
    payment = {"payments": [{"address": reg["account"], "amount": "25"}]}
    assert (
        client.post(f"/v1/ngo/programs/{program}/disbursements", json=payment, headers=ngo).status_code == 201
    )

    sign_in(client, reg["voucherCode"], PIN)
    client.cookies.set("allmende-lang", "en")
    anchor = f'id="holding-program-{program}"'
    before = text_of(client.get("/client/what-i-have").text.split(anchor)[1])
    assert "Sommerhilfe" in before and "€25.00 is still yours to use." in before
    assert (
        f"Use it by {day(ends_at, 'en')}. What is left then goes back to the people who gave the money."
        in before
    )

    gateway.advance_time(31 * 86_400)
    sent = client.post(f"/v1/programs/{program}/expiry", headers=ngo)
    assert sent.status_code == 200 and sent.json()["swept"] == "25.000000", sent.text
    after = text_of(client.get("/client/what-i-have").text.split(anchor)[1])
    assert "€25.00 was not used in time and went back to the people who gave the money." in after
    assert "Use it by" not in after and "Left: €0.00" in after
