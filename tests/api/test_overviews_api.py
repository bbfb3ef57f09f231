"""Lists people need, over HTTP: tranches with who asked and who decided (names only for one's own
organisation), an NGO's claim programs with their money, and the rounds a funder's lot pays into.
Each list shows the caller's own things only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from api.gateway import Gateway
from tests.api.conftest import Keys, auth, consent
from tests.api.people_support import name_approver, ok, set_up_person


def _program_with_money(client: TestClient, keys: Keys, ngo_key: str) -> tuple[int, int]:
    program = ok(client.post("/v1/ngo/programs", json={"name": "Tafel"}, headers=auth(ngo_key)))["programId"]
    lot = ok(client.post("/v1/funder/lots", json={"amount": "1000"}, headers=auth(keys.funder)))["lotId"]
    ok(
        client.post(
            f"/v1/funder/lots/{lot}/allocations",
            json={"programId": program, "amount": "600"},
            headers=auth(keys.funder),
        )
    )
    return int(program), int(lot)


def _ask(client: TestClient, program: int, key: str, amount: str, milestone: str) -> int:
    return int(
        ok(
            client.post(
                f"/v1/ngo/programs/{program}/tranches",
                json={"amount": amount, "milestone": milestone},
                headers=auth(key),
            )
        )["trancheId"]
    )


def test_tranches_show_their_status_and_who_asked_and_decided(client: TestClient, keys: Keys) -> None:
    carla = set_up_person(client, keys.ngo, "carla", ["caseworker"])
    dora = set_up_person(client, keys.ngo, "dora", ["approver"])
    program, _ = _program_with_money(client, keys, keys.ngo)
    approved = _ask(client, program, carla.api_key, "100", "first")
    rejected = _ask(client, program, keys.ngo, "50", "second")
    pending = _ask(client, program, carla.api_key, "10", "third")
    name_approver(client, keys.funder, program, dora)
    ok(client.post(f"/v1/tranches/{approved}/approve", headers=auth(dora.api_key)))
    ok(client.post(f"/v1/tranches/{rejected}/reject", json={"reason": "not yet"}, headers=auth(keys.funder)))
    listed = {t["trancheId"]: t for t in ok(client.get("/v1/ngo/tranches", headers=auth(carla.api_key)))}
    assert set(listed) == {approved, rejected, pending}
    assert [listed[t]["status"] for t in (approved, rejected, pending)] == ["approved", "rejected", "pending"]
    assert listed[approved]["requestedBy"]["name"] == "Carla"
    assert listed[approved]["decidedBy"] == {"address": dora.address, "personId": dora.id, "name": "Dora"}
    assert listed[rejected]["requestedBy"]["personId"] is None  # asked with the NGO's integration key
    assert listed[rejected]["decidedBy"]["name"] is None  # the funder's, not this NGO's
    assert listed[pending]["decidedBy"] is None and listed[pending]["amount"] == "10.000000"
    funder_view = {
        t["trancheId"]: t for t in ok(client.get("/v1/funder/tranches", headers=auth(keys.funder)))
    }
    assert set(funder_view) == {approved, rejected, pending}
    assert funder_view[approved]["requestedBy"]["name"] is None  # the NGO's people are the NGO's
    assert funder_view[approved]["decidedBy"]["address"] == dora.address
    assert ok(client.get("/v1/funder/tranches", headers=auth(keys.funder2))) == []  # no money in it
    assert ok(client.get("/v1/ngo/tranches", headers=auth(keys.ngo2))) == []


def test_claim_programs_show_funded_claimed_unclaimed_and_expiry(client: TestClient, keys: Keys) -> None:
    program, _ = _program_with_money(client, keys, keys.ngo)
    ok(
        client.post(
            f"/v1/tranches/{_ask(client, program, keys.ngo, '600', 'all')}/approve", headers=auth(keys.funder)
        )
    )
    regs = [
        ok(
            client.post(
                "/v1/ngo/clients", json={"personal": {"name": f"C{i}"}, "pin": "2468"}, headers=auth(keys.ngo)
            )
        )
        for i in range(2)
    ]
    expires = datetime.now(UTC) + timedelta(days=30)
    opened = ok(
        client.post(
            "/v1/ngo/claim-programs",
            json={
                "programId": program,
                "name": "Winterhilfe Dezember",
                "expiresAt": expires.isoformat(),
                "grants": [{"clientId": r["clientId"], "amount": "40"} for r in regs],
            },
            headers=auth(keys.ngo),
        )
    )
    session = ok(
        client.post("/v1/client/session", json={"voucherCode": regs[0]["voucherCode"], "pin": "2468"})
    )
    ok(client.post(f"/v1/client/claims/{opened['claimProgramId']}", headers=auth(session["token"])))
    (listed,) = ok(client.get("/v1/ngo/claim-programs", headers=auth(keys.ngo)))
    assert listed["claimProgramId"] == opened["claimProgramId"] and listed["name"] == "Winterhilfe Dezember"
    assert (listed["funded"], listed["claimed"], listed["unclaimed"], listed["returned"]) == (
        "80.000000",
        "40.000000",
        "40.000000",
        "0.000000",
    )
    assert listed["entitlements"] == 2 and not listed["expired"] and listed["programId"] == program
    assert abs(listed["expiresAt"] - expires.timestamp()) < 2
    assert ok(client.get("/v1/ngo/claim-programs", headers=auth(keys.ngo2))) == []


def test_a_funder_sees_the_rounds_its_lot_pays_into(client: TestClient, gateway: Gateway, keys: Keys) -> None:
    ok(client.post("/v1/ngo/clients", json={"personal": {"name": "Voter"}}, headers=auth(keys.ngo)))
    _, lot = _program_with_money(client, keys, keys.ngo)
    consent(client, keys.funder, lot, keys.ngo)  # the funder lets the NGO put its lot into a round
    now = gateway.chain.now()
    made = ok(
        client.post(
            "/v1/ngo/rounds",
            json={
                "title": "Kiez 2027",
                "funding": [{"lotId": lot, "amount": "150"}],
                "credits": 100,
                "votingStart": datetime.fromtimestamp(now + 86_400, UTC).isoformat(),
                "votingEnd": datetime.fromtimestamp(now + 2 * 86_400, UTC).isoformat(),
                "minCost": "1",
                "maxCost": "150",
            },
            headers=auth(keys.ngo),
        )
    )
    (listed,) = ok(client.get(f"/v1/funder/lots/{lot}/rounds", headers=auth(keys.funder)))
    assert (listed["roundId"], listed["title"], listed["amount"]) == (
        made["roundId"],
        "Kiez 2027",
        "150.000000",
    )
    assert listed["phase"] and listed["awarded"] == "0.000000" and not listed["settled"]
    other = client.get(f"/v1/funder/lots/{lot}/rounds", headers=auth(keys.funder2))
    assert (other.status_code, other.json()["code"]) == (404, "UnknownLot")
