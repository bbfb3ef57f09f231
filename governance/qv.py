"""Quadratic voting and greedy budget selection: the plain-Python reference of `ParticipatoryBudget`.

A ballot maps proposal ids to non-negative votes; `n` votes cost `n * n` voice credits and a
ballot may cost at most the round's credits. A voter's new ballot replaces the earlier one.

Finalisation order: proposals by votes descending, ties broken by the lower proposal id first.
Winners are taken along that order: a proposal with fewer than `min_votes` votes never wins; one
that fits the remaining budget wins; one that does not is skipped (`GREEDY_SKIP`, as CONSUL
Democracy does) or ends the selection (`GREEDY_STOP`). The winners' amounts are drawn from the
round's reservations first in, first out; what is left goes back to the lots. A round abandoned
(one of its lots expired before it was settled) keeps what the winners paid before received and
gives the rest back: `RoundModel.payouts(paid)`.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import IntEnum

from governance.errors import InvalidBallot, InvalidProposal

MAX_VOTES = 2**16 - 1
"""The most votes one ballot entry can carry (the contract stores them in 16 bits)."""

Ballot = Mapping[int, int]
"""Proposal id -> votes."""


class SelectionRule(IntEnum):
    """How winners are taken along the finalisation order (values as in the contract)."""

    GREEDY_SKIP = 0
    GREEDY_STOP = 1


@dataclass(frozen=True)
class Candidate:
    """An active proposal as selection sees it."""

    id: int
    cost: int
    votes: int


@dataclass(frozen=True)
class Selection:
    """The outcome of selection: the order walked, the winners along it, and the money."""

    order: tuple[int, ...]
    winners: tuple[int, ...]
    awarded: int
    remaining: int


@dataclass(frozen=True)
class Payout:
    """One allocation a finalisation makes: `amount` of a reservation to a program."""

    reservation_id: int
    program_id: int
    amount: int


def normalise_ballot(votes: Ballot) -> dict[int, int]:
    """The ballot without zero entries, ids ascending; InvalidBallot for negative or oversized votes."""
    for pid, v in votes.items():
        if v < 0:
            raise InvalidBallot(f"negative votes ({v}) on proposal {pid}")
        if v > MAX_VOTES:
            raise InvalidBallot(f"{v} votes on proposal {pid} exceed {MAX_VOTES}")
    return {pid: votes[pid] for pid in sorted(votes) if votes[pid]}


def ballot_cost(votes: Ballot) -> int:
    """Voice credits a ballot costs: the sum of the squared votes."""
    return sum(v * v for v in normalise_ballot(votes).values())


def check_ballot(votes: Ballot, credits: int, active: Collection[int]) -> int:
    """The ballot's cost; InvalidBallot when it names an inactive proposal or costs more than `credits`."""
    clean = normalise_ballot(votes)
    for pid in clean:
        if pid not in active:
            raise InvalidBallot(f"proposal {pid} is not open for votes")
    cost = sum(v * v for v in clean.values())
    if cost > credits:
        raise InvalidBallot(f"the ballot costs {cost} credits, more than {credits}")
    return cost


def tally(ballots: Iterable[Ballot], proposals: Iterable[int] = ()) -> dict[int, int]:
    """Votes per proposal summed over `ballots`; `proposals` are listed even without votes."""
    totals = dict.fromkeys(proposals, 0)
    for ballot in ballots:
        for pid, v in ballot.items():
            totals[pid] = totals.get(pid, 0) + v
    return totals


def finalisation_order(tallies: Mapping[int, int]) -> list[int]:
    """Proposal ids by votes descending, ties by the lower id first."""
    return sorted(tallies, key=lambda pid: (-tallies[pid], pid))


def select(
    candidates: Iterable[Candidate],
    budget: int,
    rule: SelectionRule = SelectionRule.GREEDY_SKIP,
    min_votes: int = 0,
) -> Selection:
    """Winners along the finalisation order within `budget`, by `rule`."""
    by_id = {c.id: c for c in candidates}
    order = finalisation_order({c.id: c.votes for c in by_id.values()})
    remaining = budget
    winners = []
    for pid in order:
        c = by_id[pid]
        if c.votes < min_votes:
            break  # everything after has no more votes
        if c.cost <= remaining:
            winners.append(pid)
            remaining -= c.cost
        elif rule is SelectionRule.GREEDY_STOP:
            break
    return Selection(tuple(order), tuple(winners), budget - remaining, remaining)


