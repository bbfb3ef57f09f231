"""Where the money went, for the public pages: flows between funders, rounds, programs, claim programs
and their outcomes, amounts over time, and round results, from the chain's events alone.

A flow graph has five columns of nodes:

| column | nodes                                                                            |
|--------|----------------------------------------------------------------------------------|
| 0      | `funder:<address>`: an organisation that deposited lots                          |
| 1      | `round:<id>`: a participatory budget round, funded from lots                     |
| 2      | `program:<id>`: a program of the fund ledger                                     |
| 3      | `claims:<address>`: a claim program, funded by a program's disbursement          |
| 4      | outcomes: `clients` (paid to clients' accounts), `claimed` (claimed by clients), |
|        | `unclaimed` (still to claim), `unspent` (in a program, not paid out yet),        |
|        | `reserved` (held by an undecided round), `unallocated` (still in a lot),         |
|        | `relotted` (a round's rest back in its lot), `refunded` (back with the funder)   |

Every edge is attributed to the funder whose lot paid it (payments by the fund ledger's own
first-in-first-out trace, `ledger.fund_events.trace_payments`), except what clients claimed from a
claim program, which no lot can be told apart in. A program's out-edges add up to its in-edges: what
it paid out net of what came back from claim programs, plus what went back to funders, plus what it
still holds (`allocated - disbursed`, as the contract's view says).

Clients appear only in aggregate (`clients`, `claimed`); no recipient, voter or claim address, and
nothing derived from one, ever leaves this module.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from ledger.events import Event
from ledger.fund_events import rebuild_fund_state, refunds, trace_payments
from ledger.fund_ledger import FundState

OUTCOMES = ("clients", "claimed", "unclaimed", "unspent", "reserved", "unallocated", "relotted", "refunded")
"""The outcome nodes (column 4), in the order a picture stacks them."""


def column(node: str) -> int:
    """The column of a node key."""
    kind = node.split(":", 1)[0]
    return {"funder": 0, "round": 1, "program": 2, "claims": 3}.get(kind, 4)


@dataclass(frozen=True)
class Edge:
    """Money that went from `source` to `target` (node keys), in micro-euros, paid from `funder`'s lots
    ("" where no lot can be named: claims by clients)."""

    source: str
    target: str
    amount: int
    funder: str = ""


@dataclass(frozen=True)
class ProgramFigures:
    """A program's money as the contract's view has it (replayed from events), and its payments."""

    program_id: int
    ngo: str
    allocated: int
    released: int
    disbursed: int
    payments: int  # Disbursed events: payments to clients' accounts and to claim programs
    tranches_requested: int  # micro-euros asked for in tranches
    tranches_approved: int


@dataclass(frozen=True)
class ClaimProgramFigures:
    """A claim program funded by a fund program: funded + reclaimed = claimed + returned + held, where
    reclaimed is restricted aid its clients had not spent by its expiry, taken back (and returned)."""

    claim_program_id: int
    fund_program_id: int
    address: str
    funded: int
    claimed: int
    claims: int
    returned: int
    reclaimed: int = 0

    @property
    def held(self) -> int:
        """What clients may still claim (or that goes back at expiry)."""
        return self.funded + self.reclaimed - self.claimed - self.returned


@dataclass(frozen=True)
class Point:
    """Cumulative amounts up to (and including) one moment, by series name."""

    timestamp: int
    values: dict[str, int]


@dataclass
class Figures:
    """Everything the public pages show, from one pass over the events."""

    edges: list[Edge]
    programs: dict[int, ProgramFigures]
    claim_programs: dict[str, ClaimProgramFigures]
    deposits: dict[str, int]  # funder -> deposited
    lots: dict[str, int]  # funder -> number of lots
    movements: list[tuple[int, str, str, int, int]] = field(default_factory=list)
    """(block, series, funder, program or 0, amount) of every movement the time series count."""

    def funders(self) -> list[str]:
        """Every funder that deposited, in order of their first lot."""
        return list(self.deposits)

    def flows(
        self, *, funder: str | None = None, program: int | None = None, round_id: int | None = None
    ) -> list[Edge]:
        """The edges of one funder's money, around one program, or of one round (or all), summed per
        (source, target) and sorted by column."""
        keep: list[Edge] = []
        program_node = f"program:{program}" if program is not None else None
        round_node = f"round:{round_id}" if round_id is not None else None
        own_claims = {
            f"claims:{c.address}" for c in self.claim_programs.values() if c.fund_program_id == program
        }
        for e in self.edges:
            if funder is not None and e.funder != funder:
                continue
            if (
                program_node is not None
                and program_node not in (e.source, e.target)
                and e.source not in own_claims
            ):
                continue
            if round_node is not None and round_node not in (e.source, e.target):
                continue
            keep.append(e)
        return _summed(keep)

    def total(self, name: str, *, funder: str | None = None, program: int | None = None) -> int:
        """The last value of the series `name` (for one funder's or one program's money, or all)."""
        points = self.series((name,), funder=funder, program=program)
        return points[-1][1][name] if points else 0

    def series(
        self, names: Sequence[str], *, funder: str | None = None, program: int | None = None
    ) -> list[tuple[int, dict[str, int]]]:
        """Cumulative amounts of the series `names` after each block that moved one of them:
        `[(block, {name: amount})]`, for one funder's or one program's money, or for all."""
        totals = dict.fromkeys(names, 0)
        out: list[tuple[int, dict[str, int]]] = []
        for block, name, who, pid, amount in self.movements:
            if name not in totals:
                continue
            if funder is not None and who != funder:
                continue
            if program is not None and pid != program:
                continue
            totals[name] += amount
            if out and out[-1][0] == block:
                out[-1] = (block, dict(totals))
            else:
                out.append((block, dict(totals)))
        return out


def _summed(edges: Iterable[Edge]) -> list[Edge]:
    sums: dict[tuple[str, str], int] = defaultdict(int)
    for e in edges:
        sums[(e.source, e.target)] += e.amount
    ordered = sorted(sums.items(), key=lambda kv: (column(kv[0][0]), column(kv[0][1]), kv[0]))
    return [Edge(s, t, amount) for (s, t), amount in ordered if amount]


SERIES = ("deposited", "allocated", "paid", "claimed", "refunded")
"""The time series, each ending at the total the overview shows: deposited into lots; allocated to
programs (net of what went back to expired lots, plus what claim programs sent back, as the
contract's `allocated`); paid out by programs (drawn from the lots' allocations, the contract's
`disbursed`); claimed by clients from claim programs; returned to funders."""


def figures(events: Sequence[Event]) -> Figures:
    """The figures of a deployment from its events in chain order (every contract's)."""
    fund_events = [e for e in events if e.contract == "FundLedger"]
    walk = _Walk()
    for e in events:
        handler = getattr(walk, f"on_{e.name}", None)
        if handler is not None:
            handler(e)
    walk.add_refunds(fund_events)
    walk.add_payments(fund_events)
    state = rebuild_fund_state(fund_events)
    walk.add_holdings(state)
    claim_programs = walk.claim_programs()
    programs = {
        pid: ProgramFigures(
            pid,
            p.ngo,
            p.allocated,
            p.released,
            p.disbursed,
            walk.payments.get(pid, 0),
            walk.requested.get(pid, 0),
            walk.approved.get(pid, 0),
        )
        for pid, p in sorted(state.programs.items())
    }
    walk.movements.sort(key=lambda m: m[0])
    return Figures(walk.edges, programs, claim_programs, walk.deposits, walk.lots, walk.movements)


class _Walk:
    """One pass over the events in chain order: an `on_<Event>` method per event that moves money."""

    def __init__(self) -> None:
        self.lot_funder: dict[int, str] = {}
        self.reservation_round: dict[int, int] = {}
        self.allocation_lot: dict[int, int] = {}
        self.allocation_program: dict[int, int] = {}
        self.edges: list[Edge] = []
        self.movements: list[tuple[int, str, str, int, int]] = []
        self.deposits: dict[str, int] = {}
        self.lots: dict[str, int] = {}
        self.payments: dict[int, int] = defaultdict(int)
        self.requested: dict[int, int] = defaultdict(int)
        self.approved: dict[int, int] = defaultdict(int)
        self.claim_of: dict[str, dict[str, int]] = {}  # claim program address -> its figures
        self.fund_program_of: dict[str, int] = {}
        self.claim_id_of: dict[str, int] = {}
        self.receiver_batch: dict[int, str] = {}
        self.returned_to_receiver: dict[str, int] = defaultdict(int)

    def on_LotDeposited(self, e: Event) -> None:
        a = e.args
        self.lot_funder[a["lotId"]] = a["funder"]
        self.deposits[a["funder"]] = self.deposits.get(a["funder"], 0) + a["amount"]
        self.lots[a["funder"]] = self.lots.get(a["funder"], 0) + 1
        self.movements.append((e.block_number, "deposited", a["funder"], 0, a["amount"]))

    def on_RoundFunded(self, e: Event) -> None:
        a = e.args
        self.reservation_round[a["reservationId"]] = a["roundId"]
        funder = self.lot_funder.get(a["lotId"], "")
        self.edges.append(Edge(f"funder:{funder}", f"round:{a['roundId']}", a["amount"], funder))

    def on_Allocated(self, e: Event) -> None:
        a = e.args
        self.allocation_lot[a["allocationId"]] = a["lotId"]
        funder = self.lot_funder.get(a["lotId"], "")
        round_id = self.reservation_round.get(a["reservationId"])
        source = f"round:{round_id}" if round_id is not None else f"funder:{funder}"
        self.edges.append(Edge(source, f"program:{a['programId']}", a["amount"], funder))
        self.allocation_program[a["allocationId"]] = a["programId"]
        self.movements.append((e.block_number, "allocated", funder, a["programId"], a["amount"]))

    def on_ReservationReleased(self, e: Event) -> None:
        a = e.args
        round_id = self.reservation_round.get(a["reservationId"])
        if round_id is None:
            return
        funder = self.lot_funder.get(a["lotId"], "")
        target = "refunded" if a["toFunder"] else "relotted"
        self.edges.append(Edge(f"round:{round_id}", target, a["amount"], funder))

    def on_AllocationReturned(self, e: Event) -> None:
        a = e.args
        funder = self.lot_funder.get(self.allocation_lot.get(a["allocationId"], 0), "")
        self.edges.append(Edge(f"program:{a['programId']}", "refunded", a["amount"], funder))
        self.movements.append((e.block_number, "allocated", funder, a["programId"], -a["amount"]))

    def on_FundsReturned(self, e: Event) -> None:
        a = e.args
        funder = self.lot_funder.get(a["lotId"], "")
        if not a["toFunder"]:  # back in the program as a new allocation of the same lot
            self.allocation_lot[a["allocationId"]] = a["lotId"]
            self.allocation_program[a["allocationId"]] = a["programId"]
            self.movements.append((e.block_number, "allocated", funder, a["programId"], a["amount"]))
        else:
            self.edges.append(Edge(f"program:{a['programId']}", "refunded", a["amount"], funder))
        self.returned_to_receiver[self.receiver_batch.get(a["batchId"], "")] += a["amount"]

    def on_ReceiverFunded(self, e: Event) -> None:
        self.receiver_batch[e.args["batchId"]] = e.args["receiver"]

    def on_AllocationDrawn(self, e: Event) -> None:  # a disbursement's draw on one lot
        a = e.args
        funder = self.lot_funder.get(a["lotId"], "")
        program = self.allocation_program.get(a["allocationId"], 0)
        self.movements.append((e.block_number, "paid", funder, program, a["amount"]))

    def on_Disbursed(self, e: Event) -> None:
        self.payments[e.args["programId"]] += 1

    def on_TrancheRequested(self, e: Event) -> None:
        self.requested[e.args["programId"]] += e.args["amount"]

    def on_TrancheApproved(self, e: Event) -> None:
        self.approved[e.args["programId"]] += e.args["amount"]

    def on_ClaimProgramCreated(self, e: Event) -> None:
        address = e.args["program"]
        self.claim_of[address] = {"funded": 0, "claimed": 0, "claims": 0, "reclaimed": 0}
        self.fund_program_of[address] = e.args["fundProgramId"]
        self.claim_id_of[address] = e.args["claimProgramId"]

    def on_ClaimProgramFunded(self, e: Event) -> None:
        if e.address in self.claim_of:
            self.claim_of[e.address]["funded"] += e.args["amount"]

    def on_Claimed(self, e: Event) -> None:
        if e.address in self.claim_of:
            self.claim_of[e.address]["claimed"] += e.args["amount"]
            self.claim_of[e.address]["claims"] += 1
            program = self.fund_program_of[e.address]
            self.movements.append((e.block_number, "claimed", "", program, e.args["amount"]))

    def on_ExpiredAidReclaimed(self, e: Event) -> None:  # restricted aid not spent in time, taken back
        if e.address in self.claim_of:
            self.claim_of[e.address]["reclaimed"] += e.args["amount"]

    def add_refunds(self, fund_events: Sequence[Event]) -> None:
        """Refunds to funders as movements; an expired lot's own rest as an edge (what its
        allocations gave back is on the programs' edges already)."""
        for r in refunds(fund_events):
            self.movements.append((r.block_number, "refunded", r.funder, 0, r.amount))
            if r.source == "expired-lot":
                rest = r.amount - sum(x.amount for x in r.from_allocations)
                if rest:
                    self.edges.append(Edge(f"funder:{r.funder}", "refunded", rest, r.funder))

    def add_payments(self, fund_events: Sequence[Event]) -> None:
        """Programs' payments per funder's lot, net of what a claim program sent back (that money
        is the program's again)."""
        for p in trace_payments(fund_events):
            target = f"claims:{p.recipient}" if p.recipient in self.claim_of else "clients"
            for s in p.sources:
                self.edges.append(Edge(f"program:{p.program_id}", target, s.amount, s.funder))

    def add_holdings(self, state: FundState) -> None:
        """What programs still hold, lots still have and rounds still reserve, per funder."""
        for pid in state.programs:
            held: dict[str, int] = defaultdict(int)
            for allocation_id in state.program_allocations.get(pid, []):
                allocation = state.allocations[allocation_id]
                held[state.lots[allocation.lot_id].funder] += allocation.amount - allocation.drawn
            for funder, amount in held.items():  # sums to allocated - disbursed (tested)
                self.edges.append(Edge(f"program:{pid}", "unspent", amount, funder))
        for held_lot in state.lots.values():
            if not held_lot.refunded and held_lot.unallocated:
                funder = held_lot.funder
                self.edges.append(Edge(f"funder:{funder}", "unallocated", held_lot.unallocated, funder))
        for reservation_id, reservation in state.reservations.items():
            round_id = self.reservation_round.get(reservation_id)
            if round_id is not None and reservation.amount:
                funder = state.lots[reservation.lot_id].funder
                self.edges.append(Edge(f"round:{round_id}", "reserved", reservation.amount, funder))

    def claim_programs(self) -> dict[str, ClaimProgramFigures]:
        """Each claim program's figures, and its claimed and unclaimed edges."""
        out: dict[str, ClaimProgramFigures] = {}
        for address, c in self.claim_of.items():
            figures_ = ClaimProgramFigures(
                self.claim_id_of[address],
                self.fund_program_of[address],
                address,
                c["funded"],
                c["claimed"],
                c["claims"],
                self.returned_to_receiver.get(address, 0),
                c["reclaimed"],
            )
            out[address] = figures_
            if kept := figures_.claimed - figures_.reclaimed:  # what went back is on the programs' edges
                self.edges.append(Edge(f"claims:{address}", "claimed", kept))
            if figures_.held:
                self.edges.append(Edge(f"claims:{address}", "unclaimed", figures_.held))
        return out


@dataclass(frozen=True)
class WinnerProgress:
    """A winning project of a round: what it was awarded and how much of that its program paid out."""

    proposal_id: int
    program_id: int
    awarded: int
    paid_out: int  # drawn from the allocations the award made, by the program's disbursements


def winner_progress(events: Sequence[Event], round_id: int, winners: Sequence[int]) -> list[WinnerProgress]:
    """Each winner (in finalisation order) with the money its program has paid out of its award,
    from the allocations the round made and the fund ledger's first-in-first-out draws on them."""
    proposal_program: dict[int, int] = {}
    proposal_amount: dict[int, int] = {}
    round_reservations: set[int] = set()
    award_allocations: list[tuple[int, int, int]] = []  # (allocation, program, amount) in chain order
    drawn: dict[int, int] = defaultdict(int)
    for e in events:
        a = e.args
        if e.contract == "ParticipatoryBudget" and a.get("roundId") == round_id:
            if e.name == "ProposalSubmitted":
                proposal_program[a["proposalId"]] = a["programId"]
                proposal_amount[a["proposalId"]] = a["amount"]
            elif e.name == "RoundFunded":
                round_reservations.add(a["reservationId"])
        elif e.name == "Allocated" and a["reservationId"] in round_reservations:
            award_allocations.append((a["allocationId"], a["programId"], a["amount"]))
        elif e.name == "AllocationDrawn":
            drawn[a["allocationId"]] += a["amount"]
    out: list[WinnerProgress] = []
    queue = list(award_allocations)
    for pid in winners:
        need, paid, awarded = proposal_amount.get(pid, 0), 0, 0
        while need and queue:  # the contract pays winners in this order, each from the reservations in turn
            allocation_id, _, amount = queue.pop(0)
            take = min(need, amount)
            need -= take
            awarded += take
            paid += min(drawn.get(allocation_id, 0), take)
            if take < amount:  # never happens: one allocation serves one winner
                queue.insert(0, (allocation_id, _, amount - take))
        out.append(WinnerProgress(pid, proposal_program.get(pid, 0), awarded, paid))
    return out
