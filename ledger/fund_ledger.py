"""Typed access to the FundLedger contract and the plain records it keeps."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

from eth_account.signers.local import LocalAccount

from ledger.calls import Call
from ledger.contracts import ContractClient
from ledger.transactions import GAS_HEADROOM, TxResult

ZERO_ADDRESS = "0x" + "00" * 20

# Gas allowed per relayed call, from measured figures (`make bench`) with room to spare.
GAS_DEPOSIT = 250_000
GAS_ALLOCATE = 250_000
GAS_CREATE_PROGRAM = 250_000
GAS_TRANCHE = 200_000  # requestTranche, approveTranche, rejectTranche
GAS_NAMING = 120_000  # setLotAllocator, setProgramApprover, setRequester
GAS_REFUND_BASE = 150_000  # the lot's own money back to the funder, the events, the transfer
GAS_PER_REFUNDED_ALLOCATION = 30_000  # one walked allocation: read, credit back, event (~12-20k measured)
GAS_DISBURSE_BASE = 150_000
GAS_PER_PAYMENT = 45_000
GAS_PER_DRAW = 30_000  # one allocation a disbursement draws on: read, write, event (~25k measured)
GAS_PER_RECORDED_DRAW = 80_000  # the same for a receiver batch, which also stores the draw
GAS_RECORDED_BATCH = 60_000  # a disbursement of a program with an end: listed for its sweep
GAS_SET_PROGRAM_END = 80_000
MAX_SWEEP_ACCOUNTS = 100  # the contract's MAX_SWEEP_ACCOUNTS
DRAW_STEP = 64  # the contract's DRAW_STEP: allocations one disbursement (or skipSpent) walks at most
GAS_SKIP_SPENT = 100_000 + 6_000 * DRAW_STEP  # one skipSpent call walking DRAW_STEP spent allocations


class TrancheStatus(IntEnum):
    """Life of a tranche request, as in `IFundLedger.TrancheStatus`."""

    NONE = 0
    REQUESTED = 1
    APPROVED = 2
    REJECTED = 3
    CANCELLED = 4


@dataclass
class Lot:
    """A funder's deposit."""

    funder: str
    expiry: int
    earmark: int
    token: str
    refunded: bool
    amount: int
    unallocated: int


@dataclass
class Program:
    """A program run by an NGO."""

    ngo: str
    draw_cursor: int
    ends_at: int  # when its restricted aid ends (0: never)
    token: str
    allocated: int
    released: int
    disbursed: int
    metadata_hash: bytes


@dataclass
class Allocation:
    """Part of a lot given to a program."""

    lot_id: int
    program_id: int
    amount: int
    drawn: int


@dataclass
class Tranche:
    """A request to release money on a milestone."""

    program_id: int
    status: TrancheStatus
    requester: str
    approver: str
    amount: int
    milestone_hash: bytes


@dataclass
class Reservation:
    """Lot money held back for an allocator (a budget round)."""

    lot_id: int
    holder: str
    amount: int


@dataclass
class ReceiverBatch:
    """A disbursement to a receiver contract and what it may still return."""

    receiver: str
    program_id: int
    returnable: int


@dataclass
class FundState:
    """Everything the fund ledger holds, by id (ids start at 1)."""

    allowed_tokens: dict[str, bool] = field(default_factory=dict)
    lots: dict[int, Lot] = field(default_factory=dict)
    programs: dict[int, Program] = field(default_factory=dict)
    allocations: dict[int, Allocation] = field(default_factory=dict)
    tranches: dict[int, Tranche] = field(default_factory=dict)
    lot_allocations: dict[int, list[int]] = field(default_factory=dict)
    program_allocations: dict[int, list[int]] = field(default_factory=dict)
    reservations: dict[int, Reservation] = field(default_factory=dict)
    receiver_batches: dict[int, ReceiverBatch] = field(default_factory=dict)
    batch_count: int = 0


@dataclass(frozen=True)
class DrawPlan:
    """What a draw of some amount would walk in a program's allocation queue (`FundLedger.drawPlan`):
    `spent_ahead` allocations with nothing left at the cursor, `walked` allocations touched (both at
    most `DRAW_STEP`), and the `drawable` part of the amount those cover."""

    spent_ahead: int
    walked: int
    drawable: int


