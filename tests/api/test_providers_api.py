"""Providers and programs' rules over HTTP: NGOs and the admin admit and suspend providers, a program's
NGO says how its aid may be used, the public sees where, and the rule then holds on chain for
disbursements and claims. Refusals: a stranger, another NGO, a funder; bad input is a 4xx with a code."""

from __future__ import annotations

from typing import Any

from eth_account import Account
from fastapi.testclient import TestClient

from api.gateway import Gateway
from tests.api.conftest import Keys, auth
from tests.api.test_claims_api import _funded_program, _open_claims, _register

SHOP = {"name": "Bio-Laden Mitte", "street": "Hauptstr. 1", "postcode": "10115", "city": "Berlin"}


def _admit(client: TestClient, key: str, categories: list[str], **fields: str) -> dict[str, Any]:
    r = client.post("/v1/providers", json={**SHOP, **fields, "categories": categories}, headers=auth(key))
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


def _rule(client: TestClient, key: str, program: int, kind: str, categories: list[str]) -> Any:
    return client.put(
        f"/v1/ngo/programs/{program}/rule", json={"kind": kind, "categories": categories}, headers=auth(key)
    )


def test_ngo_admits_a_provider_and_the_public_sees_it(
    client: TestClient, keys: Keys, gateway: Gateway
) -> None:
    shop = _admit(client, keys.ngo, ["sports", "food", "food"])
    assert shop["categories"] == ["food", "sports"]  # published order, no repeats
    assert shop["status"] == "admitted" and shop["apiKey"].startswith("alm_")
    assert any(e["event"] == "ProviderAdmitted" for e in shop["operation"]["events"])
    record = gateway.system.providers.provider(shop["account"])
    assert (record.categories, int(record.status)) == (0b101, 1)
    me = client.get("/v1/me", headers=auth(shop["apiKey"])).json()
    assert (me["kind"], me["address"]) == ("provider", shop["account"])
    listed = client.get("/v1/providers", headers=auth(keys.ngo2)).json()
    assert [p["providerId"] for p in listed] == [shop["providerId"]]

    program = _funded_program(client, keys)
    public = client.get(f"/v1/public/programs/{program}/providers")
    assert public.status_code == 200
    body = public.json()
    assert body["program"] == {
        "programId": program,
        "name": "Winterhilfe",
        "kind": "cash",
        "categories": [],
        "endsAt": None,
    }
    assert [p["name"] for p in body["providers"]] == ["Bio-Laden Mitte"]
    assert body["categories"][:4] == ["food", "school_supplies", "sports", "culture"]


def test_admin_admits_and_suspends_any_provider(client: TestClient, keys: Keys) -> None:
    shop = _admit(client, keys.admin, ["culture"])
    other = _admit(client, keys.ngo, ["food"], name="Kiosk")
    for provider in (shop, other):
        r = client.post(f"/v1/providers/{provider['providerId']}/suspend", json={}, headers=auth(keys.admin))
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "suspended"


def test_another_ngo_a_funder_and_a_stranger_are_refused(client: TestClient, keys: Keys) -> None:
    shop = _admit(client, keys.ngo, ["food"])
    path = f"/v1/providers/{shop['providerId']}"
    for action in ("suspend", "admit"):
        r = client.post(f"{path}/{action}", json={}, headers=auth(keys.ngo2))
        assert (r.status_code, r.json()["code"]) == (403, "NotYourProvider")
        r = client.post(f"{path}/{action}", json={}, headers=auth(keys.funder))
        assert (r.status_code, r.json()["code"]) == (403, "WrongOrganisationKind")
        r = client.post(f"{path}/{action}", json={})
        assert (r.status_code, r.json()["code"]) == (401, "MissingCredentials")
    r = client.post("/v1/providers", json={**SHOP, "categories": ["food"]}, headers=auth(keys.funder))
    assert (r.status_code, r.json()["code"]) == (403, "WrongOrganisationKind")
    r = client.post("/v1/providers", json={**SHOP, "categories": ["food"]}, headers=auth(shop["apiKey"]))
    assert (r.status_code, r.json()["code"]) == (403, "WrongOrganisationKind")  # a provider admits nobody
    assert client.get("/v1/providers", headers=auth(keys.auditor)).status_code == 403
    listed = client.get("/v1/providers", headers=auth(keys.ngo)).json()
    assert [p["status"] for p in listed] == ["admitted"]


def test_suspend_readmit_and_suspend_again(client: TestClient, keys: Keys, gateway: Gateway) -> None:
    shop = _admit(client, keys.ngo, ["food"])
    path = f"/v1/providers/{shop['providerId']}"
    r = client.post(f"{path}/suspend", json={"reason": "closed for renovation"}, headers=auth(keys.ngo))
    assert r.status_code == 200 and r.json()["operation"]["events"][0]["event"] == "ProviderSuspended"
    again = client.post(f"{path}/suspend", json={}, headers=auth(keys.ngo))
    assert again.status_code == 200 and again.json()["operation"] is None  # nothing left to change
    r = client.post(f"{path}/admit", json={"categories": ["food", "household"]}, headers=auth(keys.ngo))
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["categories"]) == ("admitted", ["food", "household"])
    assert gateway.system.providers.provider(shop["account"]).categories == 0b100001


