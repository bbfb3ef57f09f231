"""Answer Ethereum JSON-RPC read requests from a chain, so standard tools can read the embedded chain.

`ReadOnlyRpc(chain).answer(payload)` takes a parsed JSON-RPC 2.0 request (or a batch of them) and
returns the response object(s) in the wire format every Ethereum client expects: quantities as
`0x` hex, data as `0x` hex, camelCase keys. It knows no HTTP; the gateway serves it.

Security boundary: only the methods in `READ_METHODS` are answered, everything else (sending or
signing transactions, mining, moving the clock, snapshots, filters, admin and debug methods) gets
the JSON-RPC error `-32601` and never reaches the chain. `eth_call` and `eth_estimateGas` execute
code against a copy of the state and commit nothing. `eth_accounts` answers an empty list: the
operator's keys are not the reader's business. Work per request is bounded: a batch holds at most
`MAX_BATCH` requests, and `eth_getLogs` spans at most `MAX_LOG_BLOCKS` blocks and answers at most
`MAX_LOG_RESULTS` logs (as public nodes do: a caller asking for more gets `LIMIT_EXCEEDED` and asks
for fewer blocks, which `ledger.chain_reading.get_logs` does by itself).

Running code is the one read that costs what the caller asks for (an `eth_call` of a loop without a
gas limit kept the embedded chain busy for 13 s, a batch of them for minutes, with the chain the
gateway writes to). So an `eth_call` or `eth_estimateGas` runs with at most `CALL_GAS_CAP` gas (the
contracts' views need far less), a batch runs at most `MAX_CALLS_PER_BATCH` of them, and at most
`CONCURRENT_CALLS` run at a time in a process; a caller who finds them busy for `CALL_WAIT_S` is
asked to retry (`LIMIT_EXCEEDED`). The chain process's own client, the gateway, is not bounded.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from contextlib import AbstractContextManager
from typing import Any, Final

from eth_bloom.bloom import BloomFilter
from web3.exceptions import Web3RPCError

from ledger.chain import Chain
from ledger.chain_reading import raw_logs
from ledger.reverts import revert_data

MAX_BATCH: Final = 100
MAX_LOG_BLOCKS: Final = 10_000
MAX_LOG_RESULTS: Final = 10_000
CALL_GAS_CAP: Final = 10_000_000
MAX_CALLS_PER_BATCH: Final = 10
CONCURRENT_CALLS: Final = 2
CALL_WAIT_S: Final = 10.0
EXECUTING_METHODS: Final = frozenset({"eth_call", "eth_estimateGas"})

_calls_running = threading.BoundedSemaphore(CONCURRENT_CALLS)

PARSE_ERROR: Final = -32700
INVALID_REQUEST: Final = -32600
METHOD_NOT_FOUND: Final = -32601
INVALID_PARAMS: Final = -32602
SERVER_ERROR: Final = -32000
EXECUTION_REVERTED: Final = 3  # geth's code for a reverted eth_call / eth_estimateGas
LIMIT_EXCEEDED: Final = -32005

READ_METHODS: Final = frozenset(
    {
        "web3_clientVersion",
        "net_version",
        "net_listening",
        "eth_chainId",
        "eth_blockNumber",
        "eth_syncing",
        "eth_mining",
        "eth_accounts",
        "eth_gasPrice",
        "eth_maxPriorityFeePerGas",
        "eth_getBlockByNumber",
        "eth_getBlockByHash",
        "eth_getBlockTransactionCountByNumber",
        "eth_getBlockTransactionCountByHash",
        "eth_getTransactionByHash",
        "eth_getTransactionByBlockNumberAndIndex",
        "eth_getTransactionByBlockHashAndIndex",
        "eth_getTransactionReceipt",
        "eth_getTransactionCount",
        "eth_getLogs",
        "eth_call",
        "eth_estimateGas",
        "eth_getCode",
        "eth_getBalance",
        "eth_getStorageAt",
    }
)
"""The only methods answered; everything else is refused with `METHOD_NOT_FOUND`."""

_CONSTANT: Final[dict[str, Any]] = {"eth_accounts": [], "net_listening": True, "eth_mining": False}
_RENAMED: Final = {"y_parity": "yParity"}
_DROPPED: Final = frozenset({"state_root"})  # eth-tester's pre-Byzantium receipt field, not wire format
_BLOOM_BYTES: Final = 256


class RpcError(Exception):
    """A JSON-RPC error to answer with: its code, message and optional data."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data

    def to_json(self) -> dict[str, Any]:
        """The response's `error` member."""
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            error["data"] = self.data
        return error


