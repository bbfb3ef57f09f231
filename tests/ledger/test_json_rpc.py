"""The read-only JSON-RPC answerer over the embedded chain, without HTTP."""

from __future__ import annotations

from typing import Any

import pytest
from eth_utils import keccak

from ledger import json_rpc
from ledger.chain_process import ChainRpc
from ledger.embedded import CHAIN_ID, EmbeddedChain
from ledger.json_rpc import (
    CALL_GAS_CAP,
    CONCURRENT_CALLS,
    EXECUTION_REVERTED,
    INVALID_PARAMS,
    INVALID_REQUEST,
    LIMIT_EXCEEDED,
    MAX_CALLS_PER_BATCH,
    MAX_LOG_BLOCKS,
    METHOD_NOT_FOUND,
    READ_METHODS,
    ReadOnlyRpc,
    to_wire,
)
from ledger.system import Allmende


def _ask(rpc: ReadOnlyRpc, method: str, *params: Any) -> dict[str, Any]:
    answer = rpc.answer({"jsonrpc": "2.0", "id": 7, "method": method, "params": list(params)})
    assert isinstance(answer, dict)
    assert answer["id"] == 7
    return answer


def test_answers_are_in_wire_format(system: Allmende, chain: EmbeddedChain) -> None:
    rpc = ReadOnlyRpc(chain)
    assert _ask(rpc, "eth_chainId")["result"] == hex(CHAIN_ID)
    head = _ask(rpc, "eth_blockNumber")["result"]
    assert head.startswith("0x") and int(head, 16) > 0
    block = _ask(rpc, "eth_getBlockByNumber", head, False)["result"]
    assert block["number"] == head and len(block["logsBloom"]) == 2 + 512
    tx_hash = block["transactions"][0]
    receipt = _ask(rpc, "eth_getTransactionReceipt", tx_hash)["result"]
    assert receipt["status"] == "0x1" and len(receipt["logsBloom"]) == 2 + 512
    assert "state_root" not in receipt
    tx = _ask(rpc, "eth_getTransactionByHash", tx_hash)["result"]
    assert tx["hash"] == tx_hash and "y_parity" not in tx


def test_a_receipts_bloom_holds_its_logs_addresses(system: Allmende, chain: EmbeddedChain) -> None:
    from eth_bloom.bloom import BloomFilter

    rpc = ReadOnlyRpc(chain)
    result = system.funds.create_program(chain.accounts[4], system.token.address, bytes(32))
    receipt = _ask(rpc, "eth_getTransactionReceipt", result.transaction_hash)["result"]
    bloom = BloomFilter(int(receipt["logsBloom"], 16))
    assert bytes.fromhex(system.funds.address[2:]) in bloom
    assert bytes.fromhex("11" * 20) not in bloom


def test_unknown_and_writing_methods_never_reach_the_chain(chain: EmbeddedChain) -> None:
    rpc = ReadOnlyRpc(chain)
    before = chain.web3.eth.block_number
    for method in ("eth_sendTransaction", "evm_mine", "hardhat_setBalance", "eth_sign", "no_such_method"):
        assert method not in READ_METHODS
        assert _ask(rpc, method, {})["error"]["code"] == METHOD_NOT_FOUND
    assert chain.web3.eth.block_number == before
    assert _ask(rpc, "eth_accounts")["result"] == []


