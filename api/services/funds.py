"""Funds: funders' lots and allocations, NGOs' programs, tranches and disbursements. No HTTP here.

Every call is a `FundLedger` function signed with the calling organisation's custodial key and
relayed (`Engine.execute`); the contract enforces roles and maker-checker, this service adds what
the contract cannot know: a funder sees only their own lots (`UnknownLot`, as if absent), an NGO asks
for tranches only on its own programs (`NotYourProgram`). Free text (program descriptions, milestones,
rejection reasons, disbursement references) stays off chain; only its SHA-256 goes on chain.
The gas figures of the fund ledger's functions live here, next to the calls that use them; a refund's
gas is sized from the lot's state (the allocations its next step walks), never a fixed figure.

Consent: a lot's money moves (allocation, reservation, a budget round) only by its funder or by
allocators the funder names for that lot here; a program's tranches are decided only by a funder whose
money is in the program or by approvers such a funder names. Both are on chain and revocable; the
contract enforces them, this service lists them from events (checked against the contract's views).
"""

from __future__ import annotations

import bisect
import hashlib
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass

from eth_account.signers.local import LocalAccount
from sqlalchemy import select

from api.engine import Engine
from api.errors import Forbidden, GatewayError, NotFound
from api.models import Operation, Organisation, ProgramInfo
from api.operations import OperationResult
from api.principals import Principal
from api.services.person_chain import SIGNED_BY_PERSON
from api.services.providers import ProvidersService, ProviderView
from governance.lineage import Lineage, LotLineage, build_lineage
from ledger.calls import Call
from ledger.events import Event
from ledger.exceptions import TransactionError
from ledger.fund_events import FundReplay, Payment, Refund, refunds
from ledger.fund_ledger import MAX_SWEEP_ACCOUNTS, Lot
from ledger.indexer import EventIndex

MAX_SKIP_CALLS = 16  # spent allocations passed before one draw: at most 16 * DRAW_STEP
SWEEP_SCAN = 1_000
SWEEP_GAS_CAP = 8_000_000  # one sweep's gas at most: below what a node lets an estimate use (10M here)
"""The most recipients of a program whose balances one request to sweep expired aid reads."""
ZERO_ADDRESS = "0x" + "00" * 20


def sha(text: str) -> bytes:
    """The SHA-256 of `text`, as the fund ledger stores references to off-chain text."""
    return hashlib.sha256(text.encode()).digest()


def draw_walks(
    engine: Engine, principal_id: str, signer: Organisation | LocalAccount, program_id: int, amount: int
) -> int:
    """How many allocations paying `amount` from the program walks, sized from the chain's state.

    Spent allocations at the head of the queue (a refund took their rest) are passed first with
    `skipSpent` calls signed by `signer` (at most `MAX_SKIP_CALLS`); a draw that still needs more than
    `DRAW_STEP` allocations is left to the contract, which refuses it with `FundLedgerDrawTooLong`
    naming how much one payment may take now."""
    funds = engine.system.funds
    plan = funds.draw_plan(program_id, amount)
    for _ in range(MAX_SKIP_CALLS):
        if plan.spent_ahead == 0 or plan.drawable == amount:
            break
        engine.execute(principal_id, signer, funds.skip_spent_call(program_id))
        plan = funds.draw_plan(program_id, amount)
    return plan.walked


