"""The voting pages in process: the rounds list, the ballot form with its check step, casting and
replacing a ballot, refusals, the results with their chart, and the public "check my vote" page."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.app import create_app
from api.gateway import Gateway
from api.models import VoteReceipt
from api.services.clients import ClientSession
from api.services.vote_receipts import CODE_LENGTH, format_code, parse_code
from tests.api.conftest import copy_deployed, make_settings
from tests.pages._rounds import PROPOSALS, ROUND_TITLE, RoundSetUp, open_round
from tests.pages._scenario import Scenario, auth, register, set_up
from tests.pages.conftest import BASE_URL, csrf_of, sign_in
from tests.pages.test_pages import text_of

RECEIPT = "__Host-allmende-receipt"
CODE = re.compile(r'id="receipt-code">([0-9A-Z-]{19})<')


@pytest.fixture
def round_(client: TestClient, gateway: Gateway, scenario: Scenario) -> RoundSetUp:
    return open_round(client, scenario, gateway.chain.now())


def to(gateway: Gateway, moment: int) -> None:
    gateway.advance_time(moment - gateway.chain.now())


def form(page_html: str, votes: dict[int, str], action: str) -> dict[str, object]:
    """The ballot form as a browser posts it: every proposal's field, in page order."""
    ids = [int(x) for x in re.findall(r'name="proposal" value="(\d+)"', page_html)]
    return {
        "csrf": csrf_of(page_html),
        "proposal": [str(i) for i in ids],
        "votes": [votes.get(i, "") for i in ids],
        "action": action,
    }


def cast(client: TestClient, rid: int, votes: dict[int, str]) -> str:
    """Cast a ballot through the form; returns the receipt code the next page shows once."""
    page = client.get(f"/client/rounds/{rid}").text
    r = client.post(f"/client/rounds/{rid}/ballot", data=form(page, votes, "cast"))
    assert (r.status_code, r.headers["location"]) == (303, f"/client/rounds/{rid}"), text_of(r.text)
    assert RECEIPT in r.headers["set-cookie"] and "HttpOnly" in r.headers["set-cookie"]
    shown = client.get(f"/client/rounds/{rid}")
    match = CODE.search(shown.text)
    assert match is not None, text_of(shown.text)
    assert CODE.search(client.get(f"/client/rounds/{rid}").text) is None  # shown once only
    return match.group(1)


def test_the_rounds_page_lists_the_round_and_its_proposals_before_voting(
    client: TestClient, scenario: Scenario, round_: RoundSetUp
) -> None:
    sign_in(client, scenario.voucher, scenario.pin)
    client.cookies.set("allmende-lang", "en")
    listed = client.get("/client/rounds")
    assert listed.status_code == 200 and ROUND_TITLE in listed.text
    assert "Proposals are being collected" in text_of(listed.text)
    page = client.get(f"/client/rounds/{round_.round_id}")
    assert page.status_code == 200
    words = text_of(page.text)
    assert all(title in words for title, _ in PROPOSALS) and "Voting starts on" in words
    assert 'name="votes"' not in page.text  # no ballot form before voting opens
    early = client.post(
        f"/client/rounds/{round_.round_id}/ballot",
        data={
            "csrf": csrf_of(client.get("/client/").text),
            "proposal": ["1"],
            "votes": ["1"],
            "action": "cast",
        },
    )
    assert early.status_code == 409 and "Voting is not open" in text_of(early.text)


def test_check_recomputes_the_cost_and_an_over_budget_ballot_is_refused_by_how_much(
    client: TestClient, gateway: Gateway, scenario: Scenario, round_: RoundSetUp
) -> None:
    sign_in(client, scenario.voucher, scenario.pin)
    client.cookies.set("allmende-lang", "en")
    to(gateway, round_.voting_start)
    rid = round_.round_id
    page = client.get(f"/client/rounds/{rid}").text
    assert "You have 100 credits" in text_of(page) and page.count('type="number"') == 3

    checked = client.post(f"/client/rounds/{rid}/ballot", data=form(page, {1: "6", 2: "3"}, "check"))
    words = text_of(checked.text)
    assert checked.status_code == 200
    assert "36 credits" in words and "9 credits" in words
    assert "Credits used: 45 of 100." in words and "55 credits left." in words
    assert 'value="6"' in checked.text and 'value="3"' in checked.text  # the form keeps what was typed

    over = client.post(f"/client/rounds/{rid}/ballot", data=form(page, {1: "9", 2: "5"}, "check"))
    assert over.status_code == 200
    assert "Your votes cost 106 credits: 6 credits more than the 100 you have." in text_of(over.text)
    refused = client.post(f"/client/rounds/{rid}/ballot", data=form(page, {1: "9", 2: "5"}, "cast"))
    assert refused.status_code == 400 and "6 credits more" in text_of(refused.text)
    assert gateway.system.budget.proposals(rid)[1].votes == 0  # nothing went on chain


