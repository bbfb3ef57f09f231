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
        self._next_block = min(d.deploy_block for d in system.book.contracts.values())
        self._lock = threading.Lock()

    def refresh(self) -> list[Event]:
        """Read new blocks; returns every event so far."""
        with self._lock:
            head = int(self.system.chain.web3.eth.block_number)
            if head >= self._next_block:
                self._events.extend(self.system.events(self._next_block, head))
                self._next_block = head + 1
            return list(self._events)

    def events(self) -> list[Event]:
        """Every event up to the latest block."""
        return self.refresh()

    def since(self, seen: int) -> list[Event]:
        """The events after the first `seen` ones, up to the latest block: what a reader that keeps
        its own state from the events needs, without copying the whole history per read."""
        with self._lock:
            head = int(self.system.chain.web3.eth.block_number)
            if head >= self._next_block:
                self._events.extend(self.system.events(self._next_block, head))
                self._next_block = head + 1
            return self._events[seen:]
