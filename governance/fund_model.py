"""A plain-Python reference model of the FundLedger contract, for differential and property tests.

`FundModel` keeps the same lots, programs, allocations, tranches, reservations and receiver batches
as `contracts/FundLedger.sol`, plus the token balances and allowances the ledger moves, and accepts
the same commands. A command the contract rejects raises the `ModelError` subclass named like the
Solidity error, with the same arguments, found by the same checks in the same order; a rejected
command changes nothing.

Time is not kept here: commands that depend on it take `now`, the timestamp of the block the
transaction would be mined in. Roles are plain names (`FUNDER_ROLE`, ...), granted with
`grant_role`. Token allowances of `MAX_UINT256` are never spent, as in OpenZeppelin's ERC20.
Receiver contracts (for `disburse_to`) are declared with `add_receiver`, saying whether they accept.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, ClassVar, Final

UINT32_MAX: Final = 2**32 - 1
UINT48_MAX: Final = 2**48 - 1
UINT128_MAX: Final = 2**128 - 1
UINT112_MAX: Final = 2**112 - 1  # a lot's amounts as the fund ledger stores them
MAX_UINT256: Final = 2**256 - 1
ZERO_ADDRESS: Final = "0x" + "00" * 20
PANIC_OVERFLOW: Final = 0x11

ADMIN_ROLE: Final = "DEFAULT_ADMIN_ROLE"
FUNDER_ROLE: Final = "FUNDER_ROLE"
NGO_ROLE: Final = "NGO_ROLE"
APPROVER_ROLE: Final = "APPROVER_ROLE"
ALLOCATOR_ROLE: Final = "ALLOCATOR_ROLE"
REFUND_STEP: Final = 64  # the contract's REFUND_STEP: allocations one refund call walks
DRAW_STEP: Final = 64  # the contract's DRAW_STEP: allocations one disbursement (or skipSpent) walks
MAX_SWEEP_ACCOUNTS: Final = 100  # the contract's MAX_SWEEP_ACCOUNTS: accounts one sweepExpired takes


# --- errors, named and shaped like the Solidity errors ------------------------------------------


class ModelError(Exception):
    """A command the contract would revert; subclasses are named exactly like the Solidity error."""

    field_names: ClassVar[tuple[str, ...]] = ()

    def __init__(self, *values: Any) -> None:
        self.values = values
        self.fields: dict[str, Any] = dict(zip(self.field_names, values, strict=True))
        shown = ", ".join(f"{k}={v!r}" for k, v in self.fields.items())
        super().__init__(f"{type(self).__name__}({shown})")


class AccessControlUnauthorizedAccount(ModelError):
    """`account` lacks `neededRole` (a role name here, a role id on chain)."""

    field_names = ("account", "neededRole")


class ERC20InsufficientAllowance(ModelError):
    """The token's `transferFrom` found too small an allowance."""

    field_names = ("spender", "allowance", "needed")


class ERC20InsufficientBalance(ModelError):
    """The token's transfer found too small a balance."""

    field_names = ("sender", "balance", "needed")


class Panic(ModelError):
    """A Solidity panic; `code` 0x11 is an arithmetic overflow."""

    field_names = ("code",)


class FundLedgerTokenNotAllowed(ModelError):
    """`token` is not allowed."""

    field_names = ("token",)


class FundLedgerZeroAmount(ModelError):
    """A zero amount where money must move."""


class FundLedgerUnknownLot(ModelError):
    """No such lot."""

    field_names = ("lotId",)


class FundLedgerUnknownProgram(ModelError):
    """No such program."""

    field_names = ("programId",)


class FundLedgerUnknownTranche(ModelError):
    """No such tranche."""

    field_names = ("trancheId",)


class FundLedgerExpiryInPast(ModelError):
    """The expiry is not in the future."""

    field_names = ("expiry", "now_")


class FundLedgerLotExpired(ModelError):
    """The lot has expired and can only be refunded."""

    field_names = ("lotId", "expiry")


class FundLedgerLotNotExpired(ModelError):
    """The lot has not expired (or never expires)."""

    field_names = ("lotId", "expiry")


class FundLedgerLotAlreadyRefunded(ModelError):
    """The lot was refunded before."""

    field_names = ("lotId",)


class FundLedgerEarmarkMismatch(ModelError):
    """The lot is earmarked for another program."""

    field_names = ("lotId", "earmark", "programId")


class FundLedgerTokenMismatch(ModelError):
    """Lot and program pay in different tokens."""

    field_names = ("lotToken", "programToken")


class FundLedgerNotLotAllocator(ModelError):
    """`account` is neither the lot's funder nor an allocator."""

    field_names = ("lotId", "account")


class FundLedgerNotLotFunder(ModelError):
    """`account` is not the lot's funder."""

    field_names = ("lotId", "account")


class FundLedgerNotProgramApprover(ModelError):
    """`account` is neither a funder with money in the program nor an approver one of them named."""

    field_names = ("programId", "account")


class FundLedgerNotProgramFunder(ModelError):
    """`account` has no money in the program."""

    field_names = ("programId", "account")


class FundLedgerZeroAccount(ModelError):
    """The zero address was named."""


class FundLedgerInsufficientFunds(ModelError):
    """`requested` exceeds `available`."""

    field_names = ("requested", "available")


class FundLedgerNotProgramNgo(ModelError):
    """`account` does not run the program (or did not request the tranche)."""

    field_names = ("programId", "account")


class FundLedgerTrancheNotPending(ModelError):
    """The tranche was already decided or cancelled."""

    field_names = ("trancheId", "status")