def test_malformed_requests_and_wide_log_queries_are_refused(chain: EmbeddedChain) -> None:
    rpc = ReadOnlyRpc(chain)
    assert rpc.answer([])["error"]["code"] == INVALID_REQUEST  # type: ignore[call-overload]
    assert rpc.answer(["x"]) == [
        {
            "jsonrpc": "2.0",
            "id": None,
            "error": {"code": INVALID_REQUEST, "message": "a request is a JSON object"},
        }
    ]
    assert rpc.answer({"id": 1, "method": "eth_chainId"})["error"]["code"] == INVALID_REQUEST  # type: ignore[call-overload]
    bad_params = rpc.answer({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": {}})
    assert bad_params["error"]["code"] == INVALID_PARAMS  # type: ignore[call-overload]
    wide = {"fromBlock": "0x0", "toBlock": hex(MAX_LOG_BLOCKS)}
    assert _ask(rpc, "eth_getLogs", wide)["error"]["code"] == LIMIT_EXCEEDED
    assert _ask(rpc, "eth_getLogs", {"fromBlock": "later"})["error"]["code"] == INVALID_PARAMS
    assert _ask(rpc, "eth_getBlockByNumber", "0xzz", False)["error"]["code"] == INVALID_PARAMS


def test_a_log_query_answering_more_than_the_bound_is_refused_but_not_for_the_gateway(
    system: Allmende, chain: EmbeddedChain, monkeypatch: pytest.MonkeyPatch
) -> None:
    query = {"fromBlock": "0x0", "toBlock": "latest"}
    logs = _ask(ReadOnlyRpc(chain), "eth_getLogs", query)["result"]
    assert len(logs) > 2
    monkeypatch.setattr(json_rpc, "MAX_LOG_RESULTS", len(logs) - 1)
    refused = _ask(ReadOnlyRpc(chain), "eth_getLogs", query)
    assert refused["error"]["code"] == LIMIT_EXCEEDED
    assert "fewer blocks" in refused["error"]["message"]
    assert _ask(ChainRpc(chain), "eth_getLogs", query)["result"] == logs


def test_a_reverting_call_from_an_address_without_ether_answers_the_revert_data(
    system: Allmende, chain: EmbeddedChain
) -> None:
    rpc = ReadOnlyRpc(chain)
    data = "0x" + system.funds.encode("getLot", 999).hex()
    answer = _ask(
        rpc, "eth_call", {"from": "0x" + "00" * 20, "to": system.funds.address, "data": data}, "latest"
    )
    selector = keccak(text="FundLedgerUnknownLot(uint48)")[:4]
    assert answer["error"] == {
        "code": EXECUTION_REVERTED,
        "message": "execution reverted",
        "data": "0x" + (selector + (999).to_bytes(32, "big")).hex(),
    }
    counts = _ask(
        rpc,
        "eth_call",
        {"to": system.funds.address, "data": "0x" + system.funds.encode("counts").hex()},
        "latest",
    )
    assert counts["result"].startswith("0x") and len(counts["result"]) == 2 + 6 * 64


def test_to_wire_turns_quantities_and_bytes_into_hex() -> None:
    assert to_wire({"a": 10, "b": b"\x01", "c": True, "d": None, "e": [1, "0xab"], "y_parity": 1}) == {
        "a": "0xa",
        "b": "0x01",
        "c": True,
        "d": None,
        "e": ["0x1", "0xab"],
        "yParity": "0x1",
    }


# Init code that returns the gas left when it runs: GAS PUSH1 0 MSTORE PUSH1 32 PUSH1 0 RETURN.
_GAS_LEFT = "0x5a60005260206000f3"
# Init code that loops until its gas is gone: JUMPDEST PUSH1 0 JUMP.
_LOOP = "0x5b600056"


def _gas_left(rpc: ReadOnlyRpc, **tx: Any) -> int:
    answer = _ask(rpc, "eth_call", {"data": _GAS_LEFT, **tx}, "latest")
    return int(answer["result"], 16)


def test_a_public_call_runs_with_at_most_the_cap_of_gas(chain: EmbeddedChain) -> None:
    rpc = ReadOnlyRpc(chain)
    assert CALL_GAS_CAP - 100_000 < _gas_left(rpc) <= CALL_GAS_CAP  # no gas given: the cap
    assert _gas_left(rpc, gas=hex(30_000_000)) <= CALL_GAS_CAP  # more than the cap asked: the cap
    assert _gas_left(rpc, gas=hex(200_000)) <= 200_000  # less asked: what was asked
    loop = _ask(rpc, "eth_call", {"data": _LOOP}, "latest")
    assert loop["error"]["code"] == EXECUTION_REVERTED  # out of gas at the cap, not at the block limit
    assert (
        _ask(rpc, "eth_call", {"data": _GAS_LEFT, "gas": "lots"}, "latest")["error"]["code"] == INVALID_PARAMS
    )
    assert _ask(rpc, "eth_estimateGas", "not a transaction")["error"]["code"] == INVALID_PARAMS


def test_the_gateways_own_client_of_the_chain_process_is_not_capped(chain: EmbeddedChain) -> None:
    assert _gas_left(ChainRpc(chain), gas=hex(CALL_GAS_CAP * 2)) > CALL_GAS_CAP


def test_a_batch_runs_a_bounded_number_of_calls(chain: EmbeddedChain) -> None:
    rpc = ReadOnlyRpc(chain)
    call = {
        "jsonrpc": "2.0",
        "method": "eth_call",
        "params": [{"data": _GAS_LEFT, "gas": "0x30000"}, "latest"],
    }
    allowed = rpc.answer([{**call, "id": i} for i in range(MAX_CALLS_PER_BATCH)])
    assert isinstance(allowed, list) and all("result" in a for a in allowed)
    refused = rpc.answer([{**call, "id": i} for i in range(MAX_CALLS_PER_BATCH + 1)])
    assert isinstance(refused, dict) and refused["error"]["code"] == LIMIT_EXCEEDED
    reads = rpc.answer([{"jsonrpc": "2.0", "id": i, "method": "eth_blockNumber"} for i in range(50)])
    assert isinstance(reads, list) and len(reads) == 50  # other reads are not counted


def test_a_call_finding_every_slot_busy_is_asked_to_retry(
    chain: EmbeddedChain, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(json_rpc, "CALL_WAIT_S", 0.05)
    rpc = ReadOnlyRpc(chain)
    held = [rpc.execution_slot() for _ in range(CONCURRENT_CALLS)]
    try:
        busy = _ask(rpc, "eth_call", {"data": _GAS_LEFT}, "latest")
        assert busy["error"]["code"] == LIMIT_EXCEEDED
        assert "result" in _ask(rpc, "eth_blockNumber")  # reading without running code goes on
    finally:
        for slot in held:
            slot.__exit__(None, None, None)
    assert "result" in _ask(rpc, "eth_call", {"data": _GAS_LEFT}, "latest")
