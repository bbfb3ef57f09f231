"""The provider registry and restricted aid against `governance.provider_model`, command by command.

Two released fund programs (one per NGO), a pool of client accounts and a pool of provider accounts,
all with gas money. Random commands: admitting and suspending providers (by their NGO, the other NGO,
the admin, a stranger, a funder), setting programs' rules, marking accounts, disbursing, transfers
between any of them and pay-outs (burns). The chain and the model both accept a command, or both
reject it with the same error and arguments. After every step the balances equal the model's, money
is conserved (paid in = held + burned), and restricted money has reached only admitted providers of
one of its program's categories.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from governance import provider_model as pm
from governance.fund_model import ADMIN_ROLE, NGO_ROLE, ModelError
from governance.lineage import build_lineage
from ledger.embedded import EmbeddedChain
from ledger.exceptions import ContractRevert
from ledger.roles import Role
from ledger.system import Allmende
from ledger.transactions import TxResult
from tests.claims_support import released_program
from tests.conftest import EUR, Actors

GAS = 1_000_000
STEPS = 30


def _role_id(value: Any) -> Any:
    return Role(value).id if isinstance(value, str) and value.endswith("_ROLE") else value


class World:
    """What every example starts from: programs, pools of accounts, a snapshot to rewind to."""

    def __init__(self, system: Allmende, actors: Actors, chain: EmbeddedChain) -> None:
        self.system, self.actors, self.chain = system, actors, chain
        a = actors
        self.programs = {
            released_program(system, a, ngo=a.ngo): a.ngo,
            released_program(system, a, ngo=a.ngo2): a.ngo2,
        }
        self.clients = [Account.create() for _ in range(4)]
        self.providers = [Account.create() for _ in range(3)]
        for account in self.clients + self.providers:
            chain.web3.eth.send_transaction({"from": a.admin.address, "to": account.address, "value": 10**18})
        self.senders = [a.ngo, a.ngo2, a.admin, a.outsider, a.funder]
        self.snapshot = chain.snapshot()


class ProviderMachine(RuleBasedStateMachine):
    """One example: random commands on the chain and the model side by side."""

    def __init__(self, world: World) -> None:
        super().__init__()
        self.w = world
        world.chain.revert(world.snapshot)
        world.system.sender.forget_nonces()
        world.snapshot = world.chain.snapshot()
        a = world.actors
        self.model = pm.ProviderModel()
        self.model.grant_role(ADMIN_ROLE, a.admin.address)
        for ngo in (a.ngo, a.ngo2):
            self.model.grant_role(NGO_ROLE, ngo.address)
        for program, ngo in world.programs.items():
            self.model.add_program(program, ngo.address)

    def _run(self, on_chain: Callable[[], TxResult], in_model: Callable[[], None]) -> bool:
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
    def registry(self) -> Any:
        return self.w.system.providers

    @rule(sender=st.integers(0, 4), provider=st.integers(0, 2), categories=st.integers(0, 15))
    def admit(self, sender: int, provider: int, categories: int) -> None:
        who, account = self.w.senders[sender], self.w.providers[provider].address
        self._run(
            lambda: self.registry.transact(who, "admitProvider", account, categories, bytes(32)),
            lambda: self.model.admit(who.address, account, categories),
        )

    @rule(sender=st.integers(0, 4), provider=st.integers(0, 2))
    def suspend(self, sender: int, provider: int) -> None:
        who, account = self.w.senders[sender], self.w.providers[provider].address
        self._run(
            lambda: self.registry.transact(who, "suspendProvider", account, bytes(32)),
            lambda: self.model.suspend(who.address, account),
        )

    @rule(sender=st.integers(0, 4), program=st.sampled_from([0, 1]), categories=st.integers(0, 15))
    def set_rule(self, sender: int, program: int, categories: int) -> None:
        who, program_id = self.w.senders[sender], list(self.w.programs)[program]
        self._run(
            lambda: self.registry.transact(who, "setProgramRule", program_id, categories),
            lambda: self.model.set_rule(who.address, program_id, categories),
        )

    @rule(program=st.sampled_from([0, 1]), client=st.integers(0, 6), by_other=st.booleans())
    def restrict(self, program: int, client: int, by_other: bool) -> None:
        program_id = list(self.w.programs)[program]
        ngo = self.w.programs[program_id]
        who = self.w.senders[1 - self.w.senders.index(ngo)] if by_other else ngo
        account = (self.w.clients + self.w.providers)[client].address
        self._run(
            lambda: self.registry.transact(who, "restrictAccounts", program_id, [account]),
            lambda: self.model.restrict(who.address, program_id, [account]),
        )

    @rule(program=st.sampled_from([0, 1]), client=st.integers(0, 3), amount=st.integers(1, 20 * EUR))
    def disburse(self, program: int, client: int, amount: int) -> None:
        program_id = list(self.w.programs)[program]
        account = self.w.clients[client].address
        self.w.system.funds.disburse(self.w.programs[program_id], program_id, [(account, amount)], gas=GAS)
        self.model.pay_in(account, amount)

    def _account(self, index: int) -> LocalAccount:
        return (self.w.clients + self.w.providers)[index]

    @rule(sender=st.integers(0, 6), to=st.integers(0, 7), amount=st.integers(1, 15 * EUR))
    def transfer(self, sender: int, to: int, amount: int) -> None:
        payer = self._account(sender)
        payee = self.w.actors.outsider.address if to == 7 else self._account(to).address
        self._run(
            lambda: self.w.system.token.transact(payer, "transfer", payee, amount),
            lambda: self.model.transfer(payer.address, payee, amount),
        )

    @rule(sender=st.integers(0, 6), amount=st.integers(1, 15 * EUR))
    def redeem(self, sender: int, amount: int) -> None:
        payer = self._account(sender)
        self._run(
            lambda: self.w.system.token.transact(payer, "redeem", amount, bytes(32)),
            lambda: self.model.transfer(payer.address, pm.ZERO_ADDRESS, amount),
        )

    def _every_euro_is_traced_to_a_lot(self) -> None:
        """The lineage rebuilt from the chain's events alone (first in, first out per account) places
        every euro each account holds, and what the fund ledger holds, in a lot."""
        system = self.w.system
        first = min(d.deploy_block for d in system.book.contracts.values())
        events = system.events(first, int(system.chain.web3.eth.block_number))
        lineage = build_lineage(events, system.token.address, system.funds.address, system.providers.address)
        balances = {account: system.balance(account) for account in lineage.model.queues}
        assert lineage.differences(balances, system.balance(system.funds.address)) == []

    @invariant()
    def balances_match_and_money_is_conserved(self) -> None:
        for account in self.w.clients + self.w.providers:
            assert self.w.system.balance(account.address) == self.model.balances.get(account.address, 0)
        assert self.model.conserved()
        assert self.model.restricted_money_well_spent()

    def teardown(self) -> None:
        self._every_euro_is_traced_to_a_lot()
        token = self.w.system.token.address
        for account in self.w.clients + self.w.providers:
            address = account.address
            assert self.registry.restriction_of(token, address) == self.model.restricted.get(address, 0)
            record = self.registry.provider(address)
            expected = self.model.providers.get(address)
            assert int(record.status) == (0 if expected is None else int(expected.status))
            if expected is not None:
                assert (record.ngo, record.categories) == (expected.ngo, expected.categories)
            for provider in self.w.providers:
                assert self.registry.may_pay(token, address, provider.address) == self.model.may_pay(
                    address, provider.address
                )


def test_provider_registry_behaves_like_the_model(
    system: Allmende, actors: Actors, chain: EmbeddedChain
) -> None:
    world = World(system, actors, chain)
    # 12 longer runs instead of the profile's 60: each step reads every account's balance on chain and
    # each example ends by rebuilding the lineage from the chain's events; the whole suite must stay
    # within its time (the qv and claims machines run 15 and 12).
    run = settings(max_examples=12, stateful_step_count=STEPS)
    run_state_machine_as_test(lambda: ProviderMachine(world), settings=run)
