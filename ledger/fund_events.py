"""Rebuild the fund ledger from its events alone, and trace every payment to the lots that paid it.

An auditor needs nothing but a chain endpoint and the address book: `rebuild_fund_state` replays
the FundLedger events, re-running the first-in-first-out draw the contract performs, and fails
loudly when an event disagrees with what the replay computes. `replay_consent` rebuilds who may
move each lot's money (its funder and the allocators it named, `LotAllocatorSet`) and decide each
program's tranches (funders whose money is in it and the approvers they named, `ProgramApproverSet`),
and reports every allocation or tranche decision the events show without that consent. A refund may
come in several `LotRefunded` steps (at most `REFUND_STEP` allocations each); money returned for a lot
that has expired goes to its funder (`FundsReturned.toFunder`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from ledger.events import Event
from ledger.exceptions import InconsistentEvents
from ledger.fund_ledger import (
    ZERO_ADDRESS,
    Allocation,
    FundState,
    Lot,
    Program,
    ReceiverBatch,
    Reservation,
    Tranche,
    TrancheStatus,
)


@dataclass(frozen=True)
class Source:
    """The part of a payment one lot paid."""

    lot_id: int
    funder: str
    amount: int


@dataclass(frozen=True)
class Payment:
    """One disbursement to one pseudonymous recipient (or receiver contract), with the lots that paid it.

    A receiver contract may later return money (`returned`); that money goes back to its lots as new
    allocations and may be paid out again (or, for a lot refunded since, straight to its funder), so
    it is taken off this payment's `sources`: every euro is traced to the one payment that kept it,
    and `sum(sources) == amount - returned`.
    """

    batch_id: int
    program_id: int
    recipient: str
    amount: int
    transaction_hash: str
    sources: tuple[Source, ...]
    returned: int = 0


@dataclass
class FundReplay:
    """The fund ledger replayed event by event (`apply`): its state, which allocations (and lots) each
    payment drew on, and the payments traced to their lots. The audit, the payment trace and the
    lineage of every euro all follow the fund ledger through it."""

    state: FundState = field(default_factory=FundState)
    draws: list[tuple[int, int, int]] = field(default_factory=list)  # (allocation, lot, amount)
    batch_draws: list[tuple[int, int, int]] = field(default_factory=list)  # of the open batch
    batch_unpaid: int = 0  # what the open batch has still to pay out
    open_batch: tuple[int, int] = (0, 0)  # (program, total) of the latest batch
    payments: list[Event] = field(default_factory=list)
    traced: list[Payment] = field(default_factory=list)
    receiver_payments: dict[int, int] = field(default_factory=dict)  # receiver batch -> index in `traced`
    sweepable_batches: set[int] = field(default_factory=set)  # disbursements of programs with an end
    swept: dict[tuple[int, int], int] = field(default_factory=dict)  # (batch, lot) -> swept back to the lot

    def apply(self, e: Event) -> None:
        handler = getattr(self, "_on_" + e.name, None)
        if handler is not None:
            handler(e, e.args)

    def _on_TokenAllowed(self, e: Event, a: dict) -> None:  # type: ignore[type-arg]
        self.state.allowed_tokens[a["token"]] = a["allowed"]

    def _on_LotDeposited(self, e: Event, a: dict) -> None:  # type: ignore[type-arg]
        s = self.state
        s.lots[a["lotId"]] = Lot(
            a["funder"], a["expiry"], a["earmark"], a["token"], False, a["amount"], a["amount"]
        )
        s.lot_allocations[a["lotId"]] = []

    def _on_ProgramCreated(self, e: Event, a: dict) -> None:  # type: ignore[type-arg]
        self.state.programs[a["programId"]] = Program(a["ngo"], 0, 0, a["token"], 0, 0, 0, a["metadataHash"])
        self.state.program_allocations[a["programId"]] = []

    def _on_Allocated(self, e: Event, a: dict) -> None:  # type: ignore[type-arg]
        s = self.state
        if a["reservationId"]:
            s.reservations[a["reservationId"]].amount -= a["amount"]
        else:
            s.lots[a["lotId"]].unallocated -= a["amount"]
        s.programs[a["programId"]].allocated += a["amount"]
        self._new_allocation(a["allocationId"], a["lotId"], a["programId"], a["amount"])

    def _new_allocation(self, allocation_id: int, lot_id: int, program_id: int, amount: int) -> None:
        s = self.state
        s.allocations[allocation_id] = Allocation(lot_id, program_id, amount, 0)
        s.lot_allocations[lot_id].append(allocation_id)
        s.program_allocations[program_id].append(allocation_id)

    def _on_Reserved(self, e: Event, a: dict) -> None:  # type: ignore[type-arg]
        self.state.lots[a["lotId"]].unallocated -= a["amount"]
        self.state.reservations[a["reservationId"]] = Reservation(a["lotId"], a["holder"], a["amount"])

    def _on_ReservationReleased(self, e: Event, a: dict) -> None:  # type: ignore[type-arg]
        self.state.reservations[a["reservationId"]].amount -= a["amount"]
        if not a["toFunder"]:
            self.state.lots[a["lotId"]].unallocated += a["amount"]

    def _on_ReceiverFunded(self, e: Event, a: dict) -> None:  # type: ignore[type-arg]
        program_id, total = self.open_batch
        self.state.receiver_batches[a["batchId"]] = ReceiverBatch(a["receiver"], program_id, total)

    def _on_FundsReturned(self, e: Event, a: dict) -> None:  # type: ignore[type-arg]
        s = self.state
        receiver_batch = s.receiver_batches.get(a["batchId"])
        if receiver_batch is not None:
            receiver_batch.returnable -= a["amount"]
        elif a["batchId"] not in self.sweepable_batches:
            raise InconsistentEvents(f"batch {a['batchId']}: returned, but neither a receiver's nor recorded")
        # Money drawn from a lot refunded (or expired) since goes on to its funder; only the rest is
        # allocated anew. The events carry no time, so an expired lot is known only by having an expiry.
        lot = s.lots[a["lotId"]]
        if (lot.refunded and not a["toFunder"]) or (a["toFunder"] and not lot.refunded and lot.expiry == 0):
            raise InconsistentEvents(f"batch {a['batchId']}: lot {a['lotId']} returned to the wrong side")
        if not a["toFunder"]:
            program = s.programs[a["programId"]]
            program.allocated += a["amount"]
            program.released += a["amount"]
            self._new_allocation(a["allocationId"], a["lotId"], a["programId"], a["amount"])
        if receiver_batch is not None:
            index = self.receiver_payments[a["batchId"]]
            self.traced[index] = _take_back(self.traced[index], a["lotId"], a["amount"])
        else:  # swept back from the accounts a recorded disbursement paid: its payments stay as paid
            key = (a["batchId"], a["lotId"])
            self.swept[key] = self.swept.get(key, 0) + a["amount"]

    def _on_ProgramEndSet(self, e: Event, a: dict) -> None:  # type: ignore[type-arg]
        self.state.programs[a["programId"]].ends_at = a["endsAt"]

    def _on_TrancheRequested(self, e: Event, a: dict) -> None:  # type: ignore[type-arg]
        self.state.tranches[a["trancheId"]] = Tranche(
            a["programId"],
            TrancheStatus.REQUESTED,
            a["requester"],
            ZERO_ADDRESS,
            a["amount"],
            a["milestoneHash"],
        )

    def _on_TrancheApproved(self, e: Event, a: dict) -> None:  # type: ignore[type-arg]
        t = self.state.tranches[a["trancheId"]]
        t.status, t.approver = TrancheStatus.APPROVED, a["approver"]
        self.state.programs[t.program_id].released += t.amount

    def _on_TrancheRejected(self, e: Event, a: dict) -> None:  # type: ignore[type-arg]
        t = self.state.tranches[a["trancheId"]]
        t.status, t.approver = TrancheStatus.REJECTED, a["approver"]

    def _on_TrancheCancelled(self, e: Event, a: dict) -> None:  # type: ignore[type-arg]
        self.state.tranches[a["trancheId"]].status = TrancheStatus.CANCELLED

    def _on_AllocationDrawn(self, e: Event, a: dict) -> None:  # type: ignore[type-arg]
        self.draws.append((a["allocationId"], a["lotId"], a["amount"]))

    def _on_BatchDisbursed(self, e: Event, a: dict) -> None:  # type: ignore[type-arg]
        s = self.state
        program = s.programs[a["programId"]]
        expected = _fifo_draw(s, a["programId"], a["total"])
        if expected != self.draws:
            raise InconsistentEvents(
                f"batch {a['batchId']}: drawn {self.draws}, first-in-first-out gives {expected}"
            )
        program.disbursed += a["total"]
        s.batch_count = a["batchId"]
        if program.ends_at:  # recorded: a sweep after the end may credit its draws back
            self.sweepable_batches.add(a["batchId"])
        self.batch_draws, self.batch_unpaid, self.draws = self.draws, a["total"], []
        self.open_batch = (a["programId"], a["total"])

    def _on_Disbursed(self, e: Event, a: dict) -> None:  # type: ignore[type-arg]
        self.payments.append(e)
        self.batch_unpaid -= a["amount"]
        if self.batch_unpaid == 0:
            if a["batchId"] in self.state.receiver_batches:  # one payment, to the receiver
                self.receiver_payments[a["batchId"]] = len(self.traced)
            self.traced.extend(_trace(self.payments, self.batch_draws, self.state))
            self.batch_draws, self.payments = [], []

    def _on_AllocationReturned(self, e: Event, a: dict) -> None:  # type: ignore[type-arg]
        s = self.state
        allocation, program = s.allocations[a["allocationId"]], s.programs[a["programId"]]
        allocation.amount -= a["amount"]
        program.allocated -= a["amount"]
        program.released = min(program.released, program.allocated)
        if program.released != a["releasedAfter"]:
            raise InconsistentEvents(f"allocation {a['allocationId']}: released {program.released} != event")

    def _on_DrawCursorMoved(self, e: Event, a: dict) -> None:  # type: ignore[type-arg]
        self.state.programs[a["programId"]].draw_cursor = a["cursor"]

    def _on_LotRefunded(self, e: Event, a: dict) -> None:  # type: ignore[type-arg]
        lot = self.state.lots[a["lotId"]]
        lot.refunded, lot.unallocated = True, 0


def _fifo_draw(s: FundState, program_id: int, total: int) -> list[tuple[int, int, int]]:
    """Draw `total` from the program's allocations as the contract does; moves the cursor."""
    program = s.programs[program_id]
    queue = s.program_allocations[program_id]
    draws = []
    remaining = total
    while remaining:
        if program.draw_cursor >= len(queue):
            raise InconsistentEvents(f"program {program_id} disbursed more than was allocated")
        allocation_id = queue[program.draw_cursor]
        allocation = s.allocations[allocation_id]
        free = allocation.amount - allocation.drawn
        take = min(free, remaining)
        if take:
            allocation.drawn += take
            remaining -= take
            draws.append((allocation_id, allocation.lot_id, take))
        if take == free:
            program.draw_cursor += 1
    return draws


