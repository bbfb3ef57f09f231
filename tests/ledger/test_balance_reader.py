"""Many balances in one `eth_call` (`contracts/BalanceReader.sol` run as creation code through
`ledger._balance_reader`): the token's own `balanceOf` answers."""

from __future__ import annotations

import pytest
from eth_abi import encode
from eth_tester.exceptions import TransactionFailed
from eth_utils import to_checksum_address

from ledger import system as system_module
from ledger._balance_reader import MAX_ACCOUNTS, creation_code, decode_answer, read_call_data
from ledger.artifacts import load_artifact
from ledger.contracts import ContractClient
from ledger.embedded import EmbeddedChain
from ledger.json_rpc import CALL_GAS_CAP
from ledger.revert_errors import BalanceReaderBadAnswer
from ledger.reverts import as_contract_revert
from ledger.system import Allmende, _deploy_data
from tests.conftest import Actors

CODE_SIZE_LIMIT = 24_576  # EIP-170: created code, the read's answer included


def test_balances_equal_balance_of_each_account_across_reads(system: Allmende, actors: Actors) -> None:
    strangers = [to_checksum_address(f"0x{i:040x}") for i in range(1, MAX_ACCOUNTS + 2)]
    holders = [actors.funder.address, actors.funder2.address, actors.treasurer.address, *strangers]
    read = system.balances(holders)  # two reads: one of MAX_ACCOUNTS accounts, one of the rest
    assert list(read) == holders
    assert read == {a: system.balance(a) for a in holders}
    assert read[actors.funder.address] > 0 and not any(read[a] for a in strangers)


def test_balances_of_no_accounts_read_nothing(system: Allmende) -> None:
    assert system.balances([]) == {}


def test_the_call_is_the_compiled_reader_with_its_constructor_arguments(actors: Actors) -> None:
    accounts = [actors.funder.address, actors.funder2.address]
    code = read_call_data(actors.treasurer.address, accounts)
    assert creation_code() == bytes.fromhex(load_artifact("BalanceReader").bytecode.removeprefix("0x"))
    assert code == creation_code() + encode(["address", "address[]"], [actors.treasurer.address, accounts])


def test_a_read_whose_balance_of_fails_fails_whole(
    system: Allmende, actors: Actors, chain: EmbeddedChain, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An account without code answers no word: the read reverts instead of inventing a balance.
    code = read_call_data(actors.outsider.address, [actors.funder.address])
    with pytest.raises(TransactionFailed) as failed:
        chain.web3.eth.call({"data": "0x" + code.hex()})  # type: ignore[typeddict-item]
    revert = as_contract_revert(failed.value)
    assert type(revert) is BalanceReaderBadAnswer
    assert revert.values == (actors.outsider.address, actors.funder.address)
    monkeypatch.setattr(system.token, "address", actors.outsider.address)
    with pytest.raises(BalanceReaderBadAnswer) as err:
        system.balances([actors.funder2.address, actors.funder.address])
    assert err.value.values == (actors.outsider.address, actors.funder2.address)


@pytest.mark.parametrize("length", [0, 31, 33, 64])
def test_an_answer_of_balance_of_not_one_word_long_fails_the_read(
    system: Allmende, actors: Actors, monkeypatch: pytest.MonkeyPatch, length: int
) -> None:
    probe = _answer_probe(system, actors, 32)
    monkeypatch.setattr(system.token, "address", probe)
    assert system.balances([actors.funder.address]) == {actors.funder.address: 7}
    odd = _answer_probe(system, actors, length)
    monkeypatch.setattr(system.token, "address", odd)
    with pytest.raises(BalanceReaderBadAnswer) as err:
        system.balances([actors.funder.address])
    assert err.value.values == (odd, actors.funder.address)


def _answer_probe(system: Allmende, actors: Actors, length: int) -> str:
    """A token whose `balanceOf` answers `length` bytes, each word 7."""
    result = system.sender.send(
        actors.admin, None, _deploy_data(system.sender, "BalanceAnswerProbe", [length])
    )
    assert result.contract_address is not None
    probe = ContractClient(system.sender, "BalanceAnswerProbe", result.contract_address)
    assert probe.call("answerLength") == length
    return result.contract_address


def test_an_answer_of_another_shape_is_refused() -> None:
    good = encode(["uint256[]"], [[5, 7]])
    assert good[:32] == (32).to_bytes(32, "big")  # the ABI offset: the answer's first byte is 0x00
    assert decode_answer(good, 2) == [5, 7]
    with pytest.raises(ValueError):
        decode_answer(good[:-1], 2)
    with pytest.raises(ValueError):
        decode_answer(good + bytes(1), 2)
    with pytest.raises(ValueError):
        decode_answer(good, 3)
    with pytest.raises(ValueError):
        decode_answer(good, 1)
    with pytest.raises(ValueError):
        decode_answer(b"\x01" + good[1:], 2)  # another offset
    with pytest.raises(ValueError):
        decode_answer(good[:63] + b"\x03" + good[64:], 2)  # another length, same size
    pointing_past_the_end = b"".join(n.to_bytes(32, "big") for n in (64, 0, 1))
    with pytest.raises(ValueError):  # the offset 0x40 reads length 1 from the last word: no room for it
        decode_answer(pointing_past_the_end, 1)


def test_one_read_takes_at_most_max_accounts() -> None:
    account = to_checksum_address("0x" + "11" * 20)
    assert len(read_call_data(account, [account] * MAX_ACCOUNTS)) > 32 * MAX_ACCOUNTS
    with pytest.raises(ValueError):
        read_call_data(account, [account] * (MAX_ACCOUNTS + 1))
    with pytest.raises(ValueError):
        read_call_data(account, [])
    assert system_module.MAX_BALANCE_READ == MAX_ACCOUNTS


def test_a_read_of_max_accounts_fits_the_code_size_limit_and_the_call_gas_cap(
    system: Allmende, actors: Actors
) -> None:
    # Distinct accounts, so every balanceOf reads a cold storage slot, as in an auditor's read.
    accounts = [to_checksum_address(f"0x{i:040x}") for i in range(1, MAX_ACCOUNTS)] + [actors.funder.address]
    code = "0x" + read_call_data(system.token.address, accounts).hex()
    answer = system.sender.call({"data": code})
    assert len(answer) == 32 * (MAX_ACCOUNTS + 2) <= CODE_SIZE_LIMIT
    assert answer[0] == 0  # EIP-3541 refuses created code that starts with 0xEF
    gas = system.sender.estimate_gas({"data": code})
    assert gas < CALL_GAS_CAP * 0.7, gas  # room left for a token whose balanceOf costs more
