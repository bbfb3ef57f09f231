"""Typed access to `Payouts`: accounts ask to be paid out in euros, the treasurer settles batches.

An account's tokens move into the contract when it asks (after an approval); they are burned only when
the treasurer marks the batch holding the payout sent under the bank's reference, at most once per
batch. A batch the bank rejected is reopened and its payouts are pending again. A payout reference is
unique on chain, so a retried request under the same reference is refused (`PayoutsReferenceUsed`)
instead of paying twice. Restricted aid is refused (`PayoutsRestrictedMoney`). No IBAN or name is ever
passed here: references are hashes of what the gateway keeps off chain.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum

from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address

from ledger.calls import Call
from ledger.contracts import ContractClient
from ledger.transactions import TransactionSender, TxResult

MAX_BATCH = 200
"""The most payouts one batch holds (the contract's `MAX_BATCH`)."""
GAS_REQUEST = 200_000
GAS_BATCH_BASE = 100_000
GAS_BATCH_PER_PAYOUT = 60_000
GAS_SETTLE_BASE = 120_000
GAS_SETTLE_PER_PAYOUT = 10_000


class PayoutStatus(IntEnum):
    """A payout's state on chain."""

    NONE = 0
    PENDING = 1
    BATCHED = 2
    SETTLED = 3


class BatchStatus(IntEnum):
    """A batch's state on chain."""

    NONE = 0
    OPEN = 1
    SENT = 2
    REJECTED = 3


@dataclass(frozen=True)
class PayoutRecord:
    """One payout as the contract holds it."""

    payout_id: int
    account: str
    amount: int
    batch_id: int
    status: PayoutStatus
    reference: bytes


@dataclass(frozen=True)
class BatchRecord:
    """One batch as the contract holds it."""

    batch_id: int
    total: int
    count: int
    status: BatchStatus
    bank_reference: bytes


@dataclass(frozen=True)
class PayoutTotals:
    """How many payouts and batches exist, what the contract holds and what it burned."""

    payouts: int
    batches: int
    held: int
    settled: int


class PayoutsClient(ContractClient):
    """`Payouts`: request a payout, batch, mark sent (burn) or reopen."""

    def __init__(self, sender: TransactionSender, address: str) -> None:
        super().__init__(sender, "Payouts", address)

    def request_call(self, amount: int, reference: bytes) -> Call:
        """The holder asks for `amount` to be paid out under `reference` (after approving the contract)."""
        return self.build("requestPayout", amount, reference, gas=GAS_REQUEST)

    def create_batch_call(self, payout_ids: Sequence[int]) -> Call:
        """The treasurer groups pending `payout_ids` into a new open batch."""
        gas = GAS_BATCH_BASE + GAS_BATCH_PER_PAYOUT * len(payout_ids)
        return self.build("createBatch", list(payout_ids), gas=gas)

    def mark_sent_call(self, batch_id: int, bank_reference: bytes, count: int) -> Call:
        """The treasurer marks open batch `batch_id` (of `count` payouts) sent, burning its total."""
        gas = GAS_SETTLE_BASE + GAS_SETTLE_PER_PAYOUT * count
        return self.build("markBatchSent", batch_id, bank_reference, gas=gas)

    def reopen_call(self, batch_id: int, reason_hash: bytes, count: int) -> Call:
        """The treasurer reopens open batch `batch_id` (of `count` payouts) the bank rejected."""
        gas = GAS_SETTLE_BASE + GAS_SETTLE_PER_PAYOUT * count
        return self.build("reopenBatch", batch_id, reason_hash, gas=gas)

    def request(self, account: LocalAccount, amount: int, reference: bytes) -> TxResult:
        """Ask for `amount` to be paid out under `reference`; `account` must have approved the contract."""
        return self.transact(account, "requestPayout", amount, reference)

    def create_batch(self, treasurer: LocalAccount, payout_ids: Sequence[int]) -> TxResult:
        """Group pending `payout_ids` into a new open batch. Treasurer only."""
        return self.transact(treasurer, "createBatch", list(payout_ids))

    def mark_sent(self, treasurer: LocalAccount, batch_id: int, bank_reference: bytes) -> TxResult:
        """Mark open batch `batch_id` sent under `bank_reference`, burning its total. Treasurer only."""
        return self.transact(treasurer, "markBatchSent", batch_id, bank_reference)

    def reopen(self, treasurer: LocalAccount, batch_id: int, reason_hash: bytes = bytes(32)) -> TxResult:
        """Reopen open batch `batch_id` the bank rejected; its payouts are pending again. Treasurer only."""
        return self.transact(treasurer, "reopenBatch", batch_id, reason_hash)

    def payout(self, payout_id: int) -> PayoutRecord:
        """Payout `payout_id` (status NONE when unknown)."""
        account, amount, batch_id, status, reference = self.call("payout", payout_id)
        return PayoutRecord(
            payout_id,
            to_checksum_address(account),
            int(amount),
            int(batch_id),
            PayoutStatus(status),
            bytes(reference),
        )

    def batch(self, batch_id: int) -> BatchRecord:
        """Batch `batch_id` (status NONE when unknown)."""
        total, count, status, bank_reference = self.call("batch", batch_id)
        return BatchRecord(batch_id, int(total), int(count), BatchStatus(status), bytes(bank_reference))

    def batch_payouts(self, batch_id: int) -> list[int]:
        """The payout ids of batch `batch_id`."""
        return [int(i) for i in self.call("batchPayouts", batch_id)]

    def by_reference(self, reference: bytes) -> int:
        """The payout id named by `reference` (0 when none)."""
        return int(self.call("payoutByReference", reference))

    def totals(self) -> PayoutTotals:
        """Counts, held and settled totals."""
        payouts, batches, held, settled = self.call("totals")
        return PayoutTotals(int(payouts), int(batches), int(held), int(settled))
