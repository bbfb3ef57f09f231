"""Keys the gateway keeps sealed under the master key so they outlive its rotation. No HTTP here.

The lookup tags (keyed hashes of API key secrets, voucher codes and duplicate-detection fields)
are keyed by a key derived from the master key. The secrets behind them are not stored, so they
could never be hashed again under a new key: the first master-key rotation (api.master_key) keeps
the derived key in the keyring, sealed, and the gateway reads it from there from then on.
"""

from __future__ import annotations

import hashlib
import hmac

from api.db import Database
from api.models import KeyringEntry
from api.settings import SettingsError
from ledger.custody import CustodyError, Sealer

LOOKUP_TAGS = "lookup-tags"


def keyring_context(name: str) -> str:
    """What a keyring entry's ciphertext is bound to."""
    return f"keyring:{name}"


def derived_lookup_key(master_key: bytes) -> bytes:
    """The lookup-tag key as derived from a master key (the gateway's key until a rotation)."""
    return hmac.new(master_key, b"allmende lookup tags", hashlib.sha256).digest()


def lookup_tag_key(db: Database, master: Sealer, master_key: bytes) -> bytes:
    """The key of the gateway's lookup tags: from the keyring once a rotation has put it there,
    else derived from the master key. Refuses a master key that does not open the keyring."""
    with db.session() as s:
        entry = s.get(KeyringEntry, LOOKUP_TAGS)
    if entry is None:
        return derived_lookup_key(master_key)
    try:
        return master.open(entry.sealed, keyring_context(LOOKUP_TAGS))
    except CustodyError:
        raise SettingsError(
            "the master key does not open this database's keyring: the key was rotated, so start "
            "with the new one (ALLMENDE_MASTER_KEY or ALLMENDE_MASTER_KEY_FILE)"
        ) from None
