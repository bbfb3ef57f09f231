"""The fund ledger over HTTP: from deposit to disbursement to audit, with problem details on errors."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.api.conftest import Keys, auth


def _program(client: TestClient, keys: Keys, name: str = "Lebensmittelhilfe") -> int:
    r = client.post("/v1/ngo/programs", json={"name": name}, headers=auth(keys.ngo))
    assert r.status_code == 201, r.text
    return int(r.json()["programId"])


def test_money_flows_from_deposit_to_payment_and_is_traced(client: TestClient, keys: Keys) -> None:
    program = _program(client, keys)
    r = client.post("/v1/funder/lots", json={"amount": "500.00"}, headers=auth(keys.funder))
    assert r.status_code == 201, r.text
    lot = r.json()
    assert lot["transactionHash"].startswith("0x") and lot["blockNumber"] > 0
    assert any(e["event"] == "LotDeposited" for e in lot["events"])
    r = client.post(
        f"/v1/funder/lots/{lot['lotId']}/allocations",
        json={"programId": program, "amount": "400"},
        headers=auth(keys.funder),
    )
    assert r.status_code == 201, r.text
    r = client.post(
        f"/v1/ngo/programs/{program}/tranches",
        json={"amount": "300", "milestone": "M1"},
        headers=auth(keys.ngo),
    )
    assert r.status_code == 201, r.text
    tranche = r.json()["trancheId"]
    r = client.post(f"/v1/tranches/{tranche}/approve", headers=auth(keys.funder2))
    assert r.status_code == 201, r.text
    recipients = ["0x" + f"{i:040x}" for i in range(1, 4)]
    r = client.post(
        f"/v1/ngo/programs/{program}/disbursements",
        json={"payments": [{"address": a, "amount": "50"} for a in recipients], "reference": "November"},
        headers=auth(keys.ngo),
    )
    assert r.status_code == 201, r.text
    assert sum(e["event"] == "Disbursed" for e in r.json()["events"]) == 3

    r = client.get(f"/v1/funder/lots/{lot['lotId']}/payments", headers=auth(keys.funder))
    assert r.status_code == 200
    assert [(p["recipient"].lower(), p["amount"]) for p in r.json()] == [(a, "50.000000") for a in recipients]
    r = client.get("/v1/audit/verify", headers=auth(keys.auditor))
    assert r.json()["matches"] is True and r.json()["payments"] == 3
    r = client.get("/v1/public/programs")
    assert r.json()[0]["disbursed"] == "150.000000" and r.json()[0]["name"] == "Lebensmittelhilfe"
    r = client.get("/v1/audit/payments?format=csv", headers=auth(keys.auditor))
    assert r.headers["content-type"].startswith("text/csv") and r.text.count("\n") == 4


def test_revert_becomes_problem_details_with_the_solidity_error(client: TestClient, keys: Keys) -> None:
    program = _program(client, keys)
    lot = client.post("/v1/funder/lots", json={"amount": "10"}, headers=auth(keys.funder)).json()["lotId"]
    r = client.post(
        f"/v1/funder/lots/{lot}/allocations",
        json={"programId": program, "amount": "11"},
        headers=auth(keys.funder),
    )
    assert r.status_code == 409
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["code"] == "FundLedgerInsufficientFunds"
    assert body["args"] == {"requested": 11_000_000, "available": 10_000_000}
    r = client.post(
        f"/v1/funder/lots/{lot}/allocations",
        json={"programId": program, "amount": "1"},
        headers=auth(keys.funder2),
    )
    assert (r.status_code, r.json()["code"]) == (403, "FundLedgerNotLotAllocator")


def test_maker_cannot_check_and_wrong_roles_are_refused(client: TestClient, keys: Keys) -> None:
    program = _program(client, keys)
    r = client.post(
        f"/v1/ngo/programs/{program}/tranches",
        json={"amount": "1", "milestone": "x"},
        headers=auth(keys.funder),
    )
    assert (r.status_code, r.json()["code"]) == (403, "WrongOrganisationKind")
    r = client.post(
        f"/v1/ngo/programs/{program}/tranches",
        json={"amount": "1", "milestone": "x"},
        headers=auth(keys.ngo2),
    )
    assert (r.status_code, r.json()["code"]) == (403, "FundLedgerNotProgramNgo")
    r = client.get("/v1/funder/lots")
    assert (r.status_code, r.json()["code"]) == (401, "MissingCredentials")
    r = client.get("/v1/funder/lots", headers=auth("alm_nope_nope"))
    assert (r.status_code, r.json()["code"]) == (403, "InvalidApiKey")


def test_retried_post_with_idempotency_key_pays_once(client: TestClient, keys: Keys) -> None:
    headers = {**auth(keys.funder), "Idempotency-Key": "deposit-42"}
    first = client.post("/v1/funder/lots", json={"amount": "25"}, headers=headers)
    second = client.post("/v1/funder/lots", json={"amount": "25"}, headers=headers)
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second.headers.get("idempotent-replayed") == "true"
    lots = client.get("/v1/funder/lots", headers=auth(keys.funder)).json()
    assert len(lots) == 1
    other = client.post("/v1/funder/lots", json={"amount": "26"}, headers=headers)
    assert (other.status_code, other.json()["code"]) == (422, "IdempotencyKeyReused")


def test_api_key_rotation_revokes_the_old_key(client: TestClient, keys: Keys) -> None:
    r = client.post("/v1/me/api-keys/rotate", headers=auth(keys.ngo))
    assert r.status_code == 201
    new = r.json()["apiKey"]
    assert client.get("/v1/me", headers=auth(new)).status_code == 200
    assert client.get("/v1/me", headers=auth(keys.ngo)).json()["code"] == "InvalidApiKey"
