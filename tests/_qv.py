"""Helpers shared by the participatory budget tests: electorates, rounds and their inputs."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from eth_account.signers.local import LocalAccount

from governance.merkle import StandardMerkleTree
from ledger.participatory_budget import ProposalStatus, RoundParams, SelectionRule
from ledger.system import Allmende

EUR = 1_000_000
PROPOSAL_S = 7 * 86_400  # length of the proposal phase
VOTING_S = 14 * 86_400


@dataclass(frozen=True)
class Electorate:
    """Eligible voters and the Merkle tree over their addresses (leaf type ["address"])."""

    voters: tuple[LocalAccount, ...]
    tree: StandardMerkleTree

    @classmethod
    def of(cls, voters: Sequence[LocalAccount], extra: Sequence[str] = ()) -> Electorate:
        """The tree over `voters` plus `extra` addresses (eligible, but without keys here)."""
        values = [[v.address] for v in voters] + [[a] for a in extra]
        return cls(tuple(voters), StandardMerkleTree.of(values, ["address"]))

    @property
    def root(self) -> bytes:
        return self.tree.root

    def proof(self, voter: LocalAccount) -> list[bytes]:
        """The Merkle proof of `voter`'s address."""
        return self.tree.proof(self.voters.index(voter))


def content_hash(text: str) -> bytes:
    """Hash of a proposal's text, which stays off-chain."""
    return hashlib.sha256(text.encode()).digest()


def program(system: Allmende, ngo: LocalAccount) -> int:
    """A new program of `ngo` paying in the euro token."""
    return system.funds.create_program(ngo, system.token.address).event("ProgramCreated").args["programId"]


def lot(
    system: Allmende,
    funder: LocalAccount,
    amount: int,
    *,
    allocators: Sequence[LocalAccount] = (),
    **kw: int,
) -> int:
    """A new lot of `funder`, who names `allocators` (e.g. the creators of the rounds it funds) for it."""
    r = system.funds.deposit(funder, system.token.address, amount, **kw)
    lot_id = int(r.event("LotDeposited").args["lotId"])
    for who in allocators:
        system.funds.set_lot_allocator(funder, lot_id, who.address)
    return lot_id


def params(
    system: Allmende,
    electorate: Electorate,
    *,
    credits: int = 100,
    min_cost: int = EUR,
    max_cost: int = EUR,
    rule: SelectionRule = SelectionRule.GREEDY_SKIP,
    min_votes: int = 0,
) -> RoundParams:
    """Round parameters: proposals for a week from now, then two weeks of voting."""
    now = system.chain.now()
    return RoundParams(
        voting_start=now + PROPOSAL_S,
        voting_end=now + PROPOSAL_S + VOTING_S,
        voter_root=electorate.root,
        credits=credits,
        min_cost=min_cost,
        max_cost=max_cost,
        rule=rule,
        min_votes=min_votes,
        metadata_hash=content_hash("round"),
    )


def open_round(
    system: Allmende,
    creator: LocalAccount,
    round_params: RoundParams,
    funding: Sequence[tuple[int, int]],
) -> int:
    """Create a round; returns its id."""
    r = system.budget.create_round(creator, round_params, funding)
    return int(r.event("RoundCreated").args["roundId"])


def to_voting(system: Allmende, round_id: int) -> None:
    """Move the chain's clock to the round's voting start."""
    system.chain.advance_time(system.budget.round(round_id).voting_start - system.chain.now())


def to_tally(system: Allmende, round_id: int) -> None:
    """Move the chain's clock to the round's voting end."""
    system.chain.advance_time(system.budget.round(round_id).voting_end - system.chain.now())


def onchain_tallies(system: Allmende, round_id: int) -> dict[int, int]:
    """Votes per active proposal as the contract holds them."""
    return {
        pid: p.votes
        for pid, p in system.budget.proposals(round_id).items()
        if p.status is not ProposalStatus.WITHDRAWN
    }
