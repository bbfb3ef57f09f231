"""The Python claim trees are OpenZeppelin's: same root, same proofs, same node array, checked
against `@openzeppelin/merkle-tree` (npm) run through node on the same leaves."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from governance.claim_tree import ClaimEntry, ClaimTree
from governance.merkle import StandardMerkleTree, verify
from ledger.claims import LEAF_TYPES

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("oz_merkle_tree.js")

pytestmark = [
    pytest.mark.node,
    pytest.mark.skipif(
        shutil.which("node") is None
        or not (ROOT / "node_modules" / "@openzeppelin" / "merkle-tree").exists(),
        reason="node or node_modules/@openzeppelin/merkle-tree is missing (npm ci)",
    ),
]


def _openzeppelin(values: list[tuple[int, str, int]]) -> dict[str, Any]:
    payload = {"types": list(LEAF_TYPES), "values": [[str(i), key, str(amount)] for i, key, amount in values]}
    out = subprocess.run(
        ["node", str(SCRIPT)], input=json.dumps(payload), capture_output=True, text=True, check=True, cwd=ROOT
    )
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def _hex(items: list[bytes]) -> list[str]:
    return ["0x" + b.hex() for b in items]


def _random_values(rng: random.Random, n: int) -> list[tuple[int, str, int]]:
    indices = rng.sample(range(10**9), n)
    return [
        (index, "0x" + rng.randbytes(20).hex(), rng.choice([1, rng.randrange(2**128), rng.randrange(2**256)]))
        for index in indices
    ]


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 300])
def test_root_proofs_and_nodes_match_openzeppelin(n: int) -> None:
    values = _random_values(random.Random(n), n)
    ours = StandardMerkleTree.of(values, LEAF_TYPES)
    theirs = _openzeppelin(values)
    assert "0x" + ours.root.hex() == theirs["root"]
    assert [_hex(ours.proof(i)) for i in range(n)] == theirs["proofs"]
    assert _hex(list(ours.tree)) == theirs["dump"]["tree"]
    assert [v["treeIndex"] for v in theirs["dump"]["values"]] == list(ours.tree_index)
    assert all(verify(ours.root, ours.leaf(i), ours.proof(i)) for i in range(n))


def test_claim_tree_caps_and_short_proofs_are_cut_from_openzeppelins_tree() -> None:
    values = _random_values(random.Random(7), 777)
    theirs = _openzeppelin(values)
    nodes = [bytes.fromhex(h[2:]) for h in theirs["dump"]["tree"]]
    for cap_depth in (0, 3, 8):
        tree = ClaimTree.build([ClaimEntry(*v) for v in values], cap_depth)
        first = (1 << cap_depth) - 1
        assert tree.cap == nodes[first : 2 * first + 1]
        for position, (index, _, amount) in enumerate(values[:50]):
            proof = tree.proof(index)
            full = theirs["proofs"][position]
            assert _hex(proof.proof) == full[: len(proof.proof)]
            assert len(full) - len(proof.proof) == cap_depth
            assert proof.amount == amount
            assert verify(tree.cap[proof.position], tree.tree.leaf(position), proof.proof)


def test_a_changed_leaf_changes_the_root_in_both() -> None:
    values = _random_values(random.Random(3), 3)
    changed = [values[0], values[1], (values[2][0], values[2][1], values[2][2] + 1)]
    assert _openzeppelin(values)["root"] != _openzeppelin(changed)["root"]
    assert StandardMerkleTree.of(changed, LEAF_TYPES).root != StandardMerkleTree.of(values, LEAF_TYPES).root
