"""Voting pseudonyms per round and the voter roll's Merkle tree."""

from __future__ import annotations

import pytest

from governance.merkle import leaf_hash, verify
from governance.pseudonyms import PrivateRoot, address_of_key
from governance.voters import RoundRef, VoterRoll, round_index, vote_address, vote_key

BUDGET = "0x" + "cd" * 20


def _root(i: int) -> PrivateRoot:
    return PrivateRoot.from_secret(i.to_bytes(32, "big"))


def test_the_vote_key_signs_for_the_address_derived_without_it() -> None:
    ref = RoundRef(1337, BUDGET, 7)
    root = _root(1)
    assert address_of_key(vote_key(root, ref)) == vote_address(root.public(), ref)


def test_a_clients_pseudonyms_differ_between_rounds_and_deployments() -> None:
    root = _root(2).public()
    refs = [RoundRef(1337, BUDGET, 1), RoundRef(1337, BUDGET, 2), RoundRef(1, BUDGET, 1)]
    refs.append(RoundRef(1337, "0x" + "ce" * 20, 1))
    assert len({vote_address(root, r) for r in refs}) == len(refs)
    assert all(0 <= round_index(r) < 2**31 for r in refs)


def test_every_voter_on_the_roll_has_a_proof_to_its_root() -> None:
    ref = RoundRef(1337, BUDGET, 3)
    addresses = [vote_address(_root(i).public(), ref) for i in range(1, 12)]
    roll = VoterRoll.of(addresses)
    for address in addresses:
        assert address in roll and address.lower() in roll
        assert verify(roll.root, leaf_hash(["address"], [address]), roll.proof(address))
    outsider = vote_address(_root(99).public(), ref)
    assert outsider not in roll
    with pytest.raises(KeyError):
        roll.proof(outsider)


def test_a_roll_refuses_duplicates_and_emptiness() -> None:
    a = vote_address(_root(1).public(), RoundRef(1337, BUDGET, 1))
    with pytest.raises(ValueError, match="twice"):
        VoterRoll.of([a, a.lower()])
    with pytest.raises(ValueError, match="at least one"):
        VoterRoll.of([])
