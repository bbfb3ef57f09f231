"""The staff desk without JavaScript: a caseworker signs in with password and TOTP, finds a client by
voucher code, opens an assisted session with the client present (the client's own pages open, and a
claim there is journalled with the caseworker), registers a client and downloads their voucher card
once, resets a PIN with the recovery code, and signs out. Strangers, clients, API keys, a viewer and
another NGO's caseworker get nothing of it."""

from __future__ import annotations

import pyotp
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.gateway import Gateway
from api.models import Operation
from tests.api.people_support import PASSWORD, next_code
from tests.pages._scenario import Scenario, auth
from tests.pages.conftest import csrf_of, sign_in

STAFF = "__Host-allmende-staff"


def person(client: TestClient, ngo_key: str, login: str, roles: list[str]) -> pyotp.TOTP:
    """A person of the NGO with a confirmed second factor (through the JSON API)."""
    made = client.post(
        "/v1/people",
        json={"login": login, "displayName": login.title(), "roles": roles},
        headers=auth(ngo_key),
    ).json()
    secret = client.post(
        "/v1/people/setup", json={"login": login, "setupCode": made["setupCode"], "password": PASSWORD}
    ).json()["secret"]
    totp = pyotp.TOTP(secret)
    r = client.post(
        "/v1/people/second-factor", json={"login": login, "password": PASSWORD, "code": totp.now()}
    )
    assert r.status_code == 200, r.text
    return totp


def desk_sign_in(client: TestClient, login: str, totp: pyotp.TOTP) -> None:
    token = csrf_of(client.get("/staff/sign-in").text)
    r = client.post(
        "/staff/sign-in", data={"login": login, "password": PASSWORD, "code": next_code(totp), "csrf": token}
    )
    assert (r.status_code, r.headers.get("location")) == (303, "/staff/"), r.text


def test_a_caseworker_helps_a_client_at_the_desk(
    client: TestClient, gateway: Gateway, scenario: Scenario
) -> None:
    totp = person(client, scenario.ngo_key, "desk.erika", ["caseworker"])
    assert client.get("/staff/").headers["location"] == "/staff/sign-in"
    desk_sign_in(client, "desk.erika", totp)
    home = client.get("/staff/")
    assert home.status_code == 200 and "Desk.Erika" in home.text
    unknown = client.post("/staff/find", data={"code": "ABCD-EFGH-JKMN-PQRS", "csrf": csrf_of(home.text)})
    assert unknown.status_code == 404
    found = client.post("/staff/find", data={"code": scenario.voucher.lower(), "csrf": csrf_of(home.text)})
    assert found.headers["location"] == f"/staff/clients/{scenario.client_id}"
    page = client.get(found.headers["location"])
    assert page.status_code == 200 and "Zofia Kowalczyk-Brandt" in page.text
    wrong = client.post(
        f"/staff/clients/{scenario.client_id}/assist", data={"pin": "0000", "csrf": csrf_of(page.text)}
    )
    assert wrong.status_code == 400
    assisted = client.post(
        f"/staff/clients/{scenario.client_id}/assist", data={"pin": scenario.pin, "csrf": csrf_of(page.text)}
    )
    assert assisted.headers["location"] == "/client/"
    own = client.get("/client/")
    assert own.status_code == 200
    claimed = client.post(f"/client/claims/{scenario.claim_program_id}", data={"csrf": csrf_of(own.text)})
    assert claimed.status_code == 303, claimed.text
    person_id = next(p["id"] for p in client.get("/v1/people", headers=auth(scenario.ngo_key)).json())
    with gateway.db.session() as s:
        claims = list(s.scalars(select(Operation).where(Operation.acting_for == scenario.client_id)))
    assert [(op.person_id, op.kind) for op in claims] == [(person_id, "ClaimProgram.claim")]


