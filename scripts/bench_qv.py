"""Gas of participatory budgeting: ballots in a 10,000-voter round and finalising 50 and 200 proposals.

Ballots are measured in one round with 200 proposals and 10,000 eligible voters: the Merkle tree has
10,000 leaves (keys are made only for the voters who vote here, the other leaves are random
addresses), every proposal already has votes (tallies are warm, as in a running round), and each
measured ballot is its voter's first (its storage word is new) unless it is a re-vote. Ballots are
plain transactions of the voter; `.forwarded` is the same ballot signed by the voter and submitted by
a relayer through the ERC-2771 forwarder (the voter's first forwarded request). The 10,000-voter
figure is the mean over a sample of 200 voters casting 5-option ballots on random proposals.

Finalising: every proposal names its own new program (the costliest case for the fund ledger), the
budget covers about a quarter of what is requested, and one transaction checks the order, selects
the winners, allocates each winner's amount and releases the rest.
"""

from __future__ import annotations

import os
import random
import statistics
import time
from collections.abc import Sequence

from eth_account import Account
from eth_account.signers.local import LocalAccount

from governance.merkle import StandardMerkleTree
from governance.qv import finalisation_order
from ledger.embedded import EmbeddedChain
from ledger.participatory_budget import RoundParams
from ledger.roles import Role
from ledger.system import Allmende

EUR = 1_000_000
VOTERS = 10_000
SAMPLE = 200  # ballots measured for the 10,000-voter figure
PER_SIZE = 20  # ballots measured per option count
CREDITS = 100
GAS = 3_000_000
BLOCK_GAS = 30_000_000


class _Bench:
    """One embedded chain with the system deployed and the operator's accounts in their roles."""

    def __init__(self) -> None:
        self.chain = EmbeddedChain.open(None)
        admin, treasurer, funder, ngo, relayer = self.chain.accounts[:5]
        self.admin, self.funder, self.ngo, self.relayer = admin, funder, ngo, relayer
        self.system = Allmende.deploy(self.chain, admin)
        for role, who in [
            (Role.TREASURER, treasurer),
            (Role.FUNDER, funder),
            (Role.NGO, ngo),
            (Role.RELAYER, relayer),
        ]:
            self.system.grant(admin, role, who.address)
        self.system.mint(treasurer, funder.address, 100_000_000 * EUR)
        self.system.approve(funder, self.system.funds.address, 2**256 - 1)
        self.rng = random.Random(20_250_101)

    def lot(self, amount: int) -> int:
        r = self.system.funds.deposit(self.funder, self.system.token.address, amount)
        lot_id = int(r.event("LotDeposited").args["lotId"])
        self.system.funds.set_lot_allocator(self.funder, lot_id, self.admin.address)  # the rounds' creator
        return lot_id

    def programs(self, count: int) -> list[int]:
        first = self.system.funds.counts()[1] + 1
        data = self.system.funds.encode("createProgram", self.system.token.address, bytes(32))
        for _ in range(count):
            self.system.sender.send(self.ngo, self.system.funds.address, data, gas=GAS)
        return list(range(first, first + count))

    def round(self, root: bytes, budget: int, max_cost: int) -> int:
        now = self.chain.now()
        params = RoundParams(now + 86_400, now + 2 * 86_400, root, CREDITS, EUR, max_cost)
        r = self.system.budget.create_round(self.admin, params, [(self.lot(budget), budget)], gas=GAS)
        return int(r.event("RoundCreated").args["roundId"])

    def propose(self, round_id: int, programs: Sequence[int], amounts: Sequence[int]) -> None:
        for program_id, amount in zip(programs, amounts, strict=True):
            self.system.budget.submit_proposal(self.ngo, round_id, program_id, amount, gas=GAS)

    def fund(self, people: Sequence[LocalAccount]) -> None:
        """Gas money for voters who send their own transactions."""
        for person in people:
            self.system.sender.send(self.admin, person.address, b"", value=10**17, gas=21_000)

    def to(self, timestamp: int) -> None:
        self.chain.advance_time(timestamp - self.chain.now())


def _ballot(rng: random.Random, proposals: int, options: int) -> dict[int, int]:
    """`options` distinct random proposals with votes costing at most CREDITS in all."""
    ids = rng.sample(range(1, proposals + 1), options)
    per = max(1, int((CREDITS / options) ** 0.5))
    return {pid: rng.randint(1, per) for pid in ids}


def _mean(values: Sequence[int]) -> float:
    return round(statistics.fmean(values), 1)


