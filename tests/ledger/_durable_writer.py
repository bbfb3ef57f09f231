"""Writer for the kill -9 test; also holds the hand-assembled counter contract.

Run as ``python _durable_writer.py DATA_DIR [process|in-process]``: opens the embedded chain in
DATA_DIR (in this process, or in a chain process of its own), deploys the counter, prints
``deployed ADDRESS BLOCK CHAIN_PID`` (the pid of the process holding the chain), then sends
transactions to it and prints ``TX_HASH BLOCK`` for each one whose receipt it holds (status 1), flushing every
line, until it is killed or its stdout is closed.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils.crypto import keccak
from web3 import Web3

COUNTED_TOPIC = keccak(text="Counted(uint256)")
COUNTER_SLOT = 0
CALL_GAS = 100_000
MAX_TXS = 5_000  # a bound in case nobody kills us


def _runtime() -> bytes:
    """On every call: slot0 += 1; emit Counted(slot0) (the new value as log data)."""
    return b"".join(
        [
            bytes([0x60, COUNTER_SLOT, 0x54]),  # PUSH1 slot; SLOAD
            bytes([0x60, 0x01, 0x01, 0x80]),  # PUSH1 1; ADD; DUP1
            bytes([0x60, COUNTER_SLOT, 0x55]),  # PUSH1 slot; SSTORE   (stack: counter)
            bytes([0x60, 0x00, 0x52]),  # PUSH1 0; MSTORE              (memory[0:32] = counter)
            bytes([0x7F]) + COUNTED_TOPIC,  # PUSH32 topic
            bytes([0x60, 0x20, 0x60, 0x00, 0xA1]),  # PUSH1 32; PUSH1 0; LOG1(0, 32, topic)
            bytes([0x00]),  # STOP
        ]
    )


def counter_init_code() -> bytes:
    """Creation code: copy the runtime code (appended after it) to memory and return it."""
    runtime = _runtime()
    init_len = 11
    init = b"".join(
        [
            bytes([0x60, len(runtime), 0x80]),  # PUSH1 len; DUP1
            bytes([0x60, init_len, 0x60, 0x00, 0x39]),  # PUSH1 offset; PUSH1 0; CODECOPY
            bytes([0x60, 0x00, 0xF3]),  # PUSH1 0; RETURN(0, len)
        ]
    )
    assert len(init) == init_len
    return init + runtime


def send(w3: Web3, sender: LocalAccount, nonce: int, **fields: Any) -> Any:
    """Sign and send with explicit gas and fees; return the receipt."""
    tx = {
        "nonce": nonce,
        "chainId": w3.eth.chain_id,
        "maxFeePerGas": 2 * 10**9,
        "maxPriorityFeePerGas": 10**9,
        "value": 0,
        **fields,
    }
    tx_hash = w3.eth.send_raw_transaction(sender.sign_transaction(tx).raw_transaction)
    return w3.eth.get_transaction_receipt(tx_hash)


def deploy_counter(w3: Web3, sender: LocalAccount, nonce: int) -> Any:
    receipt = send(w3, sender, nonce, data=counter_init_code(), gas=200_000)
    assert receipt["status"] == 1 and receipt["contractAddress"], receipt
    return receipt


def main(data_dir: Path, arrangement: str) -> None:
    from ledger.chain_process import ProcessChain
    from ledger.embedded import EmbeddedChain

    chain: EmbeddedChain | ProcessChain
    if arrangement == "process":
        chain = ProcessChain.open(data_dir)
        chain_pid = chain.process.pid
    else:
        chain = EmbeddedChain.open(data_dir, num_accounts=2)
        chain_pid = os.getpid()
    w3 = chain.web3
    sender = chain.accounts[0]
    nonce = w3.eth.get_transaction_count(sender.address)
    receipt = deploy_counter(w3, sender, nonce)
    address = receipt["contractAddress"]
    print("deployed", address, receipt["blockNumber"], chain_pid, flush=True)
    for i in range(1, MAX_TXS + 1):
        receipt = send(w3, sender, nonce + i, to=address, gas=CALL_GAS)
        assert receipt["status"] == 1, receipt
        print(receipt["transactionHash"].to_0x_hex(), receipt["blockNumber"], flush=True)
    chain.close()


if __name__ == "__main__":
    try:
        main(Path(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else "in-process")
    except BrokenPipeError:  # the test stopped reading
        sys.exit(0)
