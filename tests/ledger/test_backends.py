"""One scenario, four chains: the embedded py-evm chain (in this process, and in a chain process of
its own over JSON-RPC) and, over JSON-RPC, a hardhat node (EDR) and
an anvil node (revm) must agree: the contracts proven on independent EVM implementations.

Every test runs once per backend against a system deployed once per backend and rewound (chain
snapshot) after each test. Expected values are written out literally, so a revert that decodes
to another class or other arguments on one backend fails there.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from eth_abi import encode
from eth_account.signers.local import LocalAccount
from eth_utils import keccak, to_checksum_address
from web3.exceptions import Web3RPCError

from ledger._local_node import LocalNode
from ledger.anvil import AnvilNode, anvil_binary
from ledger.chain import Chain
from ledger.chain_process import ProcessChain
from ledger.embedded import EmbeddedChain
from ledger.exceptions import ContractRevert, Panic, RevertWithReason, UnknownRevert
from ledger.fund_events import rebuild_fund_state, trace_payments
from ledger.hardhat import PROJECT_ROOT, HardhatNode
from ledger.revert_errors import (
    AccessControlUnauthorizedAccount,
    AllmendeForwarderUnauthorizedRelayer,
    BalanceReaderBadAnswer,
    ERC20InsufficientAllowance,
    FundLedgerInsufficientFunds,
    FundLedgerLotNotExpired,
    FundLedgerUnknownProgram,
    FundLedgerZeroAmount,
)
from ledger.reverts import as_contract_revert
from ledger.roles import Role
from ledger.rpc import RpcChain
from ledger.system import Allmende
from ledger.transactions import TransactionSender
from tests._system import grant_and_fund

EUR = 1_000_000  # micro-euros
DAY = 86_400
MINTED = 1_000_000 * EUR

# Init code of a contract that reverts with its calldata as revert data:
# runtime CALLDATASIZE PUSH0 PUSH0 CALLDATACOPY CALLDATASIZE PUSH0 REVERT, returned by the init code.
ECHO_REVERT_INIT = bytes.fromhex("66" + "365f5f37365ffd" + "5f52" + "6007" + "6019" + "f3")

needs_hardhat = pytest.mark.skipif(
    shutil.which("node") is None or not (PROJECT_ROOT / "node_modules" / ".bin" / "hardhat").exists(),
    reason="node or node_modules/hardhat is missing (npm ci)",
)
needs_anvil = pytest.mark.skipif(
    not anvil_binary().exists(), reason="node_modules/@foundry-rs/anvil is missing (npm ci)"
)
BACKENDS = [
    "embedded",
    "chain-process",  # the embedded chain in a process of its own, over JSON-RPC on a Unix socket
    pytest.param("hardhat", marks=[pytest.mark.node, needs_hardhat]),
    pytest.param("anvil", marks=[pytest.mark.node, needs_anvil]),
]
NODES: dict[str, type[LocalNode]] = {"hardhat": HardhatNode, "anvil": AnvilNode}


def pseudonym(label: str) -> str:
    """A fixed recipient address, the same on both backends."""
    return to_checksum_address(keccak(text=f"allmende-test-recipient:{label}")[-20:])


@dataclass(frozen=True)
class People:
    admin: LocalAccount
    treasurer: LocalAccount
    funder: LocalAccount
    ngo: LocalAccount
    approver: LocalAccount
    allocator: LocalAccount
    relayer: LocalAccount
    funder2: LocalAccount
    outsider: LocalAccount


# --- fixtures ------------------------------------------------------------------------------------


@pytest.fixture(scope="module", params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chain]:
    chain: Chain
    if request.param == "embedded":
        chain = EmbeddedChain.open(None)
        yield chain
        chain.close()
        return
    if request.param == "chain-process":
        chain = ProcessChain.open(tmp_path_factory.mktemp("chain-process") / "chain")
        yield chain
        chain.close()
        return
    with NODES[request.param]() as node:
        chain = RpcChain(node.url, node.private_keys)
        yield chain
        chain.close()


@pytest.fixture(scope="module")
def people(backend: Chain) -> People:
    return People(*backend.accounts[:9])


@pytest.fixture(scope="module")
def deployed(backend: Chain, people: People) -> Allmende:
    """The system with its roles granted and the funder's tokens minted; funder2 has no tokens yet."""
    system = Allmende.deploy(backend, people.admin)
    p = people
    grant_and_fund(
        system,
        p.admin,
        [
            (Role.TREASURER, p.treasurer),
            (Role.FUNDER, p.funder),
            (Role.FUNDER, p.funder2),
            (Role.NGO, p.ngo),
            (Role.APPROVER, p.approver),
            (Role.ALLOCATOR, p.allocator),
            (Role.RELAYER, p.relayer),
        ],
        treasurer=p.treasurer,
        funders=[p.funder],
        amount=MINTED,
    )
    return system


