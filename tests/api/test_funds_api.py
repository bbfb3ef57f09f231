"""The fund ledger over HTTP: from deposit to disbursement to audit, with problem details on errors."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi.testclient import TestClient

from api.gateway import Gateway
from ledger.roles import Role
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
    # Finding 5: an unrelated funder once released another funder's tranche (201); now it is refused
    # until the funder whose money is in the program names it an approver.
    r = client.post(f"/v1/tranches/{tranche}/approve", headers=auth(keys.funder2))
    assert (r.status_code, r.json()["code"]) == (403, "FundLedgerNotProgramApprover"), r.text
    checker = client.get("/v1/me", headers=auth(keys.funder2)).json()["address"]
    r = client.post(
        f"/v1/funder/programs/{program}/approvers", json={"address": checker}, headers=auth(keys.funder)
    )
    assert r.status_code == 201, r.text
    listed = client.get(f"/v1/funder/programs/{program}/approvers", headers=auth(keys.funder)).json()
    assert [a["address"] for a in listed] == [checker]
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
    # A page at a time: `after` is the last `position` of the page before.
    every = r.json()
    r = client.get(f"/v1/funder/lots/{lot['lotId']}/payments?limit=2", headers=auth(keys.funder))
    assert r.status_code == 200 and r.json() == every[:2]
    page = f"/v1/funder/lots/{lot['lotId']}/payments?after={r.json()[-1]['position']}&limit=2"
    r = client.get(page, headers=auth(keys.funder))
    assert r.status_code == 200 and r.json() == every[2:]
    r = client.get(f"/v1/funder/lots/{lot['lotId']}/payments?limit=0", headers=auth(keys.funder))
    assert (r.status_code, r.json()["code"]) == (422, "ValidationFailed")
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
    assert (r.status_code, r.json()["code"]) == (401, "InvalidApiKey")


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


def test_funders_see_their_refunds_with_what_came_back_from_programs_and_reservations(
    client: TestClient, keys: Keys, gateway: Gateway
) -> None:
    program = _program(client, keys)
    expiry = datetime.fromtimestamp(gateway.chain.now() + 600, UTC).isoformat()
    lot = client.post(
        "/v1/funder/lots", json={"amount": "100", "expiresAt": expiry}, headers=auth(keys.funder)
    ).json()["lotId"]
    other = client.post(
        "/v1/funder/lots", json={"amount": "7", "expiresAt": expiry}, headers=auth(keys.funder2)
    ).json()["lotId"]
    allocation = client.post(
        f"/v1/funder/lots/{lot}/allocations",
        json={"programId": program, "amount": "30"},
        headers=auth(keys.funder),
    ).json()["allocationId"]
    tranche = client.post(
        f"/v1/ngo/programs/{program}/tranches",
        json={"amount": "10", "milestone": "M"},
        headers=auth(keys.ngo),
    ).json()["trancheId"]
    assert client.post(f"/v1/tranches/{tranche}/approve", headers=auth(keys.funder)).status_code == 201
    paid = client.post(
        f"/v1/ngo/programs/{program}/disbursements",
        json={"payments": [{"address": "0x" + "22" * 20, "amount": "10"}]},
        headers=auth(keys.ngo),
    )
    assert paid.status_code == 201, paid.text
    # a budget contract (here the operator, given the role for the test) holds 15 of the lot in a
    # reservation, asked for by the lot's funder (the contract checks the funder's consent)
    funds = gateway.system.funds
    gateway.system.grant(gateway.admin, Role.ALLOCATOR, gateway.admin.address)
    funder = client.get("/v1/me", headers=auth(keys.funder)).json()["address"]
    reserved = funds.reserve(gateway.admin, lot, 15 * 10**6, funder)
    reservation = reserved.event("Reserved").args["reservationId"]
    assert client.get("/v1/funder/refunds", headers=auth(keys.funder)).json() == []

    gateway.advance_time(3600)
    refund = client.post(f"/v1/funder/lots/{lot}/refund", headers=auth(keys.funder))
    assert refund.status_code == 201, refund.text
    assert client.post(f"/v1/funder/lots/{other}/refund", headers=auth(keys.funder2)).status_code == 201
    released = funds.release_reservation(gateway.admin, reservation)  # the lot is refunded: to the funder
    assert released.event("ReservationReleased").args["toFunder"] is True

    r = client.get("/v1/funder/refunds", headers=auth(keys.funder))
    assert r.status_code == 200, r.text
    lot_refund, reservation_refund = r.json()
    assert lot_refund == {
        "source": "expired-lot",
        "lotId": lot,
        "reservationId": None,
        "batchId": None,
        "amount": "75.000000",  # 100 - 30 allocated - 15 reserved, plus the 20 the allocation had not drawn
        "fromAllocations": [{"allocationId": allocation, "programId": program, "amount": "20.000000"}],
        "transactionHash": refund.json()["transactionHash"],
        "blockNumber": refund.json()["blockNumber"],
        "logIndex": next(e["logIndex"] for e in refund.json()["events"] if e["event"] == "LotRefunded"),
    }
    assert reservation_refund["source"] == "released-reservation"
    assert (reservation_refund["lotId"], reservation_refund["reservationId"]) == (lot, reservation)
    assert reservation_refund["amount"] == "15.000000" and reservation_refund["fromAllocations"] == []
    assert reservation_refund["batchId"] is None
    assert reservation_refund["transactionHash"] == released.transaction_hash
    assert reservation_refund["blockNumber"] == released.block_number
    theirs = client.get("/v1/funder/refunds", headers=auth(keys.funder2)).json()
    assert [(x["lotId"], x["amount"]) for x in theirs] == [(other, "7.000000")]
    r = client.get("/v1/funder/refunds", headers=auth(keys.ngo))
    assert (r.status_code, r.json()["code"]) == (403, "WrongOrganisationKind")