class FundLedgerSelfApproval(ModelError):
    """The requester may not decide their own tranche."""

    field_names = ("trancheId", "account")


class FundLedgerBadBatch(ModelError):
    """Recipients and amounts differ in length, or are empty."""

    field_names = ("recipients", "amounts")


class FundLedgerZeroRecipient(ModelError):
    """Payment `index` goes to the zero address."""

    field_names = ("index",)


class FundLedgerUnknownReservation(ModelError):
    """No such reservation."""

    field_names = ("reservationId",)


class FundLedgerNotReservationHolder(ModelError):
    """`account` does not hold the reservation."""

    field_names = ("reservationId", "account")


class FundLedgerReceiverRejected(ModelError):
    """The receiver contract did not accept the money."""

    field_names = ("receiver",)


class FundLedgerNotBatchReceiver(ModelError):
    """`account` is not the receiver of the batch."""

    field_names = ("batchId", "account")


class FundLedgerAmountOverflow(ModelError):
    """A value does not fit its storage type."""

    field_names = ("value",)


class FundLedgerProgramNotEnded(ModelError):
    """The program has no end, or it has not come yet."""

    field_names = ("programId", "endsAt")


class FundLedgerProgramEnded(ModelError):
    """The program has ended: it pays no more until its NGO sets a later end."""

    field_names = ("programId", "endsAt")


class FundLedgerEndEarlier(ModelError):
    """A program's end may only move later."""

    field_names = ("programId", "current", "endsAt")


class FundLedgerEndAfterPayment(ModelError):
    """A program's first end must come before it pays anything."""

    field_names = ("programId", "disbursed")


class FundLedgerTooManyAccounts(ModelError):
    """A sweep takes between one and `MAX_SWEEP_ACCOUNTS` accounts."""

    field_names = ("count", "max")


class FundLedgerNothingToSweep(ModelError):
    """The accounts hold nothing the program's recorded disbursements may take back."""

    field_names = ("programId",)


def _accept(_recipient: str) -> None:
    """No transfer rules: every recipient takes the money."""


class FundLedgerRecipientNotMarked(ModelError):
    """A program with an end pays only accounts marked for it; `account` is restricted by `restrictedBy`."""

    field_names = ("programId", "account", "restrictedBy")


class FundLedgerDrawTooLong(ModelError):
    """Paying this much would walk more than `DRAW_STEP` allocations; `drawable` can be paid now."""

    field_names = ("programId", "drawable")


# --- records, field for field like the contract's structs ---------------------------------------


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
    """Part of a lot given to a program; `amount` shrinks to `drawn` on refund."""

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
    """Lot money held back for an allocator (a budget round); `amount` is what is still reserved."""

    lot_id: int
    holder: str
    amount: int


@dataclass
class ReceiverBatch:
    """A disbursement to a receiver contract and what it may still return."""

    receiver: str
    program_id: int
    returnable: int


@dataclass(frozen=True)
class Draw:
    """`amount` taken from allocation `allocation_id` (of lot `lot_id`), like `AllocationDrawn`."""

    allocation_id: int
    lot_id: int
    amount: int


@dataclass(frozen=True)
class Batch:
    """The outcome of `disburse`."""

    batch_id: int
    program_id: int
    total: int
    draws: tuple[Draw, ...]


@dataclass(frozen=True)
class Returned:
    """The undrawn rest of an allocation going back to its refunded lot, like `AllocationReturned`."""

    allocation_id: int
    program_id: int
    amount: int
    released_after: int


@dataclass(frozen=True)
class Released:
    """The outcome of `release_reservation`: back to the lot, or to its funder if it was refunded."""

    reservation_id: int
    lot_id: int
    amount: int
    to_funder: bool


@dataclass(frozen=True)
class FundsReturned:
    """Part of a receiver's return, credited as new allocation `allocation_id` of lot `lot_id`, or
    (`to_funder`, `allocation_id` 0) paid straight on to the funder of the lot, refunded since."""

    allocation_id: int
    lot_id: int
    amount: int
    to_funder: bool = False


@dataclass(frozen=True)
class Refund:
    """The outcome of `refund`: `amount` went to `funder`."""

    lot_id: int
    funder: str
    amount: int
    returned: tuple[Returned, ...]


def _require_uint(value: int, bits: int, name: str) -> None:
    """Arguments the ABI could not encode are caller errors, not reverts."""
    if not 0 <= value < 2**bits:
        raise ValueError(f"{name}={value} does not fit uint{bits}")


# --- the model ---------------------------------------------------------------------------------


