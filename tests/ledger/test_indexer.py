"""The in-memory event index: every event once, in chain order, shared without a copy per read."""

from __future__ import annotations

from eth_account import Account

from ledger.indexer import EventIndex
from ledger.system import Allmende
from tests.conftest import EUR, Actors


def test_readers_share_one_snapshot_until_the_chain_moves(system: Allmende, actors: Actors) -> None:
    index = EventIndex(system)
    first = index.events()
    assert index.events() is first  # nothing new: the same snapshot, no copy
    assert isinstance(first, tuple)  # immutable: no reader can change another's view
    seen = len(first)
    system.mint(actors.treasurer, Account.create().address, 3 * EUR)
    moved = index.events()
    assert moved is not first and moved[:seen] == first
    assert [e.name for e in moved[seen:]] == ["Transfer", "Minted"]
    assert [e.name for e in index.since(seen)] == ["Transfer", "Minted"]
    assert index.since(len(moved)) == [] and index.events() is moved