class ReadOnlyRpc:
    """Read-only JSON-RPC over one chain (the embedded one, or any node the gateway is connected to)."""

    max_calls_per_batch = MAX_CALLS_PER_BATCH

    def __init__(self, chain: Chain) -> None:
        self.chain = chain

    def bounded_call(self, params: list[Any]) -> list[Any]:
        """The parameters of an `eth_call` / `eth_estimateGas` with their gas capped at `CALL_GAS_CAP`."""
        if not params or not isinstance(params[0], Mapping):
            raise RpcError(INVALID_PARAMS, "eth_call and eth_estimateGas take a transaction object first")
        tx = dict(params[0])
        asked = tx.get("gas")
        try:
            gas = CALL_GAS_CAP if asked is None else min(quantity(asked), CALL_GAS_CAP)
        except (TypeError, ValueError) as exc:
            raise RpcError(INVALID_PARAMS, "gas is a quantity") from exc
        tx["gas"] = hex(gas)
        return [tx, *params[1:]]

    def execution_slot(self) -> AbstractContextManager[Any]:
        """One of the `CONCURRENT_CALLS` places to run code in; `LIMIT_EXCEEDED` after `CALL_WAIT_S`."""
        if not _calls_running.acquire(timeout=CALL_WAIT_S):
            raise RpcError(LIMIT_EXCEEDED, "the endpoint is running other calls; try again in a moment")
        return _Release()

    def answer(self, payload: Any) -> dict[str, Any] | list[dict[str, Any]]:
        """The response to a parsed request or batch; a batch of more than `MAX_BATCH` is refused."""
        if isinstance(payload, list):
            if not payload:
                return _error(None, RpcError(INVALID_REQUEST, "empty batch"))
            if len(payload) > MAX_BATCH:
                return _error(None, RpcError(LIMIT_EXCEEDED, f"a batch holds at most {MAX_BATCH} requests"))
            calls = sum(1 for r in payload if isinstance(r, Mapping) and r.get("method") in EXECUTING_METHODS)
            if calls > self.max_calls_per_batch:
                message = f"a batch runs at most {self.max_calls_per_batch} eth_call or eth_estimateGas"
                return _error(None, RpcError(LIMIT_EXCEEDED, message))
            return [self._one(request) for request in payload]
        return self._one(payload)

    def _one(self, request: Any) -> dict[str, Any]:
        if not isinstance(request, Mapping):
            return _error(None, RpcError(INVALID_REQUEST, "a request is a JSON object"))
        request_id = request.get("id")
        try:
            method, params = _parse(request)
            return {"jsonrpc": "2.0", "id": request_id, "result": self.call(method, params)}
        except RpcError as exc:
            return _error(request_id, exc)

    def call(self, method: str, params: list[Any]) -> Any:
        """The wire-format result of one read method; `RpcError` for anything refused or failed."""
        if method not in READ_METHODS:
            raise RpcError(METHOD_NOT_FOUND, f"{method} is not available: this endpoint is read-only")
        if method in _CONSTANT:
            return _CONSTANT[method]
        if method == "eth_getLogs":
            self._check_log_range(params)
            return self._bounded_logs(self._logs(params))
        if method in EXECUTING_METHODS:
            params = self.bounded_call(params)
            with self.execution_slot():
                return self._request(method, params)
        return self._request(method, params)

    def _request(self, method: str, params: list[Any]) -> Any:
        try:
            result = self.chain.web3.manager.request_blocking(method, params)  # type: ignore[arg-type]
        except Exception as exc:  # web3's, eth-tester's and py-evm's errors alike: the request failed
            raise _mapped(exc) from exc
        if (
            method == "eth_getTransactionReceipt"
            and isinstance(result, Mapping)
            and "logsBloom" not in result
        ):
            result = {**result, "logsBloom": _bloom(result.get("logs", []))}
        return to_wire(result)

    def _logs(self, params: list[Any]) -> Any:
        """`eth_getLogs`. A node reached over JSON (HTTP, IPC) answers in wire format already: its
        answer is passed on as it came (through web3's result formatters and attribute dicts and back
        to the wire, the same 40,646 logs of anvil took this endpoint 2.2 s instead of 1.2 s)."""
        try:
            logs = raw_logs(self.chain.web3, params[0])
        except Web3RPCError as exc:
            error = (exc.rpc_response or {}).get("error")
            message = error.get("message") if isinstance(error, Mapping) else None
            raise RpcError(INVALID_PARAMS, str(message or error)) from exc
        if logs is None:
            return self._request("eth_getLogs", params)
        return to_wire(logs)

    def max_log_results(self) -> int | None:
        """How many logs one `eth_getLogs` may answer; None for no bound."""
        return MAX_LOG_RESULTS

    def _bounded_logs(self, logs: Any) -> Any:
        cap = self.max_log_results()
        if cap is not None and isinstance(logs, list) and len(logs) > cap:
            raise RpcError(LIMIT_EXCEEDED, f"eth_getLogs answers at most {cap} logs; ask for fewer blocks")
        return logs

    def _check_log_range(self, params: list[Any]) -> None:
        if len(params) != 1 or not isinstance(params[0], Mapping):
            raise RpcError(INVALID_PARAMS, "eth_getLogs takes one filter object")
        query = params[0]
        if "blockHash" in query:
            return
        head = int(self.chain.web3.eth.block_number)
        start = _block(query.get("fromBlock", "latest"), head)
        end = _block(query.get("toBlock", "latest"), head)
        if end - start + 1 > MAX_LOG_BLOCKS:
            raise RpcError(LIMIT_EXCEEDED, f"eth_getLogs spans at most {MAX_LOG_BLOCKS} blocks; ask in pages")


