"""The claim tree of one program: leaves `(index, claim key address, amount)`, its cap and claim proofs.

The tree is OpenZeppelin's `StandardMerkleTree` over `(uint256, address, uint256)`, so its root and
full proofs are exactly what `@openzeppelin/merkle-tree` computes. A claim program stores the tree's
*cap*, its 2^k nodes at depth k, and a claim proves its leaf only up to its cap node: the standard
proof without its last k hashes, plus the cap node's position. Each level left out saves a claim
about 600 gas (32 bytes of calldata and one hash); the cap costs ~22,000 gas per node once, when the
root is published, so `default_cap_depth` keeps at least 64 leaves under every cap node.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from governance.merkle import StandardMerkleTree, hash_pair
from ledger.claims import LEAF_TYPES

MAX_CAP_DEPTH = 9
"""The contract keeps at most 2^9 cap nodes per root."""

LEAVES_PER_CAP_NODE = 64
_ZERO_ADDRESS = "0x" + "00" * 20


@dataclass(frozen=True)
class ClaimEntry:
    """What one client may claim: their index in the program, their claim key's address, the amount."""

    index: int
    claim_key: str
    amount: int


@dataclass(frozen=True)
class ClaimProof:
    """What a claim needs besides the signature: where the leaf sits and how it reaches the cap."""

    index: int
    amount: int
    position: int
    proof: list[bytes]


def default_cap_depth(leaves: int) -> int:
    """The deepest cap (at most 2^9 nodes) that still leaves 64 or more leaves under each node."""
    if leaves < 2 * LEAVES_PER_CAP_NODE:
        return 0
    return min(MAX_CAP_DEPTH, int(math.log2(leaves // LEAVES_PER_CAP_NODE)))


def max_cap_depth(leaves: int) -> int:
    """The deepest cap a tree of `leaves` leaves allows: no leaf may sit above the cap."""
    return min(MAX_CAP_DEPTH, leaves.bit_length() - 1)


def _depth(tree_index: int) -> int:
    """Depth of a node in OpenZeppelin's array layout (root 0, children 2i+1 and 2i+2)."""
    return (tree_index + 1).bit_length() - 1


class ClaimTree:
    """A built claim tree with its cap; proofs are looked up by client index."""

    def __init__(self, tree: StandardMerkleTree, cap_depth: int) -> None:
        if not 0 <= cap_depth <= max_cap_depth(len(tree.values)):
            raise ValueError(f"a tree of {len(tree.values)} leaves cannot have a cap at depth {cap_depth}")
        self.tree = tree
        self.cap_depth = cap_depth
        self._position = {int(v[0]): i for i, v in enumerate(tree.values)}

    @classmethod
    def build(cls, entries: Iterable[ClaimEntry], cap_depth: int | None = None) -> ClaimTree:
        """Build the tree; indices must be unique, keys non-zero and amounts positive."""
        values: list[tuple[int, str, int]] = []
        seen: set[int] = set()
        for e in entries:
            if e.index in seen:
                raise ValueError(f"index {e.index} appears twice")
            if e.amount <= 0 or e.index < 0:
                raise ValueError(f"entry {e.index}: index and amount must be non-negative and positive")
            if e.claim_key.lower() == _ZERO_ADDRESS:
                raise ValueError(f"entry {e.index}: the zero address cannot sign claims")
            seen.add(e.index)
            values.append((e.index, e.claim_key, e.amount))
        tree = StandardMerkleTree.of(values, LEAF_TYPES)
        return cls(tree, default_cap_depth(len(values)) if cap_depth is None else cap_depth)

    @property
    def root(self) -> bytes:
        """The root (what `addRoot` computes from the cap)."""
        return self.tree.root

    @property
    def cap(self) -> list[bytes]:
        """The 2^k nodes at the cap depth, left to right: what the NGO publishes."""
        first = (1 << self.cap_depth) - 1
        return list(self.tree.tree[first : 2 * first + 1])

    def __len__(self) -> int:
        return len(self.tree.values)

    def __contains__(self, index: object) -> bool:
        return index in self._position

    def entry(self, index: int) -> ClaimEntry:
        """The entry of client `index`."""
        i, key, amount = self.tree.values[self._position[index]]
        return ClaimEntry(int(i), str(key), int(amount))

    def entries(self) -> list[ClaimEntry]:
        """Every entry, in the order given to `build`."""
        return [ClaimEntry(int(i), str(k), int(a)) for i, k, a in self.tree.values]

    def full_proof(self, index: int) -> list[bytes]:
        """The standard proof of client `index` up to the root."""
        return self.tree.proof(self._position[index])

    def proof(self, index: int) -> ClaimProof:
        """What client `index` submits: the proof up to its cap node and that node's position."""
        position = self._position[index]
        node = self.tree.tree_index[position]
        full = self.tree.proof(position)
        steps = _depth(node) - self.cap_depth
        for _ in range(steps):
            node = (node - 1) // 2
        _, _, amount = self.tree.values[position]
        return ClaimProof(index, int(amount), node - ((1 << self.cap_depth) - 1), full[:steps])


def cap_root(cap: Sequence[bytes]) -> bytes:
    """The root a cap hashes up to (what the contract computes in `addRoot`)."""
    level = list(cap)
    while len(level) > 1:
        level = [hash_pair(level[i], level[i + 1]) for i in range(0, len(level), 2)]
    return level[0]
