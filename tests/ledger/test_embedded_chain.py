"""The embedded chain: in memory, kept on disk across restarts, and across kill -9."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from eth_utils.crypto import keccak
from web3 import Web3
from web3.exceptions import TransactionNotFound

from ledger._sqlite_db import SqliteDB
from ledger.embedded import CHAIN_ID, EmbeddedChain
from tests.ledger import _durable_writer as writer

ETHER = 10**18


def transfer(w3: Web3, sender: LocalAccount, to: str, value: int) -> Any:
    nonce = w3.eth.get_transaction_count(sender.address)
    return writer.send(w3, sender, nonce, to=to, value=value, gas=21_000)


def call_counter(w3: Web3, sender: LocalAccount, address: str) -> Any:
    nonce = w3.eth.get_transaction_count(sender.address)
    return writer.send(w3, sender, nonce, to=address, gas=writer.CALL_GAS)


def counter_value(w3: Web3, address: str) -> int:
    slot = w3.eth.get_storage_at(Web3.to_checksum_address(address), writer.COUNTER_SLOT)
    return int.from_bytes(slot, "big")


def counted_logs(w3: Web3, address: str) -> list[Any]:
    where = Web3.to_checksum_address(address)
    return list(w3.eth.get_logs({"fromBlock": 0, "toBlock": "latest", "address": where}))


@pytest.fixture
def mem_chain() -> Any:
    with EmbeddedChain.open(num_accounts=3) as chain:
        yield chain


# --- in memory ---------------------------------------------------------------------------


def test_accounts_are_funded_local_keys(mem_chain: EmbeddedChain) -> None:
    w3 = mem_chain.web3
    assert mem_chain.is_embedded
    assert mem_chain.chain_id == CHAIN_ID == w3.eth.chain_id
    assert len(mem_chain.accounts) == 3
    for account in mem_chain.accounts:
        assert isinstance(account, LocalAccount)
        assert w3.eth.get_balance(account.address) == 1_000_000 * ETHER
    # fresh keys, not eth-tester's well-known ones
    with EmbeddedChain.open(num_accounts=1) as other:
        assert other.accounts[0].address != mem_chain.accounts[0].address


def test_transfer(mem_chain: EmbeddedChain) -> None:
    w3 = mem_chain.web3
    a, b, _ = mem_chain.accounts
    before_a, before_b = w3.eth.get_balance(a.address), w3.eth.get_balance(b.address)
    receipt = transfer(w3, a, b.address, 5 * ETHER)
    assert receipt["status"] == 1
    assert receipt["blockNumber"] == w3.eth.block_number == 1
    fee = receipt["gasUsed"] * receipt["effectiveGasPrice"]
    assert w3.eth.get_balance(b.address) == before_b + 5 * ETHER
    assert w3.eth.get_balance(a.address) == before_a - 5 * ETHER - fee
    tx = w3.eth.get_transaction(receipt["transactionHash"])
    assert tx["from"] == a.address and tx["value"] == 5 * ETHER


def test_snapshot_and_revert(mem_chain: EmbeddedChain) -> None:
    w3 = mem_chain.web3
    a, b, _ = mem_chain.accounts
    transfer(w3, a, b.address, ETHER)
    snap = mem_chain.snapshot()
    block, balance = w3.eth.block_number, w3.eth.get_balance(b.address)
    reverted = transfer(w3, a, b.address, 2 * ETHER)
    mem_chain.advance_time(100)
    mem_chain.revert(snap)
    assert w3.eth.block_number == block
    assert w3.eth.get_balance(b.address) == balance
    with pytest.raises(TransactionNotFound):
        w3.eth.get_transaction_receipt(reverted["transactionHash"])
    # the chain goes on from the snapshot, and the snapshot can be used again
    assert transfer(w3, a, b.address, 3 * ETHER)["blockNumber"] == block + 1
    mem_chain.revert(snap)
    assert w3.eth.get_balance(b.address) == balance


def test_advance_time(mem_chain: EmbeddedChain) -> None:
    w3 = mem_chain.web3
    start, block = mem_chain.now(), w3.eth.block_number
    mem_chain.advance_time(3600)
    assert mem_chain.now() == start + 3600
    assert w3.eth.block_number == block + 1
    # later blocks keep moving forward from the new time
    a, b, _ = mem_chain.accounts
    transfer(w3, a, b.address, 1)
    assert mem_chain.now() > start + 3600
    with pytest.raises(ValueError):
        mem_chain.advance_time(-1)


def test_logs_in_memory(mem_chain: EmbeddedChain) -> None:
    w3 = mem_chain.web3
    deployer = mem_chain.accounts[0]
    address = writer.deploy_counter(w3, deployer, 0)["contractAddress"]
    for _ in range(3):
        call_counter(w3, deployer, address)
    logs = counted_logs(w3, address)
    assert [int.from_bytes(log["data"], "big") for log in logs] == [1, 2, 3]
    assert all(log["topics"] == [writer.COUNTED_TOPIC] for log in logs)
    assert counter_value(w3, address) == 3


# --- on disk -----------------------------------------------------------------------------


def test_data_dir_files_and_lock(tmp_path: Path) -> None:
    data_dir = tmp_path / "chain"
    with EmbeddedChain.open(data_dir, num_accounts=2) as chain:
        keys_file = data_dir / "operator-keys.json"
        assert stat.S_IMODE(keys_file.stat().st_mode) == 0o600
        assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
        assert stat.S_IMODE((data_dir / "chain.sqlite3").stat().st_mode) == 0o600
        with pytest.raises(RuntimeError, match="in use"):
            EmbeddedChain.open(data_dir)
        addresses = [a.address for a in chain.accounts]
    with EmbeddedChain.open(data_dir, num_accounts=5) as chain:  # count is fixed at genesis
        assert [a.address for a in chain.accounts] == addresses


def test_resume_after_close(tmp_path: Path) -> None:
    data_dir = tmp_path / "chain"
    with EmbeddedChain.open(data_dir, num_accounts=3) as chain:
        w3 = chain.web3
        a, b, c = chain.accounts
        genesis = w3.eth.get_block(0)
        address = writer.deploy_counter(w3, a, 0)["contractAddress"]
        receipts = [call_counter(w3, a, address) for _ in range(5)]
        receipts += [transfer(w3, b, c.address, ETHER) for _ in range(3)]
        chain.advance_time(86_400)
        head = w3.eth.get_block("latest")
        balances = {x.address: w3.eth.get_balance(x.address) for x in (a, b, c)}
        nonces = {x.address: w3.eth.get_transaction_count(x.address) for x in (a, b, c)}
        logs = counted_logs(w3, address)

    with EmbeddedChain.open(data_dir) as chain:
        w3 = chain.web3
        assert w3.eth.get_block(0)["hash"] == genesis["hash"]
        assert w3.eth.get_block("latest") == head
        assert w3.eth.get_block(head["hash"]) == head
        assert {x: w3.eth.get_balance(x) for x in balances} == balances
        assert {x: w3.eth.get_transaction_count(x) for x in nonces} == nonces
        for receipt in receipts:
            tx_hash = receipt["transactionHash"]
            assert w3.eth.get_transaction_receipt(tx_hash) == receipt
            assert w3.eth.get_transaction(tx_hash)["blockNumber"] == receipt["blockNumber"]
        assert counted_logs(w3, address) == logs and len(logs) == 5
        assert counter_value(w3, address) == 5
        # and the chain goes on from where it was
        receipt = call_counter(w3, chain.accounts[0], address)
        assert receipt["blockNumber"] == head["number"] + 1
        assert w3.eth.get_block("latest")["timestamp"] > head["timestamp"]
        assert len(counted_logs(w3, address)) == 6


def test_revert_is_durable(tmp_path: Path) -> None:
    data_dir = tmp_path / "chain"
    with EmbeddedChain.open(data_dir, num_accounts=2) as chain:
        w3 = chain.web3
        a, b = chain.accounts
        kept = transfer(w3, a, b.address, ETHER)
        snap = chain.snapshot()
        head = w3.eth.get_block("latest")
        dropped = [transfer(w3, a, b.address, ETHER) for _ in range(3)]
        chain.revert(snap)
        balance = w3.eth.get_balance(b.address)
    with EmbeddedChain.open(data_dir) as chain:
        w3 = chain.web3
        a, b = chain.accounts
        assert w3.eth.get_block("latest") == head
        assert w3.eth.get_balance(b.address) == balance
        assert w3.eth.get_transaction_receipt(kept["transactionHash"]) == kept
        for receipt in dropped:
            with pytest.raises(TransactionNotFound):
                w3.eth.get_transaction_receipt(receipt["transactionHash"])
        # new blocks take the reverted heights; the old index entries must not leak
        replacement = transfer(w3, a, b.address, 7)
        assert replacement["blockNumber"] == head["number"] + 1
        assert w3.eth.get_transaction_receipt(replacement["transactionHash"]) == replacement
        for receipt in dropped:
            with pytest.raises(TransactionNotFound):
                w3.eth.get_transaction(receipt["transactionHash"])


def test_sqlite_db_buffers_until_commit(tmp_path: Path) -> None:
    path = tmp_path / "kv.sqlite3"
    db = SqliteDB(path, cache_entries=2)
    db[b"a"] = b"1"
    db[b"b"] = b"2"
    assert db[b"a"] == b"1" and b"b" in db  # visible before commit
    db.commit()
    db[b"c"] = b"3"
    db[b"a"] = b"changed"
    del db[b"b"]
    with pytest.raises(KeyError):
        del db[b"missing"]
    assert db[b"a"] == b"changed" and b"b" not in db and db[b"c"] == b"3"
    db.rollback()  # the cache must forget the dropped writes too
    assert db[b"a"] == b"1" and db[b"b"] == b"2" and b"c" not in db
    db[b"d"] = b"4"
    db.close()  # without commit: d is dropped
    db = SqliteDB(path, synchronous="FULL")
    assert db[b"a"] == b"1" and db[b"b"] == b"2" and b"d" not in db
    with pytest.raises(KeyError):
        db[b"c"]
    db.close()


@pytest.mark.parametrize("arrangement", ["in-process", "process"])
def test_kill_9_loses_no_acknowledged_transaction(tmp_path: Path, arrangement: str) -> None:
    """kill -9 of the process holding the chain (in the process arrangement, the chain process and
    then its client) loses no transaction whose receipt was seen."""
    data_dir = tmp_path / "chain"
    proc = subprocess.Popen(
        [sys.executable, writer.__file__, str(data_dir), arrangement],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    acked: list[tuple[str, int]] = []
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline().split()
        assert first[:1] == ["deployed"], first
        address = first[1]
        while len(acked) < 30:
            line = proc.stdout.readline()
            assert line, "writer stopped early"
            ack_hash, ack_block = line.split()
            acked.append((ack_hash, int(ack_block)))
        os.kill(int(first[3]), signal.SIGKILL)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait(timeout=30)
        assert proc.stdout is not None
        proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL
    _wait_until_gone(int(first[3]))

    with EmbeddedChain.open(data_dir) as chain:
        w3 = chain.web3
        for acked_hash, acked_block in acked:
            receipt = w3.eth.get_transaction_receipt(acked_hash)  # type: ignore[arg-type]
            assert receipt["status"] == 1 and receipt["blockNumber"] == acked_block
        counter = counter_value(w3, address)
        successful = 0
        for number in range(w3.eth.block_number + 1):
            for block_tx in w3.eth.get_block(number)["transactions"]:
                receipt = w3.eth.get_transaction_receipt(block_tx)  # type: ignore[arg-type]
                successful += receipt["to"] == address and receipt["status"] == 1
        assert counter >= len(acked)
        assert counter == successful
        logs = counted_logs(w3, address)
        assert [int.from_bytes(log["data"], "big") for log in logs] == list(range(1, counter + 1))
        assert {log["transactionHash"].to_0x_hex() for log in logs} >= {h for h, _ in acked}
        assert keccak(text="Counted(uint256)") == logs[0]["topics"][0]


def _wait_until_gone(pid: int) -> None:
    """The killed chain process (reparented to init) is gone, so its lock on the data dir is too."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    raise AssertionError(f"process {pid} still runs after SIGKILL")