def test_bad_ballot_forms_get_kind_answers_never_server_errors(
    client: TestClient, gateway: Gateway, scenario: Scenario, round_: RoundSetUp
) -> None:
    sign_in(client, scenario.voucher, scenario.pin)
    client.cookies.set("allmende-lang", "en")
    to(gateway, round_.voting_start)
    rid = round_.round_id
    page = client.get(f"/client/rounds/{rid}").text
    for typed in ("-1", "two", "1.5", "99999999", "٣"):
        r = client.post(f"/client/rounds/{rid}/ballot", data=form(page, {1: typed}, "cast"))
        assert r.status_code == 400, typed
        assert "Please enter a whole number of votes" in text_of(r.text) and 'aria-invalid="true"' in r.text
    good = form(page, {1: "1"}, "cast")
    for bad in (
        {**good, "proposal": ["1", "2", "99"]},  # a proposal the round does not have
        {**good, "proposal": ["1", "1", "2"]},  # the same proposal twice
        {**good, "votes": ["1"]},  # lists of different lengths
        {**good, "proposal": ["x", "2", "3"]},
    ):
        assert client.post(f"/client/rounds/{rid}/ballot", data=bad).status_code == 400
    stale = client.post(f"/client/rounds/{rid}/ballot", data={**good, "csrf": "forged"})
    assert stale.status_code == 403 and "open for too long" in text_of(stale.text)
    assert client.get("/client/rounds/999").status_code == 404
    assert client.get("/client/rounds/abc").status_code == 404


def test_a_client_votes_replaces_the_ballot_and_checks_both_receipts(
    client: TestClient, gateway: Gateway, scenario: Scenario, round_: RoundSetUp
) -> None:
    sign_in(client, scenario.voucher, scenario.pin)
    client.cookies.set("allmende-lang", "en")
    to(gateway, round_.voting_start)
    rid = round_.round_id
    first = cast(client, rid, {1: "3", 2: "4"})
    assert gateway.system.budget.proposals(rid)[1].votes == 3
    page = client.get(f"/client/rounds/{rid}").text
    assert "You have voted" in text_of(page) and "Replace my ballot" in page and 'value="4"' in page
    second = cast(client, rid, {3: "7"})
    assert first != second and parse_code(first) and parse_code(second)
    proposals = gateway.system.budget.proposals(rid)
    assert (proposals[1].votes, proposals[2].votes, proposals[3].votes) == (0, 0, 7)

    public = TestClient(client.app, base_url=BASE_URL, follow_redirects=False)  # nobody signed in
    public.cookies.set("allmende-lang", "en")
    old = public.post("/client/check", data={"code": first.lower().replace("-", " ")})
    words = text_of(old.text)
    assert old.status_code == 200 and "replaced by a later ballot" in words
    assert "Spielplatz am Hafen 3 9" in words and "Lastenrad für alle 4 16" in words
    assert "1 voter has checked their vote in this round." in words
    new = public.post("/client/check", data={"code": second})
    words = text_of(new.text)
    assert "This ballot is counted" in words and "Sprachcafé 7 49" in words
    assert "exactly the sum of all counted ballots" in words
    assert "2 voters have checked their vote in this round." in words
    tx = re.search(r'<code class="hash">(0x[0-9a-f]{64})</code>', new.text)
    assert tx is not None and "<details>" in new.text
    again = public.post("/client/check", data={"code": second})
    assert "2 voters have checked" in text_of(again.text)  # a receipt counts once
    assert scenario.client_id not in new.text and scenario.account.lower() not in new.text.lower()


