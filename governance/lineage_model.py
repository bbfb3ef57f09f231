"""Which lots paid for every euro: first in, first out, per account, over what funded it.

Each account holds a queue of slices `(lot id, amount)`, oldest first. Money entering from outside the
accounts the model follows (a fund ledger's payment from its lots, a treasurer's mint) is `credit`ed
with the lot it came from (`UNFUNDED`, lot 0, for money no lot paid: a mint straight to an account).
A transfer (`move`) takes the sender's oldest slices first and appends them, in order, to the
receiver's queue; a payment given back (`give_back`: a provider's refund to an account that paid it)
takes the lots of that account's payments first; a burn (`burn`, a payout to a bank account) records
the oldest slices as paid out;
money leaving to a place that accounts for it by lot itself (`debit`: a deposit into the fund ledger)
takes the oldest slices; a return that names its lots (`take_back`: a claim program's unclaimed rest
going back to the lots that paid it) takes exactly those lots, newest first.

Invariants (tests/property/test_lineage_model.py): per lot, credited = held + paid out + debited
(nothing created or lost); every account's held slices sum to its balance; every slice names a lot;
an account never moves more than it holds (`LineageShortfall`). Pure: no I/O, no chain.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field

from governance.errors import GovernanceError

UNFUNDED = 0
"""The lot id of money no lot paid (minted straight to an account, not through the fund ledger)."""

Slice = tuple[int, int]  # (lot id, amount)


class LineageShortfall(GovernanceError, ValueError):
    """An account was asked to give more than it holds (or more of one lot than it holds)."""

    def __init__(self, account: str, wanted: int, held: int, lot: int | None = None) -> None:
        of = "" if lot is None else f" of lot {lot}"
        super().__init__(f"{account} holds {held}{of}, asked for {wanted}")
        self.account, self.wanted, self.held, self.lot = account, wanted, held, lot


@dataclass
class LineageModel:
    """Every account's queue of slices, and where each lot's money went."""

    queues: dict[str, deque[list[int]]] = field(default_factory=dict)  # account -> [[lot, amount], ...]
    credited: Counter[int] = field(default_factory=Counter)  # lot -> money that entered with that lot
    moved: Counter[tuple[int, str, str]] = field(default_factory=Counter)  # (lot, from, to) -> amount
    paid_out: Counter[tuple[int, str]] = field(default_factory=Counter)  # (lot, holder) -> burned
    debited: Counter[tuple[int, str]] = field(default_factory=Counter)  # (lot, account) -> left the model

    def credit(self, account: str, lot: int, amount: int) -> None:
        """`amount` of lot `lot` enters `account` from outside (it queues last)."""
        if amount < 0:
            raise ValueError("a negative amount")
        if amount:
            self._append(account, lot, amount)
            self.credited[lot] += amount

    def move(self, source: str, target: str, amount: int) -> list[Slice]:
        """`source` pays `target` `amount`, oldest slices first; returns the slices moved."""
        slices = self._take_oldest(source, amount)
        for lot, part in slices:
            self._append(target, lot, part)
            self.moved[(lot, source, target)] += part
        return slices

    def give_back(self, source: str, target: str, amount: int, lots: Counter[int]) -> list[Slice]:
        """`source` pays `target` `amount` back: up to `lots[lot]` of each lot named (what `target` once
        paid `source` of it and has not had back), newest slices first, then oldest slices first, as a
        `move`; returns the slices moved."""
        queue = self.queues.get(source, deque())
        held = sum(s[1] for s in queue)
        if amount < 0 or held < amount:
            raise LineageShortfall(source, amount, held)
        wanted, remaining, out = Counter(+lots), amount, []
        for s in reversed(queue):
            part = min(s[1], wanted[s[0]], remaining)
            if part:
                s[1] -= part
                wanted[s[0]] -= part
                remaining -= part
                out.append((s[0], part))
        self.queues[source] = deque(s for s in queue if s[1])
        out += self._take_oldest(source, remaining)
        for lot, part in out:
            self._append(target, lot, part)
            self.moved[(lot, source, target)] += part
        return out

    def burn(self, holder: str, amount: int) -> list[Slice]:
        """`holder`'s `amount` is paid out (burned), oldest slices first; returns them."""
        slices = self._take_oldest(holder, amount)
        for lot, part in slices:
            self.paid_out[(lot, holder)] += part
        return slices

    def debit(self, account: str, amount: int) -> list[Slice]:
        """`amount` leaves `account` to a place that keeps its own account by lot, oldest slices first."""
        slices = self._take_oldest(account, amount)
        for lot, part in slices:
            self.debited[(lot, account)] += part
        return slices

    def take_back(self, account: str, lot: int, amount: int) -> None:
        """`amount` of lot `lot` goes back from `account` to that lot (newest slices of the lot first)."""
        queue = self.queues.get(account, deque())
        held = sum(s[1] for s in queue if s[0] == lot)
        if amount < 0 or held < amount:
            raise LineageShortfall(account, amount, held, lot)
        remaining = amount
        for s in reversed(queue):
            if remaining == 0:
                break
            if s[0] == lot:
                part = min(s[1], remaining)
                s[1] -= part
                remaining -= part
        self.queues[account] = deque(s for s in queue if s[1])
        if amount:
            self.debited[(lot, account)] += amount

    def relabel(self, account: str, old: int, new: int, amount: int) -> None:
        """`amount` of `account`'s lot `old` counts as lot `new` from now on (newest slices first, in
        place): one half of a swap between two holders, which leaves every balance and every lot's total
        as it was (a fund ledger's rule, not first in first out, said which lot came back)."""
        queue = self.queues.get(account, deque())
        held = sum(s[1] for s in queue if s[0] == old)
        if amount < 0 or held < amount:
            raise LineageShortfall(account, amount, held, old)
        out: list[list[int]] = []
        remaining = amount
        for s in reversed(queue):
            if remaining and s[0] == old:
                part = min(s[1], remaining)
                remaining -= part
                if part < s[1]:
                    out.append([new, part])
                    out.append([old, s[1] - part])
                    continue
                out.append([new, part])
                continue
            out.append(s)
        merged: deque[list[int]] = deque()
        for s in reversed(out):
            if merged and merged[-1][0] == s[0]:
                merged[-1][1] += s[1]
            else:
                merged.append(list(s))
        self.queues[account] = merged

    def balance(self, account: str) -> int:
        """What `account` holds."""
        return sum(s[1] for s in self.queues.get(account, ()))

    def slices(self, account: str) -> list[Slice]:
        """`account`'s slices, oldest first."""
        return [(s[0], s[1]) for s in self.queues.get(account, ())]

    def held(self) -> Counter[tuple[int, str]]:
        """(lot, account) -> what the account holds of the lot."""
        out: Counter[tuple[int, str]] = Counter()
        for account, queue in self.queues.items():
            for lot, amount in queue:
                out[(lot, account)] += amount
        return out

    def conserved(self) -> bool:
        """Per lot: credited = held + paid out + debited."""
        placed: Counter[int] = Counter()
        for counter in (self.held(), self.paid_out, self.debited):
            for (lot, _), amount in counter.items():
                placed[lot] += amount
        return +placed == +self.credited

    def _append(self, account: str, lot: int, amount: int) -> None:
        queue = self.queues.setdefault(account, deque())
        if queue and queue[-1][0] == lot:  # the same lot again: one slice, order unchanged
            queue[-1][1] += amount
        else:
            queue.append([lot, amount])

    def _take_oldest(self, account: str, amount: int) -> list[Slice]:
        queue = self.queues.get(account, deque())
        held = sum(s[1] for s in queue)
        if amount < 0 or held < amount:
            raise LineageShortfall(account, amount, held)
        out: list[Slice] = []
        remaining = amount
        while remaining:
            lot, left = queue[0]
            part = min(left, remaining)
            out.append((lot, part))
            remaining -= part
            if part == left:
                queue.popleft()
            else:
                queue[0][1] -= part
        return out