class PaymentTrace:
    """Every payment traced to the lots that paid it, kept up with the chain by replaying only the
    fund-ledger events not replayed yet (`FundReplay` is event by event), with each lot's payments
    indexed by their position in the trace: a page of a lot's payments costs the same at a hundred
    and at a hundred thousand payments. A receiver that returns money takes it off a payment's
    sources (`Payment.returned`), so a page checks that the lot still paid each payment."""

    def __init__(self) -> None:
        self._replay = FundReplay()
        self._seen = 0  # events of the index replayed (or passed over: not the fund ledger's)
        self._by_lot: dict[int, list[int]] = {}  # lot -> positions in `traced`, ascending
        self._lock = threading.Lock()

    def page(
        self, index: EventIndex, lot_id: int, after: int | None, limit: int
    ) -> list[tuple[int, Payment]]:
        """At most `limit` payments of `lot_id` after position `after`, as `(position, payment)`."""
        with self._lock:
            new = index.since(self._seen)
            traced = self._replay.traced
            known = len(traced)
            try:
                for e in new:
                    if e.contract == "FundLedger":
                        self._replay.apply(e)
            except Exception:  # events the replay refuses: start afresh next time, and say so now
                self._replay, self._seen, self._by_lot = FundReplay(), 0, {}
                raise
            self._seen += len(new)
            for position in range(known, len(traced)):
                for lot in dict.fromkeys(src.lot_id for src in traced[position].sources):
                    self._by_lot.setdefault(lot, []).append(position)
            positions = self._by_lot.get(lot_id, [])
            start = 0 if after is None else bisect.bisect_right(positions, after)
            out: list[tuple[int, Payment]] = []
            for position in positions[start:]:
                if len(out) == limit:
                    break
                payment = traced[position]
                if any(src.lot_id == lot_id for src in payment.sources):
                    out.append((position, payment))
            return out


@dataclass(frozen=True)
class ExpiredAidSwept:
    """One request to send a restricted program's expired aid back: what came back from how many
    accounts, the operation (None: nothing to send), and where the next request goes on (None: done)."""

    program_id: int
    swept: int
    accounts: int
    operation: OperationResult | None
    next_after: int | None


@dataclass(frozen=True)
class Named:
    """An account named by a funder (allocator or approver), and the transaction that named it last."""

    address: str
    transaction_hash: str
    block_number: int


def _named(
    events: list[Event], name: str, key: str, value: int, field: str, funder: str | None
) -> list[Named]:
    """Who the `name` events for `key` = `value` (and `funder`, if given) left named, in the order named."""
    out: dict[str, Named] = {}
    for e in events:
        a = e.args
        if e.name != name or a[key] != value or (funder is not None and a["funder"] != funder):
            continue
        out.pop(a[field], None)
        if a["allowed"]:
            out[a[field]] = Named(a[field], e.transaction_hash, e.block_number)
    return list(out.values())


@dataclass(frozen=True)
class ProgramSummary:
    """A program's money figures as the contract holds them, with its off-chain name."""

    program_id: int
    name: str
    ngo: str
    allocated: int
    released: int
    disbursed: int
    payments: int


