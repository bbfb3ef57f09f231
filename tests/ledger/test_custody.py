"""Custody: sealed keys open only with the right master key, context and PIN."""

from __future__ import annotations

import pytest

from ledger.custody import CustodyError, Sealer, new_key, open_with_pin, seal_with_pin


def test_sealed_secret_needs_key_and_context() -> None:
    master = Sealer(new_key())
    sealed = master.seal(b"secret", "org:1")
    assert master.open(sealed, "org:1") == b"secret"
    assert b"secret" not in sealed
    with pytest.raises(CustodyError):
        master.open(sealed, "org:2")  # moved to another record
    with pytest.raises(CustodyError):
        Sealer(new_key()).open(sealed, "org:1")
    tampered = sealed[:-1] + bytes([sealed[-1] ^ 1])
    with pytest.raises(CustodyError):
        master.open(tampered, "org:1")


def test_pin_sealed_secret_needs_the_pin_and_the_master_key() -> None:
    master = Sealer(new_key())
    sealed = seal_with_pin(b"k" * 32, "4711", master, "client:9")
    assert open_with_pin(sealed, "4711", master, "client:9") == b"k" * 32
    with pytest.raises(CustodyError):
        open_with_pin(sealed, "4712", master, "client:9")
    with pytest.raises(CustodyError):
        open_with_pin(sealed, "4711", Sealer(new_key()), "client:9")
    assert seal_with_pin(b"k" * 32, "4711", master, "client:9") != sealed  # fresh salt and nonce


def test_sealer_rejects_short_keys() -> None:
    with pytest.raises(ValueError):
        Sealer(b"short")
