"""Claim programs under random funding, client lists, roots, claims and expiry, against a plain model:
what was claimed plus what was returned is what was funded, and no index is ever paid twice."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from eth_account import Account
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from governance.claim_tree import ClaimEntry, ClaimTree, default_cap_depth, max_cap_depth
from governance.merkle import verify
from ledger.claims import SignedClaim
from ledger.embedded import EmbeddedChain
from ledger.revert_errors import (
    ClaimProgramAlreadyClaimed,
    ClaimProgramExpired,
    ClaimProgramInvalidProof,
    ERC20InsufficientBalance,
)
from ledger.system import Allmende
from tests.claims_support import DAY, ClaimSetup, Client, released_program
from tests.conftest import EUR, Actors

# Explicit gas limits: a transaction then runs once instead of being estimated first (3x faster on
# the embedded chain); a failing one is still replayed into its typed error.
CLAIM_GAS = 300_000
GAS = 8_000_000


@dataclass
class Model:
    """What the chain should hold."""

    funded: int = 0
    claimed: dict[int, int] = field(default_factory=dict)  # index -> amount paid
    returned: int = 0
    expired: bool = False

    @property
    def balance(self) -> int:
        return self.funded - sum(self.claimed.values()) - self.returned


class ClaimProgramMachine(RuleBasedStateMachine):
    """Drives one claim program; every example starts from the deployed system and is rewound after."""

    system: Allmende
    actors: Actors
    fund_program: int

    def __init__(self) -> None:
        super().__init__()
        assert isinstance(self.system.chain, EmbeddedChain)
        self.snapshot = self.system.chain.snapshot()
        self.model = Model()
        self.next_index = 0

    @initialize(target=None)
    def open_program(self) -> None:
        expiry = self.system.chain.now() + 30 * DAY
        args = (self.fund_program, expiry, bytes(32))
        created = self.system.claims.transact(self.actors.ngo, "createProgram", *args, gas=GAS)
        program = self.system.claims.program(created.event("ClaimProgramCreated").args["claimProgramId"])
        self.setup = ClaimSetup(self.system, program, self.fund_program)

    @precondition(lambda self: not self.model.expired)
    @rule(amount=st.integers(1, 60 * EUR))
    def fund(self, amount: int) -> None:
        args = (self.setup.fund_program, self.setup.program.address, amount, b"")
        self.system.funds.transact(self.actors.ngo, "disburseTo", *args, gas=GAS)
        self.model.funded += amount
        assert self.setup.program.info().funded == self.model.funded

    @precondition(lambda self: not self.model.expired)
    @rule(
        amounts=st.lists(st.integers(1, 25 * EUR), min_size=1, max_size=5),
        cumulative=st.booleans(),
        cap=st.integers(0, 2),
    )
    def add_clients(self, amounts: list[int], cumulative: bool, cap: int) -> None:
        new = [Client(self.next_index + i, Account.create(), amount) for i, amount in enumerate(amounts)]
        self.next_index += len(new)
        listed = [*self.setup.clients.values(), *new] if cumulative else new
        self.setup.publish(self.actors.ngo, listed, min(cap, max_cap_depth(len(listed))), gas=GAS)

    @precondition(lambda self: bool(self.setup.trees))
    @rule(data=st.data(), swap_recipient=st.booleans())
    def claim(self, data: st.DataObject, swap_recipient: bool) -> None:
        root_id = data.draw(st.sampled_from(sorted(self.setup.trees)))
        tree = self.setup.trees[root_id]
        index = data.draw(st.sampled_from([e.index for e in tree.entries()]))
        client = self.setup.clients[index]
        claim = self.setup.sign(client, Account.create().address, deadline=self.system.chain.now() + 40 * DAY)
        if swap_recipient:
            claim = SignedClaim(claim.index, self.actors.relayer.address, claim.deadline, claim.r, claim.vs)
        m = self.model
        if m.expired:
            expected: type[Exception] | None = ClaimProgramExpired
        elif swap_recipient:
            expected = ClaimProgramInvalidProof
        elif index in m.claimed:
            expected = ClaimProgramAlreadyClaimed
        elif client.amount > m.balance:
            expected = ERC20InsufficientBalance
        else:
            expected = None
        if expected is not None:
            with pytest.raises(expected):
                self.setup.submit(self.actors.relayer, claim, root_id=root_id, gas=CLAIM_GAS)
        else:
            self.setup.submit(self.actors.relayer, claim, root_id=root_id, gas=CLAIM_GAS)
            m.claimed[index] = client.amount
        assert self.setup.program.is_claimed(index) == (index in m.claimed)

    @precondition(lambda self: not self.model.expired and bool(self.setup.trees))
    @rule()
    def expire_and_return(self) -> None:
        self.system.chain.advance_time(31 * DAY)
        self.model.expired = True
        if self.model.balance:
            result = self.setup.program.transact(self.actors.ngo, "returnUnclaimed", gas=GAS)
            self.model.returned = sum(e.args["amount"] for e in result.events_named("UnclaimedReturned"))
            assert self.model.returned == self.model.funded - sum(self.model.claimed.values())
            assert self.setup.program.info().returned == self.model.returned
        assert sum(self.model.claimed.values()) + self.model.returned == self.model.funded

    @invariant()
    def balance_is_funded_less_claimed_and_returned(self) -> None:
        if hasattr(self, "setup"):
            assert self.system.balance(self.setup.program.address) == self.model.balance

    def teardown(self) -> None:
        try:
            if hasattr(self, "setup"):  # no index paid twice, none marked without being paid
                claimed = [i for i in range(self.next_index) if self.setup.program.is_claimed(i)]
                assert claimed == sorted(self.model.claimed)
        finally:
            self.system.chain.revert(self.snapshot)
        self.system.sender.forget_nonces()


def test_claim_programs_keep_their_books(system: Allmende, actors: Actors) -> None:
    ClaimProgramMachine.system = system
    ClaimProgramMachine.actors = actors
    ClaimProgramMachine.fund_program = released_program(system, actors, 100_000 * EUR)
    run = ClaimProgramMachine.TestCase
    run.settings = settings(max_examples=12, stateful_step_count=12)
    run().runTest()


@given(
    amounts=st.lists(st.integers(1, 2**128), min_size=1, max_size=300),
    cap=st.integers(0, 8),
)
def test_every_short_proof_reaches_its_cap_node_and_the_cap_the_root(amounts: list[int], cap: int) -> None:
    entries = [ClaimEntry(i * 7, "0x" + (i + 1).to_bytes(20, "big").hex(), a) for i, a in enumerate(amounts)]
    tree = ClaimTree.build(entries, min(cap, max_cap_depth(len(entries))))
    assert default_cap_depth(len(entries)) <= max_cap_depth(len(entries))
    for e in entries:
        proof = tree.proof(e.index)
        leaf = tree.tree.leaf(entries.index(e))
        assert verify(tree.cap[proof.position], leaf, proof.proof)
        assert verify(tree.root, leaf, tree.full_proof(e.index))
        assert tree.full_proof(e.index)[: len(proof.proof)] == proof.proof
