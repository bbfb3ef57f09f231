"""Keys held for people who have no wallet: encrypted at rest, and a client's also sealed with a PIN.

Everything secret is stored as AES-256-GCM ciphertext under the operator's master key, with the
record's id as associated data (a ciphertext moved to another record does not decrypt). A client's
secret is first encrypted under a key derived from their PIN (argon2id), so neither a database dump
nor the gateway alone can sign a client's vote or claim without that PIN.

A recovery code is a random 74-bit secret, not a PIN: stretching it buys nothing, so its key comes
from HKDF-SHA256 (`seal_with_code`), which keeps a bulk import at one argon2 derivation per client.
Records sealed before that under an argon2 key of the code still open (`open_with_code` tries both).
"""

from __future__ import annotations

import os
import secrets

from argon2.low_level import Type, hash_secret_raw
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from eth_account import Account
from eth_account.signers.local import LocalAccount

from ledger.exceptions import LedgerError

KEY_BYTES = 32
_NONCE_BYTES = 12
_PIN_SALT_BYTES = 16
# argon2id cost for PIN-derived keys (OWASP minimum: 19 MiB, 2 passes): ~50 ms here.
PIN_TIME_COST = 2
PIN_MEMORY_KIB = 19 * 1024


class CustodyError(LedgerError):
    """A ciphertext does not decrypt: wrong key, wrong PIN, or tampered data."""


class Sealer:
    """AES-256-GCM under one key."""

    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise ValueError("a sealing key has 32 bytes")
        self._aead = AESGCM(key)

    def seal(self, plaintext: bytes, context: str) -> bytes:
        """nonce || ciphertext, bound to `context` (e.g. the owning record's id)."""
        nonce = os.urandom(_NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, plaintext, context.encode())

    def open(self, sealed: bytes, context: str) -> bytes:
        """The plaintext; raises CustodyError when the key, context or data is wrong."""
        try:
            return self._aead.decrypt(sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:], context.encode())
        except (InvalidTag, ValueError) as exc:
            raise CustodyError("ciphertext does not open with this key and context") from exc


def new_key() -> bytes:
    """A fresh random 32-byte key (also a valid secp256k1 private key with overwhelming odds)."""
    return secrets.token_bytes(KEY_BYTES)


def new_account() -> tuple[LocalAccount, bytes]:
    """A fresh signing account and its private key bytes."""
    account = Account.create()
    return account, bytes(account.key)


def pin_key(pin: str, salt: bytes) -> bytes:
    """A 32-byte key derived from a PIN with argon2id."""
    return hash_secret_raw(
        pin.encode(),
        salt,
        time_cost=PIN_TIME_COST,
        memory_cost=PIN_MEMORY_KIB,
        parallelism=1,
        hash_len=KEY_BYTES,
        type=Type.ID,
    )


def seal_with_pin(secret: bytes, pin: str, master: Sealer, context: str) -> bytes:
    """salt || master-sealed(PIN-sealed(secret)): needs both the master key and the PIN to open."""
    salt = os.urandom(_PIN_SALT_BYTES)
    inner = Sealer(pin_key(pin, salt)).seal(secret, context)
    return salt + master.seal(inner, context)


def open_with_pin(sealed: bytes, pin: str, master: Sealer, context: str) -> bytes:
    """The secret sealed by `seal_with_pin`; CustodyError on a wrong PIN."""
    salt, outer = sealed[:_PIN_SALT_BYTES], sealed[_PIN_SALT_BYTES:]
    inner = master.open(outer, context)
    return Sealer(pin_key(pin, salt)).open(inner, context)


def code_key(code: str, salt: bytes, context: str) -> bytes:
    """A 32-byte key from a high-entropy code (a recovery code), with HKDF-SHA256: no stretching."""
    return HKDF(algorithm=SHA256(), length=KEY_BYTES, salt=salt, info=context.encode()).derive(code.encode())


def seal_with_code(secret: bytes, code: str, master: Sealer, context: str) -> bytes:
    """salt || master-sealed(code-sealed(secret)), the layout of `seal_with_pin`, for a random code of
    at least 64 bits (a recovery code) whose key needs no argon2."""
    salt = os.urandom(_PIN_SALT_BYTES)
    inner = Sealer(code_key(code, salt, context)).seal(secret, context)
    return salt + master.seal(inner, context)


def open_with_code(sealed: bytes, code: str, master: Sealer, context: str) -> bytes:
    """The secret sealed by `seal_with_code`, or by `seal_with_pin` with the code (records sealed
    before recovery codes had their own key); CustodyError on a wrong code."""
    salt, outer = sealed[:_PIN_SALT_BYTES], sealed[_PIN_SALT_BYTES:]
    inner = master.open(outer, context)
    try:
        return Sealer(code_key(code, salt, context)).open(inner, context)
    except CustodyError:
        return Sealer(pin_key(code, salt)).open(inner, context)


def split_pin_sealed(sealed: bytes) -> tuple[bytes, bytes]:
    """(salt, master-key layer) of a `seal_with_pin` ciphertext: the layer a master-key rotation
    re-seals, while the PIN-sealed secret inside and its salt stay as they are."""
    return sealed[:_PIN_SALT_BYTES], sealed[_PIN_SALT_BYTES:]
