"""Plan a payment at a provider from a client's accounts. Pure: no I/O.

A client may hold several pseudonymous accounts (one per claim program, one for disbursements). The
gateway hands in those that may pay this provider now (`Source`: restricted accounts whose program's
categories meet the provider's, and cash accounts), and `plan_payment` chooses the legs:

- restricted money first (it can be spent only at such providers, cash can go anywhere), then cash;
- within each group the largest balance first, so a payment touches as few accounts as it can;
- every leg is positive and at most its account's balance, and the legs add up to the amount.

When the sources do not cover the amount, `NotEnoughBalance(needed, available)` says by how much.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from governance.errors import GovernanceError


class NotEnoughBalance(GovernanceError, ValueError):
    """The accounts that may pay this provider hold `available`, less than the `needed` amount."""

    def __init__(self, needed: int, available: int) -> None:
        super().__init__(f"needs {needed}, the accounts that may pay hold {available}")
        self.needed = needed
        self.available = available


@dataclass(frozen=True)
class Source:
    """An account that may pay the provider: its balance (micro-euros) and whether a program restricts it."""

    account: str
    balance: int
    restricted: bool


@dataclass(frozen=True)
class Leg:
    """One transfer of a payment: `amount` micro-euros out of `account`."""

    account: str
    amount: int
    restricted: bool


def plan_payment(amount: int, sources: Iterable[Source]) -> list[Leg]:
    """The legs paying `amount` (> 0) from `sources`: restricted first, then cash, largest balance
    first within each, ties by account; `NotEnoughBalance` when they hold less than `amount`."""
    if amount <= 0:
        raise ValueError("a payment is of a positive amount")
    usable = sorted(
        (s for s in sources if s.balance > 0),
        key=lambda s: (not s.restricted, -s.balance, s.account),
    )
    available = sum(s.balance for s in usable)
    if available < amount:
        raise NotEnoughBalance(amount, available)
    legs: list[Leg] = []
    left = amount
    for source in usable:
        if left == 0:
            break
        take = min(left, source.balance)
        legs.append(Leg(source.account, take, source.restricted))
        left -= take
    return legs
