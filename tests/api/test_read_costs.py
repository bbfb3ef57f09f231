"""Reads that serve one client or one round cost the same however long the chain's history: the
gateway's read model filters indexed rows, it does not replay every event (issue 10).

Counted per request: rows of the read model's event table loaded, rows of every other table loaded,
SQL statements, and events replayed from the chain by the in-memory index (which must be none).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from eth_account import Account
from fastapi.testclient import TestClient
from sqlalchemy import event, func, select

from api.gateway import Gateway
from api.models import Base, IndexedEvent
from ledger.indexer import EventIndex
from tests.api.conftest import Keys, auth
from tests.api.test_rounds_api import ok, open_round, program_and_lot, register, sign_in

BATCH = 200  # payments per disbursement (the API's limit)


@dataclass
class Reads:
    active: bool = False
    event_rows: int = 0
    other_rows: int = 0
    statements: int = 0
    replayed: int = 0

    def cost(self) -> tuple[int, int, int, int]:
        return self.event_rows, self.other_rows, self.statements, self.replayed


@pytest.fixture
def reads(gateway: Gateway, monkeypatch: pytest.MonkeyPatch) -> Iterator[Reads]:
    counted = Reads()

    def loaded(target: Any, _context: Any) -> None:
        if counted.active:
            if isinstance(target, IndexedEvent):
                counted.event_rows += 1
            else:
                counted.other_rows += 1

    def executed(*_args: Any) -> None:
        if counted.active:
            counted.statements += 1

    replay = EventIndex.events

    def replaying(self: EventIndex) -> Any:
        found = replay(self)
        if counted.active:
            counted.replayed += len(found)
        return found

    event.listen(Base, "load", loaded, propagate=True)
    event.listen(gateway.db.engine, "after_cursor_execute", executed)
    monkeypatch.setattr(EventIndex, "events", replaying)
    yield counted
    event.remove(Base, "load", loaded)
    event.remove(gateway.db.engine, "after_cursor_execute", executed)


def _cost(
    client: TestClient, gateway: Gateway, reads: Reads, path: str, headers: dict[str, str]
) -> tuple[tuple[int, int, int, int], Any]:
    """What one GET of `path` reads, once the read model has indexed the chain's new blocks."""
    gateway.read_model.catch_up()  # indexing new blocks is the indexer's work, not the read's
    client.get(path, headers=headers)  # warm per-process caches (voter roll, round records)
    before = reads.cost()
    reads.active = True
    r = client.get(path, headers=headers)
    reads.active = False
    assert r.status_code == 200, r.text
    return tuple(a - b for a, b in zip(reads.cost(), before, strict=True)), r.json()  # type: ignore[return-value]


def _unrelated(client: TestClient, keys: Keys, program: int, payments: int) -> None:
    """`payments` payments to strangers' accounts, `BATCH` to a transaction."""
    while payments > 0:
        n = min(BATCH, payments)
        body = {"payments": [{"address": Account.create().address, "amount": "0.01"} for _ in range(n)]}
        ok(client.post(f"/v1/ngo/programs/{program}/disbursements", json=body, headers=auth(keys.ngo)))
        payments -= n


def _events(gateway: Gateway) -> int:
    with gateway.db.session() as s:
        return int(s.scalar(select(func.count()).select_from(IndexedEvent)) or 0)


# On SQLite only: what is counted is the read model's own queries, the same on both databases (its
# indexing and reads run on PostgreSQL in test_read_model.py), and 10,000 events take half a minute.
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_client_me_and_a_round_read_as_much_at_10000_events_as_at_100(
    client: TestClient, gateway: Gateway, keys: Keys, reads: Reads
) -> None:
    program, lot = program_and_lot(client, keys, amount="5000")
    ok(
        client.post(
            f"/v1/funder/lots/{lot}/allocations",
            json={"programId": program, "amount": "2000"},
            headers=auth(keys.funder),
        )
    )
    tranche = ok(
        client.post(
            f"/v1/ngo/programs/{program}/tranches",
            json={"amount": "2000", "milestone": "m"},
            headers=auth(keys.ngo),
        )
    )["trancheId"]
    ok(client.post(f"/v1/tranches/{tranche}/approve", headers=auth(keys.funder)))
    reg = register(client, keys.ngo, "Erika")
    who = sign_in(client, reg)
    body = {"payments": [{"address": reg["account"], "amount": "42"}]}
    ok(client.post(f"/v1/ngo/programs/{program}/disbursements", json=body, headers=auth(keys.ngo)))
    _, round_lot = program_and_lot(client, keys)
    round_id = open_round(client, gateway, keys, round_lot, voters=[reg["clientId"]])["roundId"]

    gateway.read_model.catch_up()
    _unrelated(client, keys, program, max(0, 100 - _events(gateway)) // 2 + 1)
    gateway.read_model.catch_up()
    few = _events(gateway)
    assert 100 <= few < 400
    me_few, me = _cost(client, gateway, reads, "/v1/client/me", who)
    round_few, _ = _cost(client, gateway, reads, f"/v1/public/rounds/{round_id}", {})
    assert me["receipts"][0]["amount"] == "42.000000"

    while _events(gateway) < few + 10_000:
        _unrelated(client, keys, program, 1_000)
        gateway.read_model.catch_up()
    me_many, me = _cost(client, gateway, reads, "/v1/client/me", who)
    round_many, _ = _cost(client, gateway, reads, f"/v1/public/rounds/{round_id}", {})

    assert me_many == me_few and round_many == round_few
    assert me_few[3] == round_few[3] == 0  # nothing replayed from the chain
    assert len(me["receipts"]) == 1
