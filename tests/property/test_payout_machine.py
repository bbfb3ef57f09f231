"""The payouts contract against `governance.payout_model`, command by command.

Three holders of cash money (a shop, a club, a client of a cash program) and one client whose aid is
restricted, all having approved the payouts contract. Random commands: minting, payout requests (with
fresh and reused references), batching (by the treasurer or a stranger, with pending, batched, settled,
unknown and repeated payouts), marking a batch sent and reopening it. The chain and the model both accept
a command, or both reject it with the same error and arguments. After every step balances, held and
settled totals equal the model's, money is conserved (minted = held by accounts + held for payouts +
burned; burned = settled) and nothing is paid twice.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from eth_account import Account
from eth_utils import keccak
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from governance import payout_model as pm
from governance.fund_model import ModelError
from ledger.embedded import EmbeddedChain
from ledger.exceptions import ContractRevert
from ledger.roles import Role
from ledger.system import Allmende
from ledger.transactions import TxResult
from tests.conftest import EUR, Actors
from tests.contracts.test_provider_registry import FOOD, _restricted_client

GAS = 1_000_000
STEPS = 20
EXAMPLES = 5  # a fixed budget in every profile (about 10 s of CPU): the suite is near its limit
START = 60 * EUR  # what each holder has to begin with
RESTRICTED_AMOUNT = 10 * EUR


def _role_id(value: Any) -> Any:
    return Role(value).id if isinstance(value, str) and value.endswith("_ROLE") else value


class World:
    """What every example starts from: holders with gas and approvals, a snapshot to rewind to."""

    def __init__(self, system: Allmende, actors: Actors, chain: EmbeddedChain) -> None:
        self.system, self.actors, self.chain = system, actors, chain
        a = actors
        self.holders = [Account.create() for _ in range(3)]
        for holder in self.holders:
            chain.web3.eth.send_transaction({"from": a.admin.address, "to": holder.address, "value": 10**18})
        self.restricted, self.program = _restricted_client(system, a, FOOD, RESTRICTED_AMOUNT)
        self.accounts = [*self.holders, self.restricted]
        for account in self.accounts:
            system.approve(account, system.payouts.address, 2**256 - 1)
        for holder in self.holders:
            system.mint(a.treasurer, holder.address, START)
        self.senders = [a.treasurer, a.outsider, a.ngo]
        self.supply = int(system.token.call("totalSupply")) - 3 * START
        self.snapshot = chain.snapshot()


class PayoutMachine(RuleBasedStateMachine):
    """One example: random commands on the chain and the model side by side."""

    def __init__(self, world: World) -> None:
        super().__init__()
        self.w = world
        world.chain.revert(world.snapshot)
        world.system.sender.forget_nonces()
        world.snapshot = world.chain.snapshot()
        self.model = pm.PayoutModel()
        self.model.grant_role(pm.TREASURER_ROLE, world.actors.treasurer.address)
        self.model.mint(world.restricted.address, RESTRICTED_AMOUNT)
        self.model.restrict(world.restricted.address, world.program)
        for holder in world.holders:
            self.model.mint(holder.address, START)
        self.references = 0

    def _run(self, on_chain: Callable[[], TxResult], in_model: Callable[[], object]) -> bool:
        model_error: ModelError | None = None
        try:
            in_model()
        except ModelError as exc:
            model_error = exc
        try:
            on_chain()
        except ContractRevert as exc:
            assert model_error is not None, f"the chain raised {exc!r}, the model accepted"
            assert type(exc).__name__ == type(model_error).__name__, (exc, model_error)
            assert exc.values == tuple(_role_id(v) for v in model_error.values), (exc, model_error)
            return False
        assert model_error is None, f"the chain accepted, the model raised {model_error!r}"
        return True

    @property
    def payouts(self) -> Any:
        return self.w.system.payouts

    @rule(holder=st.integers(0, 2), amount=st.integers(1, 40 * EUR))
    def mint(self, holder: int, amount: int) -> None:
        account = self.w.holders[holder].address
        self.w.system.mint(self.w.actors.treasurer, account, amount)
        self.model.mint(account, amount)

    @rule(
        account=st.integers(0, 3),
        amount=st.one_of(st.just(0), st.integers(1, 30 * EUR)),
        reuse=st.sampled_from([None, None, None, 0, 1, 2]),
    )
    def request(self, account: int, amount: int, reuse: int | None) -> None:
        holder = self.w.accounts[account]
        if reuse is None or self.references == 0:
            self.references += 1
            number = self.references
        else:
            number = reuse % self.references + 1
        reference = keccak(text=f"payout {number}")
        self._run(
            lambda: self.payouts.transact(holder, "requestPayout", amount, reference, gas=GAS),
            lambda: self.model.request(holder.address, amount, reference),
        )

    @rule(sender=st.sampled_from([0, 0, 0, 1, 2]), ids=st.lists(st.integers(0, 7), max_size=3))
    def create_batch(self, sender: int, ids: list[int]) -> None:
        who = self.w.senders[sender]
        self._run(
            lambda: self.payouts.transact(who, "createBatch", ids, gas=GAS),
            lambda: self.model.create_batch(who.address, ids),
        )

    @rule(take=st.integers(1, 3), repeat=st.booleans())
    def batch_pending(self, take: int, repeat: bool) -> None:
        """The treasurer batches what is pending, sometimes naming one payout twice."""
        pending = [i for i, p in self.model.payouts.items() if p.status == pm.PayoutStatus.PENDING][:take]
        ids = pending + pending[:1] if repeat else pending
        treasurer = self.w.actors.treasurer
        self._run(
            lambda: self.payouts.transact(treasurer, "createBatch", ids, gas=GAS),
            lambda: self.model.create_batch(treasurer.address, ids),
        )

    @rule(sender=st.sampled_from([0, 0, 0, 1]), batch=st.integers(0, 5), zero=st.booleans())
    def mark_sent(self, sender: int, batch: int, zero: bool) -> None:
        who = self.w.senders[sender]
        bank = bytes(32) if zero and batch % 2 else keccak(text=f"bank {batch}")
        self._run(
            lambda: self.payouts.transact(who, "markBatchSent", batch, bank, gas=GAS),
            lambda: self.model.mark_sent(who.address, batch, bank),
        )

    @rule(sender=st.sampled_from([0, 0, 0, 2]), batch=st.integers(0, 5))
    def reopen(self, sender: int, batch: int) -> None:
        who = self.w.senders[sender]
        self._run(
            lambda: self.payouts.transact(who, "reopenBatch", batch, bytes(32), gas=GAS),
            lambda: self.model.reopen(who.address, batch),
        )

    @invariant()
    def balances_match_and_money_is_conserved(self) -> None:
        system, model = self.w.system, self.model
        for account in self.w.accounts:
            assert system.balance(account.address) == model.balances.get(account.address, 0)
        assert system.balance(self.payouts.address) == model.held
        totals = self.payouts.totals()
        assert (totals.payouts, totals.batches, totals.held, totals.settled) == (
            len(model.payouts),
            len(model.batches),
            model.held,
            model.settled,
        )
        supply = int(system.token.call("totalSupply"))
        assert supply - self.w.supply == model.minted - RESTRICTED_AMOUNT - model.burned
        assert model.conserved()
        assert model.nothing_paid_twice()

    def teardown(self) -> None:
        for payout_id, expected in self.model.payouts.items():
            record = self.payouts.payout(payout_id)
            assert (record.account, record.amount, record.batch_id, int(record.status)) == (
                expected.account,
                expected.amount,
                expected.batch_id,
                int(expected.status),
            )
        for batch_id, batch in self.model.batches.items():
            record = self.payouts.batch(batch_id)
            assert (record.total, int(record.status), record.bank_reference) == (
                batch.total,
                int(batch.status),
                batch.bank_reference,
            )


def test_payouts_behave_like_the_model(system: Allmende, actors: Actors, chain: EmbeddedChain) -> None:
    world = World(system, actors, chain)
    run_state_machine_as_test(
        lambda: PayoutMachine(world), settings=settings(max_examples=EXAMPLES, stateful_step_count=STEPS)
    )