def test_a_receipt_code_cannot_be_guessed_or_moved_to_another_ballot(
    client: TestClient, gateway: Gateway, scenario: Scenario, round_: RoundSetUp
) -> None:
    sign_in(client, scenario.voucher, scenario.pin)
    client.cookies.set("allmende-lang", "en")
    to(gateway, round_.voting_start)
    first = cast(client, round_.round_id, {1: "2"})
    second = cast(client, round_.round_id, {2: "2"})
    for wrong in ("", "1234", "0" * CODE_LENGTH, first[:-1] + ("0" if first[-1] != "0" else "1"), "x" * 39):
        r = client.post("/client/check", data={"code": wrong})
        assert r.status_code == 404 and "We found no ballot with this code" in text_of(r.text), wrong
    with gateway.db.session() as s:
        rows = s.query(VoteReceipt).all()
        assert len(rows) == 2 and all(set(vars(r)) >= {"lookup", "binding"} for r in rows)
        stored = " ".join(f"{r.lookup} {r.binding} {r.transaction_hash}" for r in rows)
        for code in (first, second):  # the code itself is stored nowhere
            assert parse_code(code) not in stored.upper() and code not in stored
        rows[0].transaction_hash, rows[1].transaction_hash = (
            rows[1].transaction_hash,
            rows[0].transaction_hash,
        )
    for code in (first, second):  # swapped in the database: the binding no longer matches
        assert client.post("/client/check", data={"code": code}).status_code == 404
    assert format_code("ABCDEFGHJKMNPQRS") == "ABCD-EFGH-JKMN-PQRS"


def test_results_after_voting_as_a_chart_and_a_table(
    client: TestClient, gateway: Gateway, scenario: Scenario, round_: RoundSetUp
) -> None:
    sign_in(client, scenario.voucher, scenario.pin)
    client.cookies.set("allmende-lang", "en")
    rid = round_.round_id
    assert client.get(f"/client/rounds/{rid}/results.svg").status_code == 404  # nothing to show yet
    to(gateway, round_.voting_start)
    cast(client, round_.round_id, {1: "5", 3: "2"})
    to(gateway, round_.voting_end + 1)
    page = client.get(f"/client/rounds/{rid}")
    words = text_of(page.text)
    assert page.status_code == 200 and "Voting has closed" in words and 'name="votes"' not in page.text
    assert f'src="/client/rounds/{rid}/results.svg"' in page.text and 'alt="Bar chart' in page.text
    assert "Spielplatz am Hafen €300.00 5" in words and "Sprachcafé €80.00 2" in words
    svg = client.get(f"/client/rounds/{rid}/results.svg")
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
    assert "<script" not in svg.text and "Spielplatz am Hafen" in svg.text
    done = client.post(f"/v1/ngo/rounds/{rid}/finalise", headers=auth(scenario.ngo_key))
    assert done.status_code == 201, done.text
    final = text_of(client.get(f"/client/rounds/{rid}").text)
    assert "The results are final" in final and "Funded" in final


def test_clients_of_another_ngo_and_strangers_see_no_round(
    client: TestClient, gateway: Gateway, scenario: Scenario, round_: RoundSetUp
) -> None:
    rid = round_.round_id
    stranger = TestClient(client.app, base_url=BASE_URL, follow_redirects=False)
    for method, path in (("GET", f"/client/rounds/{rid}"), ("POST", f"/client/rounds/{rid}/ballot")):
        r = stranger.request(method, path)
        assert r.status_code == 303 and r.headers["location"].startswith("/client/sign-in")
    other_ngo = client.post(
        "/v1/admin/organisations", json={"kind": "ngo", "name": "other"}, headers=auth(scenario.admin_key)
    ).json()
    other = register(client, other_ngo["apiKey"], "Olena Shevchenko")
    browser = TestClient(client.app, base_url=BASE_URL, follow_redirects=False)
    sign_in(browser, other["voucherCode"], scenario.pin)
    assert ROUND_TITLE not in browser.get("/client/rounds").text
    assert browser.get(f"/client/rounds/{rid}").status_code == 404
    to(gateway, round_.voting_start)
    r = browser.post(
        f"/client/rounds/{rid}/ballot",
        data={"csrf": "any", "proposal": ["1"], "votes": ["1"], "action": "cast"},
    )
    assert r.status_code == 404
    assert gateway.system.budget.proposals(rid)[1].votes == 0