def _trace(payments: list[Event], draws: list[tuple[int, int, int]], s: FundState) -> list[Payment]:
    """Split a batch's payments over its draws, both in order."""
    pool = [[lot_id, amount] for _, lot_id, amount in draws]
    out = []
    for p in payments:
        need, sources = p.args["amount"], []
        while need:
            lot_id, left = pool[0]
            take = min(need, left)
            sources.append(Source(lot_id, s.lots[lot_id].funder, take))
            need -= take
            pool[0][1] -= take
            if pool[0][1] == 0:
                pool.pop(0)
        out.append(
            Payment(
                p.args["batchId"],
                p.args["programId"],
                p.args["recipient"],
                p.args["amount"],
                p.transaction_hash,
                tuple(_merge(sources)),
            )
        )
    return out


def _take_back(payment: Payment, lot_id: int, amount: int) -> Payment:
    """`payment` after its receiver returned `amount` of the part lot `lot_id` paid."""
    paid = {src.lot_id: src.amount for src in payment.sources}
    if paid.get(lot_id, 0) < amount:
        raise InconsistentEvents(f"batch {payment.batch_id}: lot {lot_id} got back more than it paid")
    sources = [
        src if src.lot_id != lot_id else Source(lot_id, src.funder, src.amount - amount)
        for src in payment.sources
    ]
    kept = tuple(src for src in sources if src.amount)
    return replace(payment, sources=kept, returned=payment.returned + amount)