@pytest.fixture
def system(deployed: Allmende, backend: Chain) -> Iterator[Allmende]:
    snap = backend.snapshot()
    yield deployed
    backend.revert(snap)
    deployed.sender.forget_nonces()


# --- the scenario -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    program: int
    lot: int
    expiry: int
    recipients: tuple[str, str, str]


def run_scenario(system: Allmende, p: People) -> Outcome:
    """Program, lot with expiry, allocation, tranche, disbursement to three recipients, refund."""
    program = (
        system.funds.create_program(p.ngo, system.token.address).event("ProgramCreated").args["programId"]
    )
    expiry = system.chain.now() + 10 * DAY
    deposit = system.funds.deposit(p.funder, system.token.address, 100 * EUR, earmark=program, expiry=expiry)
    lot = deposit.event("LotDeposited").args["lotId"]
    system.funds.allocate(p.funder, lot, program, 80 * EUR)
    system.funds.set_program_approver(p.funder, program, p.approver.address)  # the funder's checker
    tranche = (
        system.funds.request_tranche(p.ngo, program, 50 * EUR).event("TrancheRequested").args["trancheId"]
    )
    system.funds.approve_tranche(p.approver, tranche)
    recipients = (pseudonym("a"), pseudonym("b"), pseudonym("c"))
    amounts = (10 * EUR, 15 * EUR, 5 * EUR)
    batch = system.funds.disburse(p.ngo, program, list(zip(recipients, amounts, strict=True)), b"\x44" * 32)
    assert [(e.args["recipient"], e.args["amount"]) for e in batch.events_named("Disbursed")] == list(
        zip(recipients, amounts, strict=True)
    )
    with pytest.raises(FundLedgerLotNotExpired) as early:
        system.funds.refund(p.outsider, lot)
    assert early.value.fields == {"lotId": lot, "expiry": expiry}
    system.chain.advance_time(10 * DAY)
    refund = system.funds.refund(p.outsider, lot)
    assert refund.event("LotRefunded").args == {"lotId": lot, "funder": p.funder.address, "amount": 70 * EUR}
    return Outcome(program, lot, expiry, recipients)


def test_scenario_moves_the_money_the_same_way(system: Allmende, people: People) -> None:
    out = run_scenario(system, people)
    assert [system.balance(r) for r in out.recipients] == [10 * EUR, 15 * EUR, 5 * EUR]
    assert system.balance(people.funder.address) == MINTED - 100 * EUR + 70 * EUR
    assert system.balance(system.funds.address) == 0
    assert system.balance(people.outsider.address) == 0  # triggered the refund, gained nothing
    program = system.funds.program(out.program)
    assert (program.allocated, program.released, program.disbursed) == (30 * EUR, 30 * EUR, 30 * EUR)
    lot = system.funds.lot(out.lot)
    assert (lot.funder, lot.amount, lot.unallocated, lot.refunded) == (
        people.funder.address,
        100 * EUR,
        0,
        True,
    )
    assert system.funds.counts() == (1, 1, 1, 1, 1, 0)


def test_state_rebuilt_from_events_equals_the_contract_views(system: Allmende, people: People) -> None:
    out = run_scenario(system, people)
    events = system.events()
    assert rebuild_fund_state(events) == system.funds.read_state([system.token.address])
    payments = trace_payments(events)
    assert [(pay.recipient, pay.amount) for pay in payments] == [
        (out.recipients[0], 10 * EUR),
        (out.recipients[1], 15 * EUR),
        (out.recipients[2], 5 * EUR),
    ]
    assert {src.funder for pay in payments for src in pay.sources} == {people.funder.address}


def test_balances_read_many_to_a_call_equal_balance_of_each(system: Allmende, people: People) -> None:
    # A creation eth_call (no `to`) reading balanceOf for every account: each node runs it alike.
    out = run_scenario(system, people)
    holders = [*out.recipients, people.funder.address, system.funds.address, people.outsider.address]
    read = system.balances(holders)
    assert read == {a: system.balance(a) for a in holders}
    assert [read[r] for r in out.recipients] == [10 * EUR, 15 * EUR, 5 * EUR]
    assert read[people.funder.address] == MINTED - 100 * EUR + 70 * EUR


