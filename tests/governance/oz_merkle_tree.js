// Builds @openzeppelin/merkle-tree's StandardMerkleTree over the values read as JSON on stdin,
// {"types": [...], "values": [[...], ...]}, and prints its root, every value's proof and its dump.
"use strict";
const fs = require("fs");
const { StandardMerkleTree } = require("@openzeppelin/merkle-tree");

const input = JSON.parse(fs.readFileSync(0, "utf8"));
const tree = StandardMerkleTree.of(input.values, input.types);
const proofs = input.values.map((_, i) => tree.getProof(i));
process.stdout.write(JSON.stringify({ root: tree.root, proofs, dump: tree.dump() }));
