"""Merkle trees in OpenZeppelin's `StandardMerkleTree` format, built in plain Python.

Leaves are `keccak256(keccak256(abi.encode(values)))`, sorted; the tree is kept as an array with the
leaves at the end and each parent the keccak of its two children sorted, exactly as
`@openzeppelin/merkle-tree` builds it, so roots and proofs verify with OpenZeppelin's `MerkleProof`.
Only static ABI types are supported (address, uintN, bytes32, bool), which is all Allmende needs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from governance._keccak import keccak


def _word(kind: str, value: Any) -> bytes:
    """One ABI-encoded 32-byte word of a static type."""
    if kind == "address":
        raw = bytes.fromhex(value[2:]) if isinstance(value, str) else bytes(value)
        if len(raw) != 20:
            raise ValueError(f"not an address: {value!r}")
        return raw.rjust(32, b"\0")
    if kind.startswith("uint"):
        number = int(value)
        if number < 0 or number.bit_length() > int(kind[4:] or 256):
            raise ValueError(f"{number} does not fit {kind}")
        return number.to_bytes(32, "big")
    if kind == "bytes32":
        raw = bytes(value)
        if len(raw) != 32:
            raise ValueError("bytes32 needs 32 bytes")
        return raw
    if kind == "bool":
        return (1 if value else 0).to_bytes(32, "big")
    raise ValueError(f"unsupported leaf type {kind}")


def leaf_hash(types: Sequence[str], values: Sequence[Any]) -> bytes:
    """OpenZeppelin's standard leaf: keccak256(bytes.concat(keccak256(abi.encode(values))))."""
    encoded = b"".join(_word(t, v) for t, v in zip(types, values, strict=True))
    return keccak(keccak(encoded))


def hash_pair(a: bytes, b: bytes) -> bytes:
    """Commutative parent hash, as OpenZeppelin's `Hashes.commutativeKeccak256`."""
    return keccak(a + b) if a < b else keccak(b + a)


@dataclass(frozen=True)
class StandardMerkleTree:
    """A built tree: `root`, and a proof for each of the original values by their position."""

    types: tuple[str, ...]
    values: tuple[tuple[Any, ...], ...]
    tree: tuple[bytes, ...]
    tree_index: tuple[int, ...]  # position of values[i]'s leaf in `tree`

    @classmethod
    def of(cls, values: Sequence[Sequence[Any]], types: Sequence[str]) -> StandardMerkleTree:
        """Build the tree over `values` (each a tuple matching `types`)."""
        if not values:
            raise ValueError("a Merkle tree needs at least one leaf")
        hashed = [(leaf_hash(types, v), i) for i, v in enumerate(values)]
        hashed.sort()
        n = len(hashed)
        size = 2 * n - 1
        tree: list[bytes] = [b""] * size
        tree_index = [0] * n
        for position, (digest, original) in enumerate(hashed):
            slot = size - 1 - position
            tree[slot] = digest
            tree_index[original] = slot
        for i in range(size - 1 - n, -1, -1):
            tree[i] = hash_pair(tree[2 * i + 1], tree[2 * i + 2])
        return cls(tuple(types), tuple(tuple(v) for v in values), tuple(tree), tuple(tree_index))

    @property
    def root(self) -> bytes:
        """The root to publish on-chain."""
        return self.tree[0]

    def leaf(self, i: int) -> bytes:
        """Leaf hash of values[i]."""
        return self.tree[self.tree_index[i]]

    def proof(self, i: int) -> list[bytes]:
        """Sibling hashes from values[i]'s leaf up to the root."""
        j = self.tree_index[i]
        out = []
        while j > 0:
            out.append(self.tree[j + 1 if j % 2 == 1 else j - 1])
            j = (j - 1) // 2
        return out


def verify(root: bytes, leaf: bytes, proof: Sequence[bytes]) -> bool:
    """Whether `proof` leads from `leaf` to `root` (OpenZeppelin's `MerkleProof.verify`)."""
    node = leaf
    for sibling in proof:
        node = hash_pair(node, sibling)
    return node == root
