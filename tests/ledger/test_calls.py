"""The call seam: contract clients build relayable calls with their gas; a built call does what the
same function sent directly does."""

from __future__ import annotations

import ast
from pathlib import Path

from ledger.claims import ClaimProgramClient
from ledger.system import Allmende
from tests.conftest import Actors

ROOT = Path(__file__).resolve().parents[2]


def test_a_built_call_names_its_function_and_carries_its_selector_and_gas(deployed: Allmende) -> None:
    call = deployed.funds.allocate_call(1, 2, 3)
    assert call.kind == "FundLedger.allocate"
    assert call.target == deployed.funds.address
    assert call.data == deployed.funds.encode("allocate", 1, 2, 3)
    assert call.gas > 0


def test_gas_grows_with_the_work_a_call_does(deployed: Allmende) -> None:
    funds, budget = deployed.funds, deployed.budget
    assert funds.refund_call(1, 10).gas > funds.refund_call(1, 1).gas
    one = funds.disburse_call(1, ["0x" + "11" * 20], [1], bytes(32), 1)
    two = funds.disburse_call(1, ["0x" + "11" * 20] * 2, [1, 1], bytes(32), 1)
    assert two.gas > one.gas
    assert budget.cast_ballot_call(1, {1: 2, 2: 1}, [], 3).gas > budget.cast_ballot_call(1, {1: 2}, [], 0).gas
    program = ClaimProgramClient(deployed.sender, "0x" + "22" * 20)  # building a call reads nothing
    accounts = ["0x" + "11" * 20] * 2
    assert (
        program.reclaim_expired_call(accounts, fundings=1, draws=1).gas
        > program.reclaim_expired_call([], fundings=1, draws=1).gas
    )
    assert (
        program.return_unclaimed_call(fundings=2, draws=3).gas
        > program.return_unclaimed_call(fundings=1, draws=1).gas
    )


def test_a_relayed_built_call_changes_the_chain(system: Allmende, actors: Actors) -> None:
    ngo = actors.ngo
    call = system.funds.create_program_call(system.token.address, bytes(32))
    before = system.funds.counts()[1]
    system.sender.send(ngo, call.target, call.data, gas=call.gas)
    assert system.funds.counts()[1] == before + 1


def test_services_never_name_contract_functions() -> None:
    """No module of api/ hands the engine a function name: every relayed call is built by a client."""
    offenders = []
    for path in sorted((ROOT / "api").rglob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            named = [a for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
            relayed = node.func.attr == "execute" and any(a in node.args[2:] for a in named)
            built = node.func.attr in ("build", "encode") and bool(node.args) and node.args[0] in named
            if relayed or built:
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []
