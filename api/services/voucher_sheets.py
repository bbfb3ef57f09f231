"""Printable voucher sheets for codes just issued, downloadable once: the codes are never stored.

A voucher code is shown once, when it is issued (registration, CSV import, PIN reset); the database
keeps only a keyed hash of it. When the NGO asks for a printable sheet in that same request, the
cards are held in this process's memory under a random sheet id for a few minutes. The first
download by the same NGO renders the PDF and forgets them. Nothing reaches the database or the log,
a restart forgets every pending sheet, and a second download finds nothing. No HTTP here.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from api.errors import NotFound
from api.voucher_pdf import VoucherCard, render_voucher_sheets

SheetLabel = Literal["none", "name"]
SheetLanguage = Literal["de", "en", "ar", "fa", "ru", "tr", "uk"]  # the pages' languages (a test checks)
LOCAL_SIGN_IN = "http://127.0.0.1:8000/client/sign-in"  # `make run`'s; the gateway passes its setting
MAX_PENDING = 64  # sheets held at once per NGO; beyond that the NGO's own oldest is dropped


@dataclass(frozen=True)
class SheetRequest:
    """What the NGO wants printed: a title (default: the NGO's name) and, only if it asks, each
    client's name on their card (by default nothing about the person is printed)."""

    title: str | None = None
    label: SheetLabel = "none"
    language: SheetLanguage = "de"  # the cards' words in this language next to German


@dataclass(frozen=True)
class HeldSheet:
    """A sheet waiting for its one download."""

    sheet_id: str
    cards: int
    expires_in: int


@dataclass(frozen=True)
class _Pending:
    ngo_id: str
    title: str
    cards: tuple[VoucherCard, ...]
    expires: float


class VoucherSheets:
    """Sheets waiting for their one download, for `ttl_s` seconds, in one pool per NGO: an NGO's
    sheets can only push out its own older ones, and only that NGO can fetch them."""

    def __init__(
        self, ttl_s: int, max_pending: int = MAX_PENDING, *, sign_in_url: str = LOCAL_SIGN_IN
    ) -> None:
        self.ttl_s = ttl_s
        self.max_pending = max_pending
        self.sign_in_url = sign_in_url  # the QR codes open it with the code filled in
        self._pending: dict[str, OrderedDict[str, _Pending]] = {}
        self._lock = threading.Lock()

    def hold(self, ngo_id: str, title: str, cards: Sequence[VoucherCard]) -> HeldSheet:
        """Keep `cards` for one download by `ngo_id`; returns the sheet's id."""
        if not cards:
            raise ValueError("no vouchers to print")
        sheet_id = secrets.token_urlsafe(18)
        now = time.monotonic()
        with self._lock:
            self._forget_expired(now)
            pool = self._pending.setdefault(ngo_id, OrderedDict())
            while len(pool) >= self.max_pending:
                pool.popitem(last=False)
            pool[sheet_id] = _Pending(ngo_id, title, tuple(cards), now + self.ttl_s)
        return HeldSheet(sheet_id, len(cards), self.ttl_s)

    def take(self, ngo_id: str, sheet_id: str) -> bytes:
        """The sheet's PDF, once; NotFound when it is unknown, expired, fetched or another NGO's."""
        now = time.monotonic()
        with self._lock:
            self._forget_expired(now)
            pending = self._pending.get(ngo_id, OrderedDict()).pop(sheet_id, None)
            if pending is None:
                raise NotFound(
                    "UnknownVoucherSheet",
                    "no such voucher sheet: it was downloaded already, has expired, or was never yours",
                )
        return render_voucher_sheets(pending.title, pending.cards, sign_in_url=self.sign_in_url)

    def pending(self, ngo_id: str | None = None) -> int:
        """How many sheets wait for their download (of one NGO, or of all)."""
        with self._lock:
            self._forget_expired(time.monotonic())
            if ngo_id is not None:
                return len(self._pending.get(ngo_id, ()))
            return sum(len(pool) for pool in self._pending.values())

    def _forget_expired(self, now: float) -> None:
        for ngo_id, pool in list(self._pending.items()):
            for sheet_id in [k for k, v in pool.items() if v.expires <= now]:
                del pool[sheet_id]
            if not pool:
                del self._pending[ngo_id]