def test_bad_input_is_a_clear_4xx(client: TestClient, keys: Keys) -> None:
    r = client.post("/v1/providers", json={**SHOP, "categories": ["tobacco"]}, headers=auth(keys.ngo))
    assert (r.status_code, r.json()["code"]) == (422, "UnknownCategory")
    r = client.post("/v1/providers", json={**SHOP, "categories": []}, headers=auth(keys.ngo))
    assert r.status_code == 422
    r = client.post("/v1/providers", json={**SHOP, "categories": ["Food!"]}, headers=auth(keys.ngo))
    assert r.status_code == 422
    r = client.post(
        "/v1/providers", json={**SHOP, "name": "", "categories": ["food"]}, headers=auth(keys.ngo)
    )
    assert r.status_code == 422
    r = client.post("/v1/providers/" + "0" * 32 + "/suspend", json={}, headers=auth(keys.ngo))
    assert (r.status_code, r.json()["code"]) == (404, "UnknownProvider")
    r = client.post("/v1/providers/not-an-id/suspend", json={}, headers=auth(keys.ngo))
    assert r.status_code == 422
    program = _funded_program(client, keys)
    assert _rule(client, keys.ngo, program, "restricted", []).status_code == 422
    assert _rule(client, keys.ngo, program, "cash", ["food"]).status_code == 422
    r = _rule(client, keys.ngo, program, "restricted", ["tobacco"])
    assert (r.status_code, r.json()["code"]) == (422, "UnknownCategory")
    r = client.get("/v1/public/programs/999/providers")
    assert (r.status_code, r.json()["code"]) == (404, "FundLedgerUnknownProgram")


def test_only_the_program_ngo_sets_its_rule(client: TestClient, keys: Keys) -> None:
    program = _funded_program(client, keys)
    r = _rule(client, keys.ngo2, program, "restricted", ["food"])
    assert (r.status_code, r.json()["code"]) == (403, "NotYourProgram")
    for key in (keys.funder, keys.admin):
        r = _rule(client, key, program, "restricted", ["food"])
        assert (r.status_code, r.json()["code"]) == (403, "WrongOrganisationKind")
    assert client.get(f"/v1/public/programs/{program}/providers").json()["program"]["kind"] == "cash"


def test_restricted_program_lists_only_its_categories_and_binds_disbursements(
    client: TestClient, keys: Keys, gateway: Gateway
) -> None:
    grocer = _admit(client, keys.ngo, ["food"], name="Grocer")
    club = _admit(client, keys.ngo2, ["sports"], name="Sportverein")
    closed = _admit(client, keys.ngo, ["food", "sports"], name="Closed")
    client.post(f"/v1/providers/{closed['providerId']}/suspend", json={}, headers=auth(keys.ngo))
    program = _funded_program(client, keys)
    r = _rule(client, keys.ngo, program, "restricted", ["sports", "food"])
    assert r.status_code == 200, r.text
    assert (r.json()["kind"], r.json()["categories"]) == ("restricted", ["food", "sports"])
    r = _rule(client, keys.ngo, program, "restricted", ["food"])
    listed = client.get(f"/v1/public/programs/{program}/providers").json()
    assert listed["program"]["kind"] == "restricted"
    assert [p["name"] for p in listed["providers"]] == ["Grocer"]

    person = Account.create()
    r = client.post(
        f"/v1/ngo/programs/{program}/disbursements",
        json={"payments": [{"address": person.address, "amount": "30"}], "reference": "Dezember"},
        headers=auth(keys.ngo),
    )
    assert r.status_code == 201, r.text
    providers, token = gateway.system.providers, gateway.system.token.address
    assert providers.restriction_of(token, person.address) == program
    assert providers.may_pay(token, person.address, grocer["account"])
    assert not providers.may_pay(token, person.address, club["account"])
    assert not providers.may_pay(token, person.address, Account.create().address)
    # Money already elsewhere cannot be marked: the disbursement is refused before anything moves.
    r = client.post(
        f"/v1/ngo/programs/{program}/disbursements",
        json={"payments": [{"address": grocer["account"], "amount": "1"}], "reference": "x"},
        headers=auth(keys.ngo),
    )
    assert (r.status_code, r.json()["code"]) == (409, "ProviderRegistryAccountIsProvider")


def test_claims_of_a_restricted_program_land_in_restricted_accounts(
    client: TestClient, keys: Keys, gateway: Gateway
) -> None:
    grocer = _admit(client, keys.ngo, ["food"])
    program = _funded_program(client, keys)
    assert _rule(client, keys.ngo, program, "restricted", ["food"]).status_code == 200
    regs = _register(client, keys, 1)
    opened = _open_claims(client, keys, program, regs).json()
    token = client.post(
        "/v1/client/session", json={"voucherCode": regs[0]["voucherCode"], "pin": "2468"}
    ).json()["token"]
    done = client.post(f"/v1/client/claims/{opened['claimProgramId']}", headers=auth(token)).json()
    euro = gateway.system.token.address
    assert gateway.system.providers.restriction_of(euro, done["recipient"]) == program
    assert gateway.system.providers.may_pay(euro, done["recipient"], grocer["account"])
    assert not gateway.system.providers.may_pay(euro, done["recipient"], keys_address(client, keys.ngo))


def keys_address(client: TestClient, key: str) -> str:
    address: str = client.get("/v1/me", headers=auth(key)).json()["address"]
    return address
