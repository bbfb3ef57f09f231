"""Custody: sealed keys open only with the right master key, context and PIN."""

from __future__ import annotations

import pytest

from ledger.custody import (
    CustodyError,
    Sealer,
    new_key,
    open_with_code,
    open_with_pin,
    seal_with_code,
    seal_with_pin,
    split_pin_sealed,
)


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


def test_code_sealed_secret_needs_the_code_the_context_and_the_master_key() -> None:
    master = Sealer(new_key())
    code = "7KQ2M9XD4T1BZR8P"
    sealed = seal_with_code(b"r" * 32, code, master, "client-recovery:1")
    assert open_with_code(sealed, code, master, "client-recovery:1") == b"r" * 32
    with pytest.raises(CustodyError):
        open_with_code(sealed, "7KQ2M9XD4T1BZR8Q", master, "client-recovery:1")
    with pytest.raises(CustodyError):
        open_with_code(sealed, code, master, "client-recovery:2")
    with pytest.raises(CustodyError):
        open_with_code(sealed, code, Sealer(new_key()), "client-recovery:1")
    # the layout of a PIN seal: a master-key rotation re-seals the same outer layer
    salt, outer = split_pin_sealed(sealed)
    assert len(salt) == 16 and master.open(outer, "client-recovery:1")


def test_a_recovery_code_sealed_with_argon2_before_still_opens() -> None:
    master = Sealer(new_key())
    code = "7KQ2M9XD4T1BZR8P"
    legacy = seal_with_pin(b"r" * 32, code, master, "client-recovery:1")
    assert open_with_code(legacy, code, master, "client-recovery:1") == b"r" * 32
    with pytest.raises(CustodyError):
        open_with_code(legacy, "7KQ2M9XD4T1BZR8Q", master, "client-recovery:1")