def _merge(sources: list[Source]) -> list[Source]:
    merged: dict[int, Source] = {}
    for src in sources:
        prev = merged.get(src.lot_id)
        merged[src.lot_id] = Source(src.lot_id, src.funder, src.amount + (prev.amount if prev else 0))
    return list(merged.values())


def _fund_events(events: Iterable[Event]) -> list[Event]:
    return [e for e in events if e.contract == "FundLedger"]


def rebuild_fund_state(events: Iterable[Event]) -> FundState:
    """The fund ledger's state, from its events alone (events in chain order)."""
    replay = FundReplay()
    for e in _fund_events(events):
        replay.apply(e)
    return replay.state


def trace_payments(events: Iterable[Event]) -> list[Payment]:
    """Every disbursement with the lots (and so the funders) that paid it."""
    replay = FundReplay()
    for e in _fund_events(events):
        replay.apply(e)
    return replay.traced


@dataclass(frozen=True)
class ReturnedAllocation:
    """The undrawn part of an allocation that a lot's refund took back from its program."""

    allocation_id: int
    program_id: int
    amount: int


RefundSource = Literal["expired-lot", "released-reservation", "returned-by-receiver"]


@dataclass(frozen=True)
class Refund:
    """Money the fund ledger sent back to a funder.

    `source` is `expired-lot` for the refund of an expired lot: its unallocated rest plus what its
    allocations had not drawn yet (`from_allocations`), all in `amount`. After that refund the ledger
    pays the funder directly what still comes back from the lot: `released-reservation` for the rest
    of a reservation (a budget round's hold on the lot, `reservation_id`) and `returned-by-receiver`
    for money a receiver contract (a claim program) returned from its batch `batch_id`.
    """

    source: RefundSource
    lot_id: int
    funder: str
    amount: int
    transaction_hash: str
    block_number: int
    log_index: int
    reservation_id: int | None = None
    batch_id: int | None = None
    from_allocations: tuple[ReturnedAllocation, ...] = ()


