"""A contract call built by its contract's client, ready to be signed (directly or through the
forwarder): where it goes, its calldata, the gas it may use, and the name the journal gives it.

Each client in ledger/ builds its calls next to the function they call, with the gas rule that sizes
them, so no caller spells a function name or guesses a gas figure. A call is plain data: building it
reads nothing from the chain.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Call:
    """One call of `kind` ("Contract.function") to `target` with `data`, allowed `gas`."""

    target: str
    data: bytes
    gas: int
    kind: str
