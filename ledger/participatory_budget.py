"""Typed access to the ParticipatoryBudget contract: quadratic-voting rounds the fund ledger pays out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from eth_account.signers.local import LocalAccount

from ledger.calls import Call
from ledger.contracts import ContractClient
from ledger.forwarding import Forwarder
from ledger.transactions import TransactionSender, TxResult

PROPOSALS_LIMIT = 500
"""The most proposals a round may hold (the contract's `PROPOSALS_LIMIT`; deployments use it as their cap)."""

MAX_VOTING_LENGTH = 366 * 24 * 3600
"""The deployments' longest time from a round's creation to the end of its voting (a year and a day)."""

MIN_PROPOSAL_COST = 1_000_000
"""The deployments' least amount a proposal may ask for: one euro of a 6-decimal token (no dust proposals)."""

ALL_PAYOUTS = 2**256 - 1
"""`max_payouts` that pays every winner in the finalising transaction."""


class SelectionRule(IntEnum):
    """How winners are chosen along the finalisation order, as in `IParticipatoryBudget.SelectionRule`."""

    GREEDY_SKIP = 0  # skip what no longer fits (CONSUL Democracy)
    GREEDY_STOP = 1  # stop at the first that does not fit


class Phase(IntEnum):
    """Where a round is in its life."""

    NONE = 0
    PROPOSALS = 1
    VOTING = 2
    TALLY = 3
    FINALISED = 4
    ABANDONED = 5  # a lot expired before the round was settled: the money it held went back


class ProposalStatus(IntEnum):
    """Life of a proposal."""

    NONE = 0
    SUBMITTED = 1
    WITHDRAWN = 2
    SELECTED = 3


@dataclass(frozen=True)
class RoundParams:
    """What a round's creator fixes for the round's life."""

    voting_start: int
    voting_end: int
    voter_root: bytes
    credits: int
    min_cost: int
    max_cost: int
    rule: SelectionRule = SelectionRule.GREEDY_SKIP
    min_votes: int = 0
    metadata_hash: bytes = bytes(32)

    def as_tuple(self) -> tuple[Any, ...]:
        """The `RoundParams` struct as the ABI encodes it."""
        return (
            self.voting_start,
            self.voting_end,
            self.voter_root,
            self.credits,
            self.min_cost,
            self.max_cost,
            int(self.rule),
            self.min_votes,
            self.metadata_hash,
        )


@dataclass
class Round:
    """A round as the contract stores it."""

    voting_start: int
    voting_end: int
    credits: int
    proposal_count: int
    active_count: int
    rule: SelectionRule
    finalised: bool
    abandoned: bool  # abandoned after a lot expired, or cancelled before any ballot
    balloted: bool  # at least one ballot was cast: the round can no longer be cancelled
    min_votes: int
    voter_root: bytes
    creator: str
    winner_count: int
    paid_count: int
    funding_cursor: int
    settled: bool
    token: str
    funding_expiry: int  # the earliest expiry of the round's lots (0: none expires): settle before it
    budget: int
    awarded: int  # chosen at finalisation; after an abandonment, what the winners paid before received
    min_cost: int
    max_cost: int
    metadata_hash: bytes


@dataclass
class Proposal:
    """A proposed project."""

    proposer: str
    program_id: int
    amount: int
    votes: int
    status: ProposalStatus
    content_hash: bytes


@dataclass(frozen=True)
class Funding:
    """A reservation backing a round and what of it is not yet allocated."""

    reservation_id: int
    lot_id: int
    remaining: int


def ballot_arrays(votes: Mapping[int, int]) -> tuple[list[int], list[int]]:
    """(proposal ids ascending, votes) as `castBallot` takes them; zero entries left out.

    Raises ValueError for negative votes: the contract's unsigned votes cannot express them.
    """
    if any(v < 0 for v in votes.values()):
        raise ValueError("votes cannot be negative")
    ids = sorted(pid for pid, v in votes.items() if v)
    return ids, [votes[pid] for pid in ids]


# Gas allowed per relayed call, from measured figures (`make bench`) with room to spare.
GAS_CREATE = 350_000
GAS_PER_FUNDING = 120_000  # each lot reserved for the round
GAS_PROPOSAL = 250_000
GAS_WITHDRAW = 120_000
GAS_BALLOT = 120_000
GAS_PER_BALLOT_ENTRY = 20_000  # each entry of the new ballot
GAS_PER_RETRACTED_ENTRY = 10_000  # each entry of the ballot it replaces
GAS_FINALISE = 200_000
GAS_PER_ORDERED = 15_000  # each proposal in the finalisation order
GAS_PER_PAYOUT = 150_000  # an allocation to a program, up to a fresh one
GAS_PER_FUNDING_SETTLED = 40_000
GAS_ABANDON = 120_000
GAS_CANCEL = 120_000
GAS_PER_FUNDING_RELEASED = 60_000  # reading a funding's lot expiry and releasing it (cancel, abandon)


class ParticipatoryBudgetClient(ContractClient):
    """The ParticipatoryBudget contract with typed arguments and results.

    Pass `relayer=` to a user's call to have that user sign it and the relayer submit it through
    the ERC-2771 forwarder (the user needs no gas; the contract still sees the user as sender).
    """

    def __init__(self, sender: TransactionSender, address: str, forwarding: Forwarder | None = None) -> None:
        super().__init__(sender, "ParticipatoryBudget", address)
        self.forwarding = forwarding

    def _send(
        self, account: LocalAccount, function: str, *args: Any, relayer: LocalAccount | None, gas: int | None
    ) -> TxResult:
        if relayer is None:
            return self.transact(account, function, *args, gas=gas)
        if self.forwarding is None:
            raise ValueError("this client has no forwarder to relay through")
        request = self.forwarding.sign(account, self.address, self.encode(function, *args))
        return self.forwarding.execute(relayer, request, gas=gas)

    # --- calls to relay, each with its gas rule ------------------------------------------

    def create_round_call(self, params: RoundParams, lots: Sequence[int], amounts: Sequence[int]) -> Call:
        """An NGO creates a round funded by reservations of `lots`."""
        gas = GAS_CREATE + GAS_PER_FUNDING * len(lots)
        return self.build("createRound", params.as_tuple(), list(lots), list(amounts), gas=gas)

    def submit_proposal_call(
        self, round_id: int, program_id: int, amount: int, content_hash: bytes, proof: Sequence[bytes] = ()
    ) -> Call:
        """An NGO (no proof) or an eligible client (with proof) proposes `amount` for a program."""
        return self.build(
            "submitProposal", round_id, program_id, amount, content_hash, list(proof), gas=GAS_PROPOSAL
        )

    def withdraw_proposal_call(self, round_id: int, proposal_id: int) -> Call:
        """The proposer withdraws its proposal before voting opens."""
        return self.build("withdrawProposal", round_id, proposal_id, gas=GAS_WITHDRAW)

    def cast_ballot_call(
        self, round_id: int, votes: Mapping[int, int], proof: Sequence[bytes], retracted_entries: int
    ) -> Call:
        """A voter casts (or replaces, a ballot of `retracted_entries` entries) its ballot."""
        ids, counts = ballot_arrays(votes)
        gas = GAS_BALLOT + GAS_PER_BALLOT_ENTRY * len(ids) + GAS_PER_RETRACTED_ENTRY * retracted_entries
        return self.build("castBallot", round_id, ids, counts, list(proof), gas=gas)

    def finalise_call(
        self, round_id: int, order: Sequence[int], max_payouts: int, winners: int, fundings: int
    ) -> Call:
        """Finalise with `order`, paying up to `max_payouts` of the expected `winners`."""
        gas = GAS_FINALISE + GAS_PER_ORDERED * len(order) + GAS_PER_PAYOUT * min(winners, max_payouts)
        gas += GAS_PER_FUNDING_SETTLED * fundings
        return self.build("finalise", round_id, list(order), max_payouts, gas=gas)

    def pay_winners_call(self, round_id: int, max_payouts: int, fundings: int) -> Call:
        """Pay up to `max_payouts` further winners of a finalised round (anyone may)."""
        gas = GAS_FINALISE + GAS_PER_PAYOUT * max_payouts + GAS_PER_FUNDING_SETTLED * fundings
        return self.build("payWinners", round_id, max_payouts, gas=gas)

    def cancel_round_call(self, round_id: int, fundings: int) -> Call:
        """Cancel a round before its first ballot (its creator or a funder of one of its lots)."""
        return self.build("cancelRound", round_id, gas=GAS_CANCEL + GAS_PER_FUNDING_RELEASED * fundings)

    def abandon_call(self, round_id: int, fundings: int) -> Call:
        """Abandon a round holding money of an expired lot (anyone may)."""
        return self.build("abandon", round_id, gas=GAS_ABANDON + GAS_PER_FUNDING_RELEASED * fundings)

    # --- state changes -------------------------------------------------------------------

    def create_round(
        self,
        creator: LocalAccount,
        params: RoundParams,
        funding: Sequence[tuple[int, int]],
        *,
        relayer: LocalAccount | None = None,
        gas: int | None = None,
    ) -> TxResult:
        """Create a round funded by `(lot id, amount)` reservations; `RoundCreated` carries its id."""
        lots = [lot for lot, _ in funding]
        amounts = [amount for _, amount in funding]
        return self._send(creator, "createRound", params.as_tuple(), lots, amounts, relayer=relayer, gas=gas)

    def submit_proposal(
        self,
        proposer: LocalAccount,
        round_id: int,
        program_id: int,
        amount: int,
        content_hash: bytes = bytes(32),
        proof: Sequence[bytes] = (),
        *,
        relayer: LocalAccount | None = None,
        gas: int | None = None,
    ) -> TxResult:
        """Propose `amount` for `program_id`; NGOs need no proof, clients prove they may vote."""
        return self._send(
            proposer,
            "submitProposal",
            round_id,
            program_id,
            amount,
            content_hash,
            list(proof),
            relayer=relayer,
            gas=gas,
        )

    def withdraw_proposal(
        self, proposer: LocalAccount, round_id: int, proposal_id: int, *, relayer: LocalAccount | None = None
    ) -> TxResult:
        """Withdraw one's own proposal before voting opens."""
        return self._send(proposer, "withdrawProposal", round_id, proposal_id, relayer=relayer, gas=None)

    def cast_ballot(
        self,
        voter: LocalAccount,
        round_id: int,
        votes: Mapping[int, int],
        proof: Sequence[bytes],
        *,
        relayer: LocalAccount | None = None,
        gas: int | None = None,
    ) -> TxResult:
        """Cast (or replace) `voter`'s ballot: proposal id -> votes; an empty mapping takes it back."""
        ids, counts = ballot_arrays(votes)
        return self._send(voter, "castBallot", round_id, ids, counts, list(proof), relayer=relayer, gas=gas)

    def finalise(
        self,
        account: LocalAccount,
        round_id: int,
        order: Sequence[int],
        max_payouts: int = ALL_PAYOUTS,
        *,
        gas: int | None = None,
    ) -> TxResult:
        """Finalise with every active proposal in finalisation order; pays up to `max_payouts` winners."""
        return self.transact(account, "finalise", round_id, list(order), max_payouts, gas=gas)

    def pay_winners(
        self, account: LocalAccount, round_id: int, max_payouts: int = ALL_PAYOUTS, *, gas: int | None = None
    ) -> TxResult:
        """Pay further winners of a finalised round (anyone may)."""
        return self.transact(account, "payWinners", round_id, max_payouts, gas=gas)

    def cancel_round(self, account: LocalAccount, round_id: int, *, gas: int | None = None) -> TxResult:
        """Cancel a round before its first ballot (its creator or a funder of one of its lots); its money
        goes back to the lots; `RoundCancelled` says how much."""
        return self.transact(account, "cancelRound", round_id, gas=gas)

    def abandon(self, account: LocalAccount, round_id: int, *, gas: int | None = None) -> TxResult:
        """Abandon a round that still holds money of an expired lot (anyone may): every reservation it
        holds goes back to its lot or funder; `RoundAbandoned` says what was released."""
        return self.transact(account, "abandon", round_id, gas=gas)

    def finalise_in_steps(
        self, account: LocalAccount, round_id: int, order: Sequence[int], payouts_per_tx: int
    ) -> list[TxResult]:
        """Finalise, then pay the winners `payouts_per_tx` per transaction until the round is settled
        (for rounds with more winners than one block can pay)."""
        results = [self.finalise(account, round_id, order, payouts_per_tx)]
        while not self.round(round_id).settled:
            results.append(self.pay_winners(account, round_id, payouts_per_tx))
        return results

    # --- views ---------------------------------------------------------------------------

    def round_count(self) -> int:
        """How many rounds exist."""
        return int(self.call("roundCount"))

    def round(self, round_id: int) -> Round:
        """Round `round_id`."""
        fields = list(self.call("getRound", round_id))
        fields[5] = SelectionRule(fields[5])
        return Round(*fields)

    def phase(self, round_id: int) -> Phase:
        """The phase round `round_id` is in now."""
        return Phase(self.call("phase", round_id))

    def proposal(self, round_id: int, proposal_id: int) -> Proposal:
        """Proposal `proposal_id` of round `round_id`."""
        return _proposal(self.call("getProposal", round_id, proposal_id))

    def proposals(self, round_id: int) -> dict[int, Proposal]:
        """Every proposal of the round by id."""
        return {i + 1: _proposal(p) for i, p in enumerate(self.call("getProposals", round_id))}

    def ballot(self, round_id: int, voter: str) -> tuple[dict[int, int], int]:
        """`voter`'s current ballot (proposal id -> votes) and the credits it costs."""
        ids, votes, spent = self.call("ballotOf", round_id, voter)
        return dict(zip(ids, votes, strict=True)), int(spent)

    def winners(self, round_id: int) -> list[int]:
        """Winners in finalisation order."""
        return list(self.call("winners", round_id))

    def fundings(self, round_id: int) -> list[Funding]:
        """The reservations backing the round, first drawn first."""
        return [Funding(*f) for f in self.call("fundings", round_id)]

    def is_eligible(self, round_id: int, account: str, proof: Sequence[bytes]) -> bool:
        """Whether `proof` shows `account` may vote in the round."""
        return bool(self.call("isEligible", round_id, account, list(proof)))


def _proposal(raw: Sequence[Any]) -> Proposal:
    proposer, program_id, amount, votes, status, content_hash = raw
    return Proposal(proposer, program_id, amount, votes, ProposalStatus(status), content_hash)