def test_a_balances_read_of_a_token_without_code_fails_alike(
    system: Allmende, people: People, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The creation code reverts with its typed error; every node hands the revert data back alike.
    monkeypatch.setattr(system.token, "address", people.outsider.address)
    with pytest.raises(ContractRevert) as err:
        system.balances([people.funder.address, people.outsider.address])
    assert_revert(err, BalanceReaderBadAnswer, people.outsider.address, people.funder.address)


# --- typed reverts -------------------------------------------------------------------------------------


def assert_revert(
    err: pytest.ExceptionInfo[ContractRevert], cls: type[ContractRevert], *values: object
) -> None:
    """Exactly `cls` (no sub- or superclass) with exactly these decoded arguments."""
    assert type(err.value) is cls, f"{type(err.value).__name__} instead of {cls.__name__}: {err.value}"
    assert err.value.values == values


def _funded_program(system: Allmende, p: People, *, amount: int, released: int) -> tuple[int, int]:
    program = (
        system.funds.create_program(p.ngo, system.token.address).event("ProgramCreated").args["programId"]
    )
    lot = system.funds.deposit(p.funder, system.token.address, amount).event("LotDeposited").args["lotId"]
    system.funds.allocate(p.funder, lot, program, amount)
    system.funds.set_program_approver(p.funder, program, p.approver.address)  # the funder's checker
    tranche = (
        system.funds.request_tranche(p.ngo, program, released).event("TrancheRequested").args["trancheId"]
    )
    system.funds.approve_tranche(p.approver, tranche)
    return program, lot


def test_allocation_beyond_the_lot(system: Allmende, people: People) -> None:
    program = (
        system.funds.create_program(people.ngo, system.token.address)
        .event("ProgramCreated")
        .args["programId"]
    )
    lot = (
        system.funds.deposit(people.funder, system.token.address, 100 * EUR)
        .event("LotDeposited")
        .args["lotId"]
    )
    system.funds.allocate(people.funder, lot, program, 70 * EUR)
    with pytest.raises(ContractRevert) as err:
        system.funds.allocate(people.funder, lot, program, 31 * EUR)
    assert_revert(err, FundLedgerInsufficientFunds, 31 * EUR, 30 * EUR)
    assert err.value.fields == {"requested": 31 * EUR, "available": 30 * EUR}


def test_disbursement_beyond_released(system: Allmende, people: People) -> None:
    program, _ = _funded_program(system, people, amount=100 * EUR, released=10 * EUR)
    system.funds.disburse(people.ngo, program, [(pseudonym("x"), 4 * EUR)])
    with pytest.raises(ContractRevert) as err:
        system.funds.disburse(people.ngo, program, [(pseudonym("y"), 7 * EUR)])
    assert_revert(err, FundLedgerInsufficientFunds, 7 * EUR, 6 * EUR)


def test_role_denial(system: Allmende, people: People) -> None:
    with pytest.raises(ContractRevert) as err:
        system.funds.deposit(people.ngo, system.token.address, EUR)
    assert_revert(err, AccessControlUnauthorizedAccount, people.ngo.address, Role.FUNDER.id)
    with pytest.raises(ContractRevert) as mint:
        system.mint(people.funder, people.funder.address, EUR)
    assert_revert(mint, AccessControlUnauthorizedAccount, people.funder.address, Role.TREASURER.id)


def test_view_revert(system: Allmende) -> None:
    with pytest.raises(ContractRevert) as err:
        system.funds.program(99)
    assert_revert(err, FundLedgerUnknownProgram, 99)


def test_explicit_gas_revert_is_mined_and_raises_the_typed_error(system: Allmende, people: People) -> None:
    program, _ = _funded_program(system, people, amount=100 * EUR, released=EUR)
    web3 = system.chain.web3
    nonce = web3.eth.get_transaction_count(people.ngo.address)
    with pytest.raises(ContractRevert) as err:
        system.funds.disburse(people.ngo, program, [(pseudonym("z"), 2 * EUR)], gas=500_000)
    assert_revert(err, FundLedgerInsufficientFunds, 2 * EUR, EUR)
    tx_hash = err.value.transaction_hash  # type: ignore[attr-defined]
    assert web3.eth.get_transaction_receipt(tx_hash)["status"] == 0
    assert web3.eth.get_transaction_count(people.ngo.address) == nonce + 1
    # The sender's nonce bookkeeping survives the failure: the next transaction goes through.
    system.funds.disburse(people.ngo, program, [(pseudonym("z"), EUR)], gas=500_000)
    assert system.balance(pseudonym("z")) == EUR


@pytest.mark.parametrize(
    ("revert_data", "expected_cls", "expected_values"),
    [
        pytest.param(FundLedgerZeroAmount.selector, FundLedgerZeroAmount, (), id="custom-error"),
        pytest.param(
            RevertWithReason.selector + encode(["string"], ["kein Geld"]),
            RevertWithReason,
            ("kein Geld",),
            id="reason-string",
        ),
        pytest.param(Panic.selector + encode(["uint256"], [0x11]), Panic, (0x11,), id="panic"),
        pytest.param(b"", UnknownRevert, ("0x",), id="empty"),
        pytest.param(
            bytes.fromhex("deadbeef") + bytes(32), UnknownRevert, ("0xdeadbeef" + "00" * 32,), id="unknown"
        ),
    ],
)
@pytest.mark.parametrize("how", ["call", "estimate", "explicit-gas"])
def test_revert_data_shapes_decode_alike(
    system: Allmende,
    people: People,
    how: str,
    revert_data: bytes,
    expected_cls: type[ContractRevert],
    expected_values: tuple[object, ...],
) -> None:
    """Raw revert data, as a contract returns it, reaches Python as the same typed error."""
    sender = TransactionSender(system.chain)
    echo = sender.send(people.admin, None, ECHO_REVERT_INIT).contract_address
    assert echo is not None
    with pytest.raises(ContractRevert) as err:
        if how == "call":
            sender.call({"to": echo, "data": revert_data})
        elif how == "estimate":
            sender.send(people.admin, echo, revert_data)
        else:
            sender.send(people.admin, echo, revert_data, gas=100_000)
    assert_revert(err, expected_cls, *expected_values)
    if how == "explicit-gas":
        assert err.value.transaction_hash.startswith("0x")  # type: ignore[attr-defined]


# --- meta-transactions -----------------------------------------------------------------------------------


def test_forwarded_deposit_is_the_funders(system: Allmende, people: People) -> None:
    funder, relayer = people.funder2, people.relayer
    system.mint(people.treasurer, funder.address, 50 * EUR)
    system.approve(funder, system.funds.address, 50 * EUR)  # the funder's own transaction, before
    web3 = system.chain.web3
    funder_eth, relayer_eth = web3.eth.get_balance(funder.address), web3.eth.get_balance(relayer.address)

    result = system.forwarding.call_as(
        relayer, funder, system.funds, "deposit", system.token.address, 30 * EUR, 0, 0
    )

    deposited = result.event("LotDeposited").args
    assert deposited["funder"] == funder.address
    assert system.funds.lot(deposited["lotId"]).funder == funder.address
    assert system.balance(funder.address) == 20 * EUR
    assert system.balance(relayer.address) == 0
    assert web3.eth.get_balance(funder.address) == funder_eth  # the funder paid no gas
    assert web3.eth.get_balance(relayer.address) < relayer_eth  # the relayer did
    assert system.forwarding.nonce(funder.address) == 1


def test_forwarded_call_reverts_alike(system: Allmende, people: People) -> None:
    """The inner call is simulated first, so its error wins; the relayer check comes after."""
    funder, token, funds = people.funder2, system.token.address, system.funds
    with pytest.raises(ContractRevert) as inner:
        system.forwarding.call_as(people.relayer, funder, funds, "deposit", token, 0, 0, 0)
    assert_revert(inner, FundLedgerZeroAmount)
    with pytest.raises(ContractRevert) as allowance:
        system.forwarding.call_as(people.relayer, funder, funds, "deposit", token, EUR, 0, 0)
    assert_revert(allowance, ERC20InsufficientAllowance, funds.address, 0, EUR)
    system.mint(people.treasurer, funder.address, EUR)
    system.approve(funder, funds.address, EUR)
    with pytest.raises(ContractRevert) as relayer:
        system.forwarding.call_as(people.outsider, funder, funds, "deposit", token, EUR, 0, 0)
    assert_revert(relayer, AllmendeForwarderUnauthorizedRelayer, people.outsider.address)
    assert system.forwarding.nonce(funder.address) == 0


# --- a node that mines failing transactions and reports status 0 (like Besu and geth) ------------------


def _status_0_node(kind: str) -> LocalNode:
    return HardhatNode(throw_on_transaction_failures=False) if kind == "hardhat" else AnvilNode()


@pytest.mark.node
@pytest.mark.parametrize(
    "kind", [pytest.param("hardhat", marks=needs_hardhat), pytest.param("anvil", marks=needs_anvil)]
)
def test_explicit_gas_revert_is_replayed_on_a_node_that_returns_status_0(kind: str) -> None:
    """Without hardhat's throwOnTransactionFailures (and always on anvil) the sender sees a status-0
    receipt and has to replay the transaction on its parent block to learn the revert: the path a
    Besu network takes."""
    with _status_0_node(kind) as node:
        chain = node.chain()
        p = People(*chain.accounts[:9])
        system = Allmende.deploy(chain, p.admin)
        grant_and_fund(
            system,
            p.admin,
            [
                (Role.TREASURER, p.treasurer),
                (Role.FUNDER, p.funder),
                (Role.NGO, p.ngo),
                (Role.APPROVER, p.approver),
            ],
            treasurer=p.treasurer,
            funders=[p.funder],
            amount=100 * EUR,
        )
        program, _ = _funded_program(system, p, amount=100 * EUR, released=EUR)
        with pytest.raises(ContractRevert) as err:
            system.funds.disburse(p.ngo, program, [(pseudonym("q"), 2 * EUR)], gas=500_000)
        assert_revert(err, FundLedgerInsufficientFunds, 2 * EUR, EUR)
        receipt = chain.web3.eth.get_transaction_receipt(err.value.transaction_hash)  # type: ignore[attr-defined]
        assert receipt["status"] == 0
        chain.close()


# --- error shapes of other JSON-RPC nodes, through web3's own error formatter ------------------------------


def _web3_exception(error: dict[str, object]) -> Exception:
    """The exception web3 raises for an eth_call / eth_estimateGas answered with `error`."""
    from web3._utils.error_formatters_utils import raise_contract_logic_error_on_revert

    try:
        raise_contract_logic_error_on_revert({"jsonrpc": "2.0", "id": 1, "error": error})  # type: ignore[typeddict-item]
    except Exception as exc:
        return exc
    raise AssertionError("web3 did not treat this as a revert")


_REASON = RevertWithReason.selector + encode(["string"], ["kein Geld"])
_INSUFFICIENT = FundLedgerInsufficientFunds.selector + encode(["uint128", "uint128"], [7, 6])


@pytest.mark.parametrize(
    ("error", "expected_cls", "expected_values"),
    [
        pytest.param(
            {"code": 3, "message": "execution reverted", "data": "0x" + _INSUFFICIENT.hex()},
            FundLedgerInsufficientFunds,
            (7, 6),
            id="geth-besu-custom-error",
        ),
        pytest.param(
            {"code": 3, "message": "execution reverted: kein Geld", "data": "0x" + _REASON.hex()},
            RevertWithReason,
            ("kein Geld",),
            id="geth-reason",
        ),
        pytest.param(
            {"code": -32000, "message": "execution reverted"}, UnknownRevert, ("0x",), id="geth-no-data"
        ),
        pytest.param(
            {"code": -32015, "message": "VM execution error.", "data": "Reverted 0x" + _INSUFFICIENT.hex()},
            FundLedgerInsufficientFunds,
            (7, 6),
            id="openethereum-reverted-prefix",
        ),
        pytest.param(
            {"code": -32015, "message": "VM execution error.", "data": "Reverted 0x" + _REASON.hex()},
            RevertWithReason,
            ("kein Geld",),
            id="openethereum-reason",
        ),
    ],
)
@pytest.mark.filterwarnings("ignore:Could not decode revert reason:RuntimeWarning")
def test_revert_shapes_of_other_nodes(
    error: dict[str, object], expected_cls: type[ContractRevert], expected_values: tuple[object, ...]
) -> None:
    revert = as_contract_revert(_web3_exception(error))
    assert type(revert) is expected_cls and revert is not None
    assert revert.values == expected_values


def test_rpc_errors_that_are_not_reverts_stay_unmapped() -> None:
    nonce = Web3RPCError(
        "nonce too low",
        rpc_response={"jsonrpc": "2.0", "id": 1, "error": {"code": -32000, "message": "nonce too low"}},
    )
    assert as_contract_revert(nonce) is None
    odd = Web3RPCError(
        "x",
        rpc_response={
            "jsonrpc": "2.0",
            "id": 1,
            "error": {"code": -32000, "message": "insufficient funds", "data": "0x1234"},
        },
    )
    assert as_contract_revert(odd) is None