def _ballots(b: _Bench) -> dict[str, float]:
    proposals = 200
    keyed = [Account.create() for _ in range(40 + 4 * PER_SIZE + SAMPLE)]
    others = ["0x" + os.urandom(20).hex() for _ in range(VOTERS - len(keyed))]
    tree = StandardMerkleTree.of([[v.address] for v in keyed] + [[o] for o in others], ["address"])
    position = {v.address: i for i, v in enumerate(keyed)}

    def proof(voter: LocalAccount) -> list[bytes]:
        return tree.proof(position[voter.address])

    seeds, rest = keyed[:40], keyed[40:]
    by_size = {n: rest[i * PER_SIZE : (i + 1) * PER_SIZE] for i, n in enumerate((1, 5, 20))}
    forwarded, sample = rest[3 * PER_SIZE : 4 * PER_SIZE], rest[4 * PER_SIZE :]
    round_id = b.round(tree.root, 50_000 * EUR, 1_000 * EUR)
    b.propose(
        round_id,
        b.programs(4) * (proposals // 4),
        [EUR * b.rng.randint(100, 1_000) for _ in range(proposals)],
    )
    b.fund([*seeds, *by_size[1], *by_size[5], *by_size[20], *sample])
    b.to(b.system.budget.round(round_id).voting_start)
    budget = b.system.budget
    for i, voter in enumerate(seeds):  # every proposal gets votes: tallies are warm from here on
        budget.cast_ballot(voter, round_id, {5 * i + k + 1: 1 for k in range(5)}, proof(voter), gas=GAS)

    out: dict[str, float] = {}
    for size, people in by_size.items():
        gas = [
            budget.cast_ballot(v, round_id, _ballot(b.rng, proposals, size), proof(v), gas=GAS).gas_used
            for v in people
        ]
        out[f"gas.qv.ballot.options{size}"] = _mean(gas)
    revotes = [
        budget.cast_ballot(v, round_id, _ballot(b.rng, proposals, 5), proof(v), gas=GAS).gas_used
        for v in by_size[5]
    ]
    out["gas.qv.revote.options5"] = _mean(revotes)
    relayed = [
        budget.cast_ballot(v, round_id, _ballot(b.rng, proposals, 5), proof(v), relayer=b.relayer).gas_used
        for v in forwarded
    ]
    out["gas.qv.ballot.options5.forwarded"] = _mean(relayed)
    big = [
        budget.cast_ballot(v, round_id, _ballot(b.rng, proposals, 5), proof(v), gas=GAS).gas_used
        for v in sample
    ]
    out[f"gas.qv.ballot.options5.voters{VOTERS}"] = _mean(big)
    out[f"gas.qv.ballot.options5.voters{VOTERS}.max"] = max(big)
    out["qv.ballot.proof_levels"] = max(len(proof(v)) for v in sample)
    return out


def _finalise(b: _Bench, proposals: int) -> dict[str, float]:
    voters = [Account.create() for _ in range(60)]
    tree = StandardMerkleTree.of([[v.address] for v in voters], ["address"])
    amounts = [EUR * b.rng.randint(100, 1_000) for _ in range(proposals)]
    budget = sum(amounts) // 4
    round_id = b.round(tree.root, budget, 1_000 * EUR)
    b.propose(round_id, b.programs(proposals), amounts)
    b.to(b.system.budget.round(round_id).voting_start)
    relayer = b.relayer
    for i, voter in enumerate(voters):
        ballot = _ballot(b.rng, proposals, 5)
        b.system.budget.cast_ballot(voter, round_id, ballot, tree.proof(i), relayer=relayer, gas=GAS)
    b.to(b.system.budget.round(round_id).voting_end)
    tallies = {pid: p.votes for pid, p in b.system.budget.proposals(round_id).items()}
    order = finalisation_order(tallies)
    snapshot = b.chain.snapshot()
    select_only = b.system.budget.finalise(b.admin, round_id, order, 0, gas=BLOCK_GAS)
    b.chain.revert(snapshot)
    b.system.sender.forget_nonces()
    result = b.system.budget.finalise(b.admin, round_id, order, gas=BLOCK_GAS)
    winners = len(b.system.budget.winners(round_id))
    key = f"gas.qv.finalize.proposals{proposals}"
    per_winner = (result.gas_used - select_only.gas_used) / max(winners, 1)
    return {
        key: result.gas_used,
        f"{key}.select_only": select_only.gas_used,
        f"qv.finalize.proposals{proposals}.winners": winners,
        f"{key}.per_winner_payout": round(per_winner, 1),
    }


def qv_gas() -> dict[str, float]:
    """Every participatory budget gas figure (see the module docstring for what each one measures)."""
    bench = _Bench()
    try:
        out = _ballots(bench)
        for proposals in (50, 200):
            out.update(_finalise(bench, proposals))
    finally:
        bench.chain.close()
    per_winner = out["gas.qv.finalize.proposals200.per_winner_payout"]
    out["qv.finalize.winners_paid_per_10m_gas"] = int(
        (10_000_000 - out["gas.qv.finalize.proposals200.select_only"]) // per_winner
    )
    return out


if __name__ == "__main__":
    start = time.perf_counter()
    for metric, value in sorted(qv_gas().items()):
        print(f"{metric:50} {value:>14,}")
    print(f"({time.perf_counter() - start:.0f} s)")
