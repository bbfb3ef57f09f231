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
import os
import secrets
import threading
import time
import unicodedata
from collections import deque
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

from pydantic import ValidationError
from sqlalchemy import and_, case, delete, or_, select, update
from sqlalchemy.orm import Session

from api.engine import Engine
from api.errors import Forbidden, GatewayError, Invalid, NotFound
from api.models import Client, ClientPayoutRecord, Entitlement, IdempotencyRecord, Operation
from api.personal import PERSONAL_FIELDS, Personal
from api.services.voucher_sheets import HeldSheet, SheetRequest, VoucherSheets
from api.voucher_pdf import VoucherCard
from governance.errors import VoucherCodeError
from governance.pseudonyms import PrivateRoot, PublicRoot, Purpose, pseudonym_address
from governance.vouchers import ALPHABET, PAYLOAD_LENGTH, check_symbol, format_code, parse_code
from ledger.custody import (
    CustodyError,
    Sealer,
    new_key,
    open_with_code,
    open_with_pin,
    seal_with_code,
    seal_with_pin,
)
from ledger.payouts import PayoutStatus

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
    assisted_person: str | None = None  # the person of the NGO who assists (None: its integration)

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


_KEY_WORKERS = min(4, os.cpu_count() or 1)
"""Threads that derive clients' PIN keys during a bulk import (argon2 runs outside the GIL)."""
_WRITE_BATCH = 100
"""Rows a bulk import writes per database transaction (one commit per row dominated its cost)."""


@dataclass(frozen=True)
class _Entry:
    """A registration that passed its checks: its id and codes, chosen before any key is derived."""

    client_id: str
    personal: dict[str, str]
    dedup: str
    pin: str | None
    issued_pin: str | None
    voucher: str
    recovery: str


@dataclass(frozen=True)
class _Keys:
    """A client's secret root, sealed under their PIN and under their recovery code."""

    root: PrivateRoot
    secret_sealed: bytes
    recovery_sealed: bytes

    @classmethod
    def make(cls, entry: _Entry, master: Sealer) -> _Keys:
        """Fresh keys for `entry`: one argon2 derivation (the PIN); the recovery code's key needs none."""
        secret = secrets.token_bytes(32)
        pin = entry.pin or entry.issued_pin or ""
        return cls(
            root=PrivateRoot.from_secret(secret),
            secret_sealed=seal_with_pin(secret, pin, master, f"client-secret:{entry.client_id}"),
            recovery_sealed=seal_with_code(
                secret, entry.recovery.replace("-", ""), master, f"client-recovery:{entry.client_id}"
            ),
        )


def _refuse_duplicate(s: Session, ngo_id: str, dedup: str) -> None:
    """Conflict for a person the NGO has registered already."""
    existing = s.scalar(
        select(Client.id).where(
            Client.ngo_id == ngo_id, Client.dedup_tag == dedup, Client.erased_at.is_(None)
        )
    )
    if existing is not None:
        raise Conflict("DuplicateClient", "this person is registered already", clientId=existing)


_IN_LIMIT = 500
"""Values per `IN (...)` of one query (well below SQLite's bound on parameters)."""


def _registered(s: Session, ngo_id: str, dedups: Sequence[str]) -> dict[str, str]:
    """Of the identity tags `dedups`, those of people the NGO has registered: tag -> client id."""
    found: dict[str, str] = {}
    for start in range(0, len(dedups), _IN_LIMIT):
        part = list(dedups[start : start + _IN_LIMIT])
        rows = s.execute(
            select(Client.dedup_tag, Client.id).where(
                Client.ngo_id == ngo_id, Client.dedup_tag.in_(part), Client.erased_at.is_(None)
            )
        )
        found.update({tag: cid for tag, cid in rows if tag is not None})
    return found


