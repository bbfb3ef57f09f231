"""Reading a chain the way an auditor does: logs in pages, code with its immutables masked.

Nothing here trusts the operator: the functions take a web3 connection to any endpoint and return
what the chain says. `MAX_LOG_BLOCKS_PER_QUERY` keeps every `eth_getLogs` within the span nodes
(and the gateway's read-only endpoint) answer; a page the endpoint finds holds too many logs
(`LIMIT_EXCEEDED`, -32005, as public nodes answer) is asked for again in halves.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from web3 import Web3
from web3.exceptions import Web3RPCError
from web3.providers import JSONBaseProvider
from web3.types import RPCEndpoint

MAX_LOG_BLOCKS_PER_QUERY: Final = 5_000
LIMIT_EXCEEDED: Final = -32005  # EIP-1474's "limit exceeded"
FIRST_SPAN: Final = 16  # blocks of the first page
FEW_LOGS: Final = 2_500  # a page with fewer logs than this lets the next page span twice the blocks
MANY_LOGS: Final = 5_000  # a page with more logs than this makes the next page span half the blocks


def get_logs(
    web3: Web3, addresses: Sequence[str], start: int, end: int, size: int = MAX_LOG_BLOCKS_PER_QUERY
) -> list[Any]:
    """Every log of `addresses` in blocks `start`..`end`, asked for page by page, in chain order.

    Pages keep answers small whatever the chain holds (one answer of 100,000 logs is some 20 MB that
    the node builds, sends and the client decodes at once): the first page spans `FIRST_SPAN` blocks;
    a page with few logs (under `FEW_LOGS`) doubles the next page's span, up to `size`, and one with
    many (over `MANY_LOGS`) halves it. A page the endpoint refuses as holding too many logs is asked
    for again as its first half. A single block the endpoint still refuses raises its error. The logs
    are those `EventDecoder` takes: as the node sent them (`_logs_page`), or as web3 formats them."""
    if size < 1:
        raise ValueError("a page holds at least one block")
    logs: list[Any] = []
    first, span = start, min(FIRST_SPAN, size)
    while first <= end:
        last = min(first + span - 1, end)
        try:
            page = _logs_page(web3, addresses, first, last)
        except Web3RPCError as exc:
            if first == last or not _too_many_logs(exc):
                raise
            span = (last - first + 1) // 2
            continue
        logs.extend(page)
        first = last + 1
        if len(page) < FEW_LOGS:
            span = min(span * 2, size)
        elif len(page) > MANY_LOGS:
            span = max(span // 2, 1)
    return logs


def _logs_page(web3: Web3, addresses: Sequence[str], first: int, last: int) -> list[Any]:
    """One `eth_getLogs`, as the node sent its logs when it speaks JSON (see `raw_logs`)."""
    query = {"fromBlock": hex(first), "toBlock": hex(last), "address": list(addresses)}
    raw = raw_logs(web3, query)
    if raw is not None:
        return raw
    return list(
        web3.eth.get_logs(
            {"fromBlock": first, "toBlock": last, "address": list(addresses)}  # type: ignore[typeddict-item]
        )
    )


def raw_logs(web3: Web3, query: Mapping[str, Any]) -> list[Any] | None:
    """`eth_getLogs` past web3's result formatters, for a node reached over JSON (HTTP, IPC): the logs
    as the node sent them, hex strings, which `EventDecoder` reads as well. None for other providers.

    The formatters and attribute dicts cost more than the decoding: through them, reading 40,646
    events from anvil took 7.9 s instead of 2.1 s. A refusal raises `Web3RPCError`."""
    if not isinstance(web3.provider, JSONBaseProvider):
        return None
    response = web3.provider.make_request(RPCEndpoint("eth_getLogs"), [dict(query)])
    if "error" in response:
        raise Web3RPCError(str(response["error"]), rpc_response=response)
    return list(response["result"])


def _too_many_logs(exc: Web3RPCError) -> bool:
    response = exc.rpc_response or {}
    error = response.get("error")
    return isinstance(error, Mapping) and error.get("code") == LIMIT_EXCEEDED


def mask_immutables(code: bytes, references: Mapping[str, Sequence[Mapping[str, int]]]) -> bytes:
    """`code` with every immutable's bytes zeroed, as solc leaves them in the runtime bytecode.

    `references` is the compiler's `evm.deployedBytecode.immutableReferences`: per immutable, the
    `start` and `length` of each place the constructor writes it. Comparing masked code with the
    compiler's output is Sourcify's "exact match" (the metadata hash at the end is compared too).
    """
    masked = bytearray(code)
    for places in references.values():
        for place in places:
            start, length = int(place["start"]), int(place["length"])
            if start + length > len(masked):
                raise ValueError(
                    f"an immutable at {start}+{length} lies beyond the code's {len(masked)} bytes"
                )
            masked[start : start + length] = bytes(length)
    return bytes(masked)


def immutable_values(code: bytes, references: Mapping[str, Sequence[Mapping[str, int]]]) -> dict[str, bytes]:
    """The value the deployed `code` holds for each immutable (by the compiler's AST id)."""
    values: dict[str, bytes] = {}
    for ast_id, places in references.items():
        if places:
            start, length = int(places[0]["start"]), int(places[0]["length"])
            values[ast_id] = code[start : start + length]
    return values
