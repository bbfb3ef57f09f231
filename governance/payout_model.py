"""A plain-Python reference model of `contracts/Payouts.sol`, for property tests.

`PayoutModel` keeps what the contract keeps (payouts with account, amount, batch and status; batches
with total, payouts, status and bank reference; references already used) plus the euro balances the
token moves, and accepts the same commands. A command the contract rejects raises the `ModelError`
subclass named like the Solidity error with the same arguments, found by the same checks in the same
order; a rejected command changes nothing.

Invariants the model keeps, and a property test checks against the chain:
- money is conserved: minted = held by accounts + held for payouts (pending and batched) + burned;
- burned = the totals of the batches marked sent = the amounts of the settled payouts;
- nothing is paid twice: a payout is settled at most once, a reference names one payout, and a
  batch is sent at most once (a reopened batch is never sent);
- restricted money is never paid out.

Roles are plain names (`TREASURER_ROLE`), as in `governance.fund_model`. Every account approved the
payouts contract for all it holds (allowances are the token's business, tested elsewhere).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import Final

from governance.fund_model import AccessControlUnauthorizedAccount, ERC20InsufficientBalance, ModelError

TREASURER_ROLE: Final = "TREASURER_ROLE"
MAX_BATCH: Final = 200
ZERO_REFERENCE: Final = bytes(32)


class PayoutsZeroAmount(ModelError):
    """A zero amount was asked to be paid out."""


class PayoutsZeroReference(ModelError):
    """A payout or a sent batch needs a non-zero reference."""


class PayoutsReferenceUsed(ModelError):
    """`payoutReference` names payout `payoutId` already."""

    field_names = ("payoutReference", "payoutId")


class PayoutsRestrictedMoney(ModelError):
    """`account`'s money is restricted by fund program `fundProgramId`."""

    field_names = ("account", "fundProgramId")


class PayoutsBadBatchSize(ModelError):
    """A batch needs between one and `max` payouts."""

    field_names = ("count", "max")


class PayoutsNotPending(ModelError):
    """Payout `payoutId` is not pending."""

    field_names = ("payoutId",)


class PayoutsBatchNotOpen(ModelError):
    """Batch `batchId` is not open."""

    field_names = ("batchId",)


class PayoutStatus(IntEnum):
    """As `IPayouts.PayoutStatus`."""

    NONE = 0
    PENDING = 1
    BATCHED = 2
    SETTLED = 3


class BatchStatus(IntEnum):
    """As `IPayouts.BatchStatus`."""

    NONE = 0
    OPEN = 1
    SENT = 2
    REJECTED = 3


@dataclass
class Payout:
    """One payout."""

    account: str
    amount: int
    reference: bytes
    batch_id: int = 0
    status: PayoutStatus = PayoutStatus.PENDING


@dataclass
class Batch:
    """One batch."""

    payout_ids: list[int]
    total: int
    status: BatchStatus = BatchStatus.OPEN
    bank_reference: bytes = ZERO_REFERENCE


