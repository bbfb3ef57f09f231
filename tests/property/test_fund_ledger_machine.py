"""The FundLedger contract against the plain-Python model, command by command (Hypothesis stateful).

Every example starts from the same snapshot of the deployed system (plus a second allowed token,
two receiver contracts, one of them refusing money, and an NGO that also holds the approver role,
so self-approval reaches its own check). It seeds programs, lots, allocations and a released
tranche, then runs random commands: deposits, programs, allocations (by funders or the allocator),
reservations (allocated or released, also after their lot expired: then anyone may release and
nobody may allocate), tranche requests and decisions, disbursements to fresh recipients and to a
receiver contract, returns from it (also for lots refunded since, which go to the funder), refunds,
token allow-listing and the passing of time. Most commands
are valid; some carry one or two deliberate faults. The chain and `governance.fund_model` must
both accept a command, or both reject it with the same error and the same arguments, and an
accepted command must emit what the model computed (ids, draws, returned allocations, transfers).

After every step: the model's books balance and the ledger's token balance equals what lots,
reservations and programs have not paid out. At the end of every example: the contract's views
equal the model, the state rebuilt from the events equals the views, no lot spends more than it
holds, every euro is traced to one payment, and funders hold exactly what the model says.

Speed: transactions the model expects to succeed are sent with a fixed gas limit (py-evm's gas
estimate runs a transaction a dozen times; a revert is still reported as its typed error), the
ledger's balance is read after the steps that may move a token, and the chain is driven from a
worker thread with a shallow stack: CPython 3.11 unmaps and maps a 16 KiB frame-stack chunk each
time a call crosses a chunk boundary, and at the depth pytest and Hypothesis add, py-evm's
interpreter loop often sits on one (a third of the run went to mmap/munmap system calls).
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from eth_account.signers.local import LocalAccount
from eth_utils import keccak, to_checksum_address
from hypothesis import event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from api.open_data.figures import figures
from governance import fund_model as fm
from ledger import fund_ledger as fl
from ledger.audit import consent_mismatches
from ledger.contracts import ContractClient
from ledger.embedded import EmbeddedChain
from ledger.exceptions import ContractRevert
from ledger.fund_events import rebuild_fund_state, replay_consent, trace_payments
from ledger.roles import Role
from ledger.system import Allmende, _deploy_data
from ledger.transactions import TxResult
from tests.conftest import EUR, Actors

T = TypeVar("T")

STEPS = 25  # commands per example, after the seed
MAX_LOTS, MAX_PROGRAMS = 8, 5  # enough to mix; more would only slow the views down
GAS = 8_000_000
MAX = 2**256 - 1
UNLISTED = to_checksum_address("0x" + "7e" * 20)  # never allowed
ZERO = fm.ZERO_ADDRESS

# Deliberate faults a command may carry (see `FundLedgerMachine._faults`).
DEPOSIT_FAULTS = [
    "not a funder",
    "unlisted token",
    "zero",
    "beyond balance",
    "unknown earmark",
    "expiry past",
    "earmark in other token",
]
ALLOCATE_FAULTS = [
    "unknown lot",
    "unknown program",
    "not allocator",
    "zero",
    "expired lot",
    "earmark mismatch",
    "token mismatch",
    "too much",
]
DISBURSE_FAULTS = [
    "unknown program",
    "other ngo",
    "over",
    "zero amount",
    "zero recipient",
    "empty batch",
    "lengths differ",
    "overflow",
]


@dataclass
class World:
    """What every example starts from: the deployed system at `snapshot`."""

    system: Allmende
    chain: EmbeddedChain
    actors: Actors
    token_b: ContractClient
    probe: ContractClient  # a receiver contract that accepts money and gives it back on request
    refusing: ContractClient  # one that refuses money
    snapshot: Any = None
    balances: dict[tuple[str, str], int] = field(default_factory=dict)  # (token, account) -> amount
    worker: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(1, "fund-ledger-evm"))

    def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """`fn(*args, **kwargs)` on the worker thread (see the module docstring); main thread only."""
        return self.worker.submit(fn, *args, **kwargs).result()

    @property
    def tokens(self) -> list[str]:
        return [self.system.token.address, self.token_b.address]

    @property
    def watched(self) -> list[LocalAccount]:
        """Accounts whose token balances the model follows."""
        a = self.actors
        return [a.funder, a.funder2, a.ngo, a.ngo2, a.approver, a.allocator, a.outsider]

    def balance(self, token: str, account: str) -> int:
        client = self.system.token if token == self.system.token.address else self.token_b
        return int(self.run(client.call, "balanceOf", account, sender=self.actors.admin.address))


def _prepare(system: Allmende, actors: Actors, chain: EmbeddedChain) -> World:
    """A second allowed token with funded, approving funders; ngo2 may also approve tranches."""
    a = actors
    data = _deploy_data(system.sender, "EuroToken", [system.roles.address, system.forwarder.address])
    address = system.sender.send(a.admin, None, data).contract_address
    assert address is not None
    token_b = ContractClient(system.sender, "EuroToken", address)
    system.funds.set_token_allowed(a.admin, address, True)
    for funder in (a.funder, a.funder2):
        token_b.transact(a.treasurer, "mint", funder.address, 1_000 * EUR, bytes(32))
        token_b.transact(funder, "approve", system.funds.address, MAX)
    system.grant(a.admin, Role.APPROVER, a.ngo2.address)
    probes = []
    for _ in range(2):
        data = _deploy_data(system.sender, "FundsReceiverProbe", [system.funds.address])
        address = system.sender.send(a.admin, None, data).contract_address
        assert address is not None
        probes.append(ContractClient(system.sender, "FundsReceiverProbe", address))
    probes[1].transact(a.admin, "setAccept", False)
    # py-evm stamps a block max(wall clock, parent + 1), a gas estimate too: keep the chain's clock
    # well ahead of the wall clock, so that a revert found by estimation sees the block's time.
    chain.advance_time(86_400)
    world = World(system, chain, actors, token_b, *probes)
    for token in world.tokens:
        assert world.balance(token, system.funds.address) == 0
        for account in world.watched:
            world.balances[(token, account.address)] = world.balance(token, account.address)
    world.snapshot = chain.snapshot()
    return world


def _role_id(value: Any) -> Any:
    """Model errors name roles; the chain reports their ids."""
    return Role(value).id if isinstance(value, str) and value.endswith("_ROLE") else value


def _model_state(model: fm.FundModel, tokens: list[str]) -> fl.FundState:
    """The model in the shape `FundLedgerClient.read_state` returns."""
    return fl.FundState(
        allowed_tokens={t: model.allowed_tokens.get(t, False) for t in tokens},
        lots={i: fl.Lot(**dataclasses.asdict(x)) for i, x in model.lots.items()},
        programs={i: fl.Program(**dataclasses.asdict(x)) for i, x in model.programs.items()},
        allocations={i: fl.Allocation(**dataclasses.asdict(x)) for i, x in model.allocations.items()},
        tranches={
            i: fl.Tranche(**{**dataclasses.asdict(x), "status": fl.TrancheStatus(x.status)})
            for i, x in model.tranches.items()
        },
        lot_allocations={i: list(v) for i, v in model.lot_allocations.items()},
        program_allocations={i: list(v) for i, v in model.program_allocations.items()},
        reservations={i: fl.Reservation(**dataclasses.asdict(x)) for i, x in model.reservations.items()},
        receiver_batches={
            i: fl.ReceiverBatch(**dataclasses.asdict(x)) for i, x in model.receiver_batches.items()
        },
        batch_count=model.batch_count,
    )


OUTCOMES: Counter[str] = Counter()  # command -> outcome, over the whole run (see the report)


def _note(outcome: str) -> None:
    """Count an outcome for the run (`OUTCOMES`) and for Hypothesis's statistics."""
    OUTCOMES[outcome] += 1
    event(outcome)


