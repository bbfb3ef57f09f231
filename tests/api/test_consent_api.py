"""Consent over HTTP: a funder names, lists and revokes who may move its lot's money (findings 1, 2).

Before the issue any NGO could put any funder's unearmarked lot into its budget round, and a refund of
a lot with more than ~80 allocations no longer fitted the gateway's fixed 1,000,000 gas.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient

from api.gateway import Gateway
from ledger.fund_ledger import GAS_PER_REFUNDED_ALLOCATION
from tests.api.conftest import Keys, auth

DAY = 86_400


def _ok(response: Any, status: int = 201) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def _problem(response: Any, status: int, code: str) -> None:
    assert (response.status_code, response.json().get("code")) == (status, code), response.text


def _address(client: TestClient, key: str) -> str:
    return str(_ok(client.get("/v1/me", headers=auth(key)), 200)["address"])


def _round(client: TestClient, gateway: Gateway, key: str, lot: int) -> Any:
    now = gateway.chain.now()
    body = {
        "title": "Bürgerhaushalt",
        "description": "",
        "funding": [{"lotId": lot, "amount": "100"}],
        "credits": 100,
        "votingStart": datetime.fromtimestamp(now + DAY, UTC).isoformat(),
        "votingEnd": datetime.fromtimestamp(now + 8 * DAY, UTC).isoformat(),
        "minCost": "10",
        "maxCost": "100",
    }
    return client.post("/v1/ngo/rounds", json=body, headers=auth(key))


def test_a_funder_names_lists_and_revokes_the_allocators_of_its_lot(
    client: TestClient, gateway: Gateway, keys: Keys
) -> None:
    lot = _ok(client.post("/v1/funder/lots", json={"amount": "1000"}, headers=auth(keys.funder)))["lotId"]
    path = f"/v1/funder/lots/{lot}/allocators"
    ngo, ngo2 = _address(client, keys.ngo), _address(client, keys.ngo2)
    for key in (keys.ngo, keys.ngo2):  # each NGO has a client to vote
        _ok(
            client.post(
                "/v1/ngo/clients", json={"personal": {"name": "Kim"}, "pin": "2468"}, headers=auth(key)
            )
        )
    # without consent no NGO may put the funder's money into its round
    _problem(_round(client, gateway, keys.ngo, lot), 403, "ParticipatoryBudgetNoConsent")
    assert _ok(client.get(path, headers=auth(keys.funder)), 200) == []

    named = _ok(client.post(path, json={"address": ngo}, headers=auth(keys.funder)))
    assert named["address"] == ngo and named["transactionHash"].startswith("0x")
    assert [a["address"] for a in _ok(client.get(path, headers=auth(keys.funder)), 200)] == [ngo]
    assert gateway.system.funds.is_lot_allocator(lot, ngo)
    _ok(_round(client, gateway, keys.ngo, lot))
    _problem(_round(client, gateway, keys.ngo2, lot), 403, "ParticipatoryBudgetNoConsent")  # another NGO

    # another funder, an NGO and a stranger may neither name, list nor revoke
    _problem(client.post(path, json={"address": ngo2}, headers=auth(keys.funder2)), 404, "UnknownLot")
    _problem(client.get(path, headers=auth(keys.funder2)), 404, "UnknownLot")
    _problem(client.delete(f"{path}/{ngo}", headers=auth(keys.funder2)), 404, "UnknownLot")
    _problem(client.post(path, json={"address": ngo2}, headers=auth(keys.ngo)), 403, "WrongOrganisationKind")
    assert client.get(path).status_code == 401
    _problem(
        client.post(path, json={"address": "0x" + "00" * 20}, headers=auth(keys.funder)),
        422,
        "FundLedgerZeroAccount",
    )
    assert client.post(path, json={"address": "nope"}, headers=auth(keys.funder)).status_code == 422
    assert client.delete(f"{path}/nope", headers=auth(keys.funder)).status_code == 422

    _ok(client.delete(f"{path}/{ngo}", headers=auth(keys.funder)), 200)
    assert _ok(client.get(path, headers=auth(keys.funder)), 200) == []
    _problem(_round(client, gateway, keys.ngo, lot), 403, "ParticipatoryBudgetNoConsent")
    lots = {x["lotId"]: x for x in _ok(client.get("/v1/funder/lots", headers=auth(keys.funder)), 200)}
    assert lots[lot]["unallocated"] == "900.000000"  # the round made while named keeps its money


def test_only_a_funder_with_money_in_a_program_names_its_approvers(
    client: TestClient, gateway: Gateway, keys: Keys
) -> None:
    program = _ok(client.post("/v1/ngo/programs", json={"name": "P"}, headers=auth(keys.ngo)))["programId"]
    path = f"/v1/funder/programs/{program}/approvers"
    checker = _address(client, keys.funder2)
    _problem(
        client.post(path, json={"address": checker}, headers=auth(keys.funder)),
        403,
        "FundLedgerNotProgramFunder",
    )
    lot = _ok(client.post("/v1/funder/lots", json={"amount": "10"}, headers=auth(keys.funder)))["lotId"]
    _ok(
        client.post(
            f"/v1/funder/lots/{lot}/allocations",
            json={"programId": program, "amount": "10"},
            headers=auth(keys.funder),
        )
    )
    _ok(client.post(path, json={"address": checker}, headers=auth(keys.funder)))
    assert [a["address"] for a in _ok(client.get(path, headers=auth(keys.funder)), 200)] == [checker]
    assert _ok(client.get(path, headers=auth(keys.funder2)), 200) == []  # funder2 named nobody
    _problem(
        client.post(path, json={"address": checker}, headers=auth(keys.funder2)),
        403,
        "FundLedgerNotProgramFunder",
    )
    _problem(client.get(path, headers=auth(keys.ngo)), 403, "WrongOrganisationKind")
    _problem(
        client.get("/v1/funder/programs/99/approvers", headers=auth(keys.funder)),
        404,
        "FundLedgerUnknownProgram",
    )
    _ok(client.delete(f"{path}/{checker}", headers=auth(keys.funder)), 200)
    assert _ok(client.get(path, headers=auth(keys.funder)), 200) == []


def test_a_refund_over_hundreds_of_dust_allocations_fits_the_gateways_gas(
    client: TestClient, gateway: Gateway, keys: Keys
) -> None:
    """Finding 2: ~12k gas per allocation walked made a refund of ~80 allocations exceed the gateway's
    fixed 1,000,000 gas. Now the refund walks at most REFUND_STEP allocations per transaction and the
    gateway sizes each transaction's gas from what it walks."""
    program = _ok(client.post("/v1/ngo/programs", json={"name": "P"}, headers=auth(keys.ngo)))["programId"]
    expiry = datetime.fromtimestamp(gateway.chain.now() + DAY, UTC).isoformat()
    body = {"amount": "10", "expiresAt": expiry}
    lot = _ok(client.post("/v1/funder/lots", json=body, headers=auth(keys.funder)))["lotId"]
    dust = 150  # twice what one fixed-gas refund could walk
    for _ in range(dust):
        _ok(
            client.post(
                f"/v1/funder/lots/{lot}/allocations",
                json={"programId": program, "amount": "0.000001"},
                headers=auth(keys.funder),
            )
        )
    funds = gateway.system.funds
    assert funds.refund_pending(lot) == dust
    gateway.advance_time(DAY)
    refund = _ok(client.post(f"/v1/funder/lots/{lot}/refund", headers=auth(keys.funder)))
    assert refund["transactionHash"].startswith("0x")
    assert funds.refund_pending(lot) == 0 and funds.lot(lot).refunded
    events = gateway.index.events()
    steps = [e for e in events if e.name == "LotRefunded" and e.args["lotId"] == lot]
    step = int(funds.call("REFUND_STEP"))
    assert len(steps) == -(-dust // step)  # one transaction per step
    assert sum(e.args["amount"] for e in steps) == 10 * 10**6  # every micro-euro back
    returned = [e for e in events if e.name == "AllocationReturned"]
    assert len(returned) == dust
    for e in steps:  # each step used less gas than the gateway gave it
        receipt = gateway.chain.web3.eth.get_transaction_receipt(e.transaction_hash)  # type: ignore[arg-type]
        assert receipt["gasUsed"] < gateway.system.funds.refund_call(1, step).gas < 30_000_000
    assert GAS_PER_REFUNDED_ALLOCATION * step < 30_000_000
    mine = _ok(client.get("/v1/funder/refunds", headers=auth(keys.funder)), 200)
    assert sum(float(r["amount"]) for r in mine if r["lotId"] == lot) == 10.0


def test_a_round_its_funder_cancelled_before_any_ballot_shows_its_money_back(
    client: TestClient, gateway: Gateway, keys: Keys
) -> None:
    """The funder of a round's lot cancels it on chain before the first ballot (RoundCancelled): the
    gateway's round views show it abandoned with its whole budget released, and the audit agrees."""
    _ok(
        client.post(
            "/v1/ngo/clients", json={"personal": {"name": "Kim"}, "pin": "2468"}, headers=auth(keys.ngo)
        )
    )
    lot = _ok(client.post("/v1/funder/lots", json={"amount": "1000"}, headers=auth(keys.funder)))["lotId"]
    ngo = _address(client, keys.ngo)
    _ok(client.post(f"/v1/funder/lots/{lot}/allocators", json={"address": ngo}, headers=auth(keys.funder)))
    rid = _ok(_round(client, gateway, keys.ngo, lot))["roundId"]
    funder = gateway.organisation(_ok(client.get("/v1/me", headers=auth(keys.funder)), 200)["id"])
    result = gateway.execute("test", funder, gateway.system.budget.build("cancelRound", rid, gas=300_000))
    assert result.event("RoundCancelled").args["released"] == 100 * 10**6
    public = _ok(client.get(f"/v1/public/rounds/{rid}"), 200)
    assert (public["phase"], public["released"], public["awarded"]) == ("abandoned", "100.000000", "0.000000")
    lots = {x["lotId"]: x for x in _ok(client.get("/v1/funder/lots", headers=auth(keys.funder)), 200)}
    assert lots[lot]["unallocated"] == "1000.000000"
    audit = _ok(client.get(f"/v1/audit/rounds/{rid}", headers=auth(keys.auditor)), 200)
    assert (audit["matches"], audit["mismatches"]) == (True, [])
    assert _ok(client.get("/v1/audit/verify", headers=auth(keys.auditor)), 200)["matches"] is True


def test_a_round_is_cancelled_over_http_by_its_ngo_or_a_funder_of_its_lots_only(
    client: TestClient, gateway: Gateway, keys: Keys
) -> None:
    reg = _ok(
        client.post(
            "/v1/ngo/clients", json={"personal": {"name": "Kim"}, "pin": "2468"}, headers=auth(keys.ngo)
        )
    )
    lot = _ok(client.post("/v1/funder/lots", json={"amount": "1000"}, headers=auth(keys.funder)))["lotId"]
    ngo = _address(client, keys.ngo)
    _ok(client.post(f"/v1/funder/lots/{lot}/allocators", json={"address": ngo}, headers=auth(keys.funder)))
    first, second = (_ok(_round(client, gateway, keys.ngo, lot))["roundId"] for _ in range(2))
    # another NGO, another funder (no lot in the round) and a stranger are refused
    _problem(client.post(f"/v1/ngo/rounds/{first}/cancel", headers=auth(keys.ngo2)), 403, "NotYourRound")
    _problem(
        client.post(f"/v1/funder/rounds/{first}/cancel", headers=auth(keys.funder2)),
        403,
        "ParticipatoryBudgetNotCanceller",
    )
    assert client.post(f"/v1/ngo/rounds/{first}/cancel").status_code == 401
    done = _ok(client.post(f"/v1/funder/rounds/{first}/cancel", headers=auth(keys.funder)))
    assert done["released"] == "100.000000"
    _problem(
        client.post(f"/v1/ngo/rounds/{first}/cancel", headers=auth(keys.ngo)),
        409,
        "ParticipatoryBudgetRoundAbandoned",
    )
    # once a ballot is cast the round can no longer be cancelled
    gateway.advance_time(DAY)
    session = _ok(client.post("/v1/client/session", json={"voucherCode": reg["voucherCode"], "pin": "2468"}))
    voter = {"Authorization": f"Bearer {session['token']}"}
    _ok(client.put(f"/v1/client/rounds/{second}/ballot", json={"votes": []}, headers=voter), 200)
    _problem(
        client.post(f"/v1/ngo/rounds/{second}/cancel", headers=auth(keys.ngo)),
        409,
        "ParticipatoryBudgetNotCancellable",
    )
    lots = {x["lotId"]: x for x in _ok(client.get("/v1/funder/lots", headers=auth(keys.funder)), 200)}
    assert lots[lot]["unallocated"] == "900.000000"  # the cancelled round's 100 are back, the other's held
