"""The read-only JSON-RPC answerer over the embedded chain, without HTTP."""

from __future__ import annotations

from typing import Any

from eth_utils import keccak

from ledger.embedded import CHAIN_ID, EmbeddedChain
from ledger.json_rpc import (
    EXECUTION_REVERTED,
    INVALID_PARAMS,
    INVALID_REQUEST,
    LIMIT_EXCEEDED,
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