def test_register_print_and_reset_a_pin_at_the_desk(client: TestClient, scenario: Scenario) -> None:
    totp = person(client, scenario.ngo_key, "desk.jonas", ["caseworker"])
    desk_sign_in(client, "desk.jonas", totp)
    form = client.get("/staff/register")
    made = client.post(
        "/staff/register",
        data={"name": "Olena Kovalenko", "birth": "1990-02-01", "pin": "1357", "csrf": csrf_of(form.text)},
    )
    assert made.status_code == 201, made.text
    again = client.post(
        "/staff/register",
        data={"name": "Olena Kovalenko", "birth": "1990-02-01", "pin": "", "csrf": csrf_of(form.text)},
    )
    assert again.status_code == 409
    sheet = made.text.split("/staff/voucher-sheets/")[1].split('"')[0]
    pdf = client.get(f"/staff/voucher-sheets/{sheet}")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert client.get(f"/staff/voucher-sheets/{sheet}").status_code == 404  # once
    page = client.get(f"/staff/clients/{scenario.client_id}")
    bad = client.post(
        f"/staff/clients/{scenario.client_id}/pin-reset",
        data={"recovery": "WRONG-CODE", "pin": "9753", "csrf": csrf_of(page.text)},
    )
    assert bad.status_code == 403
    reset = client.post(
        f"/staff/clients/{scenario.client_id}/pin-reset",
        data={"recovery": scenario.recovery, "pin": "9753", "csrf": csrf_of(page.text)},
    )
    assert reset.status_code == 201, reset.text
    new_code = reset.text.split('<dd class="code">')[1].split("<")[0]
    out = client.post("/staff/sign-out")
    assert out.headers["location"] == "/staff/sign-in?reason=signed-out"
    assert client.get("/staff/").headers["location"] == "/staff/sign-in"
    sign_in(client, new_code, "9753")  # the client signs in with the new card and PIN


def test_the_desk_is_for_caseworkers_of_an_ngo_only(client: TestClient, scenario: Scenario) -> None:
    viewer = person(client, scenario.ngo_key, "desk.viewer", ["viewer"])
    token = csrf_of(client.get("/staff/sign-in").text)
    r = client.post(
        "/staff/sign-in",
        data={"login": "desk.viewer", "password": PASSWORD, "code": next_code(viewer), "csrf": token},
    )
    assert r.status_code == 403 and STAFF not in r.cookies
    wrong = client.post(
        "/staff/sign-in", data={"login": "desk.viewer", "password": "no", "code": "123456", "csrf": token}
    )
    assert wrong.status_code == 400
    forged = client.post(
        "/staff/sign-in", data={"login": "desk.viewer", "password": PASSWORD, "code": "123456"}
    )
    assert forged.status_code == 403
    for key in (scenario.ngo_key, scenario.admin_key):  # an API key opens no desk page
        assert client.get("/staff/", headers=auth(key)).headers["location"] == "/staff/sign-in"
        client.cookies.set(STAFF, key, domain="testserver")
        assert client.get("/staff/").headers["location"] == "/staff/sign-in"
        client.cookies.clear()
    other = client.post(
        "/v1/admin/organisations", json={"kind": "ngo", "name": "Other"}, headers=auth(scenario.admin_key)
    ).json()
    totp = person(client, other["apiKey"], "desk.other", ["caseworker"])
    desk_sign_in(client, "desk.other", totp)
    home = client.get("/staff/")
    found = client.post("/staff/find", data={"code": scenario.voucher, "csrf": csrf_of(home.text)})
    assert found.status_code == 404  # another NGO's client is not found
    assert client.get(f"/staff/clients/{scenario.client_id}").status_code == 404


def test_a_paper_ballot_is_entered_in_an_assisted_session_in_the_caseworkers_name(
    client: TestClient, gateway: Gateway, scenario: Scenario
) -> None:
    from tests.pages._rounds import open_round
    from tests.pages.test_voting_pages import cast, to

    round_ = open_round(client, scenario, gateway.chain.now())
    to(gateway, round_.voting_start)
    totp = person(client, scenario.ngo_key, "desk.paper", ["caseworker"])
    desk_sign_in(client, "desk.paper", totp)
    page = client.get(f"/staff/clients/{scenario.client_id}")
    assisted = client.post(
        f"/staff/clients/{scenario.client_id}/assist", data={"pin": scenario.pin, "csrf": csrf_of(page.text)}
    )
    assert assisted.headers["location"] == "/client/"
    cast(
        client, round_.round_id, {1: "3", 2: "4"}
    )  # the votes from the paper ballot, as the client marked them
    assert gateway.system.budget.proposals(round_.round_id)[1].votes == 3
    person_id = next(p["id"] for p in client.get("/v1/people", headers=auth(scenario.ngo_key)).json())
    with gateway.db.session() as s:
        ballots = list(s.scalars(select(Operation).where(Operation.kind == "ParticipatoryBudget.castBallot")))
    assert [(op.person_id, op.acting_for) for op in ballots] == [(person_id, scenario.client_id)]
