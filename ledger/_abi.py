"""Small ABI helpers shared by revert and event decoding."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from eth_utils import to_checksum_address

checksummed = lru_cache(maxsize=1 << 16)(to_checksum_address)
"""`to_checksum_address`, remembered: a relayed batch's events name the same contracts, signers and
relayer over and over, and each checksum costs a keccak and eth_utils' validation (~0.1 ms)."""


def signature_types(signature: str) -> list[str]:
    """Argument types of `Name(type,...)`, tuples kept whole."""
    inner = signature[signature.index("(") + 1 : -1]
    types, depth, start = [], 0, 0
    for i, ch in enumerate(inner):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            types.append(inner[start:i])
            start = i + 1
    if inner:
        types.append(inner[start:])
    return types


def normalise(value: Any) -> Any:
    """Decoded ABI value with addresses checksummed, tuples and arrays as lists of the same."""
    if isinstance(value, str) and value.startswith("0x") and len(value) == 42:
        return checksummed(value)
    if isinstance(value, tuple):
        return tuple(normalise(v) for v in value)
    if isinstance(value, list):
        return [normalise(v) for v in value]
    return value


def abi_type(param: dict[str, Any]) -> str:
    """Canonical type of an ABI parameter, tuples spelled out: `(address,uint256)[]`."""
    kind: str = param["type"]
    if kind.startswith("tuple"):
        return "(" + ",".join(abi_type(c) for c in param["components"]) + ")" + kind[5:]
    return kind
