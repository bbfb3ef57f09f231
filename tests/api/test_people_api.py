"""People of organisations over HTTP: an admin adds people with roles, they set up a password and a
second factor and sign in; API keys per person or per integration, each revocable alone; a key or a
session acts as that person of that organisation; every relayed operation is journalled with the
person who caused it; an approver signs with their own key, so two people of one organisation ask
and decide. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from api.gateway import Gateway
from api.models import Operation
from ledger.roles import Role
from tests.api.conftest import Keys, auth
from tests.api.people_support import PASSWORD, name_approver, next_code, ok, set_up_person


def _funded_program(client: TestClient, keys: Keys, ngo_key: str) -> int:
    """A program of the NGO with 500 euros allocated by the funder."""
    program = ok(client.post("/v1/ngo/programs", json={"name": "Winterhilfe"}, headers=auth(ngo_key)))[
        "programId"
    ]
    lot = ok(client.post("/v1/funder/lots", json={"amount": "1000"}, headers=auth(keys.funder)))["lotId"]
    ok(
        client.post(
            f"/v1/funder/lots/{lot}/allocations",
            json={"programId": program, "amount": "500"},
            headers=auth(keys.funder),
        )
    )
    return int(program)


def test_an_admin_adds_a_person_who_sets_up_signs_in_and_out(client: TestClient, keys: Keys) -> None:
    erika = set_up_person(client, keys.ngo, "erika", ["caseworker"])
    me = ok(client.get("/v1/me", headers=auth(erika.session)))
    assert me["kind"] == "ngo" and me["person"]["login"] == "erika" and me["person"]["secondFactor"]
    assert ok(client.get("/v1/me", headers=auth(erika.api_key)))["person"]["id"] == erika.id
    assert ok(client.get("/v1/me", headers=auth(keys.ngo)))["person"] is None  # the integration
    listed = ok(client.get("/v1/people", headers=auth(keys.ngo)))
    assert [p["login"] for p in listed] == ["erika"]
    assert all("setupCode" not in p and "password" not in str(p) for p in listed)
    assert client.delete("/v1/people/session", headers=auth(erika.session)).status_code == 204
    gone = client.get("/v1/me", headers=auth(erika.session))
    assert (gone.status_code, gone.json()["code"]) == (401, "InvalidSession")
    assert 'error="invalid_token"' in gone.headers["www-authenticate"]
    not_a_session = client.delete("/v1/people/session", headers=auth(erika.api_key))
    assert (not_a_session.status_code, not_a_session.json()["code"]) == (422, "NotASession")


def test_wrong_sign_ins_are_refused_with_problems_and_lock(client: TestClient, keys: Keys) -> None:
    anna = set_up_person(client, keys.ngo, "anna", ["caseworker"])
    wrong = client.post("/v1/people/session", json={"login": "anna", "password": "wrong", "code": "123456"})
    assert (wrong.status_code, wrong.json()["code"]) == (401, "SignInFailed")
    assert wrong.headers["www-authenticate"].startswith("Bearer")
    bad_code = client.post(
        "/v1/people/session", json={"login": "anna", "password": PASSWORD, "code": "12ab56"}
    )
    assert (bad_code.status_code, bad_code.json()["code"]) == (422, "ValidationFailed")
    codes = [
        client.post(
            "/v1/people/session", json={"login": "anna", "password": f"guess {i}", "code": "123456"}
        ).json()["code"]
        for i in range(8)
    ]
    assert codes[-1] == "SignInLocked"
    locked = client.post(
        "/v1/people/session", json={"login": "anna", "password": PASSWORD, "code": next_code(anna.totp)}
    )
    assert (locked.status_code, locked.json()["code"]) == (429, "SignInLocked")
    unknown_role = client.post(
        "/v1/people",
        json={"login": "xaver", "displayName": "X", "roles": ["cashier"]},
        headers=auth(keys.ngo),
    )
    assert (unknown_role.status_code, unknown_role.json()["code"]) == (422, "UnknownRole")
    taken = client.post(
        "/v1/people", json={"login": "anna", "displayName": "A", "roles": ["viewer"]}, headers=auth(keys.ngo2)
    )
    assert (taken.status_code, taken.json()["code"]) == (409, "LoginTaken")


def test_api_keys_are_issued_listed_and_revoked_one_at_a_time(client: TestClient, keys: Keys) -> None:
    ben = set_up_person(client, keys.ngo, "ben", ["caseworker"])
    second = ok(client.post("/v1/api-keys", json={"name": "ben desk"}, headers=auth(ben.api_key)))
    assert second["personId"] == ben.id and second["name"] == "ben desk"
    integration = ok(
        client.post(
            "/v1/api-keys", json={"name": "case software", "integration": True}, headers=auth(keys.ngo)
        )
    )
    assert integration["personId"] is None
    listed = ok(client.get("/v1/api-keys", headers=auth(keys.ngo)))
    assert {"ben laptop", "ben desk", "case software"} <= {k["name"] for k in listed}
    assert all("apiKey" not in k and k["prefix"] not in ("", None) for k in listed)
    own = ok(client.get("/v1/api-keys", headers=auth(ben.api_key)))
    assert {k["name"] for k in own} == {"ben laptop", "ben desk"}
    revoked = ok(client.delete(f"/v1/api-keys/{ben.api_key.split('_')[1]}", headers=auth(second["apiKey"])))
    assert revoked["revoked"]
    refused = client.get("/v1/me", headers=auth(ben.api_key))
    assert (refused.status_code, refused.json()["code"]) == (401, "InvalidApiKey")
    assert 'error="invalid_token"' in refused.headers["www-authenticate"]
    for still in (second["apiKey"], integration["apiKey"], keys.ngo, ben.session):
        assert client.get("/v1/me", headers=auth(still)).status_code == 200
    not_his = client.delete(f"/v1/api-keys/{integration['prefix']}", headers=auth(second["apiKey"]))
    assert (not_his.status_code, not_his.json()["code"]) == (404, "UnknownApiKey")
    as_integration = client.post(
        "/v1/api-keys", json={"name": "sneaky", "integration": True}, headers=auth(second["apiKey"])
    )
    assert (as_integration.status_code, as_integration.json()["code"]) == (403, "NotAnAdmin")


def test_two_people_of_one_ngo_ask_and_decide_and_the_journal_names_them(
    client: TestClient, gateway: Gateway, keys: Keys
) -> None:
    carla = set_up_person(client, keys.ngo, "carla", ["caseworker"])
    dora = set_up_person(client, keys.ngo, "dora", ["approver"])
    both = set_up_person(client, keys.ngo, "both", ["caseworker", "approver"])
    assert dora.address is not None and carla.address is not None
    assert not gateway.system.has_role(Role.APPROVER, dora.address)  # no global role: consent decides
    program = _funded_program(client, keys, carla.api_key)  # a caseworker runs the NGO's programs
    asked = [
        ok(
            client.post(
                f"/v1/ngo/programs/{program}/tranches",
                json={"amount": "100", "milestone": f"M{i}"},
                headers=auth(who),
            )
        )
        for i, who in enumerate((carla.session, both.api_key))
    ]
    requesters = [next(e for e in a["events"] if e["event"] == "TrancheRequested")["args"] for a in asked]
    assert [r["requester"] for r in requesters] == [carla.address, both.address]  # each with their own key
    ngo_address = gateway.organisation(gateway.authenticate(keys.ngo).organisation_id).address
    assert gateway.system.funds.call("isRequester", ngo_address, carla.address) is True
    assert gateway.system.funds.call("isRequester", ngo_address, dora.address) is False  # decides, never asks
    refused = client.post(f"/v1/tranches/{asked[0]['trancheId']}/approve", headers=auth(carla.api_key))
    assert (refused.status_code, refused.json()["code"]) == (403, "MissingPersonRole")
    own = client.post(f"/v1/tranches/{asked[1]['trancheId']}/approve", headers=auth(both.api_key))
    assert (own.status_code, own.json()["code"]) == (403, "SelfApproval")
    ngo_integration = client.post(f"/v1/tranches/{asked[0]['trancheId']}/approve", headers=auth(keys.ngo))
    assert (ngo_integration.status_code, ngo_integration.json()["code"]) == (403, "WrongOrganisationKind")
    unnamed = client.post(f"/v1/tranches/{asked[0]['trancheId']}/approve", headers=auth(dora.session))
    assert (unnamed.status_code, unnamed.json()["code"]) == (403, "FundLedgerNotProgramApprover")
    name_approver(client, keys.funder, program, dora)  # the program's funder consents to her deciding
    approved = ok(client.post(f"/v1/tranches/{asked[0]['trancheId']}/approve", headers=auth(dora.session)))
    event = next(e for e in approved["events"] if e["event"] == "TrancheApproved")
    assert event["args"]["approver"] == dora.address  # signed with her own key
    ok(client.post(f"/v1/tranches/{asked[1]['trancheId']}/approve", headers=auth(dora.api_key)))
    with gateway.db.session() as s:
        journal = {op.id: op.person_id for op in s.scalars(select(Operation))}
    assert journal[asked[0]["operationId"]] == carla.id
    assert journal[asked[1]["operationId"]] == both.id
    assert journal[approved["operationId"]] == dora.id
    # the other NGO's approver cannot decide this NGO's tranches
    other = set_up_person(client, keys.ngo2, "otto", ["approver"])
    third = ok(
        client.post(
            f"/v1/ngo/programs/{program}/tranches",
            json={"amount": "1", "milestone": "M3"},
            headers=auth(carla.api_key),
        )
    )
    foreign = client.post(f"/v1/tranches/{third['trancheId']}/approve", headers=auth(other.api_key))
    assert (foreign.status_code, foreign.json()["code"]) == (404, "UnknownTranche")
    ok(client.post(f"/v1/people/{carla.id}/disable", headers=auth(keys.ngo)))  # the NGO revokes her naming
    assert gateway.system.funds.call("isRequester", ngo_address, carla.address) is False


def test_disabling_a_person_ends_their_session_and_keys(client: TestClient, keys: Keys) -> None:
    fiona = set_up_person(client, keys.funder, "fiona", ["approver"])
    admin = set_up_person(client, keys.funder, "frank", ["admin"])
    viewer = set_up_person(client, keys.funder, "vera", ["viewer"])
    refused = client.post(f"/v1/people/{fiona.id}/disable", headers=auth(viewer.api_key))
    assert (refused.status_code, refused.json()["code"]) == (403, "NotAnAdmin")
    other_funder = client.post(f"/v1/people/{fiona.id}/disable", headers=auth(keys.funder2))
    assert (other_funder.status_code, other_funder.json()["code"]) == (404, "UnknownPerson")
    disabled = ok(client.post(f"/v1/people/{fiona.id}/disable", headers=auth(admin.session)))
    assert disabled["disabled"]
    for credential in (fiona.session, fiona.api_key):
        r = client.get("/v1/me", headers=auth(credential))
        assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Bearer")
    again = client.post(
        "/v1/people/session", json={"login": "fiona", "password": PASSWORD, "code": next_code(fiona.totp)}
    )
    assert again.status_code == 401


def test_a_viewer_reads_but_changes_nothing_and_integration_keys_keep_working(
    client: TestClient, keys: Keys
) -> None:
    vic = set_up_person(client, keys.funder, "vic", ["viewer"])
    assert client.get("/v1/funder/lots", headers=auth(vic.api_key)).status_code == 200
    r = client.post("/v1/funder/lots", json={"amount": "1"}, headers=auth(vic.api_key))
    assert (r.status_code, r.json()["code"]) == (403, "MissingPersonRole")
    assert client.post("/v1/funder/lots", json={"amount": "1"}, headers=auth(keys.funder)).status_code == 201
    rotated = ok(client.post("/v1/me/api-keys/rotate", headers=auth(keys.funder)))["apiKey"]
    assert client.get("/v1/me", headers=auth(vic.api_key)).status_code == 200  # a person's key is theirs
    assert client.get("/v1/me", headers=auth(rotated)).status_code == 200


def test_strangers_other_organisations_and_people_without_the_role_are_refused(
    client: TestClient, keys: Keys
) -> None:
    """Every people route against a stranger, another NGO, another funder and a person of the NGO
    without the admin role: refused, or (reading) shown nothing of the NGO but themselves."""
    target = set_up_person(client, keys.ngo, "target", ["approver"])
    plain = set_up_person(client, keys.ngo, "plain", ["caseworker"])
    prefix = target.api_key.split("_")[1]
    callers = {
        "stranger": None,
        "other ngo": keys.ngo2,
        "other funder": keys.funder2,
        "no role": plain.api_key,
    }
    refusals = {  # (method, path, body) -> expected (status, code) per caller, in the order above
        ("POST", f"/v1/people/{target.id}/disable", None): [
            (401, "MissingCredentials"),
            (404, "UnknownPerson"),
            (404, "UnknownPerson"),
            (403, "NotAnAdmin"),
        ],
        ("POST", "/v1/api-keys", (("name", "theirs"), ("personId", target.id))): [
            (401, "MissingCredentials"),
            (404, "UnknownPerson"),
            (404, "UnknownPerson"),
            (403, "NotAnAdmin"),
        ],
        ("DELETE", f"/v1/api-keys/{prefix}", None): [
            (401, "MissingCredentials"),
            (404, "UnknownApiKey"),
            (404, "UnknownApiKey"),
            (404, "UnknownApiKey"),
        ],
        ("POST", "/v1/people", (("login", "intruder"), ("displayName", "I"), ("roles", ("admin",)))): [
            (401, "MissingCredentials"),
            None,  # another organisation adds people to itself only (checked below)
            None,
            (403, "NotAnAdmin"),
        ],
        ("GET", "/v1/people", None): [(401, "MissingCredentials"), None, None, None],
        ("GET", "/v1/api-keys", None): [(401, "MissingCredentials"), None, None, None],
        ("DELETE", "/v1/people/session", None): [(401, "MissingCredentials"), None, None, None],
    }
    wrong = []
    for (method, path, body), expected in refusals.items():
        for (caller, key), want in zip(callers.items(), expected, strict=True):
            if want is None:
                continue
            json = {k: list(v) if isinstance(v, tuple) else v for k, v in body} if body else None
            r = client.request(method, path, json=json, headers=auth(key) if key else {})
            got = (r.status_code, r.json().get("code"))
            if got != want:
                wrong.append(f"{method} {path} as {caller}: {got}, expected {want}")
    assert not wrong, "\n".join(wrong)
    assert client.get("/v1/me", headers=auth(target.api_key)).status_code == 200  # untouched
    ours = {target.id, plain.id}
    for key in (keys.ngo2, keys.funder2):
        assert not ours & {p["id"] for p in ok(client.get("/v1/people", headers=auth(key)))}
        assert prefix not in {k["prefix"] for k in ok(client.get("/v1/api-keys", headers=auth(key)))}
    assert [p["id"] for p in ok(client.get("/v1/people", headers=auth(plain.api_key)))] == [plain.id]
    assert {k["personId"] for k in ok(client.get("/v1/api-keys", headers=auth(plain.api_key)))} == {plain.id}
    theirs = ok(
        client.post(
            "/v1/people",
            json={"login": "elsewhere", "displayName": "E", "roles": ["viewer"]},
            headers=auth(keys.ngo2),
        )
    )
    assert theirs["person"]["organisationId"] != ok(client.get("/v1/me", headers=auth(keys.ngo)))["id"]


def test_an_assisted_session_records_the_person_who_assisted(
    client: TestClient, gateway: Gateway, keys: Keys
) -> None:
    carla = set_up_person(client, keys.ngo, "carla", ["caseworker"])
    program = _funded_program(client, keys, keys.ngo)
    tranche = ok(
        client.post(
            f"/v1/ngo/programs/{program}/tranches",
            json={"amount": "100", "milestone": "M"},
            headers=auth(keys.ngo),
        )
    )
    ok(client.post(f"/v1/tranches/{tranche['trancheId']}/approve", headers=auth(keys.funder)))
    reg = ok(
        client.post(
            "/v1/ngo/clients", json={"personal": {"name": "Present"}, "pin": "2468"}, headers=auth(keys.ngo)
        )
    )
    opened = ok(
        client.post(
            "/v1/ngo/claim-programs",
            json={
                "programId": program,
                "name": "Desk",
                "expiresAt": "2099-01-01T00:00:00Z",
                "grants": [{"clientId": reg["clientId"], "amount": "5"}],
            },
            headers=auth(keys.ngo),
        )
    )
    session = ok(
        client.post(
            f"/v1/ngo/clients/{reg['clientId']}/assisted-session",
            json={"pin": "2468"},
            headers=auth(carla.api_key),
        )
    )
    assert session["assistedByPerson"] == carla.id
    claimed = ok(client.post(f"/v1/client/claims/{opened['claimProgramId']}", headers=auth(session["token"])))
    with gateway.db.session() as s:
        op = s.get(Operation, claimed["operationId"])
        assert op is not None
        assert (op.person_id, op.acting_for) == (carla.id, reg["clientId"])