@dataclass
class PayoutModel:
    """The payouts contract and the balances it moves."""

    roles: set[tuple[str, str]] = field(default_factory=set)
    balances: dict[str, int] = field(default_factory=dict)
    restricted: dict[str, int] = field(default_factory=dict)
    payouts: dict[int, Payout] = field(default_factory=dict)
    batches: dict[int, Batch] = field(default_factory=dict)
    references: dict[bytes, int] = field(default_factory=dict)
    minted: int = 0
    burned: int = 0
    sent_batches: list[int] = field(default_factory=list)

    def grant_role(self, role: str, account: str) -> None:
        """Give `account` `role`."""
        self.roles.add((role, account))

    def restrict(self, account: str, fund_program_id: int) -> None:
        """`account`'s money is restricted by a program whose rule is not cash."""
        self.restricted[account] = fund_program_id

    def mint(self, account: str, amount: int) -> None:
        """The treasurer minted `amount` to `account`."""
        self.balances[account] = self.balances.get(account, 0) + amount
        self.minted += amount

    def request(self, account: str, amount: int, reference: bytes) -> int:
        """`account` asks for `amount` under `reference`; returns the payout id."""
        if amount == 0:
            raise PayoutsZeroAmount()
        if reference == ZERO_REFERENCE:
            raise PayoutsZeroReference()
        if reference in self.references:
            raise PayoutsReferenceUsed(reference, self.references[reference])
        if account in self.restricted:
            raise PayoutsRestrictedMoney(account, self.restricted[account])
        balance = self.balances.get(account, 0)
        if balance < amount:
            raise ERC20InsufficientBalance(account, balance, amount)
        payout_id = len(self.payouts) + 1
        self.payouts[payout_id] = Payout(account, amount, reference)
        self.references[reference] = payout_id
        self.balances[account] = balance - amount
        return payout_id

    def create_batch(self, sender: str, payout_ids: list[int]) -> int:
        """The treasurer groups pending `payout_ids`; returns the batch id."""
        self._require_treasurer(sender)
        if not 0 < len(payout_ids) <= MAX_BATCH:
            raise PayoutsBadBatchSize(len(payout_ids), MAX_BATCH)
        seen: set[int] = set()
        for payout_id in payout_ids:
            p = self.payouts.get(payout_id)
            if p is None or p.status != PayoutStatus.PENDING or payout_id in seen:
                raise PayoutsNotPending(payout_id)
            seen.add(payout_id)
        batch_id = len(self.batches) + 1
        for payout_id in payout_ids:
            self.payouts[payout_id].status = PayoutStatus.BATCHED
            self.payouts[payout_id].batch_id = batch_id
        self.batches[batch_id] = Batch(list(payout_ids), sum(self.payouts[i].amount for i in payout_ids))
        return batch_id

    def mark_sent(self, sender: str, batch_id: int, bank_reference: bytes) -> None:
        """The treasurer marks open batch `batch_id` sent; its total is burned."""
        self._require_treasurer(sender)
        batch = self._open_batch(batch_id)
        if bank_reference == ZERO_REFERENCE:
            raise PayoutsZeroReference()
        batch.status = BatchStatus.SENT
        batch.bank_reference = bank_reference
        for payout_id in batch.payout_ids:
            self.payouts[payout_id].status = PayoutStatus.SETTLED
        self.burned += batch.total
        self.sent_batches.append(batch_id)

    def reopen(self, sender: str, batch_id: int) -> None:
        """The treasurer reopens open batch `batch_id`; its payouts are pending again."""
        self._require_treasurer(sender)
        batch = self._open_batch(batch_id)
        batch.status = BatchStatus.REJECTED
        for payout_id in batch.payout_ids:
            self.payouts[payout_id].status = PayoutStatus.PENDING
            self.payouts[payout_id].batch_id = 0

    @property
    def held(self) -> int:
        """What the contract holds: pending and batched payouts."""
        return sum(p.amount for p in self.payouts.values() if p.status != PayoutStatus.SETTLED)

    @property
    def settled(self) -> int:
        """What was paid out: the settled payouts."""
        return sum(p.amount for p in self.payouts.values() if p.status == PayoutStatus.SETTLED)

    def conserved(self) -> bool:
        """Minted = accounts + held + burned, and burned = settled = the totals of sent batches."""
        sent_total = sum(self.batches[b].total for b in self.sent_batches)
        return (
            self.minted == sum(self.balances.values()) + self.held + self.burned
            and self.burned == self.settled == sent_total
        )

    def nothing_paid_twice(self) -> bool:
        """Each batch sent once, each settled payout in exactly one sent batch, no restricted payout."""
        if len(set(self.sent_batches)) != len(self.sent_batches):
            return False
        settled_in = [i for b in self.sent_batches for i in self.batches[b].payout_ids]
        settled = [i for i, p in self.payouts.items() if p.status == PayoutStatus.SETTLED]
        restricted_paid = any(p.account in self.restricted for p in self.payouts.values())
        return sorted(settled_in) == sorted(settled) and not restricted_paid

    def _require_treasurer(self, sender: str) -> None:
        if (TREASURER_ROLE, sender) not in self.roles:
            raise AccessControlUnauthorizedAccount(sender, TREASURER_ROLE)

    def _open_batch(self, batch_id: int) -> Batch:
        batch = self.batches.get(batch_id)
        if batch is None or batch.status != BatchStatus.OPEN:
            raise PayoutsBatchNotOpen(batch_id)
        return batch
