"""Claims over HTTP: an NGO grants aid to registered clients; clients claim with voucher + PIN."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import select

from api.gateway import Gateway
from api.models import IdempotencyRecord, Operation
from tests.api.conftest import Keys, auth


def _funded_program(client: TestClient, keys: Keys, amount: str = "500", parts: int = 1) -> int:
    """A program of the NGO with `amount` euros of one lot allocated in `parts` equal allocations and
    released."""
    program = client.post("/v1/ngo/programs", json={"name": "Winterhilfe"}, headers=auth(keys.ngo)).json()[
        "programId"
    ]
    lot = client.post("/v1/funder/lots", json={"amount": amount}, headers=auth(keys.funder)).json()["lotId"]
    for _ in range(parts):
        allocated = client.post(
            f"/v1/funder/lots/{lot}/allocations",
            json={"programId": program, "amount": str(int(amount) // parts)},
            headers=auth(keys.funder),
        )
        assert allocated.status_code == 201, allocated.text
    t = client.post(
        f"/v1/ngo/programs/{program}/tranches",
        json={"amount": amount, "milestone": "winter"},
        headers=auth(keys.ngo),
    ).json()["trancheId"]
    assert client.post(f"/v1/tranches/{t}/approve", headers=auth(keys.funder)).status_code == 201
    return int(program)


def _register(client: TestClient, keys: Keys, count: int) -> list[dict[str, Any]]:
    return [
        client.post(
            "/v1/ngo/clients",
            json={"personal": {"name": f"Person {i}"}, "pin": "2468"},
            headers=auth(keys.ngo),
        ).json()
        for i in range(count)
    ]


def _open_claims(client: TestClient, keys: Keys, program: int, regs: list[dict[str, Any]]) -> Response:
    """A claim program granting each registered client 40 euros, open for 30 days."""
    expires = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    return client.post(
        "/v1/ngo/claim-programs",
        json={
            "programId": program,
            "name": "Winter 2026",
            "expiresAt": expires,
            "grants": [{"clientId": reg["clientId"], "amount": "40"} for reg in regs],
        },
        headers=auth(keys.ngo),
    )


def test_clients_claim_their_entitlements_once(client: TestClient, keys: Keys, gateway: Gateway) -> None:
    program = _funded_program(client, keys)
    regs = _register(client, keys, 3)
    r = _open_claims(client, keys, program, regs)
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
    receipts = client.get("/v1/client/me", headers=auth(token)).json()["receipts"]
    assert receipts == [
        {
            "kind": "claim",
            "claimProgramId": opened["claimProgramId"],
            "recipient": done["recipient"],
            "amount": "40.000000",
            "transactionHash": done["transactionHash"],
            "blockNumber": done["blockNumber"],
        }
    ]
    assert done["recipient"] not in (regs[0]["account"],)  # a fresh pseudonym per program
    again = client.post(f"/v1/client/claims/{opened['claimProgramId']}", headers=auth(token))
    assert (again.status_code, again.json()["code"]) == (409, "ClaimProgramAlreadyClaimed")
    other = client.post("/v1/client/claims/999", headers=auth(token))
    assert (other.status_code, other.json()["code"]) == (404, "NoEntitlement")
    assert client.get("/v1/audit/verify", headers=auth(keys.auditor)).json()["matches"] is True


def test_erasure_unlinks_the_client_from_their_pseudonyms_and_others_still_claim(
    client: TestClient, keys: Keys, gateway: Gateway
) -> None:
    program = _funded_program(client, keys)
    regs = _register(client, keys, 2)
    opened = _open_claims(client, keys, program, regs).json()
    sessions = [
        client.post("/v1/client/session", json={"voucherCode": reg["voucherCode"], "pin": "2468"}).json()[
            "token"
        ]
        for reg in regs
    ]
    first = client.post(
        f"/v1/client/claims/{opened['claimProgramId']}",
        headers={**auth(sessions[0]), "Idempotency-Key": "claim-once"},
    )
    assert first.status_code == 201, first.text
    with gateway.db.session() as s:
        kept = s.scalars(select(IdempotencyRecord.request_key)).all()
        signed = s.scalars(select(Operation.request_key).where(Operation.kind == "ClaimProgram.claim")).all()
    assert len(kept) == 1 and kept == [k for k in signed if k is not None]
    erased = regs[0]["clientId"]
    assert client.delete(f"/v1/ngo/clients/{erased}", headers=auth(keys.ngo)).status_code == 204
    with gateway.db.session() as s:
        assert s.scalars(select(IdempotencyRecord)).all() == []  # the kept claim response is gone

    with gateway.db.engine.connect() as conn:
        tables = [
            t
            for (t,) in conn.exec_driver_sql(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
                if conn.dialect.name == "postgresql"
                else "SELECT name FROM sqlite_master WHERE type = 'table'"
            )
        ]
        linked = [
            t
            for t in tables
            if t != "clients"
            and any(erased in str(row) for row in conn.exec_driver_sql(f'SELECT * FROM "{t}"').fetchall())
        ]
    assert linked == []
    gateway.claims._trees.clear()  # the tree is rebuilt from the stored leaves, the erased one included
    r = client.post(f"/v1/client/claims/{opened['claimProgramId']}", headers=auth(sessions[1]))
    assert r.status_code == 201, r.text
    assert client.get("/v1/audit/verify", headers=auth(keys.auditor)).json()["matches"] is True


def test_a_claim_program_drawing_on_many_allocations_gets_the_gas_its_draws_need(
    client: TestClient, keys: Keys
) -> None:
    """Funding a claim program draws on the program's allocations oldest first and stores each draw;
    its gas came from a constant (600k), enough for about six draws. It is now sized from the chain's
    `drawPlan`: here 20 allocations of 2 euros fund one 40-euro grant."""
    program = _funded_program(client, keys, "40", parts=20)
    opened = _open_claims(client, keys, program, _register(client, keys, 1))
    assert opened.status_code == 201, opened.text
