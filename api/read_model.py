"""The read model: every Allmende event in indexed database tables, kept up with the chain.

A read filters by an indexed column (the account an event concerns, a round, a program, a lot, a
transaction), so it costs the same at a thousand and at a million events on chain. The indexer goes
on from the newest block it indexed, in bounded steps; before it does, it checks that this block is
still on the chain by its hash. After a reorganisation of an external chain it drops what it
indexed past the fork point (found through the block hashes it kept) and indexes anew, so the
tables always equal an index built from block 0 of the chain as it is now (tested).

The tables are a cache of the chain: the auditor's verification never reads them, it recomputes
from raw events, and deleting them only costs a rebuild.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from eth_utils import to_checksum_address
from sqlalchemy import ColumnElement, delete, func, insert, select
from sqlalchemy.orm import Session

from api.db import Database
from api.models import IndexedBlock, IndexedEvent
from ledger.events import Event
from ledger.system import Allmende

STEP_BLOCKS = 2_000
"""Blocks read per log query while catching up (bounded, whatever the chain's history)."""
KEPT_HASHES = 256
"""Indexed block hashes kept to find a fork point; a deeper reorganisation rebuilds from block 0."""

ACCOUNT_ARG: dict[str, str] = {
    "Disbursed": "recipient",
    "Claimed": "recipient",
    "ExpiredAidReclaimed": "account",
    "ExpiredAidSwept": "account",
    "BallotCast": "voter",
    "LotDeposited": "funder",
    "LotRefunded": "funder",
    "TrancheRequested": "requester",
    "TrancheApproved": "approver",
    "TrancheRejected": "approver",
    "Minted": "to",
    "Redeemed": "holder",
    "ProposalSubmitted": "proposer",
    "Transfer": "from",
}
"""For each event, the argument naming the account it concerns (what `account` holds)."""


@dataclass(frozen=True)
class ChainView:
    """What the indexer needs of a chain: its head, a block's hash, and the decoded events of a range."""

    head: Callable[[], int]
    block_hash: Callable[[int], str]
    events: Callable[[int, int], list[Event]]
    first_block: int


class ReadModel:
    """Indexed events in the gateway database, caught up with the chain before every read."""

    def __init__(self, db: Database, chain: ChainView) -> None:
        self._db = db
        self._chain = chain
        self._lock = threading.Lock()
        self._indexed_to: int | None = None  # the newest block indexed, once known

    # --- following the chain -----------------------------------------------------------------

    def catch_up(self) -> int:
        """Index every block up to the chain's head; returns the newest block indexed."""
        with self._lock:
            head = self._chain.head()
            if head == self._indexed_to:
                # Nothing new. (A reorganisation that keeps the height is seen with the next block.)
                return head
            with self._db.session() as s:
                done = self._after_fork_check(s)
            while done < head:
                end = min(done + STEP_BLOCKS, head)
                self._index_range(done + 1, end)
                done = end
            self._indexed_to = done
            return done

    def rebuild(self) -> int:
        """Drop the tables' rows and index the whole chain again."""
        with self._lock, self._db.session() as s:
            s.execute(delete(IndexedEvent))
            s.execute(delete(IndexedBlock))
            self._indexed_to = None
        return self.catch_up()

    def _after_fork_check(self, s: Session) -> int:
        """The newest indexed block still on the chain (dropping rows past it), or the block before
        the first block to index."""
        kept = s.execute(select(IndexedBlock.number, IndexedBlock.hash).order_by(IndexedBlock.number.desc()))
        for number, hash_ in kept:
            if self._chain.block_hash(number) == hash_:
                s.execute(delete(IndexedEvent).where(IndexedEvent.block_number > number))
                s.execute(delete(IndexedBlock).where(IndexedBlock.number > number))
                return int(number)
        s.execute(delete(IndexedEvent))  # no kept block is on the chain any more: start again
        s.execute(delete(IndexedBlock))
        return self._chain.first_block - 1

    def _index_range(self, start: int, end: int) -> None:
        """Index blocks `start`..`end` and remember `end`'s hash, in one transaction. The events go in
        as one executemany of plain rows on the session's connection: as ORM objects they took four
        times as long, most of the indexer's time (the ORM's bulk insert sent these rows, whose empty
        columns differ from event to event, nearly one statement each)."""
        end_hash = self._chain.block_hash(end)
        rows = [_row(e) for e in self._chain.events(start, end)]
        with self._db.session() as s:
            if rows:
                s.connection().execute(insert(IndexedEvent), rows)
            s.add(IndexedBlock(number=end, hash=end_hash))
            s.flush()
            oldest_kept = s.scalar(
                select(IndexedBlock.number)
                .order_by(IndexedBlock.number.desc())
                .offset(KEPT_HASHES - 1)
                .limit(1)
            )
            if oldest_kept is not None:
                s.execute(delete(IndexedBlock).where(IndexedBlock.number < oldest_kept))

    # --- reads ---------------------------------------------------------------------------

    def for_accounts(self, accounts: Collection[str], names: Collection[str]) -> list[Event]:
        """Events named `names` that concern any of `accounts`, in chain order."""
        if not accounts:
            return []
        checksummed = [to_checksum_address(a) for a in accounts]
        return self._select(IndexedEvent.account.in_(checksummed), IndexedEvent.name.in_(list(names)))

    def for_lots(self, lot_ids: Collection[int], names: Collection[str]) -> list[Event]:
        """Events named `names` about any of the lots `lot_ids`, in chain order."""
        if not lot_ids:
            return []
        return self._select(IndexedEvent.lot_id.in_(list(lot_ids)), IndexedEvent.name.in_(list(names)))

    def for_round(self, round_id: int, names: Collection[str] | None = None) -> list[Event]:
        """The budget round's events (all, or those named `names`), in chain order."""
        where: list[ColumnElement[bool]] = [
            IndexedEvent.round_id == round_id,
            IndexedEvent.contract == "ParticipatoryBudget",
        ]
        if names is not None:
            where.append(IndexedEvent.name.in_(list(names)))
        return self._select(*where)

    def for_program(self, program_id: int, names: Collection[str] | None = None) -> list[Event]:
        """The fund-ledger program's events (all, or those named `names`), in chain order."""
        where: list[ColumnElement[bool]] = [
            IndexedEvent.program_id == program_id,
            IndexedEvent.contract == "FundLedger",
        ]
        if names is not None:
            where.append(IndexedEvent.name.in_(list(names)))
        return self._select(*where)

    def for_transaction(self, transaction_hash: str) -> list[Event]:
        """The events one transaction emitted, in order."""
        return self._select(IndexedEvent.transaction_hash == transaction_hash)

    def named(
        self, names: Collection[str], contract: str | None = None, address: str | None = None
    ) -> list[Event]:
        """Every event named `names` (of `contract`, emitted at `address`), in chain order: reads that
        many rows."""
        where: list[ColumnElement[bool]] = [IndexedEvent.name.in_(list(names))]
        if contract is not None:
            where.append(IndexedEvent.contract == contract)
        if address is not None:
            where.append(IndexedEvent.address == to_checksum_address(address))
        return self._select(*where)

    def count(self, names: Collection[str], program_id: int | None = None) -> int:
        """How many events named `names` there are (of one program)."""
        self.catch_up()
        query = select(func.count()).select_from(IndexedEvent).where(IndexedEvent.name.in_(list(names)))
        if program_id is not None:
            query = query.where(IndexedEvent.program_id == program_id)
        with self._db.session() as s:
            return int(s.scalar(query) or 0)

    def count_by_program(self, names: Collection[str]) -> dict[int, int]:
        """How many fund-ledger events named `names` each program has (programs with none left out)."""
        self.catch_up()
        query = (
            select(IndexedEvent.program_id, func.count())
            .where(IndexedEvent.name.in_(list(names)), IndexedEvent.contract == "FundLedger")
            .where(IndexedEvent.program_id.is_not(None))
            .group_by(IndexedEvent.program_id)
        )
        with self._db.session() as s:
            return {int(pid): int(n) for pid, n in s.execute(query) if pid is not None}

    def _select(self, *where: Any) -> list[Event]:
        self.catch_up()
        query = select(IndexedEvent).where(*where).order_by(IndexedEvent.block_number, IndexedEvent.log_index)
        with self._db.session() as s:
            return [_event(r) for r in s.scalars(query)]


def _row(e: Event) -> dict[str, Any]:
    """The `IndexedEvent` row of an event, every column given (one bulk insert takes rows alike)."""
    account_arg = ACCOUNT_ARG.get(e.name)
    account = e.args.get(account_arg) if account_arg else None
    return {
        "block_number": e.block_number,
        "log_index": e.log_index,
        "transaction_hash": e.transaction_hash,
        "contract": e.contract,
        "address": e.address,
        "name": e.name,
        "account": account if isinstance(account, str) else None,
        "round_id": _int(e.args.get("roundId")) if e.contract == "ParticipatoryBudget" else None,
        "program_id": _int(e.args.get("programId")) if e.contract == "FundLedger" else None,
        "lot_id": _int(e.args.get("lotId")),
        "args": json.dumps(_encode(e.args), separators=(",", ":")),
    }


def _event(r: IndexedEvent) -> Event:
    return Event(
        contract=r.contract,
        name=r.name,
        args=_decode(json.loads(r.args)),
        address=r.address,
        block_number=r.block_number,
        transaction_hash=r.transaction_hash,
        log_index=r.log_index,
    )


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _encode(value: Any) -> Any:
    """Decoded event arguments as JSON that decodes back to equal values (bytes and tuples tagged)."""
    if isinstance(value, bytes):
        return {"b": value.hex()}
    if isinstance(value, tuple):
        return {"t": [_encode(v) for v in value]}
    if isinstance(value, list):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        return {"d": {k: _encode(v) for k, v in value.items()}}
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        if "b" in value:
            return bytes.fromhex(value["b"])
        if "t" in value:
            return tuple(_decode(v) for v in value["t"])
        return {k: _decode(v) for k, v in value["d"].items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


def chain_view(system: Allmende) -> ChainView:
    """The `ChainView` of a deployed system."""
    web3 = system.chain.web3
    first = min(d.deploy_block for d in system.book.contracts.values())

    def block_hash(number: int) -> str:
        return "0x" + bytes(web3.eth.get_block(number)["hash"]).hex()

    return ChainView(
        head=lambda: int(web3.eth.block_number),
        block_hash=block_hash,
        events=lambda start, end: system.events(start, end),
        first_block=first,
    )
