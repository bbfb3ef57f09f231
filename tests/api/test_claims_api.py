"""Claims over HTTP: an NGO grants aid to registered clients; clients claim with voucher + PIN."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from api.gateway import Gateway
from tests.api.conftest import Keys, auth


def _funded_program(client: TestClient, keys: Keys, amount: str = "500") -> int:
    program = client.post("/v1/ngo/programs", json={"name": "Winterhilfe"}, headers=auth(keys.ngo)).json()[
        "programId"
    ]
    lot = client.post("/v1/funder/lots", json={"amount": amount}, headers=auth(keys.funder)).json()["lotId"]
    client.post(
        f"/v1/funder/lots/{lot}/allocations",
        json={"programId": program, "amount": amount},
        headers=auth(keys.funder),
    )
    t = client.post(
        f"/v1/ngo/programs/{program}/tranches",
        json={"amount": amount, "milestone": "winter"},
        headers=auth(keys.ngo),
    ).json()["trancheId"]
    assert client.post(f"/v1/tranches/{t}/approve", headers=auth(keys.funder2)).status_code == 201
    return int(program)


def test_clients_claim_their_entitlements_once(client: TestClient, keys: Keys, gateway: Gateway) -> None:
    program = _funded_program(client, keys)
    regs = [
        client.post(
            "/v1/ngo/clients",
            json={"personal": {"name": f"Person {i}"}, "pin": "2468"},
            headers=auth(keys.ngo),
        ).json()
        for i in range(3)
    ]
    expires = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    r = client.post(
        "/v1/ngo/claim-programs",
        json={
            "programId": program,
            "name": "Winter 2026",
            "expiresAt": expires,
            "grants": [{"clientId": reg["clientId"], "amount": "40"} for reg in regs],
        },
        headers=auth(keys.ngo),
    )
    assert r.status_code == 201, r.text
    opened = r.json()
    assert opened["total"] == "120.000000"
    token = client.post(
        "/v1/client/session", json={"voucherCode": regs[0]["voucherCode"], "pin": "2468"}
    ).json()["token"]
    ent = client.get("/v1/client/entitlements", headers=auth(token)).json()
    assert ent == [{"claimProgramId": opened["claimProgramId"], "amount": "40.000000", "claimed": False}]
    r = client.post(f"/v1/client/claims/{opened['claimProgramId']}", headers=auth(token))
    assert r.status_code == 201, r.text
    done = r.json()
    assert done["amount"] == "40.000000" and done["transactionHash"].startswith("0x")
    assert gateway.system.balance(done["recipient"]) == 40_000_000
    assert done["recipient"] not in (regs[0]["account"],)  # a fresh pseudonym per program
    again = client.post(f"/v1/client/claims/{opened['claimProgramId']}", headers=auth(token))
    assert (again.status_code, again.json()["code"]) == (409, "ClaimProgramAlreadyClaimed")
    other = client.post("/v1/client/claims/999", headers=auth(token))
    assert (other.status_code, other.json()["code"]) == (404, "NoEntitlement")
    assert client.get("/v1/audit/verify", headers=auth(keys.auditor)).json()["matches"] is True
