"""Vouchers: claim keys derived per client and program, and codes a person can read aloud and type.

The gateway keeps one random secret per client (`new_client_secret`). Everything else is derived
from it with HKDF-SHA256 (RFC 5869) and the claim program it is for (`ProgramRef`: chain id, the
`ClaimPrograms` registry, the program id):

- the *claim key*, the secp256k1 key whose address goes into the program's Merkle leaf and which
  signs the client's claim. It is fresh in every program, so two programs' claims cannot be linked
  on chain, and nothing about the person enters it. It is the client's CLAIM pseudonym
  (`governance.pseudonyms`), so its address can be computed from the client's public root without
  their PIN, while the key itself needs the secret.
- the *payout key*, the pseudonymous account the gateway holds for the client's money in that
  program (the claim's recipient), also fresh per program (the PAYOUT pseudonym).
- the *voucher code*, 15 symbols from a 31-letter alphabet without 0/O, 1/I/L, plus a check symbol,
  written XXXX-XXXX-XXXX-XXXX. The check is a weighted sum modulo 31 (a prime, with weights 1..16),
  so it catches every single wrong symbol and every swap of two symbols, adjacent or not. A code
  only finds the voucher at the gateway; it is never on chain. `serial` lets a lost voucher be
  replaced by a new code while the claim key stays.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import secrets
from dataclasses import dataclass

import segno
from eth_keys.datatypes import PrivateKey
from eth_utils import to_checksum_address

from governance.errors import VoucherCodeError
from governance.pseudonyms import PrivateRoot, PublicRoot, Purpose, pseudonym_address, pseudonym_key

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
"""31 symbols: digits and capitals without 0, O, 1, I and L."""

PAYLOAD_LENGTH = 15  # 31**15 is about 2**74
CODE_LENGTH = PAYLOAD_LENGTH + 1
GROUP = 4
_MOD = len(ALPHABET)  # 31, a prime: weights 1..16 are all invertible
_SALT = b"allmende/vouchers/v1"
_VALUE = {ch: i for i, ch in enumerate(ALPHABET)}


@dataclass(frozen=True)
class ProgramRef:
    """Which claim program a derivation is for: chain, `ClaimPrograms` registry and program id."""

    chain_id: int
    registry: str
    program_id: int

    def context(self) -> bytes:
        """The fixed-width bytes every derivation for this program includes."""
        return (
            self.chain_id.to_bytes(32, "big")
            + bytes.fromhex(self.registry.removeprefix("0x"))
            + self.program_id.to_bytes(32, "big")
        )


def new_client_secret() -> bytes:
    """A fresh per-client secret (32 random bytes) for the gateway to keep."""
    return secrets.token_bytes(32)


def _hkdf(secret: bytes, info: bytes) -> bytes:
    """32 bytes of HKDF-SHA256 output (one block of RFC 5869's expand step)."""
    if len(secret) < 16:
        raise ValueError("a client secret needs at least 16 bytes")
    prk = hmac.new(_SALT, secret, hashlib.sha256).digest()
    return hmac.new(prk, info + b"\x01", hashlib.sha256).digest()


def program_index(program: ProgramRef) -> int:
    """The pseudonym index of a claim program (non-hardened, so public derivation works)."""
    digest = hashlib.sha256(b"allmende/claim-program" + program.context()).digest()
    return int.from_bytes(digest[:4], "big") >> 1


def claim_key(secret: bytes, program: ProgramRef) -> bytes:
    """The client's claim key in `program` (a secp256k1 private key): their CLAIM pseudonym."""
    return pseudonym_key(PrivateRoot.from_secret(secret), Purpose.CLAIM, program_index(program))


def claim_address(root: PublicRoot, program: ProgramRef) -> str:
    """The address of `claim_key`, from the client's public root alone (no PIN needed)."""
    return pseudonym_address(root, Purpose.CLAIM, program_index(program))


def payout_key(secret: bytes, program: ProgramRef) -> bytes:
    """The key of the pseudonymous account that receives the client's money in `program`."""
    return pseudonym_key(PrivateRoot.from_secret(secret), Purpose.PAYOUT, program_index(program))


def payout_address(root: PublicRoot, program: ProgramRef) -> str:
    """The address of `payout_key`, from the client's public root alone."""
    return pseudonym_address(root, Purpose.PAYOUT, program_index(program))


def address_of(private_key: bytes) -> str:
    """The checksummed address of a private key."""
    return str(to_checksum_address(PrivateKey(private_key).public_key.to_canonical_address()))


def check_symbol(payload: str) -> str:
    """The symbol that makes the weighted sum of `payload` + check (weights 1, 2, ...) 0 mod 31."""
    total = sum(weight * _VALUE[ch] for weight, ch in enumerate(payload, start=1))
    weight = len(payload) + 1
    if weight % _MOD == 0:
        raise ValueError("payloads of 30 or more symbols are not supported")
    return ALPHABET[-total * pow(weight, -1, _MOD) % _MOD]


def is_consistent(symbols: str) -> bool:
    """Whether the last symbol of `symbols` is the check symbol of the rest."""
    return sum(weight * _VALUE[ch] for weight, ch in enumerate(symbols, start=1)) % _MOD == 0


def format_code(symbols: str) -> str:
    """`symbols` in groups of four joined by hyphens."""
    return "-".join(symbols[i : i + GROUP] for i in range(0, len(symbols), GROUP))


def voucher_code(secret: bytes, program: ProgramRef, serial: int = 0) -> str:
    """The client's voucher code for `program` (the `serial`-th one issued), formatted."""
    digest = _hkdf(secret, b"voucher-code" + program.context() + serial.to_bytes(4, "big"))
    number = int.from_bytes(digest, "big")
    payload = ""
    for _ in range(PAYLOAD_LENGTH):
        number, digit = divmod(number, _MOD)
        payload += ALPHABET[digit]
    return format_code(payload + check_symbol(payload))


def parse_code(text: str) -> str:
    """The canonical code typed as `text`: case, spaces and hyphens do not matter.

    Raises `VoucherCodeError` for a wrong length, a symbol outside the alphabet or a failed check.
    """
    symbols = "".join(text.split()).replace("-", "").upper()
    if len(symbols) != CODE_LENGTH:
        raise VoucherCodeError(f"a voucher code has {CODE_LENGTH} symbols, not {len(symbols)}")
    unknown = sorted({ch for ch in symbols if ch not in _VALUE})
    if unknown:
        raise VoucherCodeError(f"not in a voucher code: {', '.join(unknown)}")
    if not is_consistent(symbols):
        raise VoucherCodeError("the code has a typo: its check symbol does not match")
    return format_code(symbols)


def voucher_qr(code: str, claim_url: str | None = None) -> segno.QRCode:
    """A QR code for the voucher: the claim page with the code when `claim_url` is given, else the code."""
    content = f"{claim_url}?voucher={code}" if claim_url else code
    return segno.make_qr(content, error="m")


def qr_png(code: str, claim_url: str | None = None, *, scale: int = 8) -> bytes:
    """The voucher's QR code as PNG bytes."""
    out = io.BytesIO()
    voucher_qr(code, claim_url).save(out, kind="png", scale=scale, border=2)
    return out.getvalue()
