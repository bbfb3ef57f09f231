"""Pseudonyms for clients: one unlinkable address per client per purpose (account, program, round).

A client's root key is derived from their secret (which the gateway keeps sealed with their PIN).
Its public half, the root *public* key with its chain code, lets the gateway compute any of the
client's pseudonymous addresses without the PIN (to put a client into a claim program's or a
round's Merkle tree), while signing needs the private half, so only a signed-in client can vote
or claim. Derivation is BIP32's non-hardened child derivation on secp256k1, two levels deep:
purpose, then index (e.g. claim program id). Without the root public key, addresses of different
programs cannot be linked to each other.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from enum import IntEnum

from coincurve import PrivateKey, PublicKey
from eth_hash.auto import keccak

_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
_HARDENED = 2**31
_ROOT_LABEL = b"Allmende client root v1"


class Purpose(IntEnum):
    """What a pseudonym is for."""

    ACCOUNT = 0  # receives disbursements
    CLAIM = 1  # one per claim program
    VOTE = 2  # one per participatory budget round
    PAYOUT = 3  # receives what a client claims in one claim program


@dataclass(frozen=True)
class PublicRoot:
    """A client's root public key and chain code: derives addresses, cannot sign."""

    key: bytes  # 33-byte compressed point
    chain_code: bytes

    def to_bytes(self) -> bytes:
        """65 bytes to store (sealed) in the gateway."""
        return self.key + self.chain_code

    @classmethod
    def from_bytes(cls, raw: bytes) -> PublicRoot:
        """Inverse of `to_bytes`."""
        if len(raw) != 65:
            raise ValueError("a public root has 65 bytes")
        return cls(raw[:33], raw[33:])


@dataclass(frozen=True)
class PrivateRoot:
    """A client's root private key and chain code: signs for every pseudonym."""

    key: bytes  # 32 bytes
    chain_code: bytes

    @classmethod
    def from_secret(cls, secret: bytes) -> PrivateRoot:
        """The root of a client's secret (32 random bytes kept by the gateway)."""
        if len(secret) < 32:
            raise ValueError("a client secret has at least 32 bytes")
        digest = hmac.new(_ROOT_LABEL, secret, hashlib.sha512).digest()
        key = int.from_bytes(digest[:32], "big")
        if not 0 < key < _N:
            raise ValueError("unusable secret; draw another")
        return cls(digest[:32], digest[32:])

    def public(self) -> PublicRoot:
        """The public half."""
        return PublicRoot(PublicKey.from_secret(self.key).format(compressed=True), self.chain_code)


def _child_private(key: bytes, chain: bytes, index: int) -> tuple[bytes, bytes]:
    if not 0 <= index < _HARDENED:
        raise ValueError("pseudonym indices are non-hardened (0 <= index < 2**31)")
    point = PublicKey.from_secret(key).format(compressed=True)
    digest = hmac.new(chain, point + index.to_bytes(4, "big"), hashlib.sha512).digest()
    tweak = int.from_bytes(digest[:32], "big")
    child = (tweak + int.from_bytes(key, "big")) % _N
    if tweak >= _N or child == 0:
        raise ValueError("invalid child; use the next index")
    return child.to_bytes(32, "big"), digest[32:]


def _child_public(point: bytes, chain: bytes, index: int) -> tuple[bytes, bytes]:
    if not 0 <= index < _HARDENED:
        raise ValueError("pseudonym indices are non-hardened (0 <= index < 2**31)")
    digest = hmac.new(chain, point + index.to_bytes(4, "big"), hashlib.sha512).digest()
    if int.from_bytes(digest[:32], "big") >= _N:
        raise ValueError("invalid child; use the next index")
    child = PublicKey(point).add(digest[:32])
    return child.format(compressed=True), digest[32:]


def _address(point: bytes) -> str:
    raw = PublicKey(point).format(compressed=False)[1:]
    digest = keccak(raw)[12:].hex()
    checksum = keccak(digest.encode()).hex()
    return "0x" + "".join(c.upper() if int(checksum[i], 16) >= 8 else c for i, c in enumerate(digest))


def pseudonym_address(root: PublicRoot, purpose: Purpose, index: int = 0) -> str:
    """The checksummed address of a client's pseudonym, from the public root alone."""
    point, chain = _child_public(root.key, root.chain_code, int(purpose))
    point, _ = _child_public(point, chain, index)
    return _address(point)


def pseudonym_key(root: PrivateRoot, purpose: Purpose, index: int = 0) -> bytes:
    """The private key of the same pseudonym (needs the client's secret, so their PIN)."""
    key, chain = _child_private(root.key, root.chain_code, int(purpose))
    key, _ = _child_private(key, chain, index)
    return key


def address_of_key(key: bytes) -> str:
    """The checksummed address of a private key."""
    return _address(PrivateKey(key).public_key.format(compressed=True))
