"""Many balances in one `eth_call` (`ledger._balance_reader`): the token's own `balanceOf` answers."""

from __future__ import annotations

import pytest
from eth_tester.exceptions import TransactionFailed
from eth_utils import to_checksum_address

from ledger import system as system_module
from ledger._balance_reader import MAX_ACCOUNTS, decode_answer, read_call_data
from ledger.embedded import EmbeddedChain
from ledger.exceptions import LedgerError
from ledger.system import Allmende
from tests.conftest import Actors


def test_balances_equal_balance_of_each_account_across_reads(system: Allmende, actors: Actors) -> None:
    strangers = [to_checksum_address(f"0x{i:040x}") for i in range(1, MAX_ACCOUNTS + 2)]
    holders = [actors.funder.address, actors.funder2.address, actors.treasurer.address, *strangers]
    read = system.balances(holders)  # two reads: one of MAX_ACCOUNTS accounts, one of the rest
    assert list(read) == holders
    assert read == {a: system.balance(a) for a in holders}
    assert read[actors.funder.address] > 0 and not any(read[a] for a in strangers)


def test_balances_of_no_accounts_read_nothing(system: Allmende) -> None:
    assert system.balances([]) == {}


def test_a_read_whose_balance_of_fails_fails_whole(
    system: Allmende, actors: Actors, chain: EmbeddedChain, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An account without code answers no word: the read reverts instead of inventing a balance.
    code = read_call_data(actors.outsider.address, [actors.funder.address])
    with pytest.raises(TransactionFailed):
        chain.web3.eth.call({"data": "0x" + code.hex()})  # type: ignore[typeddict-item]
    monkeypatch.setattr(system.token, "address", actors.outsider.address)
    with pytest.raises(LedgerError, match="reading the balances of 1 accounts failed"):
        system.balances([actors.funder.address])


def test_an_answer_of_another_length_or_not_led_by_a_zero_word_is_refused() -> None:
    good = bytes(32) + (5).to_bytes(32, "big") + (7).to_bytes(32, "big")
    assert decode_answer(good, 2) == [5, 7]
    with pytest.raises(ValueError):
        decode_answer(good[:-1], 2)
    with pytest.raises(ValueError):
        decode_answer(good, 3)
    with pytest.raises(ValueError):
        decode_answer(b"\x01" + good[1:], 2)


def test_one_read_takes_at_most_max_accounts() -> None:
    account = to_checksum_address("0x" + "11" * 20)
    assert len(read_call_data(account, [account] * MAX_ACCOUNTS)) > 32 * MAX_ACCOUNTS
    with pytest.raises(ValueError):
        read_call_data(account, [account] * (MAX_ACCOUNTS + 1))
    with pytest.raises(ValueError):
        read_call_data(account, [])
    assert system_module.MAX_BALANCE_READ == MAX_ACCOUNTS