def refunds(events: Iterable[Event]) -> list[Refund]:
    """Every refund to a funder, in chain order, from the fund ledger's events alone."""
    funder_of: dict[int, str] = {}  # lot -> funder
    lot_of: dict[int, int] = {}  # allocation -> lot
    taken_back: dict[tuple[str, int], list[ReturnedAllocation]] = {}  # (transaction, lot) -> returns
    out: list[Refund] = []
    for e in _fund_events(events):
        a = e.args
        if e.name == "LotDeposited":
            funder_of[a["lotId"]] = a["funder"]
        elif e.name == "Allocated" or (e.name == "FundsReturned" and not a["toFunder"]):
            lot_of[a["allocationId"]] = a["lotId"]
        elif e.name == "FundsReturned" and a["amount"]:  # a receiver's return of an expired lot's money
            lot_id = a["lotId"]
            out.append(
                _refund(
                    e, "returned-by-receiver", lot_id, funder_of[lot_id], a["amount"], batch_id=a["batchId"]
                )
            )
        elif e.name == "AllocationReturned":  # only a lot's refund emits it, before its LotRefunded
            returned = ReturnedAllocation(a["allocationId"], a["programId"], a["amount"])
            taken_back.setdefault((e.transaction_hash, lot_of[a["allocationId"]]), []).append(returned)
        elif e.name == "LotRefunded":
            back = tuple(taken_back.pop((e.transaction_hash, a["lotId"]), ()))
            out.append(_refund(e, "expired-lot", a["lotId"], a["funder"], a["amount"], back=back))
        elif e.name == "ReservationReleased" and a["toFunder"] and a["amount"]:
            lot_id = a["lotId"]
            out.append(
                _refund(
                    e,
                    "released-reservation",
                    lot_id,
                    funder_of[lot_id],
                    a["amount"],
                    reservation_id=a["reservationId"],
                )
            )
    return out


