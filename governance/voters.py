"""Voter rolls of participatory budget rounds: one VOTE pseudonym per client per round, and the tree.

A client votes in round `r` with their `Purpose.VOTE` pseudonym at the round's index, derived from
their public root alone, so whoever holds the public roots (the gateway, for an NGO) can build the
round's voter roll without any client's PIN; signing a ballot needs the private root, so only the
client, signed in, can vote. The index depends on the chain, the ParticipatoryBudget contract and the
round id, so a client's pseudonyms in different rounds (or deployments) cannot be linked on chain.
The roll's Merkle root is OpenZeppelin's `StandardMerkleTree` over leaves of type `address`, as
`ParticipatoryBudget` checks it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

from governance.merkle import StandardMerkleTree
from governance.pseudonyms import PrivateRoot, PublicRoot, Purpose, pseudonym_address, pseudonym_key


@dataclass(frozen=True)
class RoundRef:
    """Which round a derivation is for: chain, `ParticipatoryBudget` contract and round id."""

    chain_id: int
    budget: str
    round_id: int

    def context(self) -> bytes:
        """The fixed-width bytes every derivation for this round includes."""
        return (
            self.chain_id.to_bytes(32, "big")
            + bytes.fromhex(self.budget.removeprefix("0x"))
            + self.round_id.to_bytes(32, "big")
        )


def round_index(ref: RoundRef) -> int:
    """The pseudonym index of a round (non-hardened, so public derivation works)."""
    digest = hashlib.sha256(b"allmende/budget-round" + ref.context()).digest()
    return int.from_bytes(digest[:4], "big") >> 1


def vote_address(root: PublicRoot, ref: RoundRef) -> str:
    """The client's voting pseudonym in the round, from their public root alone (no PIN needed)."""
    return pseudonym_address(root, Purpose.VOTE, round_index(ref))


def vote_key(root: PrivateRoot, ref: RoundRef) -> bytes:
    """The private key of `vote_address` (needs the client's secret, so their PIN)."""
    return pseudonym_key(root, Purpose.VOTE, round_index(ref))


@dataclass(frozen=True)
class VoterRoll:
    """The eligible addresses of a round in leaf order, their Merkle tree and a proof for each."""

    addresses: tuple[str, ...]
    tree: StandardMerkleTree
    _positions: dict[str, int] = field(repr=False, compare=False)

    @classmethod
    def of(cls, addresses: Sequence[str]) -> VoterRoll:
        """The roll over `addresses` (checksummed or not; each at most once)."""
        if not addresses:
            raise ValueError("a round needs at least one voter")
        positions: dict[str, int] = {}
        for i, address in enumerate(addresses):
            if positions.setdefault(address.lower(), i) != i:
                raise ValueError(f"{address} is on the roll twice")
        tree = StandardMerkleTree.of([[a] for a in addresses], ["address"])
        return cls(tuple(addresses), tree, positions)

    @property
    def root(self) -> bytes:
        """The root `ParticipatoryBudget` checks ballots against."""
        return self.tree.root

    def __contains__(self, address: object) -> bool:
        return isinstance(address, str) and address.lower() in self._positions

    def __len__(self) -> int:
        return len(self.addresses)

    def proof(self, address: str) -> list[bytes]:
        """The Merkle proof that `address` is on the roll; KeyError when it is not."""
        return self.tree.proof(self._positions[address.lower()])
