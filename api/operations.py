"""Relayed operations: what a mutating call returns, the nonce book and the operation journal.

Every state change a user makes is an ERC-2771 request signed with that user's own custodial key,
recorded as a pending operation before its batch is sent, and recorded as done (with transaction
hash and events) or failed once the batch is mined. A crash between the two leaves pending
operations, which the engine reconciles from the chain on the next start (`Engine.reconcile`).
The journal is the only writer of `Operation` rows.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update

from api.db import Database
from api.models import Operation
from ledger.events import Event
from ledger.relayer import Relayed, RelayOutcome
from ledger.system import Allmende

DEFAULT_GAS = 500_000
REQUEST_VALIDITY_S = 3600

IDEMPOTENT_REQUEST: ContextVar[str | None] = ContextVar("allmende_idempotent_request", default=None)
"""The idempotent HTTP request being served (set by the idempotency middleware). Its operations are
recorded under it, so a retry after a crash finds what the chain already executed instead of paying again."""


@dataclass(frozen=True)
class OperationResult:
    """What a mutating call returns: where it landed on chain and the events it emitted."""

    operation_id: str
    transaction_hash: str
    block_number: int
    events: list[Event]

    def event(self, name: str) -> Event:
        """The first event called `name`."""
        return next(e for e in self.events if e.name == name)

    def to_json(self) -> dict[str, Any]:
        """JSON form for responses."""
        return {
            "operationId": self.operation_id,
            "transactionHash": self.transaction_hash,
            "blockNumber": self.block_number,
            "events": [e.to_json() for e in self.events],
        }


class NonceBook:
    """The next forwarder nonce per signer, so a signer's requests are numbered without a round trip.

    A signer the gateway has never relayed for (a client's fresh claim or vote key, say) starts at 0
    without asking the chain; should the chain know better, the forwarder skips the request and the
    gateway asks and signs again (`Engine.execute`).
    """

    def __init__(self, system: Allmende, is_new: Callable[[str], bool]) -> None:
        self._system = system
        self._is_new = is_new
        self._next: dict[str, int] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def lock(self, signer: str) -> threading.Lock:
        """The lock serialising `signer`'s requests from numbering to queueing."""
        with self._guard:
            return self._locks.setdefault(signer, threading.Lock())

    def take(self, signer: str) -> tuple[int, bool]:
        """The nonce for `signer`'s next request and whether it was assumed rather than read
        (call with the signer's lock held)."""
        nonce = self._next.get(signer)
        assumed = False
        if nonce is None:
            assumed = self._is_new(signer)
            nonce = 0 if assumed else self._system.forwarding.nonce(signer)
        self._next[signer] = nonce + 1
        return nonce, assumed

    def forget(self, signer: str) -> None:
        """Read `signer`'s nonce from the chain next time."""
        self._next.pop(signer, None)

    def read_next_time(self, signer: str) -> None:
        """Like `forget`, and never assume a fresh signer again for `signer`."""
        self._next[signer] = self._system.forwarding.nonce(signer)


@dataclass(frozen=True)
class OperationRecord:
    """What the journal writes of a relayed request besides the request itself."""

    id: str
    principal: str
    acting_for: str | None
    kind: str
    request_key: str | None


class OperationJournal:
    """Writes operations around their batch: pending before it is sent, done or failed once mined.

    One transaction per batch each way. A crash between the two leaves pending operations, which
    `Engine.reconcile` settles from the chain on the next start."""

    def __init__(self, db: Database) -> None:
        self.db = db
        with db.session() as s:
            self._signers = set(s.scalars(select(Operation.signer).distinct()))
        self._guard = threading.Lock()

    def has_signed(self, signer: str) -> bool:
        """True when an operation of `signer` was recorded (pending, done or failed)."""
        with self._guard:
            return signer in self._signers

    def before_send(self, batch: Sequence[Relayed]) -> None:
        ops = [
            Operation(
                id=r.tag.id,
                principal=r.tag.principal,
                acting_for=r.tag.acting_for,
                kind=r.tag.kind,
                signer=r.request.sender,
                forward_nonce=r.request.nonce,
                request_key=r.tag.request_key,
            )
            for r in batch
            if isinstance(r.tag, OperationRecord)
        ]
        if ops:
            with self.db.session() as s:
                s.add_all(ops)
            with self._guard:
                self._signers.update(op.signer for op in ops)

    def after_mined(self, batch: Sequence[Relayed]) -> None:
        rows: list[dict[str, Any]] = []
        for r in batch:
            if not isinstance(r.tag, OperationRecord):
                continue
            if isinstance(r.outcome, RelayOutcome):
                rows.append(
                    {
                        "id": r.tag.id,
                        "status": "done",
                        "transaction_hash": r.outcome.transaction_hash,
                        "block_number": r.outcome.block_number,
                        "result": {"events": [e.to_json() for e in r.outcome.events]},
                    }
                )
            else:
                rows.append({"id": r.tag.id, "status": "failed"})
        if rows:
            with self.db.session() as s:
                s.execute(update(Operation), rows)


class AssumedNonceTaken(Exception):
    """A signer taken for new had used forwarder nonces before (outside this gateway's records)."""
