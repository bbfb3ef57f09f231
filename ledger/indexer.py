"""An incremental, in-memory index of every Allmende event, refreshed from the chain on demand."""

from __future__ import annotations

import threading

from ledger.events import Event
from ledger.system import Allmende


class EventIndex:
    """All decoded events in chain order; `refresh` reads only blocks not seen yet."""

    def __init__(self, system: Allmende) -> None:
        self.system = system
        self._events: list[Event] = []
        self._snapshot: tuple[Event, ...] = ()
        self._next_block = min(d.deploy_block for d in system.book.contracts.values())
        self._lock = threading.Lock()

    def refresh(self) -> tuple[Event, ...]:
        """Read new blocks; returns every event so far. Readers share one immutable snapshot until
        the chain moves, so a read of a long history copies nothing (a million events took a copy
        of milliseconds per request)."""
        with self._lock:
            self._read_new_blocks()
            if len(self._snapshot) != len(self._events):
                self._snapshot = tuple(self._events)
            return self._snapshot

    def events(self) -> tuple[Event, ...]:
        """Every event up to the latest block."""
        return self.refresh()

    def since(self, seen: int) -> list[Event]:
        """The events after the first `seen` ones, up to the latest block: what a reader that keeps
        its own state from the events needs, without copying the whole history per read."""
        with self._lock:
            self._read_new_blocks()
            return self._events[seen:]

    def _read_new_blocks(self) -> None:
        head = int(self.system.chain.web3.eth.block_number)
        if head >= self._next_block:
            self._events.extend(self.system.events(self._next_block, head))
            self._next_block = head + 1
