"""Client pseudonyms: public derivation matches private derivation; purposes and indices unlinkable."""

from __future__ import annotations

import os

from eth_account import Account
from hypothesis import given
from hypothesis import strategies as st

from governance.pseudonyms import (
    PrivateRoot,
    PublicRoot,
    Purpose,
    address_of_key,
    pseudonym_address,
    pseudonym_key,
)


@given(st.binary(min_size=32, max_size=32), st.sampled_from(list(Purpose)), st.integers(0, 2**31 - 1))
def test_public_and_private_derivation_agree(secret: bytes, purpose: Purpose, index: int) -> None:
    root = PrivateRoot.from_secret(secret)
    key = pseudonym_key(root, purpose, index)
    address = pseudonym_address(root.public(), purpose, index)
    assert address == address_of_key(key) == Account.from_key(key).address


def test_addresses_differ_by_purpose_index_and_client() -> None:
    a, b = PrivateRoot.from_secret(os.urandom(32)), PrivateRoot.from_secret(os.urandom(32))
    seen = {pseudonym_address(r.public(), p, i) for r in (a, b) for p in Purpose for i in range(5)}
    assert len(seen) == 2 * len(Purpose) * 5


def test_public_root_round_trips() -> None:
    root = PrivateRoot.from_secret(os.urandom(32)).public()
    assert PublicRoot.from_bytes(root.to_bytes()) == root
