"""An independent check of participatory budget rounds from their events alone.

`verify_rounds` replays the ParticipatoryBudget events (and the FundLedger events of the rounds'
reservations) through the reference model in `governance.qv`: it recomputes every tally from the
ballots, every winner from the round's rule and every allocation from the first-in-first-out draw
on the round's reservations, and reports each place where the chain says something else. An
abandoned round (one of its lots expired before it was settled) must have paid a prefix of its
winners exactly and given back every other euro of its budget, and nothing may happen to it after.
A cancelled round (`RoundCancelled`, before any ballot) must have given back its whole budget.
Consent is checked where the events show it: a round takes money only from lots whose funder is its
creator or named the creator an allocator of that lot (`LotAllocatorSet`) before the round was
funded, and a proposal names a program its proposer runs or one the round's creator runs.
Events are taken in chain order, as objects with `contract`, `name` and `args` (the ledger's decoded
events) or as mappings in their JSON form (`contract`, `event`, `args`). The timing of proposals and
ballots is not visible in events and is left to the contract.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from governance.errors import InvalidBallot, InvalidProposal
from governance.qv import Payout, ProposalEntry, RoundModel, SelectionRule

BUDGET_CONTRACT = "ParticipatoryBudget"
FUND_CONTRACT = "FundLedger"


class EventLike(Protocol):
    """A decoded event: which contract emitted it, its name and its arguments."""

    @property
    def contract(self) -> str: ...

    @property
    def name(self) -> str: ...

    @property
    def args(self) -> Mapping[str, Any]: ...


@dataclass
class RoundAudit:
    """What the events say about one round, what the model recomputes, and where they differ."""

    round_id: int
    model: RoundModel
    creator: str
    token: str
    voting_start: int
    voting_end: int
    voter_root: bytes
    metadata_hash: bytes
    finalised: bool = False
    settled: bool = False
    abandoned: bool = False
    abandoned_for: int = 0  # the expired lot the round was abandoned for
    cancelled: bool = False  # cancelled before any ballot (then also `abandoned`)
    lots: dict[int, int] = field(default_factory=dict)  # reservation id -> lot id
    ballots_cast: int = 0
    tallied: list[tuple[int, int, bool]] = field(default_factory=list)  # (proposal, votes, selected)
    allocations: list[Payout] = field(default_factory=list)
    releases: list[tuple[int, int]] = field(default_factory=list)  # (reservation, amount)
    mismatches: list[str] = field(default_factory=list)

    @property
    def tallies(self) -> dict[int, int]:
        """Votes per active proposal, recomputed from the ballots."""
        return self.model.tallies()

    @property
    def winners(self) -> tuple[int, ...]:
        """Winners by the round's rule, recomputed, in finalisation order."""
        return self.model.selection().winners

    @property
    def allocated(self) -> int:
        """Money the chain allocated from the round's reservations."""
        return sum(p.amount for p in self.allocations)

    @property
    def released(self) -> int:
        """Money the chain released from the round's reservations back to the lots."""
        return sum(amount for _, amount in self.releases)

    @property
    def closed_by(self) -> str | None:
        """What ended the round's ballots and proposals: "abandonment", "finalisation" or nothing yet."""
        if self.cancelled:
            return "cancellation"
        if self.abandoned:
            return "abandonment"
        return "finalisation" if self.finalised else None


@dataclass
class AuditReport:
    """Every round found in the events."""

    rounds: dict[int, RoundAudit] = field(default_factory=dict)
    stray: list[str] = field(default_factory=list)  # events naming rounds that were never created

    @property
    def mismatches(self) -> list[str]:
        """Every mismatch, each prefixed with its round."""
        found = list(self.stray)
        for rid, audit in sorted(self.rounds.items()):
            found.extend(f"round {rid}: {m}" for m in audit.mismatches)
        return found

    @property
    def ok(self) -> bool:
        """True when the events agree with the recomputation everywhere."""
        return not self.mismatches


def _parts(event: EventLike | Mapping[str, Any]) -> tuple[str, str, Mapping[str, Any]]:
    if isinstance(event, Mapping):
        return str(event["contract"]), str(event["event"]), event["args"]
    return event.contract, event.name, event.args