class _Release(AbstractContextManager[None]):
    """Gives an execution slot back on leaving the `with`."""

    def __exit__(self, *exc: object) -> None:
        _calls_running.release()


def quantity(value: Any) -> int:
    """A JSON-RPC quantity (`0x` hex or a number) as an int; TypeError or ValueError otherwise."""
    if isinstance(value, bool):
        raise TypeError("a quantity is not a boolean")
    return int(value, 16) if isinstance(value, str) else int(value)


def _parse(request: Mapping[str, Any]) -> tuple[str, list[Any]]:
    method = request.get("method")
    if request.get("jsonrpc") != "2.0" or not isinstance(method, str):
        raise RpcError(INVALID_REQUEST, 'a request has "jsonrpc": "2.0" and a method name')
    params = request.get("params", [])
    if not isinstance(params, list):
        raise RpcError(INVALID_PARAMS, "params are a list")
    return method, params


def _error(request_id: Any, exc: RpcError) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "error": exc.to_json()}


def _block(tag: Any, head: int) -> int:
    if tag in ("latest", "pending", "safe", "finalized"):
        return head
    if tag == "earliest":
        return 0
    if isinstance(tag, str) and tag.startswith("0x"):
        try:
            return int(tag, 16)
        except ValueError:
            pass
    raise RpcError(INVALID_PARAMS, f"not a block number or tag: {tag!r}")


def _mapped(exc: BaseException) -> RpcError:
    """The JSON-RPC error for what the chain raised: a revert with its data, else invalid params."""
    data = revert_data(exc)
    if isinstance(data, bytes):
        return RpcError(EXECUTION_REVERTED, "execution reverted", "0x" + data.hex())
    if isinstance(data, str):
        return RpcError(EXECUTION_REVERTED, f"execution reverted: {data}")
    return RpcError(INVALID_PARAMS, str(exc) or type(exc).__name__)


def _bloom(logs: Any) -> str:
    bloom = BloomFilter()
    for log in logs:
        bloom.add(bytes.fromhex(str(log["address"]).removeprefix("0x")))
        for topic in log["topics"]:
            bloom.add(
                bytes(topic) if isinstance(topic, bytes) else bytes.fromhex(str(topic).removeprefix("0x"))
            )
    return "0x" + int(bloom).to_bytes(_BLOOM_BYTES, "big").hex()


def to_wire(value: Any, key: str = "") -> Any:
    """web3's Python form of a result in JSON-RPC wire format: ints as hex quantities, bytes as hex."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        if key == "logsBloom":
            return "0x" + value.to_bytes(_BLOOM_BYTES, "big").hex()
        return hex(value)
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, Mapping):
        renamed = {_RENAMED.get(str(k), str(k)): v for k, v in value.items() if k not in _DROPPED}
        return {k: to_wire(v, k) for k, v in renamed.items()}
    if isinstance(value, list | tuple):
        return [to_wire(v) for v in value]
    raise TypeError(f"cannot put {type(value).__name__} on the wire")