def payout_plan(
    winners: Sequence[tuple[int, int]], fundings: Sequence[tuple[int, int]]
) -> tuple[list[Payout], list[tuple[int, int]]]:
    """Allocations for `(program id, amount)` winners drawn from `(reservation id, amount)` fundings
    first in, first out, and the `(reservation id, rest)` released afterwards (non-zero rests only)."""
    left = [[rid, amount] for rid, amount in fundings]
    payouts = []
    cursor = 0
    for program_id, amount in winners:
        need = amount
        while need:
            if cursor >= len(left):
                raise ValueError("the winners need more than the fundings hold")
            take = min(need, left[cursor][1])
            if take:
                payouts.append(Payout(left[cursor][0], program_id, take))
                left[cursor][1] -= take
                need -= take
            if left[cursor][1] == 0:
                cursor += 1
    return payouts, [(rid, rest) for rid, rest in left if rest]


@dataclass
class ProposalEntry:
    """A proposal the model holds."""

    proposer: str
    program_id: int
    amount: int
    content_hash: bytes = bytes(32)
    withdrawn: bool = False


@dataclass
class RoundModel:
    """One round's proposals and ballots, and what selection and payout make of them."""

    budget: int
    credits: int
    min_cost: int
    max_cost: int
    rule: SelectionRule = SelectionRule.GREEDY_SKIP
    min_votes: int = 0
    fundings: list[tuple[int, int]] = field(default_factory=list)  # (reservation id, amount)
    proposals: dict[int, ProposalEntry] = field(default_factory=dict)
    ballots: dict[str, dict[int, int]] = field(default_factory=dict)

    def submit(self, proposer: str, program_id: int, amount: int, content_hash: bytes = bytes(32)) -> int:
        """Add a proposal; returns its id (ids count from 1)."""
        if not self.min_cost <= amount <= self.max_cost:
            raise InvalidProposal(f"{amount} lies outside {self.min_cost}..{self.max_cost}")
        pid = len(self.proposals) + 1
        self.proposals[pid] = ProposalEntry(proposer, program_id, amount, content_hash)
        return pid

    def withdraw(self, proposal_id: int) -> None:
        """Withdraw an active proposal."""
        if proposal_id not in self.active():
            raise InvalidProposal(f"proposal {proposal_id} is not active")
        self.proposals[proposal_id].withdrawn = True

    def active(self) -> list[int]:
        """Ids of proposals not withdrawn."""
        return [pid for pid, p in self.proposals.items() if not p.withdrawn]

    def cast(self, voter: str, votes: Ballot) -> int:
        """Replace `voter`'s ballot (an empty one takes it back); returns its cost."""
        cost = check_ballot(votes, self.credits, set(self.active()))
        clean = normalise_ballot(votes)
        if clean:
            self.ballots[voter] = clean
        else:
            self.ballots.pop(voter, None)
        return cost

    def spent(self, voter: str) -> int:
        """Credits `voter`'s current ballot costs."""
        return ballot_cost(self.ballots.get(voter, {}))

    def tallies(self) -> dict[int, int]:
        """Votes per active proposal."""
        return tally(self.ballots.values(), self.active())

    def selection(self) -> Selection:
        """Winners by the round's rule."""
        totals = self.tallies()
        candidates = [Candidate(pid, self.proposals[pid].amount, totals[pid]) for pid in totals]
        return select(candidates, self.budget, self.rule, self.min_votes)

    def payouts(self, paid: int | None = None) -> tuple[list[Payout], list[tuple[int, int]]]:
        """The allocations finalisation makes and the rests it releases; with `paid`, those of the first
        `paid` winners only and the rests after them (what an abandonment releases; 0 before finalisation)."""
        chosen = self.selection().winners if paid != 0 else ()
        if paid is not None:
            chosen = chosen[:paid]
        winners = [(self.proposals[p].program_id, self.proposals[p].amount) for p in chosen]
        return payout_plan(winners, self.fundings)