def test_a_client_proposes_in_a_round_that_takes_clients_proposals(
    client: TestClient, gateway: Gateway, scenario: Scenario
) -> None:
    setup = open_round(client, scenario, gateway.chain.now(), clients_propose=True)
    rid = setup.round_id
    sign_in(client, scenario.voucher, scenario.pin)
    client.cookies.set("allmende-lang", "en")
    page = client.get(f"/client/rounds/{rid}").text
    assert "Make a proposal" in page and f'action="/client/rounds/{rid}/proposals"' in page
    token = csrf_of(page)
    bad = client.post(
        f"/client/rounds/{rid}/proposals", data={"csrf": token, "title": "", "amount": "12.345"}
    )
    words = text_of(bad.text)
    assert bad.status_code == 400 and "Please give your proposal a short title." in words
    assert "Please enter an amount in euros from €50.00 to €300.00." in words
    too_much = client.post(
        f"/client/rounds/{rid}/proposals", data={"csrf": token, "title": "Bänke", "amount": "301"}
    )
    assert too_much.status_code == 400 and 'value="Bänke"' in too_much.text  # what was typed stays
    forged = client.post(
        f"/client/rounds/{rid}/proposals", data={"csrf": "x", "title": "Bänke", "amount": "60"}
    )
    assert forged.status_code == 403
    done = client.post(
        f"/client/rounds/{rid}/proposals",
        data={"csrf": token, "title": "Bänke am Ufer", "description": "Zum Ausruhen", "amount": "75,50"},
    )
    assert (done.status_code, done.headers["location"]) == (303, f"/client/rounds/{rid}?proposed=1")
    shown = text_of(client.get(f"/client/rounds/{rid}?proposed=1").text)
    assert "Your proposal is now on the list" in shown and "Bänke am Ufer" in shown and "€75.50" in shown
    on_chain = gateway.system.budget.proposals(rid)[4]
    assert on_chain.amount == 75_500_000 and on_chain.program_id == scenario.program_id
    voter = gateway.rounds.client_view(_session(gateway, client), rid)
    assert on_chain.proposer == voter.voter  # the client's voting pseudonym, not the NGO's key
    to(gateway, setup.voting_start)
    late = client.post(
        f"/client/rounds/{rid}/proposals", data={"csrf": token, "title": "Zu spät", "amount": "60"}
    )
    assert late.status_code == 409 and "takes no more proposals" in text_of(late.text)


def _session(gateway: Gateway, client: TestClient) -> ClientSession:
    token = client.cookies.get("__Host-allmende-session")
    assert token
    return gateway.clients.session(token)


def test_a_round_without_clients_proposals_shows_no_form_and_refuses_one(
    client: TestClient, gateway: Gateway, scenario: Scenario, round_: RoundSetUp
) -> None:
    sign_in(client, scenario.voucher, scenario.pin)
    client.cookies.set("allmende-lang", "en")
    page = client.get(f"/client/rounds/{round_.round_id}").text
    assert "Make a proposal" not in page
    r = client.post(
        f"/client/rounds/{round_.round_id}/proposals",
        data={"csrf": _csrf_of_session(gateway, client), "title": "Bänke", "amount": "60"},
    )
    assert r.status_code == 403 and "only the advice centre makes proposals" in text_of(r.text)
    assert len(gateway.system.budget.proposals(round_.round_id)) == 3


def _csrf_of_session(gateway: Gateway, client: TestClient) -> str:
    token = client.cookies.get("__Host-allmende-session")
    assert token
    return gateway.tag("page-csrf", token)


