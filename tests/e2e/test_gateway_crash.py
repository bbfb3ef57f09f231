"""Kill -9 the real gateway in the middle of concurrent deposits and disbursements, start it again on
the same data directory, and check that nothing acknowledged was lost and nothing is paid twice.

The server runs as a child process (`allmende serve`) on the durable embedded chain and SQLite. Every
request carries an `Idempotency-Key`. After the restart, every request is sent again with its key:
acknowledged ones must replay their first answer, interrupted ones must complete exactly once.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_account import Account
from sqlalchemy import select

from api.db import Database
from api.models import Operation
from ledger.embedded import EmbeddedChain
from ledger.events import Event
from ledger.system import Allmende
from tests.e2e._server import ServerProcess

FUNDERS = 3
ACKNOWLEDGED_BEFORE_KILL = 24
LOAD_TIMEOUT_S = 90.0
REQUEST_TIMEOUT_S = 30.0

pytestmark = pytest.mark.slow


@dataclass
class Attempt:
    """One POST of the load, with its key, and its answer if one came back before the kill."""

    who: str
    key: str
    path: str
    body: dict[str, Any]
    status: int | None = None
    answer: dict[str, Any] | None = None


@dataclass
class Load:
    """Everything the load threads sent, shared with the test."""

    attempts: list[Attempt] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)
    errors: list[str] = field(default_factory=list)

    def acknowledged(self) -> list[Attempt]:
        with self.lock:
            return [a for a in self.attempts if a.status is not None and a.status < 300]


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code < 300, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture(params=[True, False], ids=["chain-process", "in-process"])
def server(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[ServerProcess]:
    s = ServerProcess(tmp_path / "data", tmp_path / "admin.key", chain_process=request.param)
    try:
        yield s.start()
    finally:
        s.kill()


def _setup(url: str, admin: str) -> tuple[dict[str, str], dict[str, str], int]:
    """Funders with money, an NGO whose program has a released tranche: (keys, addresses, program)."""
    keys, addresses = {}, {}
    with httpx.Client(base_url=url, timeout=REQUEST_TIMEOUT_S) as http:
        for who, kind in [*((f"funder{i}", "funder") for i in range(FUNDERS)), ("ngo", "ngo")]:
            org = _ok(
                http.post("/v1/admin/organisations", json={"kind": kind, "name": who}, headers=_auth(admin))
            )
            keys[who], addresses[who] = org["apiKey"], org["address"]
            if kind == "funder":
                _ok(
                    http.post(
                        "/v1/admin/mints",
                        json={"organisationId": org["id"], "amount": "1000000", "fiatReference": who},
                        headers=_auth(admin),
                    )
                )
        program = _ok(http.post("/v1/ngo/programs", json={"name": "Winterhilfe"}, headers=_auth(keys["ngo"])))
        lot = _ok(http.post("/v1/funder/lots", json={"amount": "100000"}, headers=_auth(keys["funder0"])))
        pid = program["programId"]
        _ok(
            http.post(
                f"/v1/funder/lots/{lot['lotId']}/allocations",
                json={"programId": pid, "amount": "50000"},
                headers=_auth(keys["funder0"]),
            )
        )
        tranche = _ok(
            http.post(
                f"/v1/ngo/programs/{pid}/tranches",
                json={"amount": "50000", "milestone": "winter"},
                headers=_auth(keys["ngo"]),
            )
        )
        _ok(http.post(f"/v1/tranches/{tranche['trancheId']}/approve", headers=_auth(keys["funder0"])))
    return keys, addresses, pid


def _load(url: str, who: str, key: str, program: int, load: Load) -> None:
    """POST deposits (funders) or disbursements (the NGO) until stopped or the server is gone."""
    with httpx.Client(base_url=url, timeout=REQUEST_TIMEOUT_S) as http:
        i = 0
        while not load.stop.is_set():
            if who == "ngo":
                recipients = [Account.create().address for _ in range(2)]
                body: dict[str, Any] = {
                    "payments": [{"address": r, "amount": "1.25"} for r in recipients],
                    "reference": f"pay-{i}",
                }
                path = f"/v1/ngo/programs/{program}/disbursements"
            else:
                body, path = {"amount": f"{10 + i}.{i % 100:02d}"}, "/v1/funder/lots"
            attempt = Attempt(who, f"{who}-{i}", path, body)
            with load.lock:
                load.attempts.append(attempt)
            try:
                r = http.post(path, json=body, headers={**_auth(key), "Idempotency-Key": attempt.key})
            except httpx.TransportError:
                return  # the server is gone; what happened to this request is for the restart to tell
            with load.lock:
                attempt.status, attempt.answer = r.status_code, r.json()
            if r.status_code >= 300:
                load.errors.append(f"{who} {attempt.key}: {r.status_code} {r.text}")
                return
            i += 1


def _operations(data_dir: Path) -> list[Operation]:
    db = Database(f"sqlite:///{data_dir / 'gateway.sqlite3'}")
    try:
        with db.session() as s:
            return list(s.scalars(select(Operation)))
    finally:
        db.engine.dispose()


def _wait_for_a_pending_operation(data_dir: Path, deadline: float) -> None:
    with sqlite3.connect(f"file:{data_dir / 'gateway.sqlite3'}?mode=ro", uri=True, timeout=5) as db:
        while time.monotonic() < deadline:
            if db.execute("SELECT 1 FROM operations WHERE status = 'pending' LIMIT 1").fetchone():
                return
    raise AssertionError("no operation was ever pending during the load")


def _chain_events(data_dir: Path) -> tuple[list[Event], dict[str, int]]:
    """Every event on the stopped server's chain, and each transaction's receipt status."""
    with EmbeddedChain.open(data_dir / "chain") as chain:
        system = Allmende.connect(chain, data_dir / "address-book.json")
        events = system.events()
        receipts = {
            tx: int(chain.web3.eth.get_transaction_receipt(tx)["status"])  # type: ignore[arg-type]
            for tx in {e.transaction_hash for e in events}
        }
    return events, receipts


def _executed(events: list[Event]) -> dict[tuple[str, int], Event]:
    return {(e.args["signer"], e.args["nonce"]): e for e in events if e.name == "ExecutedForwardRequest"}


def test_kill_during_load_loses_no_acknowledged_write_and_retries_pay_once(server: ServerProcess) -> None:
    data_dir = server.data_dir
    keys, addresses, program = _setup(server.url, server.admin_key)

    load = Load()
    threads = [
        threading.Thread(
            target=_load, args=(server.url, who, keys[who], program, load), name=f"load-{who}", daemon=True
        )
        for who in keys
    ]
    for t in threads:
        t.start()
    try:
        deadline = time.monotonic() + LOAD_TIMEOUT_S
        while len(load.acknowledged()) < ACKNOWLEDGED_BEFORE_KILL and not load.errors:
            assert time.monotonic() < deadline, f"only {len(load.acknowledged())} writes acknowledged in time"
            time.sleep(0.01)  # polling the load threads' progress, bounded by the deadline
        _wait_for_a_pending_operation(data_dir, deadline)  # so the kill lands while one is being relayed
    finally:
        server.kill()
        load.stop.set()
    for t in threads:
        t.join(timeout=REQUEST_TIMEOUT_S + 5)
        assert not t.is_alive(), f"{t.name} is stuck"
    assert not load.errors, load.errors
    acknowledged = load.acknowledged()
    interrupted = [a for a in load.attempts if a.status is None]

    # --- the state the kill left behind: the database's pending operations and the chain's truth
    pending_at_kill = {op.id: op for op in _operations(data_dir) if op.status == "pending"}
    executed_at_kill = _executed(_chain_events(data_dir)[0])

    server.start()  # reconciles before it serves
    settled = {op.id: op for op in _operations(data_dir)}
    assert [op for op in settled.values() if op.status == "pending"] == []
    for op_id, before in pending_at_kill.items():
        on_chain = executed_at_kill.get((before.signer, before.forward_nonce))
        after = settled[op_id]
        if on_chain is not None and on_chain.args["success"]:
            assert (after.status, after.transaction_hash) == ("done", on_chain.transaction_hash)
        else:
            assert after.status == "failed", f"{after.kind} was not executed but is {after.status}"

    # --- every request again with its key: acknowledged ones replay, interrupted ones complete once
    answers: dict[str, dict[str, Any]] = {}
    with httpx.Client(base_url=server.url, timeout=REQUEST_TIMEOUT_S) as http:
        for a in acknowledged + interrupted:
            r = http.post(a.path, json=a.body, headers={**_auth(keys[a.who]), "Idempotency-Key": a.key})
            assert r.status_code == 201, f"{a.key}: {r.status_code} {r.text}"
            if a.status is not None:
                assert r.json() == a.answer, f"{a.key} answered differently after the restart"
                assert r.headers.get("idempotent-replayed") == "true"
            answers[a.key] = r.json()
        lots_by_funder = {
            who: {lot["lotId"] for lot in _ok_list(http.get("/v1/funder/lots", headers=_auth(keys[who])))}
            for who in keys
            if who != "ngo"
        }
    server.stop()

    # --- the chain after the restart: every answer is there, once
    events, receipts = _chain_events(data_dir)
    deposits = {e.args["lotId"]: e for e in events if e.name == "LotDeposited"}
    batches = {e.args["batchId"]: e for e in events if e.name == "BatchDisbursed"}
    for a in acknowledged + interrupted:
        answer = answers[a.key]
        assert receipts[answer["transactionHash"]] == 1
        if a.who == "ngo":
            batch = batches[answer["batchId"]]
            assert batch.transaction_hash == answer["transactionHash"]
        else:
            lot = deposits[answer["lotId"]]
            assert (lot.transaction_hash, lot.args["funder"]) == (answer["transactionHash"], addresses[a.who])
            assert lot.args["amount"] == int(Decimal(a.body["amount"]) * 1_000_000)
    load_keys = {a.key for a in acknowledged + interrupted}
    answered_lots = {answers[k]["lotId"] for k in load_keys if not k.startswith("ngo")}
    answered_batches = {answers[k]["batchId"] for k in load_keys if k.startswith("ngo")}
    setup_lots = 1
    assert len(deposits) == setup_lots + len(answered_lots), "a deposit was paid twice"
    assert set(batches) == answered_batches, "a disbursement was paid twice"
    assert set().union(*lots_by_funder.values()) == answered_lots | {min(deposits)}

    # --- and the database records each answer as a done operation
    operations = {op.id: op for op in _operations(data_dir)}
    for answer in answers.values():
        op = operations[answer["operationId"]]
        assert (op.status, op.transaction_hash) == ("done", answer["transactionHash"])


def _ok_list(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    body: list[dict[str, Any]] = response.json()
    return body
