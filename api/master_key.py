"""Rotating the master key: every ciphertext under it is sealed again under a new key, in one
database transaction that commits only once every record opens under the new key. No HTTP here.

What the master key seals (each bound to its record, see `SEALED`): organisations' custodial keys,
people's signing keys and second-factor secrets,
clients' data keys, the master-key layer of clients' PIN- and recovery-sealed secrets (the inner
layer needs the PIN or the recovery code and is left as it is), responses kept for idempotent
retries, and the keyring. Personal data and public roots are sealed under each client's data key,
which only changes its own wrapping.

The lookup tags (keyed hashes of API key secrets, voucher codes and duplicate-detection fields) are
keyed by a key derived from the master key; their secrets are not stored, so they cannot be hashed
again. The first rotation keeps that key in the keyring (api.keyring), and the gateway reads it
from there from then on.

A rotation is safe to interrupt (nothing is written unless all of it is) and to repeat: a record
already under the new key is left alone, so a second run, or a run after a gateway that was still
running sealed something under the old key, finishes the job.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import inspect, select, text
from sqlalchemy.orm import Session

from api.db import Database, migrate
from api.idempotency import sealing_context
from api.keyring import LOOKUP_TAGS, derived_lookup_key, keyring_context
from api.models import Base, Client, IdempotencyRecord, KeyringEntry, Organisation, PayoutRecord, Person
from ledger.custody import CustodyError, Sealer, split_pin_sealed


class RotationError(RuntimeError):
    """The rotation was refused or found a record it cannot move; nothing was changed."""


@dataclass(frozen=True)
class SealedField:
    """A column holding a ciphertext under the master key, and what each record binds it to."""

    label: str
    model: type[Base]
    column: str
    context: Callable[[Any], str]
    pin_layer: bool = False  # salt || master-sealed(...), as `seal_with_pin` writes it


SEALED: tuple[SealedField, ...] = (
    SealedField("organisation keys", Organisation, "key_sealed", lambda o: f"org:{o.id}"),
    SealedField("client data keys", Client, "data_key_sealed", lambda c: f"client-key:{c.id}"),
    SealedField(
        "client secrets (PIN layer kept)", Client, "secret_sealed", lambda c: f"client-secret:{c.id}", True
    ),
    SealedField(
        "client recovery secrets (recovery layer kept)",
        Client,
        "recovery_sealed",
        lambda c: f"client-recovery:{c.id}",
        True,
    ),
    SealedField(
        "responses kept for retries",
        IdempotencyRecord,
        "body_sealed",
        lambda r: sealing_context(r.principal, r.key),
    ),
    SealedField("keyring", KeyringEntry, "sealed", lambda k: keyring_context(k.name)),
    SealedField("people's signing keys", Person, "key_sealed", lambda p: f"person:{p.id}"),
    SealedField("people's second factors", Person, "totp_sealed", lambda p: f"person-totp:{p.id}"),
    SealedField("payout bank accounts", PayoutRecord, "iban_sealed", lambda p: f"payout:{p.reference}"),
)
"""Every column sealed under the master key. A new one must be added here, or rotation leaves it
unreadable (tests/api/test_master_key_rotation.py checks that every *_sealed column is accounted for)."""

NOT_UNDER_MASTER = {
    ("clients", "personal_sealed"),
    ("clients", "public_root_sealed"),
    ("client_payouts", "iban_sealed"),
}
"""Sealed columns under a client's data key instead; rotating the data key's wrapping covers them."""


@dataclass(frozen=True)
class RotationReport:
    """What a rotation moved to the new key, per kind of record; `already` were under it before."""

    resealed: dict[str, int]
    already: int
    committed: bool

    @property
    def total(self) -> int:
        """Records sealed again under the new key."""
        return sum(self.resealed.values())


def rotate_master_key(
    db: Database, old_key: bytes, new_key: bytes, *, dry_run: bool = False
) -> RotationReport:
    """Seal everything under `new_key` instead of `old_key`, in one transaction, checked before
    it commits (with `dry_run`, checked and rolled back). The gateway must not run meanwhile."""
    if hmac.compare_digest(old_key, new_key):
        raise RotationError("the new master key is the old one")
    old, new = Sealer(old_key), Sealer(new_key)
    migrate(db.engine)
    with db.sessions() as s:
        try:
            _lock(s)
            if s.get(KeyringEntry, LOOKUP_TAGS) is None:  # keep the tags' key through the rotation
                s.add(
                    KeyringEntry(
                        name=LOOKUP_TAGS,
                        sealed=old.seal(derived_lookup_key(old_key), keyring_context(LOOKUP_TAGS)),
                    )
                )
                s.flush()
            resealed, already, opened = _reseal_all(s, old, new)
            s.flush()
            s.expire_all()
            _check_all_open(s, new, opened)
            if dry_run:
                s.rollback()
            else:
                s.commit()
        except BaseException:
            s.rollback()
            raise
    return RotationReport(resealed, already, not dry_run)


def _lock(s: Session) -> None:
    """Keep everyone else from writing sealed records until this transaction ends."""
    bind = s.get_bind()
    if bind.dialect.name == "postgresql":
        tables = ", ".join(sorted({f.model.__tablename__ for f in SEALED}))
        s.execute(text(f"LOCK TABLE {tables} IN SHARE ROW EXCLUSIVE MODE"))
    else:  # SQLite: a first write takes the database's write lock, and the reads see the latest state
        s.execute(text("UPDATE keyring SET name = name WHERE 0 = 1"))


def _where(field: SealedField, row: Any) -> str:
    """The record, for messages (its key, never its contents)."""
    identity = inspect(row).identity or ()
    return f"{field.model.__tablename__} {identity[-1] if identity else '?'} ({field.column})"


def _open(field: SealedField, sealed: bytes, master: Sealer, context: str) -> bytes:
    if field.pin_layer:
        return master.open(split_pin_sealed(sealed)[1], context)
    return master.open(sealed, context)


def _seal(field: SealedField, sealed: bytes, opened: bytes, master: Sealer, context: str) -> bytes:
    if field.pin_layer:
        return split_pin_sealed(sealed)[0] + master.seal(opened, context)
    return master.seal(opened, context)


Opened = dict[tuple[str, str], bytes]  # (field, record) -> digest of what the master key protects


def _reseal_all(s: Session, old: Sealer, new: Sealer) -> tuple[dict[str, int], int, Opened]:
    resealed = {f.label: 0 for f in SEALED}
    already = 0
    opened_digests: Opened = {}
    unreadable: list[str] = []
    for field in SEALED:
        for row in s.scalars(select(field.model)):
            sealed = getattr(row, field.column)
            if sealed is None:  # an erased client, or a response kept in plain by an older version
                continue
            context = field.context(row)
            try:
                opened = _open(field, sealed, old, context)
            except CustodyError:
                try:
                    opened = _open(field, sealed, new, context)
                except CustodyError:
                    unreadable.append(_where(field, row))
                    continue
                already += 1
            else:
                setattr(row, field.column, _seal(field, sealed, opened, new, context))
                resealed[field.label] += 1
            opened_digests[(field.label, _where(field, row))] = hashlib.sha256(opened).digest()
    if unreadable:
        shown = ", ".join(unreadable[:10]) + (
            f" and {len(unreadable) - 10} more" if len(unreadable) > 10 else ""
        )
        raise RotationError(
            f"{len(unreadable)} record(s) open under neither the old nor the new key, so nothing was "
            f"changed: {shown}"
        )
    return resealed, already, opened_digests


def _check_all_open(s: Session, new: Sealer, expected: Opened) -> None:
    """Read every sealed record back from the database: each opens under the new key to what it
    held before."""
    seen = 0
    for field in SEALED:
        for row in s.scalars(select(field.model)):
            sealed = getattr(row, field.column)
            if sealed is None:
                continue
            where = _where(field, row)
            try:
                opened = _open(field, sealed, new, field.context(row))
            except CustodyError:
                raise RotationError(f"{where} does not open under the new key; nothing was changed") from None
            if hashlib.sha256(opened).digest() != expected.get((field.label, where)):
                raise RotationError(f"{where} changed while sealing it again; nothing was changed")
            seen += 1
    if seen != len(expected):
        raise RotationError("the sealed records changed during the rotation; nothing was changed")
