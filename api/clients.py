"""Clients: registration with encrypted personal data, vouchers, PIN sign-in, and erasure. No HTTP here.

A client's secret is sealed twice: with their PIN (for signing in) and with a recovery code printed
for their NGO's paper file (for a PIN reset); both layers also need the master key. Their public
root, which derives every pseudonymous address without the PIN, and their personal data are
encrypted under a per-client data key; erasing the client destroys that key.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import secrets
import threading
import time
import unicodedata
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update

from api.gateway import Forbidden, Gateway, GatewayError, Invalid, NotFound
from api.models import Client, Entitlement, IdempotencyRecord, Operation
from api.voucher_pdf import VoucherCard
from api.voucher_sheets import HeldSheet, SheetRequest, VoucherSheets
from governance.pseudonyms import PrivateRoot, PublicRoot, Purpose, pseudonym_address
from governance.vouchers import ALPHABET, PAYLOAD_LENGTH, check_symbol, format_code, parse_code
from ledger.custody import CustodyError, Sealer, new_key, open_with_pin, seal_with_pin

PERSONAL_FIELDS = ("name", "birthDate", "address", "phone", "notes")
SESSION_PREFIX = "cls_"
ERASED_PRINCIPAL = "client:erased"


class Conflict(GatewayError):
    """The request conflicts with what the gateway already holds."""


class SignInFailed(GatewayError):
    """Voucher code and PIN do not match (deliberately the same for an unknown code)."""

    kind = "unauthorized"


class SignInLocked(GatewayError):
    """Too many failed sign-ins for this voucher or from this source."""

    kind = "locked"


@dataclass
class ClientSession:
    """A signed-in client (or a caseworker acting for a client who is present)."""

    client_id: str
    ngo_id: str
    root: PrivateRoot
    expires: float
    assisted_by: str | None = None

    @property
    def principal(self) -> str:
        """Who acts, for operation and idempotency records."""
        return f"org:{self.assisted_by}" if self.assisted_by else f"client:{self.client_id}"


@dataclass(frozen=True)
class Registration:
    """What an NGO hands to a newly registered client (shown once)."""

    client_id: str
    voucher_code: str
    recovery_code: str
    pin: str | None
    account: str


def random_code() -> str:
    """A fresh random voucher-style code with its check symbol."""
    payload = "".join(secrets.choice(ALPHABET) for _ in range(PAYLOAD_LENGTH))
    return format_code(payload + check_symbol(payload))


def _pin_ok(pin: str) -> bool:
    return pin.isdigit() and 4 <= len(pin) <= 8 and pin.isascii()


def _normal(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


class Clients:
    """Registration, sign-in and erasure of clients of NGOs."""

    def __init__(self, gateway: Gateway) -> None:
        self.gw = gateway
        self.settings = gateway.settings
        self._sessions: dict[str, ClientSession] = {}
        self._source_failures: dict[str, deque[float]] = {}
        self._unknown_failures: dict[str, tuple[int, float]] = {}
        self._lock = threading.Lock()
        self._dummy = seal_with_pin(b"\0" * 32, "0000", gateway.master, "dummy")
        self.sheets = VoucherSheets(self.settings.voucher_sheet_ttl_s, sign_in_url=self.settings.sign_in_url)

    # --- registration ----------------------------------------------------------------------

    def register(self, ngo_id: str, personal: dict[str, str], pin: str | None = None) -> Registration:
        """Register a client; raises Conflict for a person the NGO registered already."""
        name, birth = personal.get("name", "").strip(), personal.get("birthDate", "").strip()
        if not name:
            raise Invalid("MissingName", "a client needs a name (kept encrypted, never on chain)")
        if pin is not None and not _pin_ok(pin):
            raise Invalid("InvalidPin", "a PIN has 4 to 8 digits")
        issued_pin = None if pin is not None else f"{secrets.randbelow(10**6):06d}"
        dedup = self.gw.tag(f"dedup:{ngo_id}", f"{_normal(name)}|{_normal(birth)}")
        secret = secrets.token_bytes(32)
        root = PrivateRoot.from_secret(secret)
        voucher, recovery = random_code(), random_code()
        with self.gw.db.session() as s:
            existing = s.scalar(
                select(Client).where(
                    Client.ngo_id == ngo_id, Client.dedup_tag == dedup, Client.erased_at.is_(None)
                )
            )
            if existing is not None:
                raise Conflict("DuplicateClient", "this person is registered already", clientId=existing.id)
            client = Client(ngo_id=ngo_id, dedup_tag=dedup, voucher_tag=self.gw.tag("voucher", voucher))
            s.add(client)
            s.flush()
            data_key = new_key()
            sealer = Sealer(data_key)
            client.data_key_sealed = self.gw.master.seal(data_key, f"client-key:{client.id}")
            kept = {k: str(v) for k, v in personal.items() if k in PERSONAL_FIELDS and v}
            client.personal_sealed = sealer.seal(json.dumps(kept).encode(), f"client-data:{client.id}")
            client.public_root_sealed = sealer.seal(root.public().to_bytes(), f"client-root:{client.id}")
            client.secret_sealed = seal_with_pin(
                secret, pin or issued_pin or "", self.gw.master, f"client-secret:{client.id}"
            )
            client.recovery_sealed = seal_with_pin(
                secret, recovery.replace("-", ""), self.gw.master, f"client-recovery:{client.id}"
            )
            client_id = client.id
        account = pseudonym_address(root.public(), Purpose.ACCOUNT)
        return Registration(client_id, voucher, recovery, issued_pin, account)

    def import_csv(self, ngo_id: str, text: str, sheet: SheetRequest | None = None) -> dict[str, Any]:
        """Register every valid row of a CSV (columns: name, birthDate, and optional others); with
        `sheet`, the vouchers of the clients created are held for one download as a printable sheet
        (`voucherSheet`, None when nobody was created)."""
        report: dict[str, list[dict[str, Any]]] = {"created": [], "duplicates": [], "errors": []}
        issued: list[tuple[str, str]] = []
        reader = csv.DictReader(io.StringIO(text))
        if reader.fieldnames is None or "name" not in reader.fieldnames:
            raise Invalid("BadCsv", "the CSV needs a header row with at least a `name` column")
        seen: dict[str, int] = {}
        for row_no, row in enumerate(reader, start=2):
            personal = {k: (v or "").strip() for k, v in row.items() if k in PERSONAL_FIELDS}
            key = f"{_normal(personal.get('name', ''))}|{_normal(personal.get('birthDate', ''))}"
            if key in seen:
                report["duplicates"].append({"row": row_no, "sameAsRow": seen[key]})
                continue
            seen[key] = row_no
            try:
                reg = self.register(ngo_id, personal)
            except Conflict as exc:
                report["duplicates"].append({"row": row_no, **exc.fields})
            except GatewayError as exc:
                report["errors"].append({"row": row_no, "code": exc.code, "detail": exc.detail})
            else:
                report["created"].append(
                    {
                        "row": row_no,
                        "clientId": reg.client_id,
                        "voucherCode": reg.voucher_code,
                        "recoveryCode": reg.recovery_code,
                        "pin": reg.pin,
                        "account": reg.account,
                    }
                )
                issued.append((reg.voucher_code, personal.get("name", "")))
        held = self.hold_sheet(ngo_id, sheet, issued) if sheet is not None and issued else None
        return {**report, "voucherSheet": held}

    def hold_sheet(
        self, ngo_id: str, sheet: SheetRequest, issued: Sequence[tuple[str, str | None]]
    ) -> HeldSheet:
        """Hold the cards of vouchers just issued, `(code, client's name)`, for one download as a PDF.
        The name is printed only when the NGO asked for it."""
        title = sheet.title or self.gw.organisation(ngo_id).name
        cards = [
            VoucherCard(code, name if sheet.label == "name" and name else None, sheet.language)
            for code, name in issued
        ]
        return self.sheets.hold(ngo_id, title, cards)

    # --- reading -----------------------------------------------------------------------------

    def _own(self, ngo_id: str, client_id: str) -> Client:
        with self.gw.db.session() as s:
            client = s.get(Client, client_id)
        if client is None or client.ngo_id != ngo_id:
            raise NotFound("UnknownClient", f"your NGO has no client {client_id}")
        return client

    def _data_key(self, client: Client) -> Sealer:
        if client.data_key_sealed is None:
            raise NotFound("ClientErased", "this client's data was erased")
        return Sealer(self.gw.master.open(client.data_key_sealed, f"client-key:{client.id}"))

    def public_root(self, client: Client) -> PublicRoot:
        """The client's public root (derives pseudonyms without the PIN)."""
        assert client.public_root_sealed is not None
        raw = self._data_key(client).open(client.public_root_sealed, f"client-root:{client.id}")
        return PublicRoot.from_bytes(raw)

    def pseudonym(self, ngo_id: str, client_id: str, purpose: Purpose, index: int = 0) -> str:
        """A client's pseudonymous address for one purpose, derived without their PIN."""
        return pseudonym_address(self.public_root(self._own(ngo_id, client_id)), purpose, index)

    def describe(self, ngo_id: str, client_id: str) -> dict[str, Any]:
        """The client's record as their NGO may see it (personal data decrypted)."""
        client = self._own(ngo_id, client_id)
        out: dict[str, Any] = {
            "clientId": client.id,
            "createdAt": client.created_at.isoformat(),
            "erased": client.erased_at is not None,
        }
        if client.erased_at is None and client.personal_sealed is not None:
            sealer = self._data_key(client)
            out["personal"] = json.loads(sealer.open(client.personal_sealed, f"client-data:{client.id}"))
            out["account"] = pseudonym_address(self.public_root(client), Purpose.ACCOUNT)
        return out

    def list_ids(self, ngo_id: str) -> list[str]:
        """Ids of the NGO's clients, oldest first."""
        with self.gw.db.session() as s:
            return list(
                s.scalars(select(Client.id).where(Client.ngo_id == ngo_id).order_by(Client.created_at))
            )

    # --- sign-in -----------------------------------------------------------------------------

    def _check_source(self, source: str) -> None:
        now = time.monotonic()
        with self._lock:
            window = self._source_failures.setdefault(source, deque())
            while window and window[0] < now - self.settings.lockout_s:
                window.popleft()
            if len(window) >= self.settings.source_attempts:
                retry = int(window[0] + self.settings.lockout_s - now) + 1
                raise SignInLocked(
                    "SignInLocked", "too many failed sign-ins; try again later", retryAfter=retry
                )

    def _fail(self, source: str) -> None:
        with self._lock:
            self._source_failures.setdefault(source, deque()).append(time.monotonic())

    def sign_in(self, code: str, pin: str, source: str) -> tuple[str, ClientSession]:
        """A session for voucher code + PIN. Unknown codes and wrong PINs fail alike."""
        self._check_source(source)
        try:
            canonical = parse_code(code)
        except Exception:
            canonical = code.strip().upper()
        tag = self.gw.tag("voucher", canonical)
        with self.gw.db.session() as s:
            client = s.scalar(select(Client).where(Client.voucher_tag == tag))
            if client is None:
                return self._unknown(tag, source)
            now = datetime.now(UTC)
            locked = client.locked_until
            if locked is not None and locked.replace(tzinfo=UTC) > now:
                retry = int((locked.replace(tzinfo=UTC) - now).total_seconds()) + 1
                raise SignInLocked(
                    "SignInLocked", "too many failed sign-ins; try again later", retryAfter=retry
                )
            try:
                assert client.secret_sealed is not None
                secret = open_with_pin(
                    client.secret_sealed, pin, self.gw.master, f"client-secret:{client.id}"
                )
            except CustodyError:
                client.failed_attempts += 1
                if client.failed_attempts >= self.settings.pin_attempts:
                    client.locked_until = now + timedelta(seconds=self.settings.lockout_s)
                    client.failed_attempts = 0
                s.commit()
                self._fail(source)
                raise SignInFailed("InvalidVoucherOrPin", "voucher code or PIN is wrong") from None
            client.failed_attempts = 0
            client.locked_until = None
            return self._open_session(client, secret, None)

    def _unknown(self, tag: str, source: str) -> tuple[str, ClientSession]:
        """Spend the same effort as a real attempt and count it, so codes cannot be enumerated."""
        with contextlib.suppress(CustodyError):
            open_with_pin(self._dummy, "1", self.gw.master, "dummy")
        now = time.monotonic()
        with self._lock:
            count, since = self._unknown_failures.get(tag, (0, now))
            if since < now - self.settings.lockout_s:
                count = 0
            self._unknown_failures[tag] = (count + 1, now)
            locked = count + 1 > self.settings.pin_attempts
        self._fail(source)
        if locked:
            raise SignInLocked(
                "SignInLocked",
                "too many failed sign-ins; try again later",
                retryAfter=self.settings.lockout_s,
            )
        raise SignInFailed("InvalidVoucherOrPin", "voucher code or PIN is wrong")

    def assisted_session(self, ngo_id: str, client_id: str, pin: str) -> tuple[str, ClientSession]:
        """A caseworker acts for a client who is present and types their PIN; records say so."""
        client = self._own(ngo_id, client_id)
        if client.secret_sealed is None:
            raise NotFound("ClientErased", "this client's data was erased")
        try:
            secret = open_with_pin(client.secret_sealed, pin, self.gw.master, f"client-secret:{client.id}")
        except CustodyError:
            raise SignInFailed("InvalidVoucherOrPin", "the PIN is wrong") from None
        return self._open_session(client, secret, ngo_id)

    def _open_session(
        self, client: Client, secret: bytes, assisted_by: str | None
    ) -> tuple[str, ClientSession]:
        token = SESSION_PREFIX + secrets.token_urlsafe(32)
        session = ClientSession(
            client.id,
            client.ngo_id,
            PrivateRoot.from_secret(secret),
            time.monotonic() + self.settings.session_ttl_s,
            assisted_by,
        )
        with self._lock:
            self._sessions[hashlib.sha256(token.encode()).hexdigest()] = session
        return token, session

    def session(self, token: str) -> ClientSession:
        """The live session of a token."""
        key = hashlib.sha256(token.encode()).hexdigest()
        with self._lock:
            session = self._sessions.get(key)
            if session is None or session.expires < time.monotonic():
                self._sessions.pop(key, None)
                raise SignInFailed("SessionExpired", "sign in again with voucher code and PIN")
            return session

    def sign_out(self, token: str) -> None:
        """End a session."""
        with self._lock:
            self._sessions.pop(hashlib.sha256(token.encode()).hexdigest(), None)

    # --- recovery and erasure ------------------------------------------------------------------

    def reset_pin(self, ngo_id: str, client_id: str, recovery_code: str, new_pin: str) -> str:
        """Set a new PIN with the recovery code from the client's file; returns a new voucher code."""
        if not _pin_ok(new_pin):
            raise Invalid("InvalidPin", "a PIN has 4 to 8 digits")
        client = self._own(ngo_id, client_id)
        if client.recovery_sealed is None:
            raise NotFound("ClientErased", "this client's data was erased")
        try:
            secret = open_with_pin(
                client.recovery_sealed,
                recovery_code.replace("-", "").replace(" ", "").upper(),
                self.gw.master,
                f"client-recovery:{client.id}",
            )
        except CustodyError:
            raise Forbidden("InvalidRecoveryCode", "the recovery code does not match") from None
        voucher = random_code()
        with self.gw.db.session() as s:
            row = s.get(Client, client_id)
            assert row is not None
            row.secret_sealed = seal_with_pin(secret, new_pin, self.gw.master, f"client-secret:{row.id}")
            row.voucher_tag = self.gw.tag("voucher", voucher)
            row.failed_attempts, row.locked_until = 0, None
        self._end_sessions(client_id)
        return voucher

    def erase(self, ngo_id: str, client_id: str) -> None:
        """GDPR erasure: destroy the data key and every sealed secret; the chain stays consistent."""
        self._own(ngo_id, client_id)
        with self.gw.db.session() as s:
            row = s.get(Client, client_id)
            assert row is not None
            row.data_key_sealed = row.personal_sealed = row.public_root_sealed = None
            row.secret_sealed = row.recovery_sealed = None
            row.dedup_tag = row.voucher_tag = None
            row.erased_at = datetime.now(UTC)
            # Unlink the client id from their pseudonyms: claim leaves, operations they signed (whose
            # signers are their claim and vote keys) and the kept responses of those requests.
            s.execute(update(Entitlement).where(Entitlement.client_id == client_id).values(client_id=None))
            theirs = (Operation.principal == f"client:{client_id}") | (Operation.acting_for == client_id)
            keys = select(Operation.request_key).where(theirs, Operation.request_key.is_not(None))
            s.execute(delete(IdempotencyRecord).where(IdempotencyRecord.request_key.in_(keys)))
            s.execute(
                update(Operation)
                .where(Operation.principal == f"client:{client_id}")
                .values(principal=ERASED_PRINCIPAL)
            )
            s.execute(update(Operation).where(Operation.acting_for == client_id).values(acting_for="erased"))
        self._end_sessions(client_id)

    def _end_sessions(self, client_id: str) -> None:
        with self._lock:
            for key in [k for k, v in self._sessions.items() if v.client_id == client_id]:
                del self._sessions[key]
