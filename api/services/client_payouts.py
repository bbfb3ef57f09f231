"""A client's cash paid out to their own bank account (IBAN). No HTTP here.

A signed-in client (or a caseworker in an assisted session) asks for `amount` (default: all their cash,
in whole cents) on an IBAN checked with schwifty. Only cash is paid out: the accounts whose money is
restricted aid (the registry's program rule), and aid of a claim program that has expired, are left
out; the contract would refuse restricted money anyway (`PayoutsRestrictedMoney`). Each account that
pays a part (a leg) approves the payouts contract and requests its part; all calls are relayed
together (`Engine.execute_together`). A leg's on-chain reference is a hash of the client, the
request's `Idempotency-Key` and the leg's index, and each leg is journalled under its own key, so a
retry finds what the chain did instead of paying twice.

The IBAN is sealed under the client's data key with each leg's row, never on chain and never logged.
The treasurer's batches and SEPA files (`api/services/payouts.py`) take these legs like providers'
payouts, with the client's name from their personal data. Erasing a client is refused while one of
their payouts is not settled (`PayoutPending`); afterwards their rows lose the IBAN and the client id.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from uuid import uuid4

from sqlalchemy import select

from api.engine import Engine, SignedCall
from api.errors import GatewayError, Invalid, NotFound
from api.models import ClientPayoutRecord
from api.operations import IDEMPOTENT_REQUEST, OperationResult
from api.services.clients import Clients, ClientSession
from api.services.payments import PaymentService
from api.services.payouts import CENT, PayoutView, valid_iban
from ledger.payouts import MAX_BATCH

MICRO = 10**6


class ClientPayoutConflict(GatewayError):
    """The client's cash does not allow the payout."""

    kind = "conflict"


@dataclass(frozen=True)
class Leg:
    """One account's part of a payout."""

    account: str
    amount: int


@dataclass(frozen=True)
class ClientPayoutView:
    """One leg of a client's payout as the client sees it (the IBAN masked)."""

    payout_id: int
    amount: int
    status: str
    batch_id: int
    iban_masked: str
    created_at: datetime


@dataclass(frozen=True)
class CashBalance:
    """What the client holds: cash that may be paid out (whole cents) and restricted aid that may not."""

    cash: int
    restricted: int


def _euros(units: int) -> str:
    return f"{units // MICRO}.{units % MICRO:06d}"


def _mask(iban: str) -> str:
    return "*" * (len(iban) - 4) + iban[-4:]


def _context(client_id: str, reference: str) -> str:
    return f"client-payout:{client_id}:{reference}"