def _refund(
    e: Event,
    source: RefundSource,
    lot_id: int,
    funder: str,
    amount: int,
    *,
    reservation_id: int | None = None,
    batch_id: int | None = None,
    back: tuple[ReturnedAllocation, ...] = (),
) -> Refund:
    return Refund(
        source,
        lot_id,
        funder,
        amount,
        e.transaction_hash,
        e.block_number,
        e.log_index,
        reservation_id,
        batch_id,
        back,
    )


ConsentView = tuple[Any, ...]  # (view name, *arguments) of a FundLedger consent view


@dataclass
class Consent:
    """Who may move each lot's money and decide each program's tranches, as the events say, and each
    place where the events show money moved or a tranche decided without that consent."""

    lot_allocators: dict[int, set[str]] = field(default_factory=dict)  # lot -> allocators named, not revoked
    program_funders: dict[int, set[str]] = field(default_factory=dict)  # program -> funders with money in it
    program_approvers: dict[int, dict[str, set[str]]] = field(
        default_factory=dict
    )  # program -> funder -> named
    ever_allocators: set[tuple[int, str]] = field(default_factory=set)  # every (lot, allocator) ever named
    ever_approvers: set[tuple[int, str, str]] = field(default_factory=set)  # (program, funder, approver)
    requesters: dict[str, set[str]] = field(default_factory=dict)  # NGO -> requesters named, not revoked
    ever_requesters: set[tuple[str, str]] = field(default_factory=set)  # every (NGO, requester) ever named
    violations: list[str] = field(default_factory=list)

    def may_approve(self, program_id: int, account: str) -> bool:
        """Whether `account` may decide the program's tranches."""
        if account in self.program_funders.get(program_id, set()):
            return True
        return any(account in named for named in self.program_approvers.get(program_id, {}).values())

    def expected_views(self) -> dict[ConsentView, bool]:
        """What the contract's consent views must answer for every account the events name
        (see `FundLedgerClient.consent_views`)."""
        out: dict[ConsentView, bool] = {}
        for lot_id, allocator in sorted(self.ever_allocators):
            out[("isLotAllocator", lot_id, allocator)] = allocator in self.lot_allocators.get(lot_id, set())
        for program_id, funders in sorted(self.program_funders.items()):
            for funder in sorted(funders):
                out[("isProgramFunder", program_id, funder)] = True
        for program_id, funder, approver in sorted(self.ever_approvers):
            named = approver in self.program_approvers.get(program_id, {}).get(funder, set())
            out[("isProgramApprover", program_id, funder, approver)] = named
        for ngo, requester in sorted(self.ever_requesters):
            out[("isRequester", ngo, requester)] = requester in self.requesters.get(ngo, set())
        return out

    def differences(self, views: dict[ConsentView, bool]) -> list[str]:
        """The moves without consent, then each view that answers otherwise than the events say."""
        out = list(self.violations)
        for key, expected in self.expected_views().items():
            if views.get(key) != expected:
                out.append(f"{key[0]}{key[1:]} is {views.get(key)}, the events give {expected}")
        return out