class FundLedgerClient(ContractClient):
    """The FundLedger contract with typed arguments and results."""

    def __init__(self, sender: Any, address: str) -> None:
        super().__init__(sender, "FundLedger", address)

    # --- calls to relay, each with its gas rule ------------------------------------------

    def deposit_call(self, token: str, amount: int, earmark: int, expiry: int) -> Call:
        """A funder deposits `amount` of `token` as a lot (earmark 0: none; expiry 0: never)."""
        return self.build("deposit", token, amount, earmark, expiry, gas=GAS_DEPOSIT)

    def allocate_call(self, lot_id: int, program_id: int, amount: int) -> Call:
        """The lot's funder (or an allocator it named) allocates part of the lot to a program."""
        return self.build("allocate", lot_id, program_id, amount, gas=GAS_ALLOCATE)

    def refund_call(self, lot_id: int, walks: int) -> Call:
        """The funder takes back an expired lot's rest; this call walks `walks` allocations."""
        return self.build("refund", lot_id, gas=GAS_REFUND_BASE + GAS_PER_REFUNDED_ALLOCATION * walks)

    def create_program_call(self, token: str, metadata_hash: bytes) -> Call:
        """An NGO opens a program paying in `token`."""
        return self.build("createProgram", token, metadata_hash, gas=GAS_CREATE_PROGRAM)

    def request_tranche_call(self, program_id: int, amount: int, milestone_hash: bytes) -> Call:
        """The program's NGO (or a requester it named) asks for `amount` to be released."""
        return self.build("requestTranche", program_id, amount, milestone_hash, gas=GAS_TRANCHE)

    def approve_tranche_call(self, tranche_id: int) -> Call:
        """An approver of the program releases the tranche."""
        return self.build("approveTranche", tranche_id, gas=GAS_TRANCHE)

    def reject_tranche_call(self, tranche_id: int, reason_hash: bytes) -> Call:
        """An approver of the program rejects the tranche."""
        return self.build("rejectTranche", tranche_id, reason_hash, gas=GAS_TRANCHE)

    def set_lot_allocator_call(self, lot_id: int, allocator: str, allowed: bool) -> Call:
        """The lot's funder names (or revokes) an allocator."""
        return self.build("setLotAllocator", lot_id, allocator, allowed, gas=GAS_NAMING)

    def set_program_approver_call(self, program_id: int, approver: str, allowed: bool) -> Call:
        """A funder with money in the program names (or revokes) an approver of its tranches."""
        return self.build("setProgramApprover", program_id, approver, allowed, gas=GAS_NAMING)

    def set_requester_call(self, requester: str, allowed: bool) -> Call:
        """An NGO names (or revokes) one of its people's keys as a tranche requester."""
        return self.build("setRequester", requester, allowed, gas=GAS_NAMING)

    def skip_spent_call(self, program_id: int) -> Call:
        """Anyone moves the program's draw cursor past at most `DRAW_STEP` spent allocations."""
        return self.build("skipSpent", program_id, gas=GAS_SKIP_SPENT)

    def disburse_call(
        self,
        program_id: int,
        recipients: list[str],
        amounts: list[int],
        reference: bytes,
        walks: int,
        *,
        recorded: bool = False,
    ) -> Call:
        """The program's NGO pays many accounts at once, drawing on `walks` allocations (`recorded`: the
        program has an end, so the batch stores its draws for a later sweep)."""
        if recorded:
            gas = GAS_DISBURSE_BASE + GAS_RECORDED_BATCH + GAS_PER_RECORDED_DRAW * max(walks, 1)
        else:
            gas = GAS_DISBURSE_BASE + GAS_PER_DRAW * max(walks, 1)
        gas += GAS_PER_PAYMENT * len(recipients)
        return self.build("disburse", program_id, recipients, amounts, reference, gas=gas)

    def set_program_end_call(self, program_id: int, ends_at: int) -> Call:
        """The program's NGO sets (or moves later) when its restricted aid ends."""
        return self.build("setProgramEnd", program_id, ends_at, gas=GAS_SET_PROGRAM_END)

    def sweep_expired_call(self, program_id: int, accounts: list[str]) -> Call:
        """Anyone, after the program's end, takes back what `accounts` hold. The gas is estimated on the
        current state, with headroom: how many draws the sweep credits back depends on how the accounts'
        money was drawn and on what earlier sweeps took, which no fixed figure bounds. A sweep the
        contract would refuse raises its typed error here."""
        data = self.encode("sweepExpired", program_id, accounts)
        gas = int(self.sender.estimate_gas({"to": self.address, "data": data}) * GAS_HEADROOM) + 10_000
        return Call(self.address, data, gas, f"{self.name}.sweepExpired")

    def disburse_to_call(
        self, program_id: int, receiver: str, amount: int, data: bytes, walks: int, receiver_gas: int
    ) -> Call:
        """The program's NGO funds a receiver contract (`receiver_gas` for its bookkeeping), drawing on
        `walks` allocations each of which the batch records."""
        gas = receiver_gas + GAS_PER_RECORDED_DRAW * max(walks, 1)
        return self.build("disburseTo", program_id, receiver, amount, data, gas=gas)

    # --- state changes -------------------------------------------------------------------

    def set_token_allowed(self, admin: LocalAccount, token: str, allowed: bool = True) -> TxResult:
        """Allow (or disallow) a token. Admin only."""
        return self.transact(admin, "setTokenAllowed", token, allowed)

    def deposit(
        self, funder: LocalAccount, token: str, amount: int, *, earmark: int = 0, expiry: int = 0
    ) -> TxResult:
        """Deposit a lot; the result's `LotDeposited` event carries the lot id."""
        return self.transact(funder, "deposit", token, amount, earmark, expiry)

    def create_program(self, ngo: LocalAccount, token: str, metadata_hash: bytes = bytes(32)) -> TxResult:
        """Create a program run by `ngo`."""
        return self.transact(ngo, "createProgram", token, metadata_hash)

    def allocate(self, account: LocalAccount, lot_id: int, program_id: int, amount: int) -> TxResult:
        """Allocate part of a lot to a program."""
        return self.transact(account, "allocate", lot_id, program_id, amount)

    def request_tranche(
        self, ngo: LocalAccount, program_id: int, amount: int, milestone_hash: bytes = bytes(32)
    ) -> TxResult:
        """Ask to release money on a milestone."""
        return self.transact(ngo, "requestTranche", program_id, amount, milestone_hash)

    def approve_tranche(self, approver: LocalAccount, tranche_id: int) -> TxResult:
        """Approve a tranche (never by its requester)."""
        return self.transact(approver, "approveTranche", tranche_id)

    def reject_tranche(
        self, approver: LocalAccount, tranche_id: int, reason_hash: bytes = bytes(32)
    ) -> TxResult:
        """Reject a tranche."""
        return self.transact(approver, "rejectTranche", tranche_id, reason_hash)

    def cancel_tranche(self, requester: LocalAccount, tranche_id: int) -> TxResult:
        """Withdraw a pending tranche."""
        return self.transact(requester, "cancelTranche", tranche_id)

    def disburse(
        self,
        ngo: LocalAccount,
        program_id: int,
        payments: list[tuple[str, int]],
        reference: bytes = bytes(32),
        *,
        gas: int | None = None,
    ) -> TxResult:
        """Pay many pseudonymous recipients in one transaction."""
        recipients = [r for r, _ in payments]
        amounts = [a for _, a in payments]
        return self.transact(ngo, "disburse", program_id, recipients, amounts, reference, gas=gas)

    def reserve(
        self, allocator: LocalAccount, lot_id: int, amount: int, requester: str | None = None
    ) -> TxResult:
        """Hold part of an unearmarked lot back for `allocator` (a holder of the allocator role) on behalf of
        `requester` (default: the allocator itself), who must be the lot's funder or a named allocator."""
        return self.transact(allocator, "reserve", lot_id, amount, requester or allocator.address)

    def set_lot_allocator(
        self, funder: LocalAccount, lot_id: int, allocator: str, allowed: bool = True
    ) -> TxResult:
        """Name (or revoke) `allocator` for the lot's money. Its funder only."""
        return self.transact(funder, "setLotAllocator", lot_id, allocator, allowed)

    def set_requester(self, ngo: LocalAccount, requester: str, allowed: bool = True) -> TxResult:
        """Name (or revoke) `requester` for the tranches of the NGO's programs. NGO role only."""
        return self.transact(ngo, "setRequester", requester, allowed)

    def set_program_approver(
        self, funder: LocalAccount, program_id: int, approver: str, allowed: bool = True
    ) -> TxResult:
        """Name (or revoke) `approver` for the program's tranches. A funder whose money is in it only."""
        return self.transact(funder, "setProgramApprover", program_id, approver, allowed)

    def allocate_reserved(
        self, holder: LocalAccount, reservation_id: int, program_id: int, amount: int
    ) -> TxResult:
        """Allocate reserved money to a program."""
        return self.transact(holder, "allocateReserved", reservation_id, program_id, amount)

    def release_reservation(self, account: LocalAccount, reservation_id: int) -> TxResult:
        """Give the rest of a reservation back to its lot, or to the funder once the lot is refunded.
        Its holder; anyone once the lot has expired."""
        return self.transact(account, "releaseReservation", reservation_id)

    def disburse_to(
        self, ngo: LocalAccount, program_id: int, receiver: str, amount: int, data: bytes = b""
    ) -> TxResult:
        """Pay a receiver contract, which learns program and batch through `onFundsReceived`."""
        return self.transact(ngo, "disburseTo", program_id, receiver, amount, data)

    def set_program_end(self, ngo: LocalAccount, program_id: int, ends_at: int) -> TxResult:
        """Set (or move later) when the program's restricted aid ends. Its NGO only."""
        return self.transact(ngo, "setProgramEnd", program_id, ends_at)

    def sweep_expired(self, sender: Any, program_id: int, accounts: list[str]) -> TxResult:
        """After the program's end, take back what `accounts` (marked by its NGO) hold (anyone may)."""
        return self.transact(sender, "sweepExpired", program_id, accounts)

    def sweepable(self, program_id: int) -> int:
        """What the program's recorded disbursements paid and a sweep has not yet taken back."""
        return int(self.call("sweepable", program_id))

    def refund(self, account: LocalAccount, lot_id: int) -> TxResult:
        """Return the unspent rest of an expired lot to its funder (anyone may send it)."""
        return self.transact(account, "refund", lot_id)

    # --- views ---------------------------------------------------------------------------

    def may_allocate(self, lot_id: int, account: str) -> bool:
        """Whether `account` may allocate, reserve or put into a round the lot's money."""
        return bool(self.call("mayAllocate", lot_id, account))

    def is_lot_allocator(self, lot_id: int, account: str) -> bool:
        """Whether the lot's funder named `account` as its allocator."""
        return bool(self.call("isLotAllocator", lot_id, account))

    def may_approve(self, program_id: int, account: str) -> bool:
        """Whether `account` may decide the program's tranches."""
        return bool(self.call("mayApprove", program_id, account))

    def consent_views(self, keys: Iterable[tuple[Any, ...]]) -> dict[tuple[Any, ...], bool]:
        """Answers of the consent views (`isLotAllocator`, `isProgramFunder`, `isProgramApprover`,
        `isRequester`), each key being the view's name and its arguments."""
        return {key: bool(self.call(key[0], *key[1:])) for key in keys}

    def draw_plan(self, program_id: int, amount: int) -> DrawPlan:
        """What paying `amount` from the program would walk (see `DrawPlan`)."""
        return DrawPlan(*(int(x) for x in self.call("drawPlan", program_id, amount)))

    def skip_spent(self, sender: Any, program_id: int) -> TxResult:
        """Move the program's draw cursor past allocations with nothing left (anyone may)."""
        return self.transact(sender, "skipSpent", program_id)

    def refund_pending(self, lot_id: int) -> int:
        """How many of the lot's allocations a refund has yet to walk."""
        return int(self.call("refundPending", lot_id))

    def lot(self, lot_id: int) -> Lot:
        """Lot `lot_id`."""
        return Lot(*self.call("getLot", lot_id))

    def program(self, program_id: int) -> Program:
        """Program `program_id`."""
        return Program(*self.call("getProgram", program_id))

    def allocation(self, allocation_id: int) -> Allocation:
        """Allocation `allocation_id`."""
        return Allocation(*self.call("getAllocation", allocation_id))

    def tranche(self, tranche_id: int) -> Tranche:
        """Tranche `tranche_id`."""
        program_id, status, *rest = self.call("getTranche", tranche_id)
        return Tranche(program_id, TrancheStatus(status), *rest)

    def reservation(self, reservation_id: int) -> Reservation:
        """Reservation `reservation_id`."""
        return Reservation(*self.call("getReservation", reservation_id))

    def counts(self) -> tuple[int, int, int, int, int, int]:
        """Numbers of lots, programs, allocations, tranches, batches and reservations."""
        lots, programs, allocations, tranches, batches, reservations = self.call("counts")
        return lots, programs, allocations, tranches, batches, reservations

    def read_state(self, tokens: list[str]) -> FundState:
        """The whole state as the contract's views report it."""
        lots, programs, allocations, tranches, batches, reservations = self.counts()
        state = FundState(batch_count=batches)
        state.allowed_tokens = {t: bool(self.call("isTokenAllowed", t)) for t in tokens}
        for i in range(1, lots + 1):
            state.lots[i] = self.lot(i)
            state.lot_allocations[i] = list(self.call("lotAllocations", i))
        for i in range(1, programs + 1):
            state.programs[i] = self.program(i)
            state.program_allocations[i] = list(self.call("programAllocations", i))
        for i in range(1, allocations + 1):
            state.allocations[i] = self.allocation(i)
        for i in range(1, tranches + 1):
            state.tranches[i] = self.tranche(i)
        for i in range(1, reservations + 1):
            state.reservations[i] = self.reservation(i)
        for i in range(1, batches + 1):
            batch = ReceiverBatch(*self.call("getReceiverBatch", i))
            if batch.receiver != ZERO_ADDRESS:
                state.receiver_batches[i] = batch
        return state