class ClientPayouts:
    """Clients' payouts to their own IBAN, over one engine."""

    def __init__(self, engine: Engine, clients: Clients, payments: PaymentService) -> None:
        self.gw = engine
        self.clients = clients
        self.payments = payments

    # --- what the client has ------------------------------------------------------------------

    def _sources(self, session: ClientSession) -> tuple[list[Leg], int]:
        """The client's accounts holding cash (their whole cents), and the restricted or expired rest."""
        system = self.gw.system
        token = system.token.address
        now = self.gw.chain.now()
        cash: list[Leg] = []
        kept = 0
        for claim_program_id, account in self.payments.accounts(session).items():
            balance = system.balance(account.address)
            if balance == 0:
                continue
            if claim_program_id is not None:
                expiry = system.claims.program(claim_program_id).info().expiry
                if 0 < expiry <= now:
                    kept += balance
                    continue
            fund_program = system.providers.restriction_of(token, account.address)
            if fund_program != 0 and system.providers.program_rule(fund_program) != 0:
                kept += balance
                continue
            whole = balance - balance % CENT
            kept += balance - whole
            if whole:
                cash.append(Leg(account.address, whole))
        return cash, kept

    def balance(self, session: ClientSession) -> CashBalance:
        """The client's cash that may be paid out, and what may not (restricted or expired aid)."""
        cash, kept = self._sources(session)
        return CashBalance(sum(leg.amount for leg in cash), kept)

    # --- asking -------------------------------------------------------------------------------

    def request(
        self, session: ClientSession, amount: int | None, iban: str, request_key: str | None = None
    ) -> tuple[list[ClientPayoutView], list[OperationResult]]:
        """Pay `amount` micro-euros (whole cents; None: all their cash) out to `iban`. A retry under
        the same `Idempotency-Key` (or `request_key`, a page form's one-time field) returns the payouts
        made the first time (no operation)."""
        if amount is not None and (amount <= 0 or amount % CENT):
            raise Invalid("AmountNotWholeCents", "a bank transfer moves whole cents above zero")
        compact = valid_iban(iban)
        key = request_key or IDEMPOTENT_REQUEST.get()
        request = hashlib.sha256(
            f"client-payout:{session.client_id}:{key if key is not None else uuid4().hex}".encode()
        ).hexdigest()
        done = self._of_request(request)
        if done:
            return [self.view(r) for r in done], []
        sources, _ = self._sources(session)
        available = sum(leg.amount for leg in sources)
        wanted = available if amount is None else amount
        if wanted == 0 or wanted > available:
            raise ClientPayoutConflict(
                "NotEnoughBalance",
                "your cash does not cover this amount",
                needed=_euros(wanted),
                available=_euros(available),
            )
        legs: list[Leg] = []
        left = wanted
        for source in sources:
            if left == 0:
                break
            part = min(left, source.amount)
            legs.append(Leg(source.account, part))
            left -= part
        by_address = {str(a.address): a for a in self.payments.accounts(session).values()}
        payouts = self.gw.system.payouts
        references = [hashlib.sha256(f"{request}:{i}".encode()).hexdigest() for i in range(len(legs))]
        calls: list[SignedCall] = []
        for i, leg in enumerate(legs):
            signer = by_address[leg.account]
            journal = f"cpay:{references[i][:56]}"  # operations.request_key holds 64 characters
            calls.append(
                SignedCall(signer, self.gw.system.token.approve_call(payouts.address, leg.amount), journal)
            )
            calls.append(
                SignedCall(signer, payouts.request_call(leg.amount, bytes.fromhex(references[i])), journal)
            )
        results = self.gw.execute_together(
            session.principal, calls, acting_for=session.client_id if session.assisted_by else None
        )
        with self.gw.db.session() as s:
            for i, leg in enumerate(legs):
                s.add(
                    ClientPayoutRecord(
                        payout_id=payouts.by_reference(bytes.fromhex(references[i])),
                        client_id=session.client_id,
                        ngo_id=session.ngo_id,
                        request=request,
                        leg=i,
                        reference=references[i],
                        amount=leg.amount,
                        iban_sealed=self.clients.seal_personal(
                            session.client_id, compact.encode(), _context(session.client_id, references[i])
                        ),
                    )
                )
        return [self.view(r) for r in self._of_request(request)], results

    # --- reading ------------------------------------------------------------------------------

    def _of_request(self, request: str) -> list[ClientPayoutRecord]:
        with self.gw.db.session() as s:
            rows = list(
                s.scalars(
                    select(ClientPayoutRecord)
                    .where(ClientPayoutRecord.request == request)
                    .order_by(ClientPayoutRecord.leg)
                )
            )
            for r in rows:
                s.expunge(r)
        return rows

    def row(self, payout_id: int) -> ClientPayoutRecord | None:
        """The client payout `payout_id`, or None when it is a provider's (or unknown)."""
        with self.gw.db.session() as s:
            row = s.get(ClientPayoutRecord, payout_id)
            if row is not None:
                s.expunge(row)
        return row

    def ids(self) -> list[int]:
        """Every client payout's id, oldest first."""
        with self.gw.db.session() as s:
            return list(
                s.scalars(select(ClientPayoutRecord.payout_id).order_by(ClientPayoutRecord.payout_id))
            )

    def iban(self, row: ClientPayoutRecord) -> str:
        """The leg's IBAN; `ClientErased` once the client was erased."""
        if row.client_id is None or row.iban_sealed is None:
            raise NotFound("ClientErased", "this client's data was erased")
        opened = self.clients.open_personal(
            row.client_id, row.iban_sealed, _context(row.client_id, row.reference)
        )
        return opened.decode()

    def holder(self, row: ClientPayoutRecord) -> str:
        """The account holder's name (the client's, from their personal data)."""
        if row.client_id is None:
            raise NotFound("ClientErased", "this client's data was erased")
        return self.clients.name(row.client_id)

    def view(self, row: ClientPayoutRecord) -> ClientPayoutView:
        """The leg with its state read from the chain (the IBAN masked; empty once erased)."""
        record = self.gw.system.payouts.payout(row.payout_id)
        return ClientPayoutView(
            payout_id=row.payout_id,
            amount=row.amount,
            status=record.status.name.lower(),
            batch_id=record.batch_id,
            iban_masked="" if row.iban_sealed is None else _mask(self.iban(row)),
            created_at=row.created_at,
        )

    def listed(self, payout_id: int) -> PayoutView | None:
        """The client payout as the treasurer's lists show it (holder "client"); None if not a client's."""
        row = self.row(payout_id)
        if row is None:
            return None
        view = self.view(row)
        return PayoutView(
            payout_id=payout_id,
            organisation_id=row.ngo_id,
            holder="client",
            amount=row.amount,
            status=view.status,
            batch_id=view.batch_id,
            iban_masked=view.iban_masked,
        )

    def payee(self, payout_id: int) -> tuple[str, str, int] | None:
        """Name (at most 70 characters, SEPA's limit), IBAN and amount for the SEPA file; None if not
        a client's payout; `ClientErased` once the client was erased."""
        row = self.row(payout_id)
        if row is None:
            return None
        return self.holder(row)[:70], self.iban(row), row.amount

    def mine(self, session: ClientSession) -> list[ClientPayoutView]:
        """The client's payouts (one per leg), newest first."""
        with self.gw.db.session() as s:
            rows = list(
                s.scalars(
                    select(ClientPayoutRecord)
                    .where(ClientPayoutRecord.client_id == session.client_id)
                    .order_by(ClientPayoutRecord.payout_id.desc())
                    .limit(MAX_BATCH)
                )
            )
            for r in rows:
                s.expunge(r)
        return [self.view(r) for r in rows]