def test_a_round_cannot_name_another_ngos_program_for_clients_proposals(
    client: TestClient, gateway: Gateway, scenario: Scenario
) -> None:
    other = client.post(
        "/v1/admin/organisations", json={"kind": "ngo", "name": "other"}, headers=auth(scenario.admin_key)
    ).json()
    program = client.post("/v1/ngo/programs", json={"name": "Fremd"}, headers=auth(other["apiKey"])).json()
    lot = client.post("/v1/funder/lots", json={"amount": "100"}, headers=auth(scenario.funder_key)).json()
    now = gateway.chain.now()
    body = {
        "title": "X",
        "funding": [{"lotId": lot["lotId"], "amount": "100"}],
        "credits": 10,
        "votingStart": datetime.fromtimestamp(now + 86_400, UTC).isoformat(),
        "votingEnd": datetime.fromtimestamp(now + 2 * 86_400, UTC).isoformat(),
        "minCost": "10",
        "maxCost": "100",
        "clientProgramId": program["programId"],
    }
    r = client.post("/v1/ngo/rounds", json=body, headers=auth(scenario.ngo_key))
    assert (r.status_code, r.json()["code"]) == (403, "NotYourProgram")


def test_receipts_proposals_and_holdings_on_sqlite_and_postgresql(
    tmp_path: Path, deployed_data_dir: Path, database_url: str
) -> None:
    copy_deployed(deployed_data_dir, tmp_path)
    gw = Gateway.open(make_settings(tmp_path, database_url))
    try:
        with TestClient(create_app(gw.settings, gw), base_url=BASE_URL, follow_redirects=False) as http:
            created = gw.bootstrap_admin()
            assert created is not None
            s = set_up(http, created[1])
            setup = open_round(http, s, gw.chain.now(), clients_propose=True)
            sign_in(http, s.voucher, s.pin)
            http.cookies.set("allmende-lang", "en")
            page = http.get(f"/client/rounds/{setup.round_id}").text
            r = http.post(
                f"/client/rounds/{setup.round_id}/proposals",
                data={"csrf": csrf_of(page), "title": "Bänke", "amount": "60"},
            )
            assert r.status_code == 303
            assert "Winter" in text_of(http.get("/client/what-i-have").text)
            to(gw, setup.voting_start)
            code = cast(http, setup.round_id, {4: "3"})
            checked = text_of(http.post("/client/check", data={"code": code}).text)
            assert "This ballot is counted" in checked and "Bänke 3 9" in checked
            assert "1 voter has checked" in checked
    finally:
        gw.close()


FORM_TEXT = st.text(st.characters(codec="utf-8"), max_size=30) | st.sampled_from(
    ["", "0", "1", "3", "-1", "\x00", "9" * 30, "1,5", "٣"]
)


@pytest.fixture
def two_rounds(client: TestClient, gateway: Gateway, scenario: Scenario) -> dict[str, str]:
    """Round 1 open for votes, round 2 taking clients' proposals; the signed-in client's form token."""
    voting = open_round(client, scenario, gateway.chain.now(), budget="300")
    to(gateway, voting.voting_start)
    open_round(client, scenario, gateway.chain.now(), budget="200", clients_propose=True)
    sign_in(client, scenario.voucher, scenario.pin)
    return {"csrf": _csrf_of_session(gateway, client)}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    fields=st.dictionaries(
        st.sampled_from(["proposal", "votes", "action", "title", "description", "amount", "code", "x"]),
        st.lists(FORM_TEXT, max_size=4),
        max_size=6,
    ),
    target=st.sampled_from(
        [
            "/client/rounds/1/ballot",
            "/client/rounds/2/ballot",
            "/client/rounds/2/proposals",
            "/client/rounds/1/proposals",
            "/client/rounds/9/ballot",
            "/client/check",
        ]
    ),
    genuine=st.booleans(),
)
def test_any_voting_form_post_is_answered_with_a_page_never_a_server_error(
    client: TestClient, two_rounds: dict[str, str], fields: dict[str, list[str]], target: str, genuine: bool
) -> None:
    data: dict[str, object] = dict(fields)
    if genuine:  # past the CSRF check, into the form's own handling
        data["csrf"] = two_rounds["csrf"]
    r = client.post(target, data=data)
    assert r.status_code in (200, 303, 400, 403, 404, 409), (target, fields, r.status_code)
    assert r.status_code == 303 or r.headers["content-type"].startswith("text/html")