def random_code() -> str:
    """A fresh random voucher-style code with its check symbol: one uniform draw below
    len(ALPHABET) ** PAYLOAD_LENGTH written in that base (not one system call per symbol)."""
    value, symbols = secrets.randbelow(len(ALPHABET) ** PAYLOAD_LENGTH), []
    for _ in range(PAYLOAD_LENGTH):
        value, digit = divmod(value, len(ALPHABET))
        symbols.append(ALPHABET[digit])
    payload = "".join(symbols)
    return format_code(payload + check_symbol(payload))


def _pin_ok(pin: str) -> bool:
    return pin.isdigit() and 4 <= len(pin) <= 8 and pin.isascii()


def _utcnow() -> datetime:
    """Now in UTC, without a zone: how the database keeps times (a column without time zone)."""
    return datetime.now(UTC).replace(tzinfo=None)


def _normal(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


CsvRow = tuple[int, list[str] | GatewayError]


def _read_csv(text: str, max_rows: int) -> tuple[list[str], list[CsvRow]]:
    """The header and each data row (its line number, and its cells or why it cannot be read).
    Raises Invalid for a CSV without a header or with more than `max_rows` data rows."""
    reader = csv.reader(io.StringIO(text), strict=True)
    try:
        header = [h.strip() for h in next(reader)]
    except (StopIteration, csv.Error):
        raise Invalid("BadCsv", "the CSV needs a header row with at least a `name` column") from None
    rows: list[CsvRow] = []
    while len(rows) <= max_rows:  # each step consumes input, so this ends with the text
        row_no = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:  # an unclosed quote, a field longer than the reader takes, a stray quote
            rows.append((row_no, Invalid("UnreadableRow", f"the row cannot be read as CSV: {exc}")))
            continue
        if not cells:
            continue  # an empty line
        if len(cells) != len(header):
            code = "TooManyFields" if len(cells) > len(header) else "TooFewFields"
            detail = f"the row has {len(cells)} fields, the header {len(header)}"
            rows.append((row_no, Invalid(code, detail)))
            continue
        rows.append((row_no, cells))
    if len(rows) > max_rows:
        raise Invalid(
            "TooManyRows",
            f"import at most {max_rows} rows per request; split the file",
            maxRows=max_rows,
        )
    return header, rows


def _check_personal(personal: dict[str, str]) -> None:
    """Invalid unless `personal` keeps the limits of the JSON API's `Personal`."""
    try:
        Personal.model_validate(personal)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"])
        raise Invalid("InvalidField", f"{field}: {first['msg']}", field=field) from None


class Clients:
    """Registration, sign-in and erasure of clients of NGOs."""

    def __init__(self, gateway: Engine) -> None:
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
        entry = self._entry(ngo_id, personal, pin)
        self._refuse_duplicate(ngo_id, entry.dedup)
        return self._store(ngo_id, entry, _Keys.make(entry, self.gw.master))

    def _entry(self, ngo_id: str, personal: dict[str, str], pin: str | None) -> _Entry:
        """A registration checked and given its id and codes, before anything costly runs."""
        name, birth = personal.get("name", "").strip(), personal.get("birthDate", "").strip()
        if not name:
            raise Invalid("MissingName", "a client needs a name (kept encrypted, never on chain)")
        if pin is not None and not _pin_ok(pin):
            raise Invalid("InvalidPin", "a PIN has 4 to 8 digits")
        return _Entry(
            client_id=uuid4().hex,
            personal=personal,
            dedup=self.gw.tag(f"dedup:{ngo_id}", f"{_normal(name)}|{_normal(birth)}"),
            pin=pin,
            issued_pin=None if pin is not None else f"{secrets.randbelow(10**6):06d}",
            voucher=random_code(),
            recovery=random_code(),
        )

    def _refuse_duplicate(self, ngo_id: str, dedup: str) -> None:
        with self.gw.db.session() as s:
            _refuse_duplicate(s, ngo_id, dedup)

    def _store(self, ngo_id: str, entry: _Entry, keys: _Keys) -> Registration:
        """Write a registration whose keys are sealed; Conflict if the person came in meanwhile."""
        with self.gw.db.session() as s:
            _refuse_duplicate(s, ngo_id, entry.dedup)  # came in while the keys were derived?
            s.add(self._row(ngo_id, entry, keys))
        return self._registration(entry, keys)

    def _store_many(
        self, ngo_id: str, keyed: Sequence[tuple[_Entry, _Keys]]
    ) -> list[Registration | Conflict]:
        """Write registrations whose keys are sealed in one transaction (a bulk import's batch): per
        entry its registration, or Conflict if the person came in while the keys were derived."""
        out: list[Registration | Conflict] = []
        with self.gw.db.session() as s:
            came = _registered(s, ngo_id, [entry.dedup for entry, _ in keyed])
            for entry, keys in keyed:
                if entry.dedup in came:
                    out.append(
                        Conflict(
                            "DuplicateClient",
                            "this person is registered already",
                            clientId=came[entry.dedup],
                        )
                    )
                    continue
                s.add(self._row(ngo_id, entry, keys))
                out.append(self._registration(entry, keys))
        return out

    def _row(self, ngo_id: str, entry: _Entry, keys: _Keys) -> Client:
        """The database row of a registration: personal data and public root under a fresh data key."""
        client = Client(
            id=entry.client_id,
            ngo_id=ngo_id,
            dedup_tag=entry.dedup,
            voucher_tag=self.gw.tag("voucher", entry.voucher),
        )
        data_key = new_key()
        sealer = Sealer(data_key)
        client.data_key_sealed = self.gw.master.seal(data_key, f"client-key:{client.id}")
        kept = {k: str(v) for k, v in entry.personal.items() if k in PERSONAL_FIELDS and v}
        client.personal_sealed = sealer.seal(json.dumps(kept).encode(), f"client-data:{client.id}")
        client.public_root_sealed = sealer.seal(keys.root.public().to_bytes(), f"client-root:{client.id}")
        client.secret_sealed = keys.secret_sealed
        client.recovery_sealed = keys.recovery_sealed
        return client

    @staticmethod
    def _registration(entry: _Entry, keys: _Keys) -> Registration:
        account = pseudonym_address(keys.root.public(), Purpose.ACCOUNT)
        return Registration(entry.client_id, entry.voucher, entry.recovery, entry.issued_pin, account)

    def import_csv(self, ngo_id: str, text: str, sheet: SheetRequest | None = None) -> dict[str, Any]:
        """Register every valid row of a CSV (columns: name, birthDate, and optional others); with
        `sheet`, the vouchers of the clients created are held for one download as a printable sheet
        (`voucherSheet`, None when nobody was created). A row that is malformed (too many or too few
        fields, an unclosed quote, a field too long to read) or whose fields break the limits of
        `Personal` is reported as a row error; at most `import_max_rows` rows per request."""
        report: dict[str, list[dict[str, Any]]] = {"created": [], "duplicates": [], "errors": []}
        issued: list[tuple[str, str]] = []
        header, rows = _read_csv(text, self.settings.import_max_rows)
        if "name" not in header:
            raise Invalid("BadCsv", "the CSV needs a header row with at least a `name` column")
        entries = self._import_entries(ngo_id, header, rows, report)
        # The argon2 derivations are the cost of an import; they release the GIL, so they run on
        # every core while the rows are written in their order, `_WRITE_BATCH` per transaction.
        with ThreadPoolExecutor(max_workers=_KEY_WORKERS) as pool:
            keyed = pool.map(lambda item: _Keys.make(item[2], self.gw.master), entries)
            for start in range(0, len(entries), _WRITE_BATCH):
                batch = entries[start : start + _WRITE_BATCH]
                stored = self._store_many(ngo_id, [(entry, next(keyed)) for _, _, entry in batch])
                for (row_no, name, _), reg in zip(batch, stored, strict=True):
                    if isinstance(reg, Conflict):
                        report["duplicates"].append({"row": row_no, **reg.fields})
                        continue
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
                    issued.append((reg.voucher_code, name))
        report["created"].sort(key=lambda r: r["row"])
        report["duplicates"].sort(key=lambda r: r["row"])
        report["errors"].sort(key=lambda r: r["row"])
        held = self.hold_sheet(ngo_id, sheet, issued) if sheet is not None and issued else None
        return {**report, "voucherSheet": held}

    def _import_entries(
        self,
        ngo_id: str,
        header: Sequence[str],
        rows: Sequence[CsvRow],
        report: dict[str, list[dict[str, Any]]],
    ) -> list[tuple[int, str, _Entry]]:
        """The rows to register as `(row, name, entry)`, in row order; every other row goes into
        `report` as an error or a duplicate (of an earlier row or of a client the NGO has)."""
        seen: dict[str, int] = {}
        checked: list[tuple[int, str, _Entry]] = []
        for row_no, cells in rows:
            if isinstance(cells, GatewayError):
                report["errors"].append({"row": row_no, "code": cells.code, "detail": cells.detail})
                continue
            personal = {k: v.strip() for k, v in zip(header, cells, strict=True) if k in PERSONAL_FIELDS}
            key = f"{_normal(personal.get('name', ''))}|{_normal(personal.get('birthDate', ''))}"
            if key in seen:
                report["duplicates"].append({"row": row_no, "sameAsRow": seen[key]})
                continue
            seen[key] = row_no
            try:
                if personal.get("name"):
                    _check_personal(personal)
                entry = self._entry(ngo_id, personal, None)
            except GatewayError as exc:
                report["errors"].append({"row": row_no, "code": exc.code, "detail": exc.detail, **exc.fields})
            else:
                checked.append((row_no, personal.get("name", ""), entry))
        with self.gw.db.session() as s:  # one query per `_IN_LIMIT` rows, not one per row
            registered = _registered(s, ngo_id, [entry.dedup for _, _, entry in checked])
        entries: list[tuple[int, str, _Entry]] = []
        for row_no, name, entry in checked:
            if entry.dedup in registered:
                report["duplicates"].append({"row": row_no, "clientId": registered[entry.dedup]})
            else:
                entries.append((row_no, name, entry))
        return entries

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

    def seal_personal(self, client_id: str, data: bytes, context: str) -> bytes:
        """`data` sealed under the client's data key (gone with their erasure)."""
        return self._data_key(self._client(client_id)).seal(data, context)

    def open_personal(self, client_id: str, sealed: bytes, context: str) -> bytes:
        """What `seal_personal` sealed; `ClientErased` once the client was erased."""
        return self._data_key(self._client(client_id)).open(sealed, context)

    def name(self, client_id: str) -> str:
        """The client's name from their personal data; `ClientErased` once erased."""
        client = self._client(client_id)
        if client.personal_sealed is None:
            raise NotFound("ClientErased", "this client's data was erased")
        personal = json.loads(self._data_key(client).open(client.personal_sealed, f"client-data:{client.id}"))
        return str(personal["name"])

    def _client(self, client_id: str) -> Client:
        with self.gw.db.session() as s:
            client = s.get(Client, client_id)
        if client is None:
            raise NotFound("UnknownClient", f"there is no client {client_id}")
        return client

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

    def find_by_voucher(self, ngo_id: str, code: str) -> str:
        """The id of the NGO's client holding voucher `code` (for staff at the desk, signed in).
        `UnknownVoucher` for a code of nobody, of an erased client or of another NGO's client."""
        try:
            canonical = parse_code(code)
        except VoucherCodeError:
            raise NotFound("UnknownVoucher", "no client of your NGO has this voucher code") from None
        tag = self.gw.tag("voucher", canonical)
        with self.gw.db.session() as s:
            client = s.scalar(select(Client).where(Client.voucher_tag == tag, Client.ngo_id == ngo_id))
        if client is None or client.erased_at is not None:
            raise NotFound("UnknownVoucher", "no client of your NGO has this voucher code")
        return client.id

    def list_ids(self, ngo_id: str, after: str | None = None, limit: int = 500) -> list[str]:
        """Ids of the NGO's clients, oldest first: at most `limit`, those registered after the client
        `after` (a page's last id; `UnknownClient` for an id not of this NGO)."""
        query = select(Client.id).where(Client.ngo_id == ngo_id)
        if after is not None:
            last = self._own(ngo_id, after)
            query = query.where(
                or_(
                    Client.created_at > last.created_at,
                    and_(Client.created_at == last.created_at, Client.id > last.id),
                )
            )
        with self.gw.db.session() as s:
            return list(s.scalars(query.order_by(Client.created_at, Client.id).limit(limit)))

    # --- sign-in -----------------------------------------------------------------------------

    def _reserve_source(self, source: str) -> float:
        """Count an attempt from `source` before it is evaluated; SignInLocked when its window is full.
        Returns the attempt's stamp, which a successful sign-in gives back (only failures count)."""
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
            window.append(now)
        return now

    def _release_source(self, source: str, stamp: float) -> None:
        """Give back the attempt of a sign-in that succeeded (or was never evaluated)."""
        with self._lock, contextlib.suppress(KeyError, ValueError):
            self._source_failures[source].remove(stamp)

    def _reserve_voucher(self, client_id: str) -> int:
        """Count an attempt on a client's PIN before it is evaluated, in one atomic UPDATE; returns
        the attempts left after this one. The attempt that uses the last one locks the voucher;
        SignInLocked while it is locked. A lock that has run out starts a fresh count."""
        limit = self.settings.pin_attempts
        now = _utcnow()
        lapsed = Client.locked_until.is_not(None) & (Client.locked_until <= now)
        with self.gw.db.session() as s:
            counted = s.scalar(
                update(Client)
                .where(
                    Client.id == client_id,
                    Client.locked_until.is_(None) | lapsed,
                    (Client.failed_attempts < limit) | lapsed,
                )
                .values(
                    failed_attempts=case((lapsed, 1), else_=Client.failed_attempts + 1),
                    locked_until=None,
                )
                .returning(Client.failed_attempts)
                .execution_options(synchronize_session=False)
            )
            if counted is None:
                locked = s.scalar(select(Client.locked_until).where(Client.id == client_id))
                retry = int((locked - now).total_seconds()) + 1 if locked else self.settings.lockout_s
                raise SignInLocked(
                    "SignInLocked", "too many failed sign-ins; try again later", retryAfter=max(retry, 1)
                )
            if counted >= limit:
                s.execute(
                    update(Client)
                    .where(Client.id == client_id)
                    .values(locked_until=now + timedelta(seconds=self.settings.lockout_s))
                    .execution_options(synchronize_session=False)
                )
        return max(limit - counted, 0)

    def _succeeded(self, client_id: str) -> None:
        """A right PIN clears the voucher's count and lock."""
        with self.gw.db.session() as s:
            s.execute(
                update(Client)
                .where(Client.id == client_id)
                .values(failed_attempts=0, locked_until=None)
                .execution_options(synchronize_session=False)
            )

    def _attempt(
        self,
        client: Client,
        pin: str,
        source: str,
        assisted_by: str | None,
        assisted_person: str | None = None,
    ) -> tuple[str, ClientSession]:
        """Evaluate one PIN for `client`, counted per source and per voucher before argon2 runs."""
        if client.secret_sealed is None:
            raise NotFound("ClientErased", "this client's data was erased")
        stamp = self._reserve_source(source)
        try:
            left = self._reserve_voucher(client.id)
        except SignInLocked:
            self._release_source(source, stamp)
            raise
        try:
            secret = open_with_pin(client.secret_sealed, pin, self.gw.master, f"client-secret:{client.id}")
        except CustodyError:
            raise SignInFailed(
                "InvalidVoucherOrPin", "voucher code or PIN is wrong", attemptsLeft=left
            ) from None
        self._succeeded(client.id)
        self._release_source(source, stamp)
        return self._open_session(client, secret, assisted_by, assisted_person)

    def sign_in(self, code: str, pin: str, source: str) -> tuple[str, ClientSession]:
        """A session for voucher code + PIN. Unknown codes and wrong PINs fail alike, and both say
        how many attempts the code has left (an unknown code is counted like a known one)."""
        try:
            canonical = parse_code(code)
        except VoucherCodeError:  # counted like an unknown code, so typos cannot be told apart
            canonical = code.strip().upper()
        tag = self.gw.tag("voucher", canonical)
        with self.gw.db.session() as s:
            client = s.scalar(select(Client).where(Client.voucher_tag == tag))
        if client is None:
            return self._unknown(tag, source)
        return self._attempt(client, pin, source, None)

    def _unknown(self, tag: str, source: str) -> tuple[str, ClientSession]:
        """Count the attempt and spend the same effort as a real one, so codes cannot be enumerated."""
        self._reserve_source(source)
        now = time.monotonic()
        limit = self.settings.pin_attempts
        with self._lock:
            count, since = self._unknown_failures.get(tag, (0, now))
            if since < now - self.settings.lockout_s:
                count, since = 0, now
            if count >= limit:
                retry = int(since + self.settings.lockout_s - now) + 1
                raise SignInLocked(
                    "SignInLocked", "too many failed sign-ins; try again later", retryAfter=retry
                )
            self._unknown_failures[tag] = (count + 1, now if count + 1 >= limit else since)
        with contextlib.suppress(CustodyError):
            open_with_pin(self._dummy, "1", self.gw.master, "dummy")
        raise SignInFailed(
            "InvalidVoucherOrPin", "voucher code or PIN is wrong", attemptsLeft=limit - count - 1
        )

    def assisted_session(
        self, ngo_id: str, client_id: str, pin: str, source: str, person_id: str | None = None
    ) -> tuple[str, ClientSession]:
        """A caseworker acts for a client who is present and types their PIN; records say so (the
        NGO, and the person `person_id` who assists: every operation of the session is journalled
        with them). The attempts count against the client's voucher and the caseworker's source like
        a sign-in."""
        return self._attempt(self._own(ngo_id, client_id), pin, source, ngo_id, person_id)

    def _open_session(
        self, client: Client, secret: bytes, assisted_by: str | None, assisted_person: str | None = None
    ) -> tuple[str, ClientSession]:
        token = SESSION_PREFIX + secrets.token_urlsafe(32)
        session = ClientSession(
            client.id,
            client.ngo_id,
            PrivateRoot.from_secret(secret),
            time.monotonic() + self.settings.session_ttl_s,
            assisted_by,
            assisted_person,
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
            secret = open_with_code(
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
        """GDPR erasure: destroy the data key and every sealed secret; the chain stays consistent.
        Refused (`PayoutPending`) while a payout to the client's bank account is not yet settled: the
        treasurer's SEPA file needs its IBAN and name. Their settled payouts lose IBAN and client id."""
        self._own(ngo_id, client_id)
        self._refuse_pending_payout(client_id)
        with self.gw.db.session() as s:
            row = s.get(Client, client_id)
            assert row is not None
            s.execute(
                update(ClientPayoutRecord)
                .where(ClientPayoutRecord.client_id == client_id)
                .values(client_id=None, iban_sealed=None)
            )
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

    def _refuse_pending_payout(self, client_id: str) -> None:
        with self.gw.db.session() as s:
            ids = list(
                s.scalars(
                    select(ClientPayoutRecord.payout_id).where(ClientPayoutRecord.client_id == client_id)
                )
            )
        payouts = self.gw.system.payouts
        if any(payouts.payout(i).status != PayoutStatus.SETTLED for i in ids):
            raise Conflict(
                "PayoutPending",
                "a payout to this client's bank account is not settled yet; erase them after it was sent",
            )

    def _end_sessions(self, client_id: str) -> None:
        with self._lock:
            for key in [k for k, v in self._sessions.items() if v.client_id == client_id]:
                del self._sessions[key]