@dataclass
class FundModel:
    """The fund ledger at `ledger`, its role registry and the token balances it moves."""

    ledger: str
    roles: dict[str, set[str]] = field(default_factory=dict)
    allowed_tokens: dict[str, bool] = field(default_factory=dict)
    balances: dict[str, dict[str, int]] = field(default_factory=dict)  # token -> account -> amount
    allowances: dict[tuple[str, str, str], int] = field(default_factory=dict)  # (token, owner, spender)
    lots: dict[int, Lot] = field(default_factory=dict)
    programs: dict[int, Program] = field(default_factory=dict)
    allocations: dict[int, Allocation] = field(default_factory=dict)
    tranches: dict[int, Tranche] = field(default_factory=dict)
    lot_allocations: dict[int, list[int]] = field(default_factory=dict)
    program_allocations: dict[int, list[int]] = field(default_factory=dict)
    reservations: dict[int, Reservation] = field(default_factory=dict)
    receiver_batches: dict[int, ReceiverBatch] = field(default_factory=dict)
    batch_count: int = 0
    # receiver contract -> whether it accepts money
    receivers: dict[str, bool] = field(default_factory=dict)
    # receiver batch -> its draws as [allocation id, amount, returned], like the contract's `Draw[]`
    receiver_draws: dict[int, list[list[int]]] = field(default_factory=dict)
    # program with an end -> its recorded disbursements not all swept back (oldest first), and what
    # they paid and have not got back; their draws are in `receiver_draws` too, as in the contract
    sweep_batches: dict[int, list[int]] = field(default_factory=dict)
    sweepable: dict[int, int] = field(default_factory=dict)
    # lot id -> paid back to its funder by `refund`, by releasing reservations, returned by receivers
    # (credited to the program or passed on to the funder), and of that passed on to the funder
    refunded_amounts: dict[int, int] = field(default_factory=dict)
    released_to_funders: dict[int, int] = field(default_factory=dict)
    returned_amounts: dict[int, int] = field(default_factory=dict)
    returned_to_funders: dict[int, int] = field(default_factory=dict)
    # consent: lot id -> allocators its funder named; program id -> funders with money in it;
    # program id -> funder -> approvers that funder named; lot id -> allocations a refund has walked
    lot_allocators: dict[int, set[str]] = field(default_factory=dict)
    program_funders: dict[int, set[str]] = field(default_factory=dict)
    program_approvers: dict[int, dict[str, set[str]]] = field(default_factory=dict)
    requesters: dict[str, set[str]] = field(default_factory=dict)  # NGO -> the requesters it named
    refund_cursors: dict[int, int] = field(default_factory=dict)

    # --- setup outside the fund ledger (role registry, token) -----------------------------------

    def grant_role(self, role: str, account: str) -> None:
        """Give `account` `role` in the role registry."""
        self.roles.setdefault(role, set()).add(account)

    def has_role(self, role: str, account: str) -> bool:
        """Whether `account` holds `role`."""
        return account in self.roles.get(role, set())

    def mint(self, token: str, account: str, amount: int) -> None:
        """Credit `amount` of `token` to `account` (the token's own business)."""
        held = self.balances.setdefault(token, {})
        held[account] = held.get(account, 0) + amount

    def approve(self, token: str, owner: str, spender: str, amount: int) -> None:
        """Set `owner`'s allowance for `spender`."""
        self.allowances[(token, owner, spender)] = amount

    def add_receiver(self, address: str, accepts: bool = True) -> None:
        """Declare a receiver contract and whether its `onFundsReceived` accepts money."""
        self.receivers[address] = accepts

    def balance(self, token: str, account: str) -> int:
        """`account`'s balance of `token`."""
        return self.balances.get(token, {}).get(account, 0)

    def held(self, token: str) -> int:
        """What the ledger must hold in `token`: unallocated and reserved lot money plus allocated,
        undisbursed program money."""
        unallocated = sum(lot.unallocated for lot in self.lots.values() if lot.token == token)
        reserved = sum(r.amount for r in self.reservations.values() if self.lots[r.lot_id].token == token)
        programs = sum(p.allocated - p.disbursed for p in self.programs.values() if p.token == token)
        return unallocated + reserved + programs

    def accounted(self, lot_id: int) -> int:
        """Where lot `lot_id`'s money is: unallocated, reserved, allocated (net of what receivers
        returned, which is allocated anew or passed on to the funder) or paid back to its funder.
        Always the lot's amount."""
        lot = self.lots[lot_id]
        reserved = sum(r.amount for r in self.reservations.values() if r.lot_id == lot_id)
        allocated = sum(self.allocations[i].amount for i in self.lot_allocations[lot_id])
        paid_back = (
            self.refunded_amounts.get(lot_id, 0)
            + self.released_to_funders.get(lot_id, 0)
            + self.returned_to_funders.get(lot_id, 0)
        )
        return lot.unallocated + reserved + allocated - self.returned_amounts.get(lot_id, 0) + paid_back

    def counts(self) -> tuple[int, int, int, int, int, int]:
        """Numbers of lots, programs, allocations, tranches, batches and reservations, as `counts()`."""
        return (
            len(self.lots),
            len(self.programs),
            len(self.allocations),
            len(self.tranches),
            self.batch_count,
            len(self.reservations),
        )

    # --- fund ledger commands -----------------------------------------------------------------

    def set_token_allowed(self, sender: str, token: str, allowed: bool) -> None:
        """Allow or disallow `token`. Admin only."""
        self._require_role(ADMIN_ROLE, sender)
        self.allowed_tokens[token] = allowed

    def deposit(
        self, sender: str, token: str, amount: int, earmark: int = 0, expiry: int = 0, *, now: int
    ) -> int:
        """Take `amount` of `token` from `sender` as a new lot; returns its id."""
        _require_uint(amount, 128, "amount")
        _require_uint(earmark, 48, "earmark")
        _require_uint(expiry, 48, "expiry")
        self._require_role(FUNDER_ROLE, sender)
        self._require_allowed_token(token)
        if amount == 0:
            raise FundLedgerZeroAmount()
        if amount > UINT112_MAX:
            raise FundLedgerAmountOverflow(amount)
        if earmark != 0:
            target = self._program(earmark)
            if target.token != token:
                raise FundLedgerTokenMismatch(token, target.token)
        if expiry != 0 and expiry <= now:
            raise FundLedgerExpiryInPast(expiry, now)
        self._check_transfer_from(token, sender, amount)

        lot_id = len(self.lots) + 1
        self.lots[lot_id] = Lot(sender, expiry, earmark, token, False, amount, amount)
        self.lot_allocations[lot_id] = []
        self._transfer_from(token, sender, amount)
        return lot_id

    def create_program(self, sender: str, token: str, metadata_hash: bytes = bytes(32)) -> int:
        """Open a program run by `sender`, paying in `token`; returns its id."""
        self._require_role(NGO_ROLE, sender)
        self._require_allowed_token(token)
        program_id = len(self.programs) + 1
        self.programs[program_id] = Program(sender, 0, 0, token, 0, 0, 0, metadata_hash)
        self.program_allocations[program_id] = []
        return program_id

    def allocate(self, sender: str, lot_id: int, program_id: int, amount: int, *, now: int) -> int:
        """Give `amount` of lot `lot_id` to program `program_id`; returns the allocation id."""
        _require_uint(amount, 128, "amount")
        lot = self._lot(lot_id)
        program = self._program(program_id)
        self._require_consent(lot_id, lot, sender)
        self._check_take_from_lot(lot_id, lot, program_id, program.token, amount, now)
        self._check_add(program.allocated, amount)
        lot.unallocated -= amount
        return self._allocate(lot_id, program, program_id, amount)

    def reserve(
        self, sender: str, lot_id: int, amount: int, *, now: int, requester: str | None = None
    ) -> int:
        """Hold `amount` of unearmarked lot `lot_id` back for `sender` (an allocator-role holder) on behalf
        of `requester` (default `sender`), whom the funder consents to; returns the reservation id."""
        _require_uint(amount, 128, "amount")
        self._require_role(ALLOCATOR_ROLE, sender)
        lot = self._lot(lot_id)
        self._require_consent(lot_id, lot, sender if requester is None else requester)
        self._check_take_from_lot(lot_id, lot, 0, None, amount, now)
        lot.unallocated -= amount
        reservation_id = len(self.reservations) + 1
        self.reservations[reservation_id] = Reservation(lot_id, sender, amount)
        return reservation_id

    def set_lot_allocator(self, sender: str, lot_id: int, allocator: str, allowed: bool) -> None:
        """Name or revoke an allocator of the lot's money. Its funder only."""
        lot = self._lot(lot_id)
        if lot.funder != sender:
            raise FundLedgerNotLotFunder(lot_id, sender)
        if allocator == ZERO_ADDRESS:
            raise FundLedgerZeroAccount()
        named = self.lot_allocators.setdefault(lot_id, set())
        if allowed:
            named.add(allocator)
        else:
            named.discard(allocator)

    def set_program_approver(self, sender: str, program_id: int, approver: str, allowed: bool) -> None:
        """Name or revoke, as `sender`, an approver of the program's tranches. A funder with money in it."""
        self._program(program_id)
        if sender not in self.program_funders.get(program_id, set()):
            raise FundLedgerNotProgramFunder(program_id, sender)
        if approver == ZERO_ADDRESS:
            raise FundLedgerZeroAccount()
        named = self.program_approvers.setdefault(program_id, {}).setdefault(sender, set())
        if allowed:
            named.add(approver)
        else:
            named.discard(approver)

    def set_requester(self, sender: str, requester: str, allowed: bool) -> None:
        """Name or revoke, as NGO `sender`, one who may ask for tranches of its programs."""
        self._require_role(NGO_ROLE, sender)
        if requester == ZERO_ADDRESS:
            raise FundLedgerZeroAccount()
        named = self.requesters.setdefault(sender, set())
        if allowed:
            named.add(requester)
        else:
            named.discard(requester)

    def may_allocate(self, lot_id: int, account: str) -> bool:
        """Whether `account` may allocate, reserve or put into a round the lot's money."""
        lot = self._lot(lot_id)
        return account == lot.funder or account in self.lot_allocators.get(lot_id, set())

    def may_approve(self, program_id: int, account: str) -> bool:
        """Whether `account` may decide the program's tranches."""
        if account in self.program_funders.get(program_id, set()):
            return True
        return any(account in named for named in self.program_approvers.get(program_id, {}).values())

    def refund_pending(self, lot_id: int) -> int:
        """Allocations of the lot a refund has yet to walk."""
        return len(self.lot_allocations.get(lot_id, [])) - self.refund_cursors.get(lot_id, 0)

    def allocate_reserved(
        self, sender: str, reservation_id: int, program_id: int, amount: int, *, now: int
    ) -> int:
        """Allocate `amount` of a reservation to program `program_id` (not once the reserved lot has
        expired); returns the allocation id."""
        _require_uint(amount, 128, "amount")
        reservation = self._held_reservation(reservation_id, sender)
        program = self._program(program_id)
        lot = self.lots[reservation.lot_id]
        if self._expired(lot, now):
            raise FundLedgerLotExpired(reservation.lot_id, lot.expiry)
        lot_token = lot.token
        if lot_token != program.token:
            raise FundLedgerTokenMismatch(lot_token, program.token)
        if amount == 0:
            raise FundLedgerZeroAmount()
        if amount > reservation.amount:
            raise FundLedgerInsufficientFunds(amount, reservation.amount)
        self._check_add(program.allocated, amount)
        reservation.amount -= amount
        return self._allocate(reservation.lot_id, program, program_id, amount)

    def release_reservation(self, sender: str, reservation_id: int, *, now: int) -> Released:
        """Give the rest of a reservation back to its lot, or to the funder of a refunded lot. Its
        holder only, until the lot expires; then anyone."""
        reservation = self.reservations.get(reservation_id)
        if reservation is None:
            raise FundLedgerUnknownReservation(reservation_id)
        amount, lot = reservation.amount, self.lots[reservation.lot_id]
        if reservation.holder != sender and not self._expired(lot, now):
            raise FundLedgerNotReservationHolder(reservation_id, sender)
        to_funder = lot.refunded
        if to_funder and amount != 0:
            self._check_balance(lot.token, self.ledger, [amount])
        reservation.amount = 0
        if to_funder:
            if amount != 0:
                self._transfer(lot.token, self.ledger, lot.funder, amount)
            lot_id = reservation.lot_id
            self.released_to_funders[lot_id] = self.released_to_funders.get(lot_id, 0) + amount
        else:
            lot.unallocated += amount
        return Released(reservation_id, reservation.lot_id, amount, to_funder)

    def request_tranche(
        self, sender: str, program_id: int, amount: int, milestone_hash: bytes = bytes(32)
    ) -> int:
        """Ask to release `amount` of the program's allocations; returns the tranche id."""
        _require_uint(amount, 128, "amount")
        ngo = self._program(program_id).ngo
        if sender != ngo and sender not in self.requesters.get(ngo, set()):
            raise FundLedgerNotProgramNgo(program_id, sender)
        if amount == 0:
            raise FundLedgerZeroAmount()
        tranche_id = len(self.tranches) + 1
        self.tranches[tranche_id] = Tranche(
            program_id, TrancheStatus.REQUESTED, sender, ZERO_ADDRESS, amount, milestone_hash
        )
        return tranche_id

    def approve_tranche(self, sender: str, tranche_id: int) -> None:
        """Release the tranche's amount to its program. A funder with money in the program or an approver
        such a funder named, never the requester."""
        tranche = self._pending_tranche(tranche_id, sender)
        program = self.programs[tranche.program_id]
        releasable = program.allocated - program.released
        if tranche.amount > releasable:
            raise FundLedgerInsufficientFunds(tranche.amount, releasable)
        tranche.status, tranche.approver = TrancheStatus.APPROVED, sender
        program.released += tranche.amount

    def reject_tranche(self, sender: str, tranche_id: int) -> None:
        """Reject the tranche. Approver only, never the requester."""
        tranche = self._pending_tranche(tranche_id, sender)
        tranche.status, tranche.approver = TrancheStatus.REJECTED, sender

    def cancel_tranche(self, sender: str, tranche_id: int) -> None:
        """Withdraw a pending tranche. Its requester, or the program's NGO."""
        tranche = self._tranche(tranche_id)
        if tranche.status != TrancheStatus.REQUESTED:
            raise FundLedgerTrancheNotPending(tranche_id, tranche.status)
        if sender not in (tranche.requester, self.programs[tranche.program_id].ngo):
            raise FundLedgerNotProgramNgo(tranche.program_id, sender)
        tranche.status = TrancheStatus.CANCELLED

    def disburse(
        self,
        sender: str,
        program_id: int,
        recipients: list[str],
        amounts: list[int],
        *,
        now: int = 0,
        restriction_of: Callable[[str], int] | None = None,
        check_receipt: Callable[[str], None] | None = None,
    ) -> Batch:
        """Pay `amounts[i]` to `recipients[i]` from the program's released money, first in, first out;
        a program with an end records the batch's draws for a sweep (and refuses after its end), and pays
        only accounts the token restricts by it (`restriction_of`, the provider registry's marking; none
        given: no account is marked). `check_receipt(recipient)` is the token's question to its transfer
        rules as each payment arrives (a marked account takes money only from its own program)."""
        for amount in amounts:
            _require_uint(amount, 128, "amount")
        program = self._require_program_ngo(program_id, sender)
        count = len(recipients)
        if count == 0 or count != len(amounts) or count > UINT32_MAX:
            raise FundLedgerBadBatch(count, len(amounts))
        for index, (recipient, amount) in enumerate(zip(recipients, amounts, strict=True)):
            if recipient == ZERO_ADDRESS:
                raise FundLedgerZeroRecipient(index)
            if amount == 0:
                raise FundLedgerZeroAmount()
        total = sum(amounts)
        available = program.released - program.disbursed
        if total > available:
            if total > UINT128_MAX:
                raise FundLedgerAmountOverflow(total)
            raise FundLedgerInsufficientFunds(total, available)
        self._require_not_ended(program_id, program, now)
        self._require_marked(program_id, program, recipients, restriction_of or (lambda _: 0))
        self._check_draw(program_id, program, total)
        for recipient in recipients:
            (check_receipt or _accept)(recipient)
        self._check_balance(program.token, self.ledger, amounts)

        self.batch_count += 1
        program.disbursed += total
        draws = self._draw(program_id, program, total)
        self._record_sweepable(program_id, program, total, draws)
        for recipient, amount in zip(recipients, amounts, strict=True):
            self._transfer(program.token, self.ledger, recipient, amount)
        return Batch(self.batch_count, program_id, total, draws)

    def disburse_to(self, sender: str, program_id: int, receiver: str, amount: int) -> Batch:
        """Pay `amount` of the program's released money to receiver contract `receiver`."""
        _require_uint(amount, 128, "amount")
        program = self._require_program_ngo(program_id, sender)
        if receiver == ZERO_ADDRESS:
            raise FundLedgerZeroRecipient(0)
        if amount == 0:
            raise FundLedgerZeroAmount()
        available = program.released - program.disbursed
        if amount > available:
            raise FundLedgerInsufficientFunds(amount, available)
        self._check_draw(program_id, program, amount)
        self._check_balance(program.token, self.ledger, [amount])
        if receiver not in self.receivers:
            raise ValueError(f"{receiver} is not a declared receiver contract")
        if not self.receivers[receiver]:
            raise FundLedgerReceiverRejected(receiver)

        self.batch_count += 1
        batch_id = self.batch_count
        program.disbursed += amount
        draws = self._draw(program_id, program, amount)
        self.receiver_batches[batch_id] = ReceiverBatch(receiver, program_id, amount)
        self.receiver_draws[batch_id] = [[d.allocation_id, d.amount, 0] for d in draws]
        self._transfer(program.token, self.ledger, receiver, amount)
        return Batch(batch_id, program_id, amount, draws)

    def return_funds(self, sender: str, batch_id: int, amount: int, *, now: int) -> tuple[FundsReturned, ...]:
        """Take `amount` back from the receiver of batch `batch_id` (with `transferFrom`, first) and
        credit it to the program as new allocations of the lots it was drawn from, last drawn first;
        the part drawn from a lot expired (or refunded) since goes straight on to that lot's funder."""
        _require_uint(amount, 128, "amount")
        batch = self.receiver_batches.get(batch_id)
        if batch is None or batch.receiver != sender:
            raise FundLedgerNotBatchReceiver(batch_id, sender)
        if amount == 0:
            raise FundLedgerZeroAmount()
        if amount > batch.returnable:
            raise FundLedgerInsufficientFunds(amount, batch.returnable)
        program = self.programs[batch.program_id]
        self._check_transfer_from(program.token, sender, amount)
        parts = []  # (draw, lot id, back), last drawn first
        remaining = amount
        for draw in reversed(self.receiver_draws[batch_id]):
            if remaining == 0:
                break
            back = min(draw[1] - draw[2], remaining)
            if back == 0:
                continue
            remaining -= back
            parts.append((draw, self.allocations[draw[0]].lot_id, back))
        credited = sum(back for _, lot_id, back in parts if not self._gone_back(self.lots[lot_id], now))
        self._check_add(program.allocated, credited)
        self._check_add(program.released, credited)

        batch.returnable -= amount
        self._transfer_from(program.token, sender, amount)
        returned = []
        for draw, lot_id, back in parts:
            draw[2] += back
            self.returned_amounts[lot_id] = self.returned_amounts.get(lot_id, 0) + back
            lot = self.lots[lot_id]
            if self._gone_back(lot, now):
                self._transfer(program.token, self.ledger, lot.funder, back)
                self.returned_to_funders[lot_id] = self.returned_to_funders.get(lot_id, 0) + back
                returned.append(FundsReturned(0, lot_id, back, True))
            else:
                allocation_id = self._new_allocation(lot_id, batch.program_id, back)
                returned.append(FundsReturned(allocation_id, lot_id, back))
        program.allocated += credited
        program.released += credited
        return tuple(returned)

    def set_program_end(self, sender: str, program_id: int, ends_at: int, *, now: int) -> None:
        """Set when the program's restricted aid ends: first before it pays anything, then only later
        (after the end too: a next period). Its NGO only."""
        _require_uint(ends_at, 48, "ends_at")
        program = self._require_program_ngo(program_id, sender)
        current = program.ends_at
        if ends_at <= now:
            raise FundLedgerExpiryInPast(ends_at, now)
        if current == 0 and program.disbursed:
            raise FundLedgerEndAfterPayment(program_id, program.disbursed)
        if current and ends_at < current:
            raise FundLedgerEndEarlier(program_id, current, ends_at)
        program.ends_at = ends_at

    def sweep_takes(self, program_id: int, accounts: list[str], *, now: int) -> list[int]:
        """The fund ledger's checks of `sweepExpired` and what it takes from each entry of `accounts`, in
        order: what the account holds, at most what the program's recorded disbursements have not got
        back. Balances are read before anything moves, as the contract does, so an account listed twice
        is counted twice (the token's second move then fails). Changes nothing."""
        program = self._program(program_id)
        if program.ends_at == 0 or now < program.ends_at:
            raise FundLedgerProgramNotEnded(program_id, program.ends_at)
        if not 0 < len(accounts) <= MAX_SWEEP_ACCOUNTS:
            raise FundLedgerTooManyAccounts(len(accounts), MAX_SWEEP_ACCOUNTS)
        left = self.sweepable.get(program_id, 0)
        takes = []
        for account in accounts:
            take = min(self.balance(program.token, account), left)
            takes.append(take)
            left -= take
        if left == self.sweepable.get(program_id, 0):
            raise FundLedgerNothingToSweep(program_id)
        return takes

    def sweep_expired(
        self, program_id: int, accounts: list[str], *, now: int
    ) -> tuple[dict[str, int], tuple[FundsReturned, ...]]:
        """After the program's end take back what `accounts` hold (`sweep_takes`) and credit it to their
        draws, last drawn first, as `return_funds` does. Anyone may; the registry's marking check and
        the token's moves are the provider model's (`ProviderModel.sweep_expired`). Returns what each
        account gave and the parts credited."""
        takes = self.sweep_takes(program_id, accounts, now=now)
        program = self.programs[program_id]
        swept = sum(takes)
        self.sweepable[program_id] -= swept
        taken: dict[str, int] = {}
        for account, take in zip(accounts, takes, strict=True):
            if take:
                taken[account] = taken.get(account, 0) + take
        for account, amount in taken.items():
            self._transfer(program.token, account, self.ledger, amount)
        batches = self.sweep_batches[program_id]
        returned: list[FundsReturned] = []
        remaining = swept
        while remaining:
            draws = self.receiver_draws[batches[-1]]
            remaining = self._credit_draws(program_id, program, draws, remaining, returned, now=now)
            if draws[0][2] == draws[0][1]:
                batches.pop()
        return taken, tuple(returned)

    def _credit_draws(
        self,
        program_id: int,
        program: Program,
        draws: list[list[int]],
        remaining: int,
        returned: list[FundsReturned],
        *,
        now: int,
    ) -> int:
        """Credit up to `remaining` of a recorded batch's `draws` back, last drawn first (appending each
        part to `returned`); returns what is left to credit."""
        for draw in reversed(draws):
            back = min(draw[1] - draw[2], remaining)
            if back == 0:
                continue
            draw[2] += back
            remaining -= back
            lot_id = self.allocations[draw[0]].lot_id
            lot = self.lots[lot_id]
            self.returned_amounts[lot_id] = self.returned_amounts.get(lot_id, 0) + back
            if self._gone_back(lot, now):
                self._transfer(program.token, self.ledger, lot.funder, back)
                self.returned_to_funders[lot_id] = self.returned_to_funders.get(lot_id, 0) + back
                returned.append(FundsReturned(0, lot_id, back, True))
            else:
                program.allocated += back
                program.released += back
                returned.append(FundsReturned(self._new_allocation(lot_id, program_id, back), lot_id, back))
        return remaining

    @staticmethod
    def _require_marked(
        program_id: int, program: Program, recipients: list[str], restriction_of: Callable[[str], int]
    ) -> None:
        """A program with an end pays only accounts marked for it."""
        for recipient in recipients if program.ends_at else ():
            restricted_by = restriction_of(recipient)
            if restricted_by != program_id:
                raise FundLedgerRecipientNotMarked(program_id, recipient, restricted_by)

    def _require_not_ended(self, program_id: int, program: Program, now: int) -> None:
        """A program with an end pays nothing once it has passed."""
        if program.ends_at and now >= program.ends_at:
            raise FundLedgerProgramEnded(program_id, program.ends_at)

    def _record_sweepable(
        self, program_id: int, program: Program, total: int, draws: tuple[Draw, ...]
    ) -> None:
        """A disbursement of a program with an end records its draws, as a receiver batch does."""
        if program.ends_at:
            self.sweep_batches.setdefault(program_id, []).append(self.batch_count)
            self.sweepable[program_id] = self.sweepable.get(program_id, 0) + total
            self.receiver_draws[self.batch_count] = [[d.allocation_id, d.amount, 0] for d in draws]

    def skip_spent(self, program_id: int) -> int:
        """Move the program's draw cursor past at most `DRAW_STEP` allocations with nothing left to draw;
        anyone may. Returns how many it passed."""
        program = self._program(program_id)
        queue = self.program_allocations.get(program_id, [])
        skipped = 0
        while program.draw_cursor < len(queue) and skipped < DRAW_STEP:
            allocation = self.allocations[queue[program.draw_cursor]]
            if allocation.amount != allocation.drawn:
                break
            program.draw_cursor += 1
            skipped += 1
        return skipped

    def refund(self, sender: str, lot_id: int, *, now: int) -> Refund:
        """Return the unspent rest of expired lot `lot_id` to its funder, walking at most `REFUND_STEP`
        of its allocations; call again while `refund_pending` is not 0. Anyone may call it."""
        lot = self._lot(lot_id)
        if not self._expired(lot, now):
            raise FundLedgerLotNotExpired(lot_id, lot.expiry)
        ids = self.lot_allocations[lot_id]
        cursor = self.refund_cursors.get(lot_id, 0)
        if lot.refunded and cursor == len(ids):
            raise FundLedgerLotAlreadyRefunded(lot_id)
        end = min(len(ids), cursor + REFUND_STEP)
        undrawn = [(i, self.allocations[i].amount - self.allocations[i].drawn) for i in ids[cursor:end]]
        amount = (0 if lot.refunded else lot.unallocated) + sum(rest for _, rest in undrawn)
        if amount != 0:
            self._check_balance(lot.token, self.ledger, [amount])

        lot.refunded, lot.unallocated = True, 0
        self.refund_cursors[lot_id] = end
        returned = []
        for allocation_id, rest in undrawn:
            if rest == 0:
                continue
            allocation = self.allocations[allocation_id]
            allocation.amount = allocation.drawn
            program = self.programs[allocation.program_id]
            program.allocated -= rest
            program.released = min(program.released, program.allocated)
            returned.append(Returned(allocation_id, allocation.program_id, rest, program.released))
        if amount != 0:
            self._transfer(lot.token, self.ledger, lot.funder, amount)
        self.refunded_amounts[lot_id] = self.refunded_amounts.get(lot_id, 0) + amount
        return Refund(lot_id, lot.funder, amount, tuple(returned))

    # --- helpers, as in the contract ----------------------------------------------------------

    def _draw(self, program_id: int, program: Program, total: int) -> tuple[Draw, ...]:
        """Take `total` from the program's allocations, oldest first, moving the draw cursor."""
        queue = self.program_allocations[program_id]
        draws = []
        remaining = total
        while remaining:
            allocation_id = queue[program.draw_cursor]  # IndexError: the contract would panic too
            allocation = self.allocations[allocation_id]
            free = allocation.amount - allocation.drawn
            take = min(free, remaining)
            if take:
                allocation.drawn += take
                remaining -= take
                draws.append(Draw(allocation_id, allocation.lot_id, take))
            if take == free:
                program.draw_cursor += 1
        return tuple(draws)

    def _check_draw(self, program_id: int, program: Program, total: int) -> None:
        """The contract's bound on a draw: `total` is covered within `DRAW_STEP` allocations."""
        queue = self.program_allocations[program_id]
        remaining, cursor = total, program.draw_cursor
        while remaining:
            if cursor == program.draw_cursor + DRAW_STEP:
                raise FundLedgerDrawTooLong(program_id, total - remaining)
            allocation = self.allocations[queue[cursor]]
            free = allocation.amount - allocation.drawn
            remaining -= min(free, remaining)
            if remaining:
                cursor += 1

    def _check_take_from_lot(
        self, lot_id: int, lot: Lot, program_id: int, program_token: str | None, amount: int, now: int
    ) -> None:
        """The contract's `_takeFromLot` checks (`program_id` 0 and no token for a reservation)."""
        if amount == 0:
            raise FundLedgerZeroAmount()
        if self._expired(lot, now):
            raise FundLedgerLotExpired(lot_id, lot.expiry)
        if lot.earmark != 0 and lot.earmark != program_id:
            raise FundLedgerEarmarkMismatch(lot_id, lot.earmark, program_id)
        if program_token is not None and lot.token != program_token:
            raise FundLedgerTokenMismatch(lot.token, program_token)
        if amount > lot.unallocated:
            raise FundLedgerInsufficientFunds(amount, lot.unallocated)

    def _allocate(self, lot_id: int, program: Program, program_id: int, amount: int) -> int:
        program.allocated += amount
        self.program_funders.setdefault(program_id, set()).add(self.lots[lot_id].funder)
        return self._new_allocation(lot_id, program_id, amount)

    def _new_allocation(self, lot_id: int, program_id: int, amount: int) -> int:
        allocation_id = len(self.allocations) + 1
        self.allocations[allocation_id] = Allocation(lot_id, program_id, amount, 0)
        self.lot_allocations[lot_id].append(allocation_id)
        self.program_allocations[program_id].append(allocation_id)
        return allocation_id

    def _gone_back(self, lot: Lot, now: int) -> bool:
        """Whether money coming back to the lot goes to its funder: the lot is refunded or expired."""
        return lot.refunded or self._expired(lot, now)

    def _require_consent(self, lot_id: int, lot: Lot, account: str) -> None:
        if account != lot.funder and account not in self.lot_allocators.get(lot_id, set()):
            raise FundLedgerNotLotAllocator(lot_id, account)

    @staticmethod
    def _expired(lot: Lot, now: int) -> bool:
        """Whether `lot` has expired at `now`: no new allocations or reservations, refundable."""
        return lot.expiry != 0 and now >= lot.expiry

    def _held_reservation(self, reservation_id: int, account: str) -> Reservation:
        reservation = self.reservations.get(reservation_id)
        if reservation is None:
            raise FundLedgerUnknownReservation(reservation_id)
        if reservation.holder != account:
            raise FundLedgerNotReservationHolder(reservation_id, account)
        return reservation

    @staticmethod
    def _check_add(value: int, amount: int) -> None:
        """Checked uint128 addition, as Solidity does it."""
        if value + amount > UINT128_MAX:
            raise Panic(PANIC_OVERFLOW)

    def _check_balance(self, token: str, source: str, amounts: list[int]) -> None:
        """The checks of the token's transfers of `amounts` from `source`, one after the other."""
        held = self.balance(token, source)
        for amount in amounts:
            if amount > held:
                raise ERC20InsufficientBalance(source, held, amount)
            held -= amount

    def _require_role(self, role: str, account: str) -> None:
        if not self.has_role(role, account):
            raise AccessControlUnauthorizedAccount(account, role)

    def _require_allowed_token(self, token: str) -> None:
        if not self.allowed_tokens.get(token, False):
            raise FundLedgerTokenNotAllowed(token)

    def _lot(self, lot_id: int) -> Lot:
        lot = self.lots.get(lot_id)
        if lot is None:
            raise FundLedgerUnknownLot(lot_id)
        return lot

    def _program(self, program_id: int) -> Program:
        program = self.programs.get(program_id)
        if program is None:
            raise FundLedgerUnknownProgram(program_id)
        return program

    def _tranche(self, tranche_id: int) -> Tranche:
        tranche = self.tranches.get(tranche_id)
        if tranche is None:
            raise FundLedgerUnknownTranche(tranche_id)
        return tranche

    def _pending_tranche(self, tranche_id: int, approver: str) -> Tranche:
        tranche = self._tranche(tranche_id)
        if not self.may_approve(tranche.program_id, approver):
            raise FundLedgerNotProgramApprover(tranche.program_id, approver)
        if tranche.status != TrancheStatus.REQUESTED:
            raise FundLedgerTrancheNotPending(tranche_id, tranche.status)
        if tranche.requester == approver:
            raise FundLedgerSelfApproval(tranche_id, approver)
        return tranche

    def _require_program_ngo(self, program_id: int, account: str) -> Program:
        program = self._program(program_id)
        if program.ngo != account:
            raise FundLedgerNotProgramNgo(program_id, account)
        return program

    def _check_transfer_from(self, token: str, owner: str, amount: int) -> None:
        """The checks of OpenZeppelin's `transferFrom(owner, ledger, amount)`, allowance first."""
        allowance = self.allowances.get((token, owner, self.ledger), 0)
        if allowance != MAX_UINT256 and allowance < amount:
            raise ERC20InsufficientAllowance(self.ledger, allowance, amount)
        if self.balance(token, owner) < amount:
            raise ERC20InsufficientBalance(owner, self.balance(token, owner), amount)

    def _transfer_from(self, token: str, owner: str, amount: int) -> None:
        key = (token, owner, self.ledger)
        if self.allowances.get(key, 0) != MAX_UINT256:
            self.allowances[key] -= amount
        self._transfer(token, owner, self.ledger, amount)

    def _transfer(self, token: str, source: str, target: str, amount: int) -> None:
        held = self.balances.setdefault(token, {})
        held[source] = held.get(source, 0) - amount
        held[target] = held.get(target, 0) + amount