class FundsService:
    """The fund ledger over one engine."""

    def __init__(
        self,
        engine: Engine,
        person_signer: Callable[[str], LocalAccount] | None = None,
        providers: ProvidersService | None = None,
    ) -> None:
        """`person_signer(person_id)` opens a person's own custodial key (`People.signing_account`)."""
        self.gw = engine
        self._person_signer = person_signer
        self.providers = providers or ProvidersService(engine)
        self._lineage: tuple[tuple[int, int, int], Lineage] | None = None
        self._lineage_lock = threading.Lock()
        self._trace = PaymentTrace()

    def lineage(self) -> Lineage:
        """The lineage of every euro, rebuilt from events once per new event (a replay of the whole
        history, so repeated reads of an unchanged chain cost nothing)."""
        events = self.gw.index.events()
        last = events[-1] if events else None
        key = (len(events), last.block_number if last else 0, last.log_index if last else 0)
        with self._lineage_lock:
            if self._lineage is not None and self._lineage[0] == key:
                return self._lineage[1]
            book = self.gw.system.book
            registry = book.address("ProviderRegistry") if "ProviderRegistry" in book.contracts else None
            built = build_lineage(events, book.address("EuroToken"), book.address("FundLedger"), registry)
            self._lineage = (key, built)
            return built

    def _execute(self, principal: Principal, call: Call) -> OperationResult:
        """A `FundLedger` call, signed with the calling person's own key where the contract checks a
        role (`person_chain.SIGNED_BY_PERSON`), else with the organisation's key; relayed."""
        signer: Organisation | LocalAccount = self.gw.organisation(principal.organisation_id)
        own_key = call.kind in SIGNED_BY_PERSON.get(principal.kind, frozenset())
        if principal.person_id is not None and own_key and self._person_signer:
            signer = self._person_signer(principal.person_id)
        return self.gw.execute(principal.id, signer, call)

    # --- funders ---------------------------------------------------------------------------

    def deposit(self, principal: Principal, amount: int, earmark: int, expiry: int) -> OperationResult:
        """Deposit `amount` of the euro token as a lot (earmark 0: none; expiry 0: never)."""
        token = self.gw.system.token.address
        return self._execute(principal, self.gw.system.funds.deposit_call(token, amount, earmark, expiry))

    def own_lots(self, principal: Principal) -> list[tuple[int, Lot]]:
        """The calling funder's lots with their ids, oldest first."""
        funds = self.gw.system.funds
        out = []
        for lot_id in range(1, funds.counts()[0] + 1):
            lot = funds.lot(lot_id)
            if lot.funder == principal.address:
                out.append((lot_id, lot))
        return out

    def own_lot(self, principal: Principal, lot_id: int) -> Lot:
        """One of the calling funder's lots; `UnknownLot` for anybody else's."""
        lot = self.gw.system.funds.lot(lot_id)
        if lot.funder != principal.address:
            raise NotFound("UnknownLot", f"you have no lot {lot_id}")
        return lot

    def lot_payments(
        self, principal: Principal, lot_id: int, after: int | None = None, limit: int = 500
    ) -> list[tuple[int, Payment]]:
        """The payments the funder's lot paid for, traced from events alone, in chain order, a page at a
        time: at most `limit` of them as `(position, payment)`, those after position `after` (the last
        position of the page before). A read replays only the events new since the last one."""
        self.own_lot(principal, lot_id)
        return self._trace.page(self.gw.index, lot_id, after, limit)

    def lot_lineage(self, principal: Principal, lot_id: int) -> tuple[LotLineage, dict[str, ProviderView]]:
        """Where a lot's euros went, from events alone (first in, first out per account): to spending at
        providers, per provider and category, and to payouts; with the providers it names by account.
        The lot's funder sees its own lots, the admin and auditors every lot; `UnknownLot` otherwise."""
        if principal.kind == "funder":
            self.own_lot(principal, lot_id)
        lineage = self.lineage()
        if lot_id not in lineage.lots:
            raise NotFound("UnknownLot", f"there is no lot {lot_id}")
        lot = lineage.lot(lot_id)
        named = {p for p, _ in lot.spent} | set(lot.paid_out)
        providers = {v.account: v for v in self.providers.all() if v.account in named}
        return lot, providers

    def allocate(self, principal: Principal, lot_id: int, program_id: int, amount: int) -> OperationResult:
        """Allocate part of one of the funder's lots to a program."""
        return self._execute(principal, self.gw.system.funds.allocate_call(lot_id, program_id, amount))

    def refund(self, principal: Principal, lot_id: int) -> OperationResult:
        """Take back the unspent rest of the funder's expired lot: one transaction per `REFUND_STEP` of its
        allocations, each sized by the allocations it walks; returns the last (the refund is complete)."""
        self.own_lot(principal, lot_id)
        funds = self.gw.system.funds
        step = int(funds.call("REFUND_STEP"))
        result = self._execute(principal, funds.refund_call(lot_id, min(funds.refund_pending(lot_id), step)))
        while (pending := funds.refund_pending(lot_id)) != 0:
            result = self._execute(principal, funds.refund_call(lot_id, min(pending, step)))
        return result

    # --- consent: allocators of a lot, approvers of a program -----------------------------

    def set_lot_allocator(
        self, principal: Principal, lot_id: int, allocator: str, allowed: bool
    ) -> OperationResult:
        """Name (`allowed`) or revoke an allocator of one of the funder's lots."""
        self.own_lot(principal, lot_id)
        return self._execute(
            principal, self.gw.system.funds.set_lot_allocator_call(lot_id, allocator, allowed)
        )

    def lot_allocators(self, principal: Principal, lot_id: int) -> list[Named]:
        """The allocators the funder named for its lot and has not revoked, in the order named."""
        self.own_lot(principal, lot_id)
        events = self.gw.read_model.for_lots([lot_id], ["LotAllocatorSet"])
        named = _named(events, "LotAllocatorSet", "lotId", lot_id, "allocator", None)
        funds = self.gw.system.funds
        return [n for n in named if funds.is_lot_allocator(lot_id, n.address)]

    def set_program_approver(
        self, principal: Principal, program_id: int, approver: str, allowed: bool
    ) -> OperationResult:
        """Name (`allowed`) or revoke, as the calling funder, an approver of a program's tranches (the
        contract accepts only a funder whose money is in the program)."""
        self.gw.system.funds.program(program_id)  # FundLedgerUnknownProgram for none
        return self._execute(
            principal, self.gw.system.funds.set_program_approver_call(program_id, approver, allowed)
        )

    def program_approvers(self, principal: Principal, program_id: int) -> list[Named]:
        """The approvers the calling funder named for the program and has not revoked."""
        funds = self.gw.system.funds
        funds.program(program_id)
        named = _named(
            self.gw.read_model.for_program(program_id, ["ProgramApproverSet"]),
            "ProgramApproverSet",
            "programId",
            program_id,
            "approver",
            principal.address,
        )
        return [n for n in named if funds.call("isProgramApprover", program_id, principal.address, n.address)]

    def refunds(self, principal: Principal) -> list[Refund]:
        """Money returned to the funder, oldest first, from events alone."""
        return [r for r in refunds(self.gw.index.events()) if r.funder == principal.address]

    def approve_tranche(self, principal: Principal, tranche_id: int) -> OperationResult:
        """Approve a tranche request (the contract refuses the requester; the gateway refuses the
        person who asked for it)."""
        self._may_decide(principal, tranche_id)
        return self._execute(principal, self.gw.system.funds.approve_tranche_call(tranche_id))

    def reject_tranche(self, principal: Principal, tranche_id: int, reason: str) -> OperationResult:
        """Reject a tranche request; the reason stays off chain, its hash goes on chain."""
        self._may_decide(principal, tranche_id)
        return self._execute(principal, self.gw.system.funds.reject_tranche_call(tranche_id, sha(reason)))

    def _may_decide(self, principal: Principal, tranche_id: int) -> None:
        """Maker-checker between people: whoever asked for a tranche never decides it. An NGO's
        approver decides only tranches of their own NGO's programs; an NGO's integration key never
        decides (it is the requester)."""
        if principal.kind == "ngo":
            if principal.person_id is None:
                raise Forbidden("WrongOrganisationKind", "an NGO decides tranches only through its approvers")
            tranche = self.gw.system.funds.tranche(tranche_id)  # UnknownTranche for a tranche not there
            if self.gw.system.funds.program(tranche.program_id).ngo != principal.address:
                raise NotFound("UnknownTranche", f"no tranche {tranche_id} of your NGO's programs")
        if (
            principal.person_id is not None
            and self.tranche_people().get(tranche_id, {}).get("requested") == principal.person_id
        ):
            raise Forbidden("SelfApproval", "another person must decide a tranche you asked for")

    def tranche_people(self) -> dict[int, dict[str, str]]:
        """tranche id -> {"requested" | "approved" | "rejected": person id}, from the operation
        journal (the chain knows only addresses; a person acting with the organisation's key is
        known to the gateway alone)."""
        kinds = {f"FundLedger.{f}": f for f in ("requestTranche", "approveTranche", "rejectTranche")}
        events = {
            "TrancheRequested": "requested",
            "TrancheApproved": "approved",
            "TrancheRejected": "rejected",
        }
        out: dict[int, dict[str, str]] = {}
        with self.gw.db.session() as s:
            rows = s.execute(
                select(Operation.person_id, Operation.result).where(
                    Operation.kind.in_(list(kinds)),
                    Operation.status == "done",
                    Operation.person_id.is_not(None),
                )
            ).all()
        for person_id, result in rows:
            for event in (result or {}).get("events", []):
                what = events.get(event.get("event"))
                if what is not None:
                    out.setdefault(int(event["args"]["trancheId"]), {})[what] = person_id
        return out

    # --- NGOs ------------------------------------------------------------------------------

    def create_program(
        self, principal: Principal, name: str, description: str
    ) -> tuple[int, OperationResult]:
        """A program run by the calling NGO: its description hashed on chain, its text kept here."""
        metadata = sha(json.dumps({"name": name, "description": description}, sort_keys=True))
        token = self.gw.system.token.address
        result = self._execute(principal, self.gw.system.funds.create_program_call(token, metadata))
        program_id: int = result.event("ProgramCreated").args["programId"]
        with self.gw.db.session() as s:
            s.merge(
                ProgramInfo(
                    program_id=program_id,
                    ngo_id=principal.organisation_id,
                    name=name,
                    description=description,
                )
            )
        return program_id, result

    def own_program(self, principal: Principal, program_id: int) -> None:
        """Refuse (`NotYourProgram`) a program run by another NGO."""
        if self.gw.system.funds.program(program_id).ngo != principal.address:
            raise Forbidden("NotYourProgram", f"program {program_id} is run by another NGO")

    def request_tranche(
        self, principal: Principal, program_id: int, amount: int, milestone: str
    ) -> OperationResult:
        """Ask for money to be released on a milestone (its text off chain, its hash on chain)."""
        return self._execute(
            principal, self.gw.system.funds.request_tranche_call(program_id, amount, sha(milestone))
        )

    def disburse(
        self, principal: Principal, program_id: int, payments: list[tuple[str, int]], reference: str
    ) -> OperationResult:
        """Pay many pseudonymous accounts in one transaction. The recipients of a restricted program, or
        of a program with an end (which pays only accounts marked for it), are marked on chain first."""
        recipients = [address for address, _ in payments]
        funds = self.gw.system.funds
        recorded = funds.program(program_id).ends_at != 0  # a program with an end records its draws
        if self.gw.system.providers.program_rule(program_id) == 0 and not recorded:
            self._refuse_accounts_bound_elsewhere(program_id, recipients)
        else:  # marking refuses, on chain, an account another program marked
            self.providers.restrict_before_paying(principal, program_id, recipients)
        amounts = [amount for _, amount in payments]
        signer = self.gw.organisation(principal.organisation_id)
        walks = draw_walks(self.gw, principal.id, signer, program_id, sum(amounts))
        call = funds.disburse_call(program_id, recipients, amounts, sha(reference), walks, recorded=recorded)
        return self._execute(principal, call)

    def _refuse_accounts_bound_elsewhere(self, program_id: int, recipients: list[str]) -> None:
        """For a program that does not mark its recipients: an account another program marked takes money
        only from that program (the chain refuses the payment with `ProviderRegistryAccountBound`), so the
        whole batch is refused here first, naming the account, before a transaction fails."""
        registry = self.gw.system.providers
        token = self.gw.system.token.address
        for account in dict.fromkeys(recipients):
            other, marked_by = registry.restriction(token, account)
            if other != 0 and (other != program_id or marked_by != ZERO_ADDRESS):
                raise GatewayError(
                    "RecipientBoundToAnotherProgram",
                    f"account {account} holds aid bound to program {other}; it takes money only from that"
                    f" program: pay the client through another account",
                    account=account,
                    programId=other,
                )

    # --- expiry of restricted aid paid directly ---------------------------------------------

    def send_back_expired(self, principal: Principal, program_id: int, after: int = 0) -> ExpiredAidSwept:
        """After a restricted program's end, send what the accounts it paid directly (and its NGO marked)
        have not spent back to the lots it came from: at most `MAX_SWEEP_ACCOUNTS` accounts per request,
        found among at most `SWEEP_SCAN` recipients after the first `after`, in the order they were first
        paid. The contract lets anybody do it; through the gateway the program's NGO, a funder whose money
        it holds, or the admin. Asking again sends nothing twice."""
        gw = self.gw
        funds = gw.system.funds
        program = funds.program(program_id)
        self._require_may_send_back(principal, program_id, program.ngo)
        if program.ends_at == 0 or gw.chain.now() < program.ends_at:
            raise GatewayError(
                "FundLedgerProgramNotEnded",
                f"program {program_id} has no end or runs until {program.ends_at}: the money is its clients'",
                endsAt=program.ends_at,
            )
        # A program loosened to cash freed its clients' money; nothing is left to take once all came back.
        if gw.system.providers.program_rule(program_id) == 0 or funds.sweepable(program_id) == 0:
            return ExpiredAidSwept(program_id, 0, 0, None, None)
        recipients = list(
            dict.fromkeys(e.args["recipient"] for e in gw.read_model.for_program(program_id, ("Disbursed",)))
        )
        found: list[tuple[int, str]] = []  # (recipients read up to and with this one, account)
        position = after
        for recipient in recipients[after : after + SWEEP_SCAN]:
            position += 1
            if self._sweepable_account(program_id, recipient):
                found.append((position, recipient))
                if len(found) == MAX_SWEEP_ACCOUNTS:
                    break
        if not found:
            return ExpiredAidSwept(program_id, 0, 0, None, position if position < len(recipients) else None)
        # Fewer accounts while one sweep would be too large a transaction (their money may have been
        # drawn from many lots); the next request goes on after the last account taken.
        taken = len(found)
        call = self._sweep_call(program_id, [account for _, account in found])
        while call is None and len(found) > 1:
            found = found[: len(found) // 2]
            call = self._sweep_call(program_id, [account for _, account in found])
        if call is None:
            raise GatewayError(
                "SweepTooLarge",
                f"sending back what {found[0][1]} holds would take more gas than one sweep may use"
                f" ({SWEEP_GAS_CAP:,}): its money was drawn from too many lots",
                account=found[0][1],
            )
        if len(found) < taken:
            position = found[-1][0]
        next_after = position if position < len(recipients) else None
        result = gw.execute(principal.id, gw.organisation(principal.organisation_id), call)
        swept = sum(int(e.args["amount"]) for e in result.events if e.name == "ExpiredAidSwept")
        moved = sum(1 for e in result.events if e.name == "ExpiredAidSwept")
        return ExpiredAidSwept(program_id, swept, moved, result, next_after)

    def _sweep_call(self, program_id: int, accounts: list[str]) -> Call | None:
        """The sweep of `accounts` with its gas estimated, or None when it would use more than
        `SWEEP_GAS_CAP` (or the estimate itself ran out of gas)."""
        try:
            call = self.gw.system.funds.sweep_expired_call(program_id, accounts)
        except TransactionError:  # not a typed revert: the estimate found no gas that suffices
            return None
        return call if call.gas <= SWEEP_GAS_CAP else None

    def _sweepable_account(self, program_id: int, account: str) -> bool:
        """Whether `account` holds money and its NGO marked it for the program (not a claim program)."""
        system = self.gw.system
        token = system.token.address
        return system.balance(account) > 0 and system.providers.restriction(token, account) == (
            program_id,
            ZERO_ADDRESS,
        )

    def _require_may_send_back(self, principal: Principal, program_id: int, ngo: str) -> None:
        if principal.kind == "admin" or (principal.kind == "ngo" and principal.address == ngo):
            return
        funds = self.gw.system.funds
        if principal.kind == "funder" and funds.call("isProgramFunder", program_id, principal.address):
            return
        raise Forbidden("NotYourProgram", "only its NGO, its funders or the admin send back expired aid")

    # --- everyone --------------------------------------------------------------------------

    def program_summaries(self) -> list[ProgramSummary]:
        """Every program with its money figures and payment count."""
        funds = self.gw.system.funds
        count = funds.counts()[1]
        with self.gw.db.session() as s:
            names = {p.program_id: p.name for p in s.scalars(select(ProgramInfo))}
        payments = self.gw.read_model.count_by_program(["Disbursed"])
        out = []
        for pid in range(1, count + 1):
            p = funds.program(pid)
            out.append(
                ProgramSummary(
                    program_id=pid,
                    name=names.get(pid, f"Program {pid}"),
                    ngo=p.ngo,
                    allocated=p.allocated,
                    released=p.released,
                    disbursed=p.disbursed,
                    payments=payments.get(pid, 0),
                )
            )
        return out
