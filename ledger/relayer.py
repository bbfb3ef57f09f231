"""Relay users' signed requests to the chain in batches, each caller getting its own outcome.

Requests go to the forwarder's `executeBatch` with the relayer as refund receiver, so an invalid or
failing request is skipped instead of sinking the batch. A user's requests always go through the
same relayer account (chosen by address), so their forwarder nonces stay in order. The logs of a
batch are split per request at each `ExecutedForwardRequest` the forwarder emits.

A `RelayJournal` sees every batch twice, in the relayer's thread: before it is sent and after it was
mined, before any caller learns its outcome. A gateway writes its records there, one database
transaction per batch instead of two per request.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Protocol

from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address

from ledger.events import Event
from ledger.exceptions import LedgerError, TransactionError, TransactionNotSent
from ledger.forwarding import ForwardRequest
from ledger.system import Allmende

BATCH_OVERHEAD_GAS = 60_000
PER_REQUEST_OVERHEAD_GAS = 40_000
MAX_BATCH_GAS = 25_000_000  # below the embedded chain's 30M block gas limit

SEND_RETRY_PAUSES_S = (0.05, 0.25, 1.0)  # between attempts at a batch the node did not accept

log = logging.getLogger(__name__)


class RequestNotExecuted(LedgerError):
    """The forwarder skipped the request (bad signature or nonce, expired, or the relayer failed)."""


class ForwardedCallFailed(LedgerError):
    """The forwarder executed the request but its call reverted on chain."""


@dataclass(frozen=True)
class RelayOutcome:
    """What happened to one relayed request."""

    transaction_hash: str
    block_number: int
    events: list[Event] = field(default_factory=list)


@dataclass(frozen=True)
class Relayed:
    """One request of a batch as the journal sees it: its submitter's `tag` and, once mined, its
    outcome (a `RelayOutcome`, or the exception its caller will get)."""

    request: ForwardRequest
    tag: Any
    outcome: RelayOutcome | BaseException | None = None


class RelayJournal(Protocol):
    """Records batches around their transaction (called from the relayer's threads)."""

    def before_send(self, batch: Sequence[Relayed]) -> None:
        """The batch is about to be sent; raising fails every request in it, unsent."""

    def after_mined(self, batch: Sequence[Relayed]) -> None:
        """The batch's outcomes, before their callers learn them."""


@dataclass
class _Pending:
    request: ForwardRequest
    future: Future[RelayOutcome]
    tag: Any = None


class Relayer:
    """A pool of relayer accounts submitting batches of signed requests."""

    def __init__(
        self,
        system: Allmende,
        accounts: list[LocalAccount],
        *,
        max_batch: int = 64,
        max_wait_s: float = 0.002,
        max_batch_gas: int = MAX_BATCH_GAS,
        journal: RelayJournal | None = None,
    ) -> None:
        if not accounts:
            raise ValueError("a relayer needs at least one account")
        self.system = system
        self.accounts = accounts
        self.max_batch = max_batch
        self.max_wait_s = max_wait_s
        self.max_batch_gas = max_batch_gas
        self.journal = journal
        self._queues: list[queue.Queue[_Pending | None]] = [queue.Queue() for _ in accounts]
        self._threads = [
            threading.Thread(target=self._run, args=(i,), name=f"relayer-{i}", daemon=True)
            for i in range(len(accounts))
        ]
        for t in self._threads:
            t.start()

    def submit(self, request: ForwardRequest, tag: Any = None) -> Future[RelayOutcome]:
        """Queue a signed request; the future resolves once its batch is mined. The journal gets `tag`."""
        future: Future[RelayOutcome] = Future()
        lane = int(request.sender, 16) % len(self._queues)
        self._queues[lane].put(_Pending(request, future, tag))
        return future

    def relay(self, request: ForwardRequest, timeout: float = 120.0) -> RelayOutcome:
        """Submit and wait."""
        return self.submit(request).result(timeout)

    def close(self) -> None:
        """Finish queued work and stop the relayer threads."""
        for q in self._queues:
            q.put(None)
        for t in self._threads:
            t.join(timeout=30)

    def _run(self, lane: int) -> None:
        q = self._queues[lane]
        account = self.accounts[lane]
        carry: _Pending | None = None
        while True:
            first = carry if carry is not None else q.get()
            carry = None
            if first is None:
                return
            batch, gas = [first], _gas(first)
            deadline = time.monotonic() + self.max_wait_s
            stop = False
            while len(batch) < self.max_batch:
                try:
                    item = q.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break
                if item is None:
                    stop = True
                    break
                if gas + _gas(item) > self.max_batch_gas:
                    carry = item
                    break
                batch.append(item)
                gas += _gas(item)
            self._execute(account, batch, BATCH_OVERHEAD_GAS + gas)
            if stop:
                return

    def _execute(self, account: LocalAccount, batch: list[_Pending], gas: int) -> None:
        if self.journal is not None:
            try:
                self.journal.before_send([Relayed(p.request, p.tag) for p in batch])
            except Exception as exc:
                for p in batch:
                    p.future.set_exception(TransactionError(f"batch not recorded, not sent: {exc}"))
                return
        outcomes = self._send(account, batch, gas)
        if self.journal is not None:
            try:
                mined = [Relayed(p.request, p.tag, o) for p, o in zip(batch, outcomes, strict=True)]
                self.journal.after_mined(mined)
            except Exception:  # the chain has the batch; a gateway reconciles its records on restart
                log.exception("recording a mined batch failed")
        for p, outcome in zip(batch, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                p.future.set_exception(outcome)
            else:
                p.future.set_result(outcome)

    def _send(
        self, account: LocalAccount, batch: list[_Pending], gas: int
    ) -> list[RelayOutcome | BaseException]:
        """The batch's transaction, and each request's outcome in it."""
        requests = [p.request.as_tuple() for p in batch]
        forwarder = self.system.forwarder
        for pause in (*SEND_RETRY_PAUSES_S, None):
            try:
                result = forwarder.transact(account, "executeBatch", requests, account.address, gas=gas)
                break
            except TransactionNotSent as exc:  # nothing reached the chain: the same batch may go again
                if pause is None:
                    return [TransactionError(f"batch not accepted by the node: {exc}") for _ in batch]
                log.warning("relayer %s: batch not accepted, retrying in %.2f s", account.address, pause)
                time.sleep(pause)
            except Exception as exc:  # the whole batch failed: every caller learns why
                return [TransactionError(f"batch failed: {exc}") for _ in batch]
        found = split_by_request(result.events, forwarder.address)
        outcomes: list[RelayOutcome | BaseException] = []
        for p in batch:
            key = (to_checksum_address(p.request.sender), p.request.nonce)
            executed = found.get(key)
            if executed is None:
                outcomes.append(RequestNotExecuted(f"request {key} was skipped by the forwarder"))
            elif not executed[0]:
                outcomes.append(ForwardedCallFailed(f"request {key} reverted in {result.transaction_hash}"))
            else:
                outcomes.append(RelayOutcome(result.transaction_hash, result.block_number, executed[1]))
        return outcomes


def _gas(p: _Pending) -> int:
    return p.request.gas + PER_REQUEST_OVERHEAD_GAS


def split_by_request(events: list[Event], forwarder: str) -> dict[tuple[str, int], tuple[bool, list[Event]]]:
    """The events of one batch transaction per forwarded request: (signer, nonce) -> (success, the
    events its call emitted). Each request's events end at the forwarder's `ExecutedForwardRequest`."""
    out: dict[tuple[str, int], tuple[bool, list[Event]]] = {}
    pending: list[Event] = []
    for e in events:
        if e.name == "ExecutedForwardRequest" and e.address == forwarder:
            out[(e.args["signer"], e.args["nonce"])] = (e.args["success"], pending)
            pending = []
        else:
            pending.append(e)
    return out
