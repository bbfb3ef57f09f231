"""Reading a chain the way an auditor does: logs in pages, code with its immutables masked.

Nothing here trusts the operator: the functions take a web3 connection to any endpoint and return
what the chain says. `MAX_LOG_BLOCKS_PER_QUERY` keeps every `eth_getLogs` within the span nodes
(and the gateway's read-only endpoint) answer; a page the endpoint finds holds too many logs
(`LIMIT_EXCEEDED`, -32005, as public nodes answer) is asked for again in halves.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Final

from web3 import Web3
from web3.exceptions import Web3RPCError

MAX_LOG_BLOCKS_PER_QUERY: Final = 5_000
LIMIT_EXCEEDED: Final = -32005  # EIP-1474's "limit exceeded"


def block_pages(start: int, end: int, size: int = MAX_LOG_BLOCKS_PER_QUERY) -> Iterator[tuple[int, int]]:
    """(first, last) block of each page covering `start`..`end`, both included."""
    if size < 1:
        raise ValueError("a page holds at least one block")
    first = start
    while first <= end:
        last = min(first + size - 1, end)
        yield first, last
        first = last + 1


def get_logs(
    web3: Web3, addresses: Sequence[str], start: int, end: int, size: int = MAX_LOG_BLOCKS_PER_QUERY
) -> list[Any]:
    """Every log of `addresses` in blocks `start`..`end`, asked for page by page, in chain order.

    A page the endpoint refuses as holding too many logs is split in two and each half asked for,
    down to single blocks (a single block the endpoint still refuses raises its error)."""
    logs: list[Any] = []
    for page in block_pages(start, end, size):
        pending = [page]
        while pending:
            first, last = pending.pop()
            try:
                logs.extend(
                    web3.eth.get_logs(
                        {"fromBlock": first, "toBlock": last, "address": list(addresses)}  # type: ignore[typeddict-item]
                    )
                )
            except Web3RPCError as exc:
                if first == last or not _too_many_logs(exc):
                    raise
                middle = (first + last) // 2
                pending += [(middle + 1, last), (first, middle)]  # the first half is asked first
    return logs


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