def _bytes(value: Any) -> bytes:
    return value if isinstance(value, bytes) else bytes.fromhex(str(value).removeprefix("0x"))


class _Replay:
    def __init__(self) -> None:
        self.report = AuditReport()
        self.reservations: dict[int, int] = {}  # reservation id -> round id
        self.expiries: dict[int, int] = {}  # lot id -> expiry (0: never), for lots whose deposit was seen
        self.funders: dict[int, str] = {}  # lot id -> funder, for lots whose deposit was seen
        self.allocators: dict[int, set[str]] = {}  # lot id -> allocators its funder named (not revoked)
        self.program_ngos: dict[
            int, str
        ] = {}  # program id -> the NGO running it, where its creation was seen

    def apply(self, event: EventLike | Mapping[str, Any]) -> None:
        contract, name, args = _parts(event)
        if contract == FUND_CONTRACT:
            self._fund_event(name, args)
            return
        if contract != BUDGET_CONTRACT:
            return
        handler = getattr(self, "_on_" + name, None)
        if handler is None:
            return
        rid = int(args["roundId"])
        if name == "RoundCreated":
            handler(rid, args)
            return
        audit = self.report.rounds.get(rid)
        if audit is None:
            self.report.stray.append(f"{name} for round {rid}, which was never created")
            return
        handler(audit, args)

    def _on_RoundCreated(self, rid: int, a: Mapping[str, Any]) -> None:
        model = RoundModel(budget=int(a["budget"]), credits=int(a["credits"]), min_cost=0, max_cost=0)
        self.report.rounds[rid] = RoundAudit(
            rid,
            model,
            creator=str(a["creator"]),
            token=str(a["token"]),
            voting_start=int(a["votingStart"]),
            voting_end=int(a["votingEnd"]),
            voter_root=_bytes(a["voterRoot"]),
            metadata_hash=_bytes(a["metadataHash"]),
        )

    def _on_RoundRulesSet(self, audit: RoundAudit, a: Mapping[str, Any]) -> None:
        m = audit.model
        m.min_cost, m.max_cost = int(a["minCost"]), int(a["maxCost"])
        m.rule, m.min_votes = SelectionRule(int(a["rule"])), int(a["minVotes"])

    def _on_RoundFunded(self, audit: RoundAudit, a: Mapping[str, Any]) -> None:
        reservation, lot = int(a["reservationId"]), int(a["lotId"])
        audit.model.fundings.append((reservation, int(a["amount"])))
        audit.lots[reservation] = lot
        self.reservations[reservation] = audit.round_id
        funder = self.funders.get(lot)
        if (
            funder is not None
            and audit.creator != funder
            and audit.creator not in self.allocators.get(lot, ())
        ):
            audit.mismatches.append(f"funded from lot {lot} without its funder's consent")
        expiry = self.expiries.get(lot, 0)
        if expiry and expiry <= audit.voting_end:
            audit.mismatches.append(
                f"funded from lot {lot}, which expires at {expiry}, "
                f"not after voting ends at {audit.voting_end}"
            )

    def _on_ProposalSubmitted(self, audit: RoundAudit, a: Mapping[str, Any]) -> None:
        m, pid = audit.model, int(a["proposalId"])
        if audit.closed_by:
            audit.mismatches.append(f"proposal {pid} submitted after {audit.closed_by}")
        if pid != len(m.proposals) + 1:
            audit.mismatches.append(f"proposal id {pid} where {len(m.proposals) + 1} comes next")
        entry = ProposalEntry(
            str(a["proposer"]), int(a["programId"]), int(a["amount"]), _bytes(a["contentHash"])
        )
        if not m.min_cost <= entry.amount <= m.max_cost:
            audit.mismatches.append(f"proposal {pid} asks {entry.amount}, outside {m.min_cost}..{m.max_cost}")
        ngo = self.program_ngos.get(entry.program_id)
        if ngo is not None and entry.proposer != ngo and audit.creator != ngo:
            audit.mismatches.append(
                f"proposal {pid} names program {entry.program_id}, not run by its proposer or the creator"
            )
        m.proposals[pid] = entry  # under the chain's id, so later events line up

    def _on_ProposalWithdrawn(self, audit: RoundAudit, a: Mapping[str, Any]) -> None:
        pid = int(a["proposalId"])
        try:
            audit.model.withdraw(pid)
        except InvalidProposal as exc:
            audit.mismatches.append(f"withdrawal of proposal {pid} accepted though {exc}")

    def _on_BallotCast(self, audit: RoundAudit, a: Mapping[str, Any]) -> None:
        voter, ids, votes = str(a["voter"]), list(a["proposalIds"]), list(a["votes"])
        audit.ballots_cast += 1
        if audit.closed_by:
            audit.mismatches.append(f"ballot of {voter} cast after {audit.closed_by}")
            return
        if ids != sorted(set(ids)) or len(ids) != len(votes) or 0 in votes:
            audit.mismatches.append(f"ballot of {voter} is not canonical: ids {ids}, votes {votes}")
            return
        try:
            cost = audit.model.cast(voter, dict(zip(ids, votes, strict=True)))
        except InvalidBallot as exc:
            audit.mismatches.append(f"ballot of {voter} accepted though {exc}")
            return
        if cost != int(a["creditsSpent"]):
            audit.mismatches.append(
                f"ballot of {voter} costs {cost} credits, the event says {a['creditsSpent']}"
            )

    def _on_ProposalTallied(self, audit: RoundAudit, a: Mapping[str, Any]) -> None:
        audit.tallied.append((int(a["proposalId"]), int(a["votes"]), bool(a["selected"])))

    def _on_RoundFinalised(self, audit: RoundAudit, a: Mapping[str, Any]) -> None:
        m, out = audit.model, audit.mismatches
        if audit.closed_by:
            out.append(f"finalised after {audit.closed_by}")
        audit.finalised = True
        funded = sum(amount for _, amount in m.fundings)
        if funded != m.budget:
            out.append(f"reservations of {funded} back a budget of {m.budget}")
        tallies, selection = m.tallies(), m.selection()
        order = [pid for pid, _, _ in audit.tallied]
        if order != list(selection.order):
            out.append(f"tallied in order {order}, the finalisation order is {list(selection.order)}")
        for pid, votes, _ in audit.tallied:
            if tallies.get(pid) != votes:
                out.append(f"proposal {pid} tallied {votes} votes, the ballots give {tallies.get(pid)}")
        chosen = [pid for pid, _, selected in audit.tallied if selected]
        if chosen != list(selection.winners):
            out.append(f"selected {chosen}, the rule selects {list(selection.winners)}")
        if int(a["winners"]) != len(selection.winners) or int(a["awarded"]) != selection.awarded:
            out.append(
                f"finalised with {a['winners']} winners and {a['awarded']} awarded, "
                f"the rule gives {len(selection.winners)} and {selection.awarded}"
            )

    def _on_RoundSettled(self, audit: RoundAudit, a: Mapping[str, Any]) -> None:
        out = audit.mismatches
        if not audit.finalised:
            out.append("settled before it was finalised")
        if audit.abandoned or audit.settled:
            out.append("settled after " + ("abandonment" if audit.abandoned else "settling"))
        audit.settled = True
        self._check_money(audit, "settled", a, None)

    def _on_RoundAbandoned(self, audit: RoundAudit, a: Mapping[str, Any]) -> None:
        out, lot = audit.mismatches, int(a["lotId"])
        if audit.abandoned or audit.settled:
            out.append("abandoned after " + ("abandonment" if audit.abandoned else "settling"))
        audit.abandoned, audit.abandoned_for = True, lot
        if lot not in audit.lots.values():
            out.append(f"abandoned for lot {lot}, which does not fund the round")
        elif self.expiries.get(lot) == 0:
            out.append(f"abandoned for lot {lot}, which never expires")
        # The winners paid before: a prefix of the winners whose amounts add up to what was allocated.
        paid = 0
        if audit.finalised:
            m = audit.model
            amounts = [m.proposals[w].amount for w in m.selection().winners]
            total = 0
            while paid < len(amounts) and total + amounts[paid] <= audit.allocated:
                total += amounts[paid]
                paid += 1
        self._check_money(audit, "abandoned", a, paid)

    def _on_RoundCancelled(self, audit: RoundAudit, a: Mapping[str, Any]) -> None:
        out = audit.mismatches
        if audit.closed_by or audit.settled:
            out.append(f"cancelled after {audit.closed_by or 'settling'}")
        if audit.ballots_cast:
            out.append(f"cancelled after {audit.ballots_cast} ballots")
        audit.abandoned = audit.cancelled = True
        self._check_money(audit, "cancelled", {**a, "awarded": 0}, 0)

    def _check_money(self, audit: RoundAudit, done: str, a: Mapping[str, Any], paid: int | None) -> None:
        """At settlement (`paid` None: every winner) or abandonment (after `paid` winners): the ledger
        allocated exactly their payouts, released every other euro, and the event says so."""
        m, out = audit.model, audit.mismatches
        payouts, releases = m.payouts(paid)
        if audit.allocations != payouts:
            who = "the winners need" if paid is None else f"the first {paid} winners need"
            out.append(f"allocated {_show(audit.allocations)}, {who} {_show(payouts)}")
        # Compared per reservation: after its lot's expiry anyone may release one directly, earlier.
        if _per_reservation(audit.releases) != _per_reservation(releases):
            out.append(f"released {audit.releases}, the rest is {releases}")
        if int(a["awarded"]) != audit.allocated or int(a["released"]) != audit.released:
            out.append(
                f"{done} as {a['awarded']} awarded and {a['released']} released, the ledger moved "
                f"{audit.allocated} and {audit.released}"
            )
        if audit.allocated + audit.released != m.budget:
            out.append(f"{audit.allocated} allocated + {audit.released} released != budget {m.budget}")

    def _fund_event(self, name: str, a: Mapping[str, Any]) -> None:
        if name == "LotDeposited":
            self.expiries[int(a["lotId"])] = int(a["expiry"])
            self.funders[int(a["lotId"])] = str(a["funder"])
            return
        if name == "LotAllocatorSet":
            named = self.allocators.setdefault(int(a["lotId"]), set())
            (named.add if a["allowed"] else named.discard)(str(a["allocator"]))
            return
        if name == "ProgramCreated":
            self.program_ngos[int(a["programId"])] = str(a["ngo"])
            return
        if name not in ("Allocated", "ReservationReleased"):
            return
        rid = self.reservations.get(int(a["reservationId"]))
        if rid is None:
            return
        audit = self.report.rounds[rid]
        if name == "Allocated":
            if not audit.finalised:
                audit.mismatches.append(f"reservation {a['reservationId']} allocated before finalisation")
            if audit.abandoned or audit.settled:
                after = "abandonment" if audit.abandoned else "settling"
                audit.mismatches.append(f"reservation {a['reservationId']} allocated after {after}")
            audit.allocations.append(Payout(int(a["reservationId"]), int(a["programId"]), int(a["amount"])))
        elif int(a["amount"]):
            audit.releases.append((int(a["reservationId"]), int(a["amount"])))

    def finish(self) -> AuditReport:
        for audit in self.report.rounds.values():
            if audit.finalised and not audit.settled and not audit.abandoned:
                payouts, _ = audit.model.payouts()
                if audit.allocations != payouts[: len(audit.allocations)]:
                    audit.mismatches.append(
                        f"allocated {_show(audit.allocations)}, the winners need {_show(payouts)}"
                    )
        return self.report


def _show(payouts: list[Payout]) -> str:
    return (
        "["
        + ", ".join(
            f"{p.amount} of reservation {p.reservation_id} to program {p.program_id}" for p in payouts
        )
        + "]"
    )


def _per_reservation(releases: list[tuple[int, int]]) -> dict[int, int]:
    out: dict[int, int] = {}
    for reservation, amount in releases:
        out[reservation] = out.get(reservation, 0) + amount
    return out


def verify_rounds(events: Iterable[EventLike | Mapping[str, Any]]) -> AuditReport:
    """Recompute every round from `events` (in chain order) and report each mismatch."""
    replay = _Replay()
    for event in events:
        replay.apply(event)
    return replay.finish()
