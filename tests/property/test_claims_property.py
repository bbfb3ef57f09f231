"""Claim programs under random funding, client lists, roots, claims, spending and expiry, against a plain
model: what was claimed plus what was returned is what was funded plus what expired unspent and came back,
no index is ever paid twice, and the recipients' accounts behave as `governance.provider_model` says
(the program is restricted to a category: recipients spend at an admitted shop, and after expiry anyone
sends what they have not spent back to the lots, once)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from governance import provider_model as pm
from governance.claim_tree import ClaimEntry, ClaimTree, default_cap_depth, max_cap_depth
from governance.merkle import verify
from ledger.claims import SignedClaim
from ledger.embedded import EmbeddedChain
from ledger.exceptions import ContractRevert
from ledger.revert_errors import (
    ClaimProgramAlreadyClaimed,
    ClaimProgramExpired,
    ClaimProgramInvalidProof,
    ClaimProgramNothingToReturn,
    ERC20InsufficientBalance,
)
from ledger.system import Allmende
from tests.claims_support import DAY, ClaimSetup, Client, released_program
from tests.conftest import EUR, Actors

# Explicit gas limits: a transaction then runs once instead of being estimated first (3x faster on
# the embedded chain); a failing one is still replayed into its typed error.
CLAIM_GAS = 300_000
GAS = 8_000_000
SPEND_GAS = 150_000
FOOD = 1


@dataclass
class Model:
    """What the chain should hold."""

    funded: int = 0
    claimed: dict[int, int] = field(default_factory=dict)  # index -> amount paid
    returned: int = 0
    reclaimed: int = 0
    expired: bool = False

    @property
    def balance(self) -> int:
        return self.funded - sum(self.claimed.values()) - self.returned + self.reclaimed


class ClaimProgramMachine(RuleBasedStateMachine):
    """Drives one claim program; every example starts from the deployed system and is rewound after."""

    system: Allmende
    actors: Actors
    fund_program: int
    shop: str

    def __init__(self) -> None:
        super().__init__()
        assert isinstance(self.system.chain, EmbeddedChain)
        self.snapshot = self.system.chain.snapshot()
        self.model = Model()
        self.next_index = 0
        self.accounts = pm.ProviderModel()
        self.accounts.rules[self.fund_program] = FOOD
        self.accounts.providers[self.shop] = pm.Provider(
            self.actors.ngo.address, FOOD, pm.ProviderStatus.ADMITTED
        )
        self.recipients: list[LocalAccount] = []

    @initialize(target=None)
    def open_program(self) -> None:
        expiry = self.system.chain.now() + 30 * DAY
        args = (self.fund_program, expiry, bytes(32))
        created = self.system.claims.transact(self.actors.ngo, "createProgram", *args, gas=GAS)
        program = self.system.claims.program(created.event("ClaimProgramCreated").args["claimProgramId"])
        self.setup = ClaimSetup(self.system, program, self.fund_program)
        self.expiry = expiry
        self.fund(30 * EUR)  # a funded tree from the start, so claims, spending and expiry meet often
        self.add_clients([5 * EUR, 10 * EUR], cumulative=False, cap=0)

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
        recipient = Account.create()
        claim = self.setup.sign(client, recipient.address, deadline=self.system.chain.now() + 40 * DAY)
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
            program = self.setup.program.address
            self.accounts.pay_in(
                recipient.address, client.amount, claimed_from=self.fund_program, claim_program=program
            )
            self.recipients.append(recipient)
            self.system.chain.web3.eth.send_transaction(  # gas money to spend it
                {"from": self.actors.admin.address, "to": recipient.address, "value": 10**17}
            )
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

    @precondition(lambda self: bool(self.recipients))
    @rule(data=st.data(), to_shop=st.booleans())
    def spend(self, data: st.DataObject, to_shop: bool) -> None:
        """A recipient pays the shop (allowed) or the relayer (refused: restricted to FOOD)."""
        payer = data.draw(st.sampled_from(self.recipients))
        amount = data.draw(st.integers(1, 30 * EUR))
        to = self.shop if to_shop else self.actors.relayer.address
        expected: pm.ModelError | None = None
        try:
            self.accounts.transfer(payer.address, to, amount)
        except pm.ModelError as exc:
            expected = exc
        try:
            self.system.token.transact(payer, "transfer", to, amount, gas=SPEND_GAS)
        except ContractRevert as exc:
            assert expected is not None and type(exc).__name__ == type(expected).__name__, (exc, expected)
            return
        assert expected is None

    @precondition(lambda self: self.model.expired)
    @rule(data=st.data(), stranger=st.booleans())
    def reclaim(self, data: st.DataObject, stranger: bool) -> None:
        """Anyone sends back what the recipients have not spent, with any rest; nothing moves twice."""
        accounts = (
            [r.address for r in data.draw(st.lists(st.sampled_from(self.recipients), max_size=4))]
            if (self.recipients)
            else []
        )
        if stranger:
            accounts.append(self.actors.funder.address)  # a cash account: refused
        m, program = self.model, self.setup.program
        try:
            moved = self.accounts.reclaim(
                program.address,
                self.fund_program,
                accounts,
                now=self.system.chain.now(),
                expiry=self.expiry,
                restricted_at_opening=True,
            )
        except pm.ModelError as exc:
            with pytest.raises(ContractRevert) as err:
                program.reclaim_expired(self.actors.outsider, accounts)
            assert type(err.value).__name__ == type(exc).__name__
            assert err.value.values == exc.values
            return
        back = min(m.balance + sum(moved.values()), m.funded - m.returned)
        if not moved and back == 0:
            with pytest.raises(ClaimProgramNothingToReturn):
                program.reclaim_expired(self.actors.outsider, accounts)
            return
        result = program.reclaim_expired(self.actors.outsider, accounts)
        events = {e.args["account"]: e.args["amount"] for e in result.events_named("ExpiredAidReclaimed")}
        assert events == moved
        assert sum(e.args["amount"] for e in result.events_named("UnclaimedReturned")) == back
        m.reclaimed += sum(moved.values())
        m.returned += back
        assert program.info().returned == m.returned

    @invariant()
    def balance_is_funded_less_claimed_and_returned(self) -> None:
        if hasattr(self, "setup"):
            assert self.system.balance(self.setup.program.address) == self.model.balance
            assert (
                sum(self.model.claimed.values()) + self.model.returned
                <= self.model.funded + self.model.reclaimed
            )
        for recipient in self.recipients:
            assert self.system.balance(recipient.address) == self.accounts.balances.get(recipient.address, 0)
        assert self.accounts.conserved()
        assert self.accounts.paid_in == sum(self.model.claimed.values())
        assert self.accounts.reclaimed == self.model.reclaimed

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
    system.providers.set_program_rule(actors.ngo, ClaimProgramMachine.fund_program, FOOD)
    ClaimProgramMachine.shop = Account.create().address
    system.providers.admit(actors.ngo, ClaimProgramMachine.shop, FOOD)
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
