"""The provider registry and restricted aid against `governance.provider_model`, command by command.

Two released fund programs (one per NGO; the second draws first on a small lot that expires before
any end set at the start, so sweeps give part back to its funder), a pool of client accounts and a
pool of provider accounts, all with gas money. Random commands: admitting and suspending providers
(by their NGO, the other NGO, the admin, a stranger, a funder), setting programs' rules, marking
accounts, disbursing, transfers between any of them and pay-outs (burns), and the expiry of
restricted aid paid by plain disbursement: the passing of time (by hours and days, or to just before
or at a program's end), setting a program's end (by its NGO, the other NGO, a stranger; in the past,
now or later; before and after a payment; earlier or later than the current end) and sweeping after
it (by anyone; own, other programs', unmarked and provider accounts, none, a repeated one, too many).
Each example may start with ends, rules and marked, paid clients already set (by the same commands),
so sweeps that move money are common. The fund ledger's side (ends, what is sweepable, the draws a
sweep credits back) is `governance.fund_model`'s, the registry's and the accounts' `ProviderModel`'s,
the model's clock the next block's timestamp.

The chain and the model both accept a command, or both reject it with the same error and arguments;
a sweep moves the same amounts and credits the same lots. After every step the balances equal the
model's, what each program may still sweep (`sweepable`) and what the fund ledger holds too, money is
conserved (paid in = held + burned + swept back), and restricted money has reached only admitted
providers of one of its program's categories. Each example ends with a sweep of each program's
marked accounts, after its end when it has paid something sweepable (compared like any command), the
programs as the model has them, and every euro, held by an account or the fund ledger, traced to a
lot from the events alone.

Money into a marked account from anywhere but its program, and a program with an end paying an account
it did not mark, are tried like any command: the chain and the model both refuse them. A provider may
give money back into a marked account (a refund at the counter): the lineage gives back the lots of
that account's payments first, so the program's sweep takes back its own lots.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from governance import fund_model as fm
from governance import provider_model as pm
from governance.fund_model import ADMIN_ROLE, NGO_ROLE, ModelError
from governance.lineage import build_lineage, sweep_pool
from ledger.embedded import EmbeddedChain
from ledger.exceptions import ContractRevert
from ledger.roles import Role
from ledger.system import Allmende
from ledger.transactions import TxResult
from tests.claims_support import DAY, fund_model_of, released_program
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
        # py-evm stamps a block max(wall clock, parent + 1), a gas estimate too: keep the chain's clock
        # well ahead of the wall clock, so that the model's clock is the next block's timestamp.
        chain.advance_time(DAY)
        self.programs = {
            released_program(system, a, ngo=a.ngo): a.ngo,
            self._drawing_first_on_an_expiring_lot(system, a): a.ngo2,
        }
        self.clients = [Account.create() for _ in range(4)]
        self.providers = [Account.create() for _ in range(3)]
        for account in self.clients + self.providers:
            chain.web3.eth.send_transaction({"from": a.admin.address, "to": account.address, "value": 10**18})
        self.senders = [a.ngo, a.ngo2, a.admin, a.outsider, a.funder]
        self.funds = fund_model_of(system, [a.funder.address])
        self.snapshot = chain.snapshot()

    @staticmethod
    def _drawing_first_on_an_expiring_lot(system: Allmende, a: Actors) -> int:
        """A program of `a.ngo2` with 1,015 € released: its first 15 € from a lot that expires in 20
        hours, so that what a sweep after an end a day or more away gives back of it goes to its funder
        (the rest back to the program, as the other program's)."""
        token = system.token.address
        program = int(system.funds.create_program(a.ngo2, token).event("ProgramCreated").args["programId"])
        expiry = system.chain.now() + 20 * 3_600
        for amount, expires in ((15 * EUR, expiry), (1_000 * EUR, 0)):
            lot = (
                system.funds.deposit(a.funder, token, amount, expiry=expires)
                .event("LotDeposited")
                .args["lotId"]
            )
            system.funds.allocate(a.funder, lot, program, amount)
        system.funds.set_program_approver(a.funder, program, a.approver.address)
        request = system.funds.request_tranche(a.ngo2, program, 1_015 * EUR)
        system.funds.approve_tranche(a.approver, request.event("TrancheRequested").args["trancheId"])
        return program


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
        self.funds = copy.deepcopy(world.funds)  # the fund ledger's side: ends, sweepable, draws

    def _run(self, on_chain: Callable[[], TxResult], in_model: Callable[[], Any]) -> TxResult | None:
        """Run a command on both; the chain's result when both accepted it, None when both refused."""
        model_error: ModelError | None = None
        try:
            in_model()
        except ModelError as exc:
            model_error = exc
        try:
            result = on_chain()
        except ContractRevert as exc:
            assert model_error is not None, f"the chain raised {exc!r}, the model accepted"
            assert type(exc).__name__ == type(model_error).__name__, (exc, model_error)
            assert exc.values == tuple(_role_id(v) for v in model_error.values), (exc, model_error)
            return None
        assert model_error is None, f"the chain accepted, the model raised {model_error!r}"
        return result

    def _now(self) -> int:
        """The timestamp of the block the next transaction is mined in: the model's clock."""
        return int(self.w.chain.web3.eth.get_block("pending")["timestamp"])

    def _mined_at(self, result: TxResult | None, now: int) -> None:
        """A time-dependent command the chain accepted ran at the time the model was given."""
        if result is not None:
            assert int(self.w.chain.web3.eth.get_block(result.block_number)["timestamp"]) == now

    def _program(self, index: int) -> tuple[int, LocalAccount]:
        program_id = list(self.w.programs)[index]
        return program_id, self.w.programs[program_id]

    @initialize(
        ends=st.tuples(*[st.sampled_from([DAY, 2 * DAY, DAY, 0])] * 2),  # Hypothesis favours the first
        rules=st.tuples(*[st.sampled_from([1, 2, 3, 0])] * 2),
        paid=st.lists(
            st.tuples(st.sampled_from([0, 1]), st.integers(0, 3), st.sampled_from([5 * EUR, 10 * EUR, 0])),
            min_size=1,
            max_size=3,
        ),
    )
    def start(self, ends: tuple[int, int], rules: tuple[int, int], paid: list[tuple[int, int, int]]) -> None:
        """Maybe ends (in a day or two), rules, marked clients (paid, if marked) already, by the ordinary
        commands: Hypothesis leaves some rules out of an example, and 30 steps rarely string an end,
        a rule, a marking, a payment, the end and a sweep together by chance."""
        for index in (0, 1):
            program_id, ngo = self._program(index)
            if ends[index]:
                self._set_end(ngo, program_id, self._now() + ends[index])
            if rules[index]:
                self._set_rule(ngo, program_id, rules[index])
        for index, client, amount in paid:
            self.restrict(index, client, False)
            if (
                amount
                and self.model.restricted.get(self.w.clients[client].address) == self._program(index)[0]
            ):
                self.disburse(index, client, amount, False)

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
        self._set_rule(self.w.senders[sender], list(self.w.programs)[program], categories)

    def _set_rule(self, who: LocalAccount, program_id: int, categories: int) -> None:
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

    @rule(
        program=st.sampled_from([0, 1]),
        client=st.integers(0, 3),
        amount=st.integers(1, 20 * EUR),
        marked=st.booleans(),
    )
    def disburse(self, program: int, client: int, amount: int, marked: bool) -> None:
        """The program's NGO pays a client (maybe one it marked): refused once the program's end has
        passed."""
        program_id, ngo = self._program(program)
        clients = [x.address for x in self.w.clients]
        own = [x for x in clients if self.model.restricted.get(x) == program_id]
        account = own[client % len(own)] if marked and own else clients[client]
        now = self._now()
        result = self._run(
            lambda: self.w.system.funds.disburse(ngo, program_id, [(account, amount)], gas=GAS),
            lambda: self.model.disburse(self.funds, ngo.address, program_id, account, amount, now=now),
        )
        self._mined_at(result, now)

    def _set_end(self, sender: LocalAccount, program_id: int, ends_at: int) -> None:
        now = self._now()
        result = self._run(
            lambda: self.w.system.funds.set_program_end(sender, program_id, ends_at),
            lambda: self.funds.set_program_end(sender.address, program_id, ends_at, now=now),
        )
        self._mined_at(result, now)

    @rule(
        program=st.sampled_from([0, 1]),
        sender=st.sampled_from(["ngo", "ngo", "ngo", "other ngo", "stranger"]),
        when=st.sampled_from(["past", "now", "next block", "in an hour", "in a day", "earlier", "same"]),
    )
    def set_end(self, program: int, sender: str, when: str) -> None:
        """Set or move a program's end: its NGO only, never in the past, first only before it has paid,
        later never earlier (a later end after the end opens a next period)."""
        program_id, ngo = self._program(program)
        a = self.w.actors
        who = {"ngo": ngo, "other ngo": a.ngo2 if ngo is a.ngo else a.ngo, "stranger": a.outsider}[sender]
        now, current = self._now(), self.funds.programs[program_id].ends_at
        offsets = {"past": -1, "now": 0, "next block": 1, "in an hour": 3_600, "in a day": DAY}
        if when in offsets:
            ends_at = now + offsets[when]
        else:
            ends_at = current - (when == "earlier") if current else now + 2 * DAY
        self._set_end(who, program_id, ends_at)

    @rule(seconds=st.sampled_from([1, 3_600, DAY // 2, DAY]))
    def advance_time(self, seconds: int) -> None:
        """Time passes (a block is mined)."""
        self.w.chain.advance_time(seconds)

    @precondition(lambda self: any(p.ends_at > self._now() for p in self._programs()))
    @rule(program=st.sampled_from([0, 1]), before=st.booleans())
    def to_the_end(self, program: int, before: bool) -> None:
        """The clock moves so that the next block is mined just before, or at, a program's end."""
        ends_at = self.funds.programs[self._program(program)[0]].ends_at - before
        now = self._now()
        if ends_at > now:
            self.w.chain.advance_time(ends_at - now)
            assert self._now() == ends_at

    def _programs(self) -> list[fm.Program]:
        return [self.funds.programs[program_id] for program_id in self.w.programs]

    @rule(
        program=st.sampled_from([0, 1]),
        sender=st.integers(0, 5),
        which=st.sampled_from(["marked", "marked", "marked and others", "others", "too many"]),
        others=st.lists(st.integers(0, 7), max_size=3),
        wait=st.sampled_from([True, False]),
    )
    def sweep(self, program: int, sender: int, which: str, others: list[int], wait: bool) -> None:
        """Anyone (a client too) sweeps a program's aid back from some accounts, maybe once its end has
        come (the clock moves there first if it has paid something sweepable): the ones its NGO marked,
        maybe followed by others (other programs', unmarked ones, providers, the outsider (7), one
        twice), or just others (maybe none), or too many."""
        program_id, _ = self._program(program)
        if wait and self.funds.sweepable.get(program_id):  # it has paid since it got its end
            self.to_the_end(program, before=False)
        who = self.w.clients[0] if sender == 5 else self.w.senders[sender]
        pool = [x.address for x in self.w.clients + self.w.providers] + [self.w.actors.outsider.address]
        marked = [
            x for x in pool if self.model.restricted.get(x) == program_id and x not in self.model.marked_by
        ]
        accounts = (marked if which.startswith("marked") else []) + [pool[i] for i in others]
        if which == "marked":
            accounts = marked
        if which == "too many":
            accounts = [pool[0]] * (fm.MAX_SWEEP_ACCOUNTS + 1)
        now = self._now()
        outcome: list[tuple[dict[str, int], tuple[fm.FundsReturned, ...]]] = []
        result = self._run(
            lambda: self.w.system.funds.sweep_expired(who, program_id, accounts),
            lambda: outcome.append(self.model.sweep_expired(self.funds, program_id, accounts, now=now)),
        )
        self._mined_at(result, now)
        if result is not None:
            taken, parts = outcome[0]
            swept: dict[str, int] = {}
            for e in result.events_named("ExpiredAidSwept"):
                assert e.args["programId"] == program_id
                swept[e.args["account"]] = swept.get(e.args["account"], 0) + e.args["amount"]
            assert swept == taken
            returned = [
                (e.args["allocationId"], e.args["lotId"], e.args["amount"], e.args["toFunder"])
                for e in result.events_named("FundsReturned")
            ]
            assert returned == [(p.allocation_id, p.lot_id, p.amount, p.to_funder) for p in parts]

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
        every euro each account holds, and what the fund ledger holds, in a lot; what sweeps took went
        back to the lots (a program's sweep pool, not an account, holds nothing after its sweep)."""
        system = self.w.system
        first = min(d.deploy_block for d in system.book.contracts.values())
        events = system.events(first, int(system.chain.web3.eth.block_number))
        lineage = build_lineage(events, system.token.address, system.funds.address, system.providers.address)
        pools = {sweep_pool(program_id) for program_id in self.w.programs}
        accounts = [account for account in lineage.model.queues if account not in pools]
        balances = {account: system.balance(account) for account in accounts}
        assert lineage.differences(balances, system.balance(system.funds.address)) == []  # pools: 0
        assert lineage.model.conserved()

    @invariant()
    def balances_match_and_money_is_conserved(self) -> None:
        for account in self.w.clients + self.w.providers:
            assert self.w.system.balance(account.address) == self.model.balances.get(account.address, 0)
        assert self.model.conserved()
        assert self.model.restricted_money_well_spent()

    @invariant()
    def sweepable_and_held_match(self) -> None:
        funds = self.w.system.funds
        for program_id in self.w.programs:
            assert funds.sweepable(program_id) == self.funds.sweepable.get(program_id, 0)
        token = self.w.system.token.address
        for holder in (funds.address, self.w.actors.funder.address):  # the funder: expired lots' parts
            assert self.w.system.balance(holder) == self.funds.balance(token, holder)

    def teardown(self) -> None:
        # Swarm testing leaves rules out of some examples: each ends with a sweep of what the programs'
        # marked accounts hold, after the end when they have paid something sweepable.
        for index in (0, 1):
            self.sweep(index, 3, "marked", [], True)
        self._every_euro_is_traced_to_a_lot()
        for program_id in self.w.programs:  # ends, allocated, released, disbursed, draw cursor
            chain_program = dataclasses.asdict(self.w.system.funds.program(program_id))
            assert chain_program == dataclasses.asdict(self.funds.programs[program_id])
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
