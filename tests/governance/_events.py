"""Events as an honest chain would emit them for a round, built from the reference model.

The verifier tests tamper with these to see each mismatch reported; the pabulib tests export them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from governance.qv import RoundModel, SelectionRule

BUDGET_C = "ParticipatoryBudget"
FUNDS_C = "FundLedger"


@dataclass(frozen=True)
class Ev:
    """A decoded event, as the ledger's `Event` offers it to the verifier."""

    contract: str
    name: str
    args: dict[str, Any]


@dataclass
class HonestChain:
    """Emits a round's events in the order the contract does."""

    round_id: int = 1
    events: list[Ev] = field(default_factory=list)
    model: RoundModel | None = None
    next_reservation: int = 1
    lots: list[tuple[int, int]] = field(default_factory=list)  # (reservation id, lot id)

    def deposit(self, lot_id: int, expiry: int = 0, *, consent: bool = True) -> None:
        """The fund ledger's `LotDeposited` for a lot (the verifier learns its expiry and funder from it),
        and with `consent` the funder's `LotAllocatorSet` naming the round's creator for it."""
        self._emit(
            FUNDS_C,
            "LotDeposited",
            lotId=lot_id,
            funder="0xF0",
            token="0x70",
            amount=10**9,
            earmark=0,
            expiry=expiry,
        )
        if consent:
            self._emit(
                FUNDS_C, "LotAllocatorSet", lotId=lot_id, funder="0xF0", allocator="0xC0", allowed=True
            )

    def create(
        self,
        fundings: list[tuple[int, int]],  # (lot id, amount)
        *,
        credits: int = 100,
        min_cost: int = 1,
        max_cost: int = 10**6,
        rule: SelectionRule = SelectionRule.GREEDY_SKIP,
        min_votes: int = 0,
    ) -> RoundModel:
        budget = sum(amount for _, amount in fundings)
        self.model = RoundModel(budget, credits, min_cost, max_cost, rule, min_votes)
        rid = self.round_id
        self._emit(
            BUDGET_C,
            "RoundCreated",
            roundId=rid,
            creator="0xC0",
            token="0x70",
            budget=budget,
            votingStart=1_700_000_000,
            votingEnd=1_700_900_000,
            voterRoot=b"\x01" * 32,
            credits=credits,
            metadataHash=b"\x02" * 32,
        )
        self._emit(
            BUDGET_C,
            "RoundRulesSet",
            roundId=rid,
            minCost=min_cost,
            maxCost=max_cost,
            rule=rule,
            minVotes=min_votes,
        )
        for lot_id, amount in fundings:
            res = self.next_reservation
            self.next_reservation += 1
            self._emit(FUNDS_C, "Reserved", reservationId=res, lotId=lot_id, holder="0xB0", amount=amount)
            self._emit(BUDGET_C, "RoundFunded", roundId=rid, reservationId=res, lotId=lot_id, amount=amount)
            self.model.fundings.append((res, amount))
            self.lots.append((res, lot_id))
        return self.model

    def submit(self, proposer: str, program_id: int, amount: int) -> int:
        assert self.model is not None
        pid = self.model.submit(proposer, program_id, amount)
        self._emit(
            BUDGET_C,
            "ProposalSubmitted",
            roundId=self.round_id,
            proposalId=pid,
            proposer=proposer,
            programId=program_id,
            amount=amount,
            contentHash=bytes(32),
        )
        return pid

    def withdraw(self, pid: int) -> None:
        assert self.model is not None
        self.model.withdraw(pid)
        self._emit(BUDGET_C, "ProposalWithdrawn", roundId=self.round_id, proposalId=pid)

    def cast(self, voter: str, votes: dict[int, int]) -> None:
        assert self.model is not None
        cost = self.model.cast(voter, votes)
        ids = sorted(p for p, v in votes.items() if v)
        self._emit(
            BUDGET_C,
            "BallotCast",
            roundId=self.round_id,
            voter=voter,
            proposalIds=tuple(ids),
            votes=tuple(votes[p] for p in ids),
            creditsSpent=cost,
        )

    def finalise(self, *, pay: int | None = None) -> None:
        """Finalise and pay `pay` winners (all when None)."""
        assert self.model is not None
        m, rid = self.model, self.round_id
        selection, tallies = m.selection(), m.tallies()
        for pid in selection.order:
            self._emit(
                BUDGET_C,
                "ProposalTallied",
                roundId=rid,
                proposalId=pid,
                votes=tallies[pid],
                selected=pid in selection.winners,
            )
        self._emit(
            BUDGET_C,
            "RoundFinalised",
            roundId=rid,
            finaliser="0xF1",
            winners=len(selection.winners),
            awarded=selection.awarded,
        )
        payouts, releases = m.payouts()
        if pay is not None:
            # stop after `pay` winners: their payouts come first in the plan
            amounts = [m.proposals[w].amount for w in selection.winners[:pay]]
            payouts = _first(payouts, sum(amounts))
        for allocation_id, p in enumerate(payouts, start=1):
            self._emit(
                FUNDS_C,
                "Allocated",
                allocationId=allocation_id,
                lotId=0,
                programId=p.program_id,
                amount=p.amount,
                allocator="0xB0",
                reservationId=p.reservation_id,
            )
        if pay is None:
            for res, rest in releases:
                self._emit(
                    FUNDS_C, "ReservationReleased", reservationId=res, lotId=0, amount=rest, toFunder=False
                )
            self._emit(
                BUDGET_C,
                "RoundSettled",
                roundId=rid,
                awarded=selection.awarded,
                released=sum(r for _, r in releases),
            )

    def abandon(self, lot_id: int, *, paid: int = 0) -> None:
        """Abandon the round for expired lot `lot_id` after `paid` winners were paid (0 if not finalised)."""
        assert self.model is not None
        _, releases = self.model.payouts(paid)
        lots = dict(self.lots)
        for res, rest in releases:
            self._emit(
                FUNDS_C,
                "ReservationReleased",
                reservationId=res,
                lotId=lots[res],
                amount=rest,
                toFunder=False,
            )
        released = sum(r for _, r in releases)
        self._emit(
            BUDGET_C,
            "RoundAbandoned",
            roundId=self.round_id,
            caller="0xF2",
            lotId=lot_id,
            awarded=self.model.budget - released,
            released=released,
        )

    def cancel(self, account: str = "0xC0") -> None:
        """Cancel the round before any ballot: every reservation goes back to its lot."""
        assert self.model is not None
        _, releases = self.model.payouts(0)
        lots = dict(self.lots)
        for res, rest in releases:
            self._emit(
                FUNDS_C,
                "ReservationReleased",
                reservationId=res,
                lotId=lots[res],
                amount=rest,
                toFunder=False,
            )
        released = sum(r for _, r in releases)
        self._emit(BUDGET_C, "RoundCancelled", roundId=self.round_id, account=account, released=released)

    def _emit(self, contract: str, name: str, **args: Any) -> None:
        self.events.append(Ev(contract, name, args))


def _first(payouts: list[Any], total: int) -> list[Any]:
    out, taken = [], 0
    for p in payouts:
        if taken >= total:
            break
        out.append(p)
        taken += p.amount
    return out


def sample_round() -> HonestChain:
    """A small finalised round: budget 1,000 from two lots, four proposals, three voters, one re-vote."""
    chain = HonestChain()
    chain.create([(1, 600), (2, 400)], max_cost=1_000)
    chain.submit("0xA1", 11, 600)
    chain.submit("0xA2", 12, 500)
    chain.submit("0xA3", 13, 300)
    chain.submit("0xA1", 14, 200)
    chain.submit("0xA4", 15, 100)
    chain.withdraw(5)
    chain.cast("0xV1", {1: 9, 2: 4})
    chain.cast("0xV2", {2: 5, 3: 2})
    chain.cast("0xV3", {1: 1})
    chain.cast("0xV3", {3: 3})  # re-vote replaces {1: 1}
    chain.finalise()
    return chain