class FundLedgerMachine(RuleBasedStateMachine):
    """Random commands on the FundLedger contract and on `FundModel`, compared step by step."""

    def __init__(self, world: World) -> None:
        super().__init__()
        self.w = world
        world.chain.revert(world.snapshot)  # a fresh deployed state for every example
        world.system.sender.forget_nonces()
        a, funds = world.actors, world.system.funds
        self.funds = funds
        self.model = fm.FundModel(ledger=funds.address)
        for role, who in [
            (fm.ADMIN_ROLE, a.admin),
            (fm.FUNDER_ROLE, a.funder),
            (fm.FUNDER_ROLE, a.funder2),
            (fm.NGO_ROLE, a.ngo),
            (fm.NGO_ROLE, a.ngo2),
            (fm.APPROVER_ROLE, a.approver),
            (fm.APPROVER_ROLE, a.ngo2),
            (fm.ALLOCATOR_ROLE, a.allocator),
        ]:
            self.model.grant_role(role, who.address)
        for token in world.tokens:
            self.model.allowed_tokens[token] = True
            for funder in (a.funder, a.funder2):
                self.model.approve(token, funder.address, funds.address, MAX)
        for (token, account), amount in world.balances.items():
            self.model.mint(token, account, amount)
        self.model.add_receiver(world.probe.address, accepts=True)
        self.model.add_receiver(world.refusing.address, accepts=False)
        self.by_address = {x.address: x for x in world.watched}
        self.recipients = 0
        self.payments: list[tuple[str, int]] = []  # (recipient, amount) of every disbursement
        self.steps = 0
        self.moved: set[str] = set()  # tokens transferred since the last balance check
        self.seeding = False
        self.clean = False  # the last step and its invariants passed

    # --- running one command on both sides ----------------------------------------------------

    def _now(self) -> int:
        """Timestamp of the block the next transaction is mined in."""
        return int(self.w.chain.web3.eth.get_block("pending")["timestamp"])

    def _run(
        self,
        command: str,
        on_chain: Callable[[int | None], TxResult],
        in_model: Callable[[], T],
        *,
        moves: str | None = None,
    ) -> tuple[TxResult, T] | None:
        """Run the command in the model, then on chain; both succeed, or both fail alike.

        `moves` is the token an accepted command may transfer: the ledger's balance of it is
        compared after the step (all tokens are compared at the end of the example).
        """
        self.clean = False
        self.steps += 1
        model_error: fm.ModelError | None = None
        try:
            expected = in_model()
        except fm.ModelError as exc:
            model_error = exc
        chain_error: ContractRevert | None = None
        try:
            result = on_chain(None if model_error is not None else GAS)
        except ContractRevert as exc:
            chain_error = exc
        outcome = "ok" if model_error is None else type(model_error).__name__
        _note(f"{command}: {outcome}")
        if model_error is None and chain_error is None:
            if moves is not None:
                self.moved.add(moves)
            return result, expected
        assert chain_error is not None, f"{command}: the chain accepted, the model raised {model_error!r}"
        assert model_error is not None, f"{command}: the chain raised {chain_error!r}, the model accepted"
        assert type(chain_error).__name__ == type(model_error).__name__, (chain_error, model_error)
        assert chain_error.values == tuple(_role_id(v) for v in model_error.values), (
            chain_error,
            model_error,
        )
        return None

    def _send(self, account: LocalAccount, function: str, *args: Any) -> Callable[[int | None], TxResult]:
        return lambda gas: self.w.run(self.funds.transact, account, function, *args, gas=gas)

    def _block_time(self, result: TxResult) -> int:
        return int(self.w.chain.web3.eth.get_block(result.block_number)["timestamp"])

    # --- drawing arguments --------------------------------------------------------------------

    def _faults(self, data: st.DataObject, options: list[str]) -> set[str]:
        """Mostly none; sometimes one deliberate fault, now and then two (which one wins is order)."""
        if self.seeding:
            return set()
        n = data.draw(st.sampled_from([0] * 6 + [1] * 3 + [2]), label="faults")
        chosen = data.draw(
            st.lists(st.sampled_from(options), min_size=n, max_size=n, unique=True), label="fault"
        )
        return set(chosen)

    @staticmethod
    def _pick(data: st.DataObject, ids: list[int], label: str) -> int | None:
        return data.draw(st.sampled_from(ids), label=label) if ids else None

    def _other(self, account: LocalAccount, pair: tuple[LocalAccount, LocalAccount]) -> LocalAccount:
        return pair[1] if account is pair[0] else pair[0]

    def _programs_for(self, lot: fm.Lot) -> list[int]:
        """Programs `lot` may be allocated to: same token, and its earmark if it has one."""
        return [i for i, p in self.model.programs.items() if p.token == lot.token and lot.earmark in (0, i)]

    def _expired(self, lot: fm.Lot, now: int) -> bool:
        return lot.expiry != 0 and now >= lot.expiry

    def _to_the_brink(self, data: st.DataObject, lot: fm.Lot | None, choices: list[str]) -> int:
        """Maybe move the clock so that the next block is mined just before, or at, `lot`'s expiry
        (a `choices` entry); returns the next block's timestamp."""
        now = self._now()
        choice = data.draw(st.sampled_from(choices), label="wait")
        target = (
            {"just before expiry": lot.expiry - 1, "until expiry": lot.expiry}.get(choice) if lot else None
        )
        if target is not None and target > now:
            self.w.chain.advance_time(target - now)
            now = self._now()
            assert now == target
        return now

    # --- rules --------------------------------------------------------------------------------

    @initialize(data=st.data())
    def seed(self, data: st.DataObject) -> None:
        """Programs, lots, allocations, a released tranche, a reservation and a payment to a receiver
        contract to start from (random but without deliberate faults, and compared like any other
        step)."""
        self.seeding = True
        for command in (self.create_program, self.create_program, self.deposit, self.deposit):
            command(data)
        for command in (self.allocate, self.allocate, self.request_tranche, self.decide_tranche):
            command(data)
        # A reservation and a receiver batch when the seed allows: the paths where expiry and refund
        # meet money held elsewhere (allocating or releasing reserved money, receivers returning).
        if any(x.unallocated and not x.earmark for x in self.model.lots.values()):
            self.reserve(data)
        if self._payable():
            self.disburse_to(data)
        self.seeding = False

    @precondition(lambda self: len(self.model.lots) < MAX_LOTS)
    @rule(data=st.data())
    def deposit(self, data: st.DataObject) -> None:
        a, m = self.w.actors, self.model
        faults = self._faults(data, DEPOSIT_FAULTS)
        funder = data.draw(st.sampled_from([a.funder, a.funder2]), label="funder")
        funder = a.ngo if "not a funder" in faults else funder
        token_a, token_b = self.w.tokens
        token = data.draw(st.sampled_from([token_a] * 3 + [token_b]), label="token")
        if self.seeding and m.programs:  # start with lots some program can take
            token = m.programs[data.draw(st.integers(1, len(m.programs)), label="for program")].token
        token = UNLISTED if "unlisted token" in faults else token
        amount = data.draw(st.integers(1, 1_000), label="amount")
        if "zero" in faults:
            amount = 0
        elif "beyond balance" in faults:
            amount = m.balance(token, funder.address) + 1
        same = [i for i, p in m.programs.items() if p.token == token]
        other = [i for i, p in m.programs.items() if p.token != token]
        earmark = 0
        if data.draw(st.sampled_from([False] * 3 + [True]), label="earmarked"):
            earmark = self._pick(data, same, "earmark") or 0
        if "unknown earmark" in faults:
            earmark = len(m.programs) + 1
        elif "earmark in other token" in faults:
            earmark = self._pick(data, other, "earmark") or earmark
        expires = data.draw(st.sampled_from([True, True, False]), label="expires")
        offset = data.draw(st.integers(1, 40) | st.integers(40, 900), label="expires in") if expires else 0
        if "expiry past" in faults:
            offset = data.draw(st.integers(-5, 0), label="expires in")
        now = self._now()
        expiry = now + offset if expires or "expiry past" in faults else 0
        before = m.balance(token, funder.address)
        outcome = self._run(
            "deposit",
            self._send(funder, "deposit", token, amount, earmark, expiry),
            lambda: m.deposit(funder.address, token, amount, earmark, expiry, now=now),
            moves=token,
        )
        if outcome is None:
            return
        result, lot_id = outcome
        assert self._block_time(result) == now
        assert result.event("LotDeposited").args == {
            "lotId": lot_id,
            "funder": funder.address,
            "token": token,
            "amount": amount,
            "earmark": earmark,
            "expiry": expiry,
        }
        assert self.w.balance(token, funder.address) == before - amount == m.balance(token, funder.address)
        if self.seeding or data.draw(st.sampled_from([True, True, False]), label="name the allocator"):
            self._name_allocator(funder, lot_id, a.allocator, True)

    def _name_allocator(
        self, funder: LocalAccount, lot_id: int, allocator: LocalAccount, allowed: bool
    ) -> None:
        outcome = self._run(
            "set_lot_allocator",
            self._send(funder, "setLotAllocator", lot_id, allocator.address, allowed),
            lambda: self.model.set_lot_allocator(funder.address, lot_id, allocator.address, allowed),
        )
        if outcome is not None:
            assert outcome[0].event("LotAllocatorSet").args == {
                "lotId": lot_id,
                "funder": funder.address,
                "allocator": allocator.address,
                "allowed": allowed,
            }

    def _name_approver(self, funder: LocalAccount, program_id: int, approver: str, allowed: bool) -> None:
        outcome = self._run(
            "set_program_approver",
            self._send(funder, "setProgramApprover", program_id, approver, allowed),
            lambda: self.model.set_program_approver(funder.address, program_id, approver, allowed),
        )
        if outcome is not None:
            assert outcome[0].event("ProgramApproverSet").args == {
                "programId": program_id,
                "funder": funder.address,
                "approver": approver,
                "allowed": allowed,
            }

    @precondition(lambda self: self.model.lots)
    @rule(data=st.data())
    def set_lot_allocator(self, data: st.DataObject) -> None:
        """A funder names or revokes an allocator of its lot; sometimes someone else tries."""
        a, m = self.w.actors, self.model
        faults = self._faults(data, ["not the funder", "unknown lot"])
        lot_id = self._pick(data, list(m.lots), "lot") or 1
        if "unknown lot" in faults:
            lot_id = len(m.lots) + 1
        lot = m.lots.get(lot_id)
        funder = self.by_address[lot.funder] if lot else a.funder
        if "not the funder" in faults:
            funder = data.draw(
                st.sampled_from([self._other(funder, (a.funder, a.funder2)), a.ngo]), label="by"
            )
        allocator = data.draw(st.sampled_from([a.allocator, a.ngo, a.ngo2]), label="allocator")
        allowed = data.draw(st.sampled_from([True, True, False]), label="allowed")
        self._name_allocator(funder, lot_id, allocator, allowed)

    @precondition(lambda self: self.model.programs)
    @rule(data=st.data())
    def set_program_approver(self, data: st.DataObject) -> None:
        """A funder (with money in the program, or not) names or revokes an approver of its tranches."""
        a, m = self.w.actors, self.model
        faults = self._faults(data, ["zero account", "stranger"])
        program_id = self._pick(data, list(m.programs), "program") or 1
        funder = data.draw(st.sampled_from([a.funder, a.funder2]), label="by")
        if "stranger" in faults:
            funder = a.outsider
        approver = data.draw(st.sampled_from([a.approver, a.ngo2, a.ngo]), label="approver").address
        if "zero account" in faults:
            approver = ZERO
        allowed = data.draw(st.sampled_from([True, True, False]), label="allowed")
        self._name_approver(funder, program_id, approver, allowed)

    @rule(data=st.data())
    def set_requester(self, data: st.DataObject) -> None:
        """An NGO (or a stranger, or a funder) names or revokes a person who asks for its tranches."""
        a, m = self.w.actors, self.model
        faults = self._faults(data, ["zero account", "not an ngo"])
        ngo = data.draw(st.sampled_from([a.ngo, a.ngo2]), label="by")
        if "not an ngo" in faults:
            ngo = data.draw(st.sampled_from([a.outsider, a.funder]), label="not an ngo")
        requester = data.draw(st.sampled_from([a.approver, a.allocator]), label="requester").address
        if "zero account" in faults:
            requester = ZERO
        allowed = data.draw(st.sampled_from([True, True, False]), label="allowed")
        outcome = self._run(
            "set_requester",
            self._send(ngo, "setRequester", requester, allowed),
            lambda: m.set_requester(ngo.address, requester, allowed),
        )
        if outcome is not None:
            assert outcome[0].event("RequesterSet").args == {
                "ngo": ngo.address,
                "requester": requester,
                "allowed": allowed,
            }

    @precondition(lambda self: len(self.model.programs) < MAX_PROGRAMS)
    @rule(data=st.data())
    def create_program(self, data: st.DataObject) -> None:
        a = self.w.actors
        faults = self._faults(data, ["not an ngo", "unlisted token"])
        ngo = a.funder if "not an ngo" in faults else data.draw(st.sampled_from([a.ngo, a.ngo2]), label="ngo")
        token_a, token_b = self.w.tokens
        token = data.draw(st.sampled_from([token_a] * 3 + [token_b]), label="token")
        token = UNLISTED if "unlisted token" in faults else token
        meta = data.draw(st.binary(min_size=32, max_size=32), label="metadata hash")
        outcome = self._run(
            "create_program",
            self._send(ngo, "createProgram", token, meta),
            lambda: self.model.create_program(ngo.address, token, meta),
        )
        if outcome is not None:
            result, program_id = outcome
            assert result.event("ProgramCreated").args["programId"] == program_id

    @precondition(lambda self: any(lot.unallocated for lot in self.model.lots.values()))
    @rule(data=st.data())
    def allocate(self, data: st.DataObject) -> None:
        a, m = self.w.actors, self.model
        faults = self._faults(data, ALLOCATE_FAULTS)
        now = self._now()
        usable = [  # lots with money that some program could take
            i
            for i, x in m.lots.items()
            if x.unallocated and not self._expired(x, now) and self._programs_for(x)
        ]
        expired = [i for i, x in m.lots.items() if self._expired(x, now)]
        earmarked = [i for i, x in m.lots.items() if x.earmark]
        pool = expired if "expired lot" in faults else earmarked if "earmark mismatch" in faults else usable
        lot_id = self._pick(data, pool or list(m.lots), "lot") or 1
        if "unknown lot" in faults:
            lot_id = len(m.lots) + 1
        lot = m.lots.get(lot_id)
        now = self._to_the_brink(data, lot, ["no"] * 6 + ["just before expiry", "until expiry"])
        token = lot.token if lot else self.w.tokens[0]
        fitting = self._programs_for(lot) if lot else []
        if lot and "earmark mismatch" in faults:
            fitting = [i for i in m.programs if i != lot.earmark]
        elif "token mismatch" in faults:
            fitting = [i for i, p in m.programs.items() if p.token != token]
        program_id = self._pick(data, fitting or list(m.programs), "program") or 1
        if "unknown program" in faults:
            program_id = len(m.programs) + 1
        funder = self.by_address[lot.funder] if lot else a.funder
        sender = data.draw(st.sampled_from([funder, funder, a.allocator, a.allocator]), label="by")
        if "not allocator" in faults:
            sender = data.draw(
                st.sampled_from([self._other(funder, (a.funder, a.funder2)), a.ngo]), label="by"
            )
        cap = lot.unallocated if lot else 100
        amount = self._some(data, cap, slices=True)  # slices: programs draw across many allocations
        amount = 0 if "zero" in faults else cap + 1 if "too much" in faults else amount
        outcome = self._run(
            "allocate",
            self._send(sender, "allocate", lot_id, program_id, amount),
            lambda: m.allocate(sender.address, lot_id, program_id, amount, now=now),
        )
        if outcome is not None:
            result, allocation_id = outcome
            assert self._block_time(result) == now
            assert result.event("Allocated").args == {
                "allocationId": allocation_id,
                "lotId": lot_id,
                "programId": program_id,
                "amount": amount,
                "allocator": sender.address,
                "reservationId": 0,
            }
            named = m.program_approvers.get(program_id, {}).get(funder.address, set())
            if a.approver.address not in named and (
                self.seeding or data.draw(st.booleans(), label="name the approver")
            ):
                self._name_approver(funder, program_id, a.approver.address, True)

    def _some(self, data: st.DataObject, cap: int, *, slices: bool = False) -> int:
        """Some of `cap` (at least 1), all of it, or (with `slices`) a small part."""
        kinds = ["some", "some", "all"] + (["slice", "slice"] if slices else [])
        kind = data.draw(st.sampled_from(kinds), label="amount kind")
        if kind == "all":
            return cap
        top = max(cap // 8, 1) if kind == "slice" else max(cap, 1)
        return data.draw(st.integers(1, top), label="amount")

    @precondition(lambda self: any(x.unallocated and not x.earmark for x in self.model.lots.values()))
    @rule(data=st.data())
    def reserve(self, data: st.DataObject) -> None:
        a, m = self.w.actors, self.model
        faults = self._faults(
            data, ["not allocator", "unknown lot", "zero", "expired lot", "earmarked lot", "too much"]
        )
        now = self._now()
        usable = [
            i for i, x in m.lots.items() if x.unallocated and not x.earmark and not self._expired(x, now)
        ]
        expired = [i for i, x in m.lots.items() if self._expired(x, now)]
        earmarked = [i for i, x in m.lots.items() if x.earmark]
        pool = expired if "expired lot" in faults else earmarked if "earmarked lot" in faults else usable
        lot_id = self._pick(data, pool or list(m.lots), "lot") or 1
        if "unknown lot" in faults:
            lot_id = len(m.lots) + 1
        lot = m.lots.get(lot_id)
        now = self._to_the_brink(data, lot, ["no"] * 6 + ["just before expiry", "until expiry"])
        sender = a.funder if "not allocator" in faults else a.allocator
        funder = self.by_address[lot.funder] if lot else a.funder
        # The role holder (a budget contract) reserves on behalf of a requester the funder must consent to.
        requester = data.draw(st.sampled_from([funder, funder, a.allocator, a.ngo]), label="requester")
        cap = lot.unallocated if lot else 100
        amount = 0 if "zero" in faults else cap + 1 if "too much" in faults else self._some(data, cap)
        outcome = self._run(
            "reserve",
            self._send(sender, "reserve", lot_id, amount, requester.address),
            lambda: m.reserve(sender.address, lot_id, amount, now=now, requester=requester.address),
        )
        if outcome is not None:
            result, reservation_id = outcome
            assert self._block_time(result) == now
            assert result.event("Reserved").args == {
                "reservationId": reservation_id,
                "lotId": lot_id,
                "holder": sender.address,
                "amount": amount,
            }

    @precondition(lambda self: self.model.reservations)
    @rule(data=st.data())
    def allocate_reserved(self, data: st.DataObject) -> None:
        a, m = self.w.actors, self.model
        faults = self._faults(
            data,
            [
                "unknown reservation",
                "not holder",
                "unknown program",
                "token mismatch",
                "zero",
                "too much",
                "expired lot",
            ],
        )
        now = self._now()
        open_ = [i for i, r in m.reservations.items() if r.amount]
        expired = [i for i in open_ if self._expired(m.lots[m.reservations[i].lot_id], now)]
        pool = expired if "expired lot" in faults else open_
        reservation_id = self._pick(data, pool or open_ or list(m.reservations), "reservation") or 1
        if "unknown reservation" in faults:
            reservation_id = len(m.reservations) + 1
        reservation = m.reservations.get(reservation_id)
        lot = m.lots[reservation.lot_id] if reservation else None
        if (
            reservation is not None
            and lot is not None
            and lot.expiry
            and not lot.refunded
            and "expired lot" in faults
            and data.draw(st.booleans(), label="refund the lot first")
        ):
            self._refund(data, reservation.lot_id, ["until expiry"])
        now = self._to_the_brink(data, lot, ["no"] * 6 + ["just before expiry", "until expiry"])
        token = m.lots[reservation.lot_id].token if reservation else self.w.tokens[0]
        same = [i for i, p in m.programs.items() if p.token == token]
        other = [i for i, p in m.programs.items() if p.token != token]
        program_id = self._pick(
            data, (other if "token mismatch" in faults else same) or list(m.programs), "program"
        )
        program_id = len(m.programs) + 1 if program_id is None or "unknown program" in faults else program_id
        sender = a.funder if "not holder" in faults else a.allocator
        cap = reservation.amount if reservation else 100
        amount = 0 if "zero" in faults else cap + 1 if "too much" in faults else self._some(data, cap)
        outcome = self._run(
            "allocate_reserved",
            self._send(sender, "allocateReserved", reservation_id, program_id, amount),
            lambda: m.allocate_reserved(sender.address, reservation_id, program_id, amount, now=now),
        )
        if outcome is None and lot is not None and lot.refunded:
            _note("allocate_reserved: refused, the lot refunded")
        if outcome is not None:
            result, allocation_id = outcome
            assert reservation is not None and lot is not None
            assert self._block_time(result) == now and not self._expired(lot, now)
            assert result.event("Allocated").args == {
                "allocationId": allocation_id,
                "lotId": reservation.lot_id,
                "programId": program_id,
                "amount": amount,
                "allocator": sender.address,
                "reservationId": reservation_id,
            }

    @precondition(lambda self: self.model.reservations)
    @rule(data=st.data())
    def release_reservation(self, data: st.DataObject) -> None:
        a, m = self.w.actors, self.model
        faults = self._faults(data, ["unknown reservation", "not holder"])
        now = self._now()
        open_ = [i for i, r in m.reservations.items() if r.amount]
        settled = [i for i in open_ if m.lots[m.reservations[i].lot_id].refunded]  # back to the funder
        expired = [i for i in open_ if self._expired(m.lots[m.reservations[i].lot_id], now)]
        pool = data.draw(
            st.sampled_from([settled or open_, expired or open_, open_]), label="prefer refunded lots"
        )
        reservation_id = self._pick(data, pool or list(m.reservations), "reservation") or 1
        if "unknown reservation" in faults:
            reservation_id = len(m.reservations) + 1
        reservation = m.reservations.get(reservation_id)
        lot = m.lots[reservation.lot_id] if reservation else None
        sender = a.allocator
        if "not holder" in faults:  # refused until the lot expires, then anyone may release
            now = self._to_the_brink(data, lot, ["just before expiry", "until expiry", "no"])
            sender = data.draw(st.sampled_from([a.funder, a.outsider]), label="by")
        elif lot is not None and self._expired(lot, now):
            sender = data.draw(st.sampled_from([a.allocator, a.funder, a.outsider]), label="by")
        outcome = self._run(
            "release_reservation",
            self._send(sender, "releaseReservation", reservation_id),
            lambda: m.release_reservation(sender.address, reservation_id, now=now),
            moves=self._reservation_token(reservation_id),
        )
        if outcome is None:
            return
        result, released = outcome
        if sender is not a.allocator:
            _note("release_reservation: by another than the holder, after the expiry")
        assert result.event("ReservationReleased").args == {
            "reservationId": reservation_id,
            "lotId": released.lot_id,
            "amount": released.amount,
            "toFunder": released.to_funder,
        }
        lot = m.lots[released.lot_id]
        assert self.w.balance(lot.token, lot.funder) == m.balance(lot.token, lot.funder)

    @rule(data=st.data())
    def request_tranche(self, data: st.DataObject) -> None:
        a, m = self.w.actors, self.model
        faults = self._faults(data, ["unknown program", "other ngo", "zero", "beyond allocation"])
        funded = [i for i, p in m.programs.items() if p.allocated > p.released]
        program_id = self._pick(data, funded or list(m.programs), "program") or 1
        if "unknown program" in faults:
            program_id = len(m.programs) + 1
        program = m.programs.get(program_id)
        requester = self.by_address[program.ngo] if program else a.ngo
        if "other ngo" in faults:
            requester = self._other(requester, (a.ngo, a.ngo2))
        elif data.draw(st.booleans(), label="a person asks"):  # named by the NGO, or not
            requester = data.draw(st.sampled_from([a.approver, a.allocator]), label="person")
        cap = program.allocated - program.released if program else 100
        amount = data.draw(st.sampled_from(["some", "some", "all"]), label="amount kind")
        amount = cap if amount == "all" else data.draw(st.integers(1, max(cap, 1)), label="amount")
        amount = 0 if "zero" in faults else cap + 1 if "beyond allocation" in faults else amount
        milestone = data.draw(st.binary(min_size=32, max_size=32), label="milestone")
        outcome = self._run(
            "request_tranche",
            self._send(requester, "requestTranche", program_id, amount, milestone),
            lambda: m.request_tranche(requester.address, program_id, amount, milestone),
        )
        if outcome is not None:
            result, tranche_id = outcome
            assert result.event("TrancheRequested").args["trancheId"] == tranche_id

    def _pending(self) -> list[int]:
        return [i for i, t in self.model.tranches.items() if t.status == fm.TrancheStatus.REQUESTED]

    def _payable(self) -> list[int]:
        """Programs with released money left to pay out."""
        return [i for i, p in self.model.programs.items() if p.released > p.disbursed]

    def _releasable(self, program_id: int) -> int:
        program = self.model.programs[program_id]
        return program.allocated - program.released

    def _tranche_and_decider(self, data: st.DataObject) -> tuple[int, LocalAccount]:
        """Mostly a pending tranche and an approver who did not request it; sometimes not."""
        a, m = self.w.actors, self.model
        faults = self._faults(
            data, ["unknown tranche", "decided tranche", "self approval", "no approver role"]
        )
        pending = [i for i, t in m.tranches.items() if t.status == fm.TrancheStatus.REQUESTED]
        fundable = [  # pending, and the program has that much unreleased
            i for i in pending if m.tranches[i].amount <= self._releasable(m.tranches[i].program_id)
        ]
        decided = [i for i, t in m.tranches.items() if t.status != fm.TrancheStatus.REQUESTED]
        pool = decided if "decided tranche" in faults else fundable or pending
        tranche_id = self._pick(data, pool or list(m.tranches), "tranche")
        tranche_id = len(m.tranches) + 1 if tranche_id is None or "unknown tranche" in faults else tranche_id
        tranche = m.tranches.get(tranche_id)
        # Mostly someone the program's funders consent to: a funder with money in it, or one it named.
        program_id = tranche.program_id if tranche else 0
        funders = sorted(m.program_funders.get(program_id, set()))
        named = sorted({x for xs in m.program_approvers.get(program_id, {}).values() for x in xs})
        approvers = [self.by_address[x] for x in funders + named if x in self.by_address]
        approvers = [x for x in approvers if not tranche or x.address != tranche.requester] or [a.approver]
        approver = data.draw(st.sampled_from(approvers), label="by")
        if "self approval" in faults:
            approver = self.by_address[tranche.requester] if tranche else a.ngo2
        elif (
            "no approver role" in faults
        ):  # the roles alone no longer decide: an unrelated funder, a stranger
            approver = data.draw(st.sampled_from([a.funder, a.funder2, a.allocator, a.outsider]), label="by")
        return tranche_id, approver

    @precondition(lambda self: self._pending())
    @rule(data=st.data())
    def decide_tranche(self, data: st.DataObject) -> None:
        """Approve (mostly) or reject a tranche."""
        tranche_id, approver = self._tranche_and_decider(data)
        if data.draw(st.sampled_from(["approve"] * 3 + ["reject"]), label="decision") == "reject":
            reason = data.draw(st.binary(min_size=32, max_size=32), label="reason")
            outcome = self._run(
                "reject_tranche",
                self._send(approver, "rejectTranche", tranche_id, reason),
                lambda: self.model.reject_tranche(approver.address, tranche_id),
            )
            if outcome is not None:
                args = outcome[0].event("TrancheRejected").args
                assert args == {"trancheId": tranche_id, "approver": approver.address, "reasonHash": reason}
            return
        outcome = self._run(
            "approve_tranche",
            self._send(approver, "approveTranche", tranche_id),
            lambda: self.model.approve_tranche(approver.address, tranche_id),
        )
        if outcome is not None:
            args = outcome[0].event("TrancheApproved").args
            tranche = self.model.tranches[tranche_id]
            assert args == {
                "trancheId": tranche_id,
                "programId": tranche.program_id,
                "approver": approver.address,
                "amount": tranche.amount,
            }

    @precondition(lambda self: self._pending())
    @rule(data=st.data())
    def cancel_tranche(self, data: st.DataObject) -> None:
        a, m = self.w.actors, self.model
        faults = self._faults(data, ["unknown tranche", "decided tranche", "not the requester"])
        pending = [i for i, t in m.tranches.items() if t.status == fm.TrancheStatus.REQUESTED]
        decided = [i for i, t in m.tranches.items() if t.status != fm.TrancheStatus.REQUESTED]
        tranche_id = self._pick(
            data, (decided if "decided tranche" in faults else pending) or list(m.tranches), "tranche"
        )
        tranche_id = len(m.tranches) + 1 if tranche_id is None or "unknown tranche" in faults else tranche_id
        tranche = m.tranches.get(tranche_id)
        sender = self.by_address[tranche.requester] if tranche else a.ngo
        if "not the requester" in faults:
            sender = self._other(sender, (a.ngo, a.ngo2))
        self._run(
            "cancel_tranche",
            self._send(sender, "cancelTranche", tranche_id),
            lambda: m.cancel_tranche(sender.address, tranche_id),
        )

    @precondition(lambda self: self._payable())
    @rule(data=st.data())
    def disburse(self, data: st.DataObject) -> None:
        a, m = self.w.actors, self.model
        faults = self._faults(data, DISBURSE_FAULTS)
        program_id = self._pick(data, self._payable(), "program") or 1
        if "unknown program" in faults:
            program_id = len(m.programs) + 1
        program = m.programs.get(program_id)
        sender = self.by_address[program.ngo] if program else a.ngo
        if "other ngo" in faults:
            sender = self._other(sender, (a.ngo, a.ngo2))
        available = program.released - program.disbursed if program else 10
        count = data.draw(st.integers(1, 5), label="payments")
        amounts = [
            data.draw(st.integers(1, max(1, available // count)), label="amount") for _ in range(count)
        ]
        if data.draw(st.booleans(), label="pay out everything"):
            amounts[-1] = max(1, available - sum(amounts[:-1]))
        recipients = [self._fresh_recipient() for _ in range(count)]
        if "over" in faults:
            amounts[-1] += max(1, available + 1 - sum(amounts))
        if "zero amount" in faults:
            amounts[data.draw(st.integers(0, count - 1), label="at")] = 0
        if "zero recipient" in faults:
            recipients[data.draw(st.integers(0, count - 1), label="at")] = ZERO
        if "overflow" in faults:
            amounts = [fm.UINT128_MAX, *amounts[1:]] if count > 1 else [fm.UINT128_MAX]
        if "lengths differ" in faults:
            amounts = amounts[:-1] if count > 1 else [*amounts, 1]
        if "empty batch" in faults:
            recipients, amounts = [], []
        reference = data.draw(st.binary(min_size=32, max_size=32), label="reference")
        outcome = self._run(
            "disburse",
            self._send(sender, "disburse", program_id, recipients, amounts, reference),
            lambda: m.disburse(sender.address, program_id, recipients, amounts, now=self._now()),
            moves=program.token if program else None,
        )
        if outcome is None:
            return
        result, batch = outcome
        drawn = [
            (e.args["allocationId"], e.args["lotId"], e.args["batchId"], e.args["amount"])
            for e in result.events_named("AllocationDrawn")
        ]
        assert drawn == [(d.allocation_id, d.lot_id, batch.batch_id, d.amount) for d in batch.draws]
        closed = result.event("BatchDisbursed").args
        assert closed == {
            "batchId": batch.batch_id,
            "programId": program_id,
            "count": len(recipients),
            "total": batch.total,
            "paymentReference": reference,
        }
        paid = [(e.args["recipient"], e.args["amount"]) for e in result.events_named("Disbursed")]
        assert paid == list(zip(recipients, amounts, strict=True))
        token = m.programs[program_id].token
        for recipient in recipients:  # fresh accounts: they hold exactly what they were paid
            assert self.w.balance(token, recipient) == m.balance(token, recipient)
        self.payments.extend(paid)

    @precondition(lambda self: self.model.programs)
    @rule(data=st.data())
    def set_program_end(self, data: st.DataObject) -> None:
        """The NGO sets (or moves) its program's end: before it pays anything, later only later; a
        program with an end records its disbursements' draws and pays nothing once it has passed."""
        a, m = self.w.actors, self.model
        program_id = data.draw(st.sampled_from(sorted(m.programs)), label="program")
        program = m.programs[program_id]
        sender = self.by_address[program.ngo]
        if data.draw(st.sampled_from([False, False, False, True]), label="other ngo"):
            sender = self._other(sender, (a.ngo, a.ngo2))
        now = self._now()
        ends_at = now + data.draw(st.sampled_from([0, 1, 3_600, 30 * 86_400]), label="ends in")
        if program.ends_at and data.draw(st.booleans(), label="earlier"):
            ends_at = program.ends_at - 1
        self._run(
            "set_program_end",
            self._send(sender, "setProgramEnd", program_id, ends_at),
            lambda: m.set_program_end(sender.address, program_id, ends_at, now=now),
        )

    @precondition(lambda self: self._payable())
    @rule(data=st.data())
    def disburse_to(self, data: st.DataObject) -> None:
        a, m = self.w.actors, self.model
        faults = self._faults(
            data, ["unknown program", "other ngo", "zero receiver", "zero", "over", "refusing receiver"]
        )
        program_id = self._pick(data, self._payable(), "program") or 1
        if "unknown program" in faults:
            program_id = len(m.programs) + 1
        program = m.programs.get(program_id)
        sender = self.by_address[program.ngo] if program else a.ngo
        if "other ngo" in faults:
            sender = self._other(sender, (a.ngo, a.ngo2))
        available = program.released - program.disbursed if program else 10
        amount = data.draw(st.sampled_from([available] * 2 + [max(available // 2, 1)]), label="amount")
        amount = 0 if "zero" in faults else available + 1 if "over" in faults else amount
        receiver = self.w.probe.address
        receiver = (
            ZERO
            if "zero receiver" in faults
            else self.w.refusing.address
            if "refusing receiver" in faults
            else receiver
        )
        payload = data.draw(st.binary(max_size=16), label="data")
        outcome = self._run(
            "disburse_to",
            self._send(sender, "disburseTo", program_id, receiver, amount, payload),
            lambda: m.disburse_to(sender.address, program_id, receiver, amount),
            moves=program.token if program else None,
        )
        if outcome is None:
            return
        result, batch = outcome
        drawn = [
            (e.args["allocationId"], e.args["lotId"], e.args["batchId"], e.args["amount"])
            for e in result.events_named("AllocationDrawn")
        ]
        assert drawn == [(d.allocation_id, d.lot_id, batch.batch_id, d.amount) for d in batch.draws]
        data_hash = keccak(payload)
        assert result.event("BatchDisbursed").args == {
            "batchId": batch.batch_id,
            "programId": program_id,
            "count": 1,
            "total": amount,
            "paymentReference": data_hash,
        }
        assert result.event("ReceiverFunded").args == {
            "batchId": batch.batch_id,
            "receiver": receiver,
            "dataHash": data_hash,
        }
        paid = [(e.args["recipient"], e.args["amount"]) for e in result.events_named("Disbursed")]
        assert paid == [(receiver, amount)]
        token = m.programs[program_id].token
        assert self.w.balance(token, receiver) == m.balance(token, receiver)
        self.payments.extend(paid)

    @precondition(lambda self: self.model.receiver_batches)
    @rule(data=st.data())
    def give_back(self, data: st.DataObject) -> None:
        """The receiver returns money (through the probe's `giveBack`), or someone else tries to."""
        a, m = self.w.actors, self.model
        faults = self._faults(
            data, ["zero", "too much", "ordinary batch", "unknown batch", "wrong token", "not the receiver"]
        )
        returnable = [i for i, b in m.receiver_batches.items() if b.returnable]
        mixed = [  # drawn from several lots: the order of the return shows
            i for i in returnable if len({m.allocations[d[0]].lot_id for d in m.receiver_draws[i]}) > 1
        ]
        refunded = [  # drawn from a lot refunded since, and not all given back: goes to its funder
            i
            for i in returnable
            if any(m.lots[m.allocations[d[0]].lot_id].refunded and d[1] > d[2] for d in m.receiver_draws[i])
        ]
        pool = data.draw(
            st.sampled_from([mixed or returnable, refunded or returnable, returnable]),
            label="prefer mixed or refunded lots",
        )
        batch_id = self._pick(data, pool or list(m.receiver_batches), "batch") or 1
        ordinary = [i for i in range(1, m.batch_count + 1) if i not in m.receiver_batches]
        if "ordinary batch" in faults:
            batch_id = self._pick(data, ordinary, "batch") or batch_id
        if "unknown batch" in faults:
            batch_id = m.batch_count + 1
        batch = m.receiver_batches.get(batch_id)
        unreturned = [  # lots of this batch's draws not all given back, the first to be returned first
            m.allocations[d[0]].lot_id for d in reversed(m.receiver_draws.get(batch_id, [])) if d[1] > d[2]
        ]
        refundable = [i for i in unreturned if m.lots[i].expiry and not m.lots[i].refunded]
        if refundable and data.draw(st.booleans(), label="refund a lot first"):
            first = data.draw(st.sampled_from([True, False]), label="the lot returned first")
            self._refund(
                data, refundable[0] if first else self._pick(data, refundable, "lot") or 1, ["until expiry"]
            )
        token_a, token_b = self.w.tokens
        token = m.programs[batch.program_id].token if batch else token_a
        if "wrong token" in faults:
            token = token_b if token == token_a else token_a
        cap = batch.returnable if batch else 10
        amount = 0 if "zero" in faults else cap + 1 if "too much" in faults else self._some(data, cap)
        probe = self.w.probe.address
        direct = "not the receiver" in faults  # returnFunds sent by someone else than the receiver
        sender = data.draw(st.sampled_from([a.outsider, a.ngo]), label="by")

        def on_chain(gas: int | None) -> TxResult:
            if direct:
                return self.w.run(self.funds.transact, sender, "returnFunds", batch_id, amount, gas=gas)
            return self.w.run(self.w.probe.transact, sender, "giveBack", token, batch_id, amount, gas=gas)

        now = self._now()

        def in_model() -> tuple[fm.FundsReturned, ...]:
            if direct:
                return m.return_funds(sender.address, batch_id, amount, now=now)
            key = (token, probe, self.funds.address)
            before = m.allowances.get(key, 0)
            m.approve(token, probe, self.funds.address, amount)  # the probe approves, then returns
            try:
                return m.return_funds(probe, batch_id, amount, now=now)
            except fm.ModelError:
                m.allowances[key] = before  # the whole transaction reverts
                raise

        moves = m.programs[batch.program_id].token if batch else None
        outcome = self._run("give_back", on_chain, in_model, moves=moves)
        if outcome is None:
            return
        result, returned = outcome
        assert batch is not None
        got = [
            (
                e.args["batchId"],
                e.args["allocationId"],
                e.args["lotId"],
                e.args["programId"],
                e.args["amount"],
                e.args["toFunder"],
            )
            for e in result.events_named("FundsReturned")
        ]
        assert got == [
            (batch_id, r.allocation_id, r.lot_id, batch.program_id, r.amount, r.to_funder) for r in returned
        ]
        for r in returned:
            _note(f"give_back part: {'to the funder of a refunded lot' if r.to_funder else 'allocated anew'}")
        program_token = m.programs[batch.program_id].token
        assert self.w.balance(program_token, probe) == m.balance(program_token, probe)
        for funder in {m.lots[r.lot_id].funder for r in returned if r.to_funder}:
            assert self.w.balance(program_token, funder) == m.balance(program_token, funder)

    def _refund_clips(self, lot_id: int) -> bool:
        """Whether refunding the lot would take back money a tranche released."""
        m = self.model
        undrawn: Counter[int] = Counter()
        for i in m.lot_allocations[lot_id]:
            undrawn[m.allocations[i].program_id] += m.allocations[i].amount - m.allocations[i].drawn
        return any(
            m.programs[p].released > m.programs[p].allocated - rest for p, rest in undrawn.items() if rest
        )

    def _reservation_token(self, reservation_id: int) -> str | None:
        reservation = self.model.reservations.get(reservation_id)
        return self.model.lots[reservation.lot_id].token if reservation else None

    def _fresh_recipient(self) -> str:
        self.recipients += 1
        return to_checksum_address(f"0xfeed{self.recipients:036x}")

    @rule(data=st.data())
    def skip_spent(self, data: st.DataObject) -> None:
        """Anyone may move a program's cursor past spent allocations; it moves no money."""
        a, m = self.w.actors, self.model
        program_id = self._pick(data, list(m.programs), "program") or len(m.programs) + 1
        caller = data.draw(st.sampled_from([a.outsider, a.funder, a.ngo, a.ngo2]), label="caller")
        outcome = self._run(
            "skipSpent", self._send(caller, "skipSpent", program_id), lambda: m.skip_spent(program_id)
        )
        if outcome is not None:
            result, skipped = outcome
            moved = result.events_named("DrawCursorMoved")
            assert [e.args["cursor"] for e in moved] == (
                [m.programs[program_id].draw_cursor] if skipped else []
            )

    @rule(seconds=st.integers(1, 40))
    def advance_time(self, seconds: int) -> None:
        self.clean = False
        self.steps += 1
        self.w.chain.advance_time(seconds)

    @precondition(lambda self: any(lot.expiry and not lot.refunded for lot in self.model.lots.values()))
    @rule(data=st.data())
    def refund(self, data: st.DataObject) -> None:
        m = self.model
        faults = self._faults(data, ["unknown lot", "not expired", "already refunded"])
        now = self._now()
        open_ = [i for i, x in m.lots.items() if x.expiry and not x.refunded]  # due now or later
        clipping = [i for i in open_ if self._refund_clips(i)]  # takes back released money
        held = [  # a receiver or a reservation still holds some of its money: later returns pay the funder
            i
            for i in open_
            if any(r.lot_id == i and r.amount for r in m.reservations.values())
            or any(
                m.allocations[d[0]].lot_id == i and d[1] > d[2]
                for b, draws in m.receiver_draws.items()
                if m.receiver_batches[b].returnable
                for d in draws
            )
        ]
        early = [i for i, x in m.lots.items() if not self._expired(x, now)]
        done = [i for i, x in m.lots.items() if x.refunded]
        pool = early if "not expired" in faults else done if "already refunded" in faults else None
        if pool is None:
            pool = data.draw(
                st.sampled_from([clipping or open_, held or open_, open_]), label="prefer clipping or held"
            )
        lot_id = self._pick(data, pool or list(m.lots), "lot") or 1
        if "unknown lot" in faults:
            lot_id = len(m.lots) + 1
        waits = ["just before expiry", "no"] if "not expired" in faults else ["until expiry"] * 3 + ["no"]
        self._refund(data, lot_id, waits)

    def _refund(self, data: st.DataObject, lot_id: int, waits: list[str]) -> None:
        """Refund lot `lot_id` after maybe waiting (`waits`, see `_to_the_brink`), compared and checked."""
        a, m = self.w.actors, self.model
        lot = m.lots.get(lot_id)
        now = self._to_the_brink(data, lot, waits)  # refunds happen at the expiry, or just too early
        caller = data.draw(st.sampled_from([a.outsider, a.funder, a.funder2, a.ngo]), label="caller")
        watched = {x.address for x in (caller, a.funder, a.funder2)}
        token = lot.token if lot else self.w.tokens[0]
        before = {x: m.balance(token, x) for x in watched}
        outcome = self._run(
            "refund",
            self._send(caller, "refund", lot_id),
            lambda: m.refund(caller.address, lot_id, now=now),
            moves=token,
        )
        if outcome is None:
            return
        result, refund = outcome
        assert lot is not None
        assert lot.expiry != 0 and self._block_time(result) == now >= lot.expiry
        assert result.event("LotRefunded").args == {
            "lotId": lot_id,
            "funder": lot.funder,
            "amount": refund.amount,
        }
        returned = [
            (e.args["allocationId"], e.args["programId"], e.args["amount"], e.args["releasedAfter"])
            for e in result.events_named("AllocationReturned")
        ]
        assert returned == [
            (r.allocation_id, r.program_id, r.amount, r.released_after) for r in refund.returned
        ]
        for account in watched:  # only the lot's funder gains, by exactly the refund
            gain = refund.amount if account == lot.funder else 0
            assert self.w.balance(token, account) == before[account] + gain == m.balance(token, account)
        transfers = [e for e in result.events if e.name == "Transfer"]  # only the system token's are decoded
        assert all(e.args["to"] == lot.funder for e in transfers)

    @rule(data=st.data())
    def allow_token(self, data: st.DataObject) -> None:
        a = self.w.actors
        sender = data.draw(st.sampled_from([a.admin, a.admin, a.admin, a.funder]), label="by")
        allowed = data.draw(st.sampled_from([True, True, False]), label="allowed")
        token = self.w.tokens[1]
        self._run(
            "allow_token",
            self._send(sender, "setTokenAllowed", token, allowed),
            lambda: self.model.set_token_allowed(sender.address, token, allowed),
        )

    # --- invariants ---------------------------------------------------------------------------

    @invariant()
    def money_is_accounted_for(self) -> None:
        """After every step: the ledger holds exactly what lots, reservations and programs have not
        paid out, and every lot's money is somewhere (`FundModel.accounted`)."""
        m = self.model
        for token in self.w.tokens:
            assert m.balance(token, self.funds.address) == m.held(token), token
        for token in self.moved:
            assert self.w.balance(token, self.funds.address) == m.held(token), token
        self.moved.clear()
        for lot_id, lot in m.lots.items():
            assert m.accounted(lot_id) == lot.amount, lot_id
        for p in m.programs.values():
            assert p.disbursed <= p.released <= p.allocated
        self.clean = True

    def teardown(self) -> None:
        try:
            if self.clean:  # not after a failed step: its error is the one to report
                self._full_check()
        finally:
            self.w.chain.revert(self.w.snapshot)
            self.w.system.sender.forget_nonces()

    def _full_check(self) -> None:
        """At the end of an example: the chain's views, the events and the model agree, and no euro
        is counted twice."""
        m, w = self.model, self.w
        tokens = w.tokens
        state = w.run(self.funds.read_state, tokens)
        assert w.run(self.funds.counts) == m.counts()
        expected = _model_state(m, tokens)
        for name in (f.name for f in dataclasses.fields(fl.FundState)):
            assert getattr(state, name) == getattr(expected, name), name

        events = w.run(w.system.events)
        assert rebuild_fund_state(events) == state
        # consent from events alone: the model's, nothing moved without it, and the views agree
        consent = replay_consent(events)
        assert consent.lot_allocators == {
            i: x for i, x in m.lot_allocators.items() if i in consent.lot_allocators
        }
        assert consent.program_funders == m.program_funders
        assert w.run(consent_mismatches, self.funds, consent) == []

        # The public pages' figures from the same events: each program passes on exactly what it
        # received, holds what the contract says it has not paid out, and its time series end at the
        # contract's allocated and disbursed.
        figs = figures(events)
        flows = figs.flows()
        for pid, p in state.programs.items():
            node = f"program:{pid}"
            into = sum(e.amount for e in flows if e.target == node)
            assert sum(e.amount for e in flows if e.source == node) == into, pid
            assert sum(e.amount for e in flows if (e.source, e.target) == (node, "unspent")) == (
                p.allocated - p.disbursed
            )
            assert figs.total("allocated", program=pid) == p.allocated, pid
            assert figs.total("paid", program=pid) == p.disbursed, pid

        for token in tokens:  # the ledger holds exactly the money not yet paid out
            unpaid = sum(x.unallocated for x in state.lots.values() if x.token == token)
            unpaid += sum(
                r.amount for r in state.reservations.values() if state.lots[r.lot_id].token == token
            )
            unpaid += sum(p.allocated - p.disbursed for p in state.programs.values() if p.token == token)
            assert w.balance(token, self.funds.address) == unpaid, token

        # Money a lot's funder got back, and money receivers credited back to a lot, from events alone.
        refunds = {e.args["lotId"]: e.args for e in events if e.name == "LotRefunded"}
        assert {i: args["amount"] for i, args in refunds.items()} == m.refunded_amounts
        released: Counter[int] = Counter()
        for e in events:
            if e.name == "ReservationReleased" and e.args["toFunder"]:
                released[e.args["lotId"]] += e.args["amount"]
                assert state.lots[e.args["lotId"]].refunded
        returned: Counter[int] = Counter()
        passed_on: Counter[int] = Counter()  # returned for a lot refunded since: to its funder
        for e in events:
            if e.name == "FundsReturned":
                returned[e.args["lotId"]] += e.args["amount"]
                if e.args["toFunder"]:
                    passed_on[e.args["lotId"]] += e.args["amount"]
                    # for a lot expired by then (finding 4: never a new allocation of an expired lot)
                    expiry = state.lots[e.args["lotId"]].expiry
                    mined = int(w.chain.web3.eth.get_block(e.block_number)["timestamp"])
                    assert e.args["allocationId"] == 0 and expiry != 0 and mined >= expiry
        for lot_id, lot in state.lots.items():  # no lot spends more than it holds
            allocated = sum(state.allocations[i].amount for i in state.lot_allocations[lot_id])
            reserved = sum(r.amount for r in state.reservations.values() if r.lot_id == lot_id)
            refunded = refunds[lot_id]["amount"] if lot_id in refunds else 0
            paid_back = refunded + released[lot_id] + passed_on[lot_id]
            assert lot.unallocated + reserved + allocated - returned[lot_id] + paid_back == lot.amount, lot_id
            assert lot.refunded == (lot_id in refunds)
            if lot_id in refunds:
                assert refunds[lot_id]["funder"] == lot.funder

        payments = trace_payments(events)
        assert [(p.recipient, p.amount) for p in payments] == self.payments
        traced: Counter[int] = Counter()
        for p in payments:
            assert sum(s.amount for s in p.sources) == p.amount - p.returned
            for s in p.sources:
                assert s.funder == state.lots[s.lot_id].funder
                traced[s.lot_id] += s.amount
        for lot_id, lot in state.lots.items():  # every euro traced once, and never more than a lot holds
            drawn = sum(state.allocations[i].drawn for i in state.lot_allocations[lot_id])
            assert traced[lot_id] == drawn - returned[lot_id] <= lot.amount, lot_id

        for token in tokens:  # funders hold what the model says: refunds went to them, and only to them
            for account in (w.actors.funder, w.actors.funder2):
                assert w.balance(token, account.address) == m.balance(token, account.address)


def test_fund_ledger_behaves_like_the_model(system: Allmende, actors: Actors, chain: EmbeddedChain) -> None:
    world = _prepare(system, actors, chain)
    eth = chain.web3.eth
    default_account = eth.default_account
    eth.default_account = actors.admin.address  # views name a caller: web3 skips an eth_accounts lookup
    try:
        run_state_machine_as_test(
            lambda: FundLedgerMachine(world), settings=settings(stateful_step_count=STEPS)
        )
    finally:
        eth.default_account = default_account
        world.worker.shutdown()