class _ConsentReplay:
    def __init__(self) -> None:
        self.c = Consent()
        self.funder_of: dict[int, str] = {}
        self.program_of: dict[int, int] = {}  # tranche -> program
        self.ngo_of: dict[int, str] = {}  # program -> its NGO

    def apply(self, e: Event) -> None:
        handler = getattr(self, "_on_" + e.name, None)
        if handler is not None:
            handler(e.args)

    def _on_LotDeposited(self, a: dict) -> None:  # type: ignore[type-arg]
        self.funder_of[a["lotId"]] = a["funder"]

    def _on_LotAllocatorSet(self, a: dict) -> None:  # type: ignore[type-arg]
        c = self.c
        if self.funder_of.get(a["lotId"]) != a["funder"]:
            c.violations.append(f"lot {a['lotId']}: allocator named by {a['funder']}, not its funder")
        named = c.lot_allocators.setdefault(a["lotId"], set())
        (named.add if a["allowed"] else named.discard)(a["allocator"])
        c.ever_allocators.add((a["lotId"], a["allocator"]))

    def _on_Allocated(self, a: dict) -> None:  # type: ignore[type-arg]
        c, funder = self.c, self.funder_of.get(a["lotId"], "")
        allowed = {funder} | c.lot_allocators.get(a["lotId"], set())
        if a["reservationId"] == 0 and a["allocator"] not in allowed:
            c.violations.append(f"allocation {a['allocationId']}: {a['allocator']} had no consent")
        c.program_funders.setdefault(a["programId"], set()).add(funder)

    def _on_ProgramApproverSet(self, a: dict) -> None:  # type: ignore[type-arg]
        c, program_id, funder = self.c, a["programId"], a["funder"]
        if funder not in c.program_funders.get(program_id, set()):
            c.violations.append(f"program {program_id}: approver named by {funder}, who has no money in it")
        named = c.program_approvers.setdefault(program_id, {}).setdefault(funder, set())
        (named.add if a["allowed"] else named.discard)(a["approver"])
        c.ever_approvers.add((program_id, funder, a["approver"]))

    def _on_ProgramCreated(self, a: dict) -> None:  # type: ignore[type-arg]
        self.ngo_of[a["programId"]] = a["ngo"]

    def _on_RequesterSet(self, a: dict) -> None:  # type: ignore[type-arg]
        named = self.c.requesters.setdefault(a["ngo"], set())
        (named.add if a["allowed"] else named.discard)(a["requester"])
        self.c.ever_requesters.add((a["ngo"], a["requester"]))

    def _on_TrancheRequested(self, a: dict) -> None:  # type: ignore[type-arg]
        self.program_of[a["trancheId"]] = a["programId"]
        ngo = self.ngo_of.get(a["programId"], "")
        if a["requester"] != ngo and a["requester"] not in self.c.requesters.get(ngo, set()):
            who = a["requester"]
            self.c.violations.append(f"tranche {a['trancheId']}: asked by {who}, not named by {ngo}")

    def _on_TrancheApproved(self, a: dict) -> None:  # type: ignore[type-arg]
        if not self.c.may_approve(self.program_of.get(a["trancheId"], 0), a["approver"]):
            self.c.violations.append(f"tranche {a['trancheId']}: decided by {a['approver']} without consent")

    _on_TrancheRejected = _on_TrancheApproved


def replay_consent(events: Iterable[Event]) -> Consent:
    """Replay the fund ledger's consent events (in chain order); see `Consent`."""
    replay = _ConsentReplay()
    for e in _fund_events(events):
        replay.apply(e)
    return replay.c
