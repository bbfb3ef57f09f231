"""Payouts in euros: an organisation (a provider) asks for its money on its bank account, the
treasurer pays pending payouts by SEPA credit transfer file and records the settlement on chain.
No HTTP here.

Flow: the provider names an amount (whole cents) and its IBAN (checked with schwifty); the gateway
lets the payouts contract take the amount (approve) and asks for the payout under a reference derived
from the request's `Idempotency-Key` (`requestPayout`), so a retried request finds the payout it made
and the chain refuses a second one under the same reference (`PayoutsReferenceUsed`). The treasurer
(the admin organisation's key, or its person with role treasurer) groups pending payouts into a batch
on chain, gets the batch as a pain.001 file made with sepaxml and validated against its XSD, written
to DATA_DIR/sepa/, and then marks the batch sent with the bank's reference (the contract burns its
total, once) or reopens it when the bank rejected the file (its payouts are pending again).

Security: the IBAN never goes on chain; it is sealed under the master key here (re-sealed on
rotation, `api/master_key.py`). The on-chain references are SHA-256 hashes. Clients' payouts
(`api/services/client_payouts.py`, their IBAN sealed under the client's data key) are pending, batched
and written to the SEPA file alongside, as "client" in lists and under the client's name in the file.
Restricted aid cannot be paid out: the contract refuses it (`PayoutsRestrictedMoney`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from uuid import uuid4

from schwifty import IBAN
from schwifty.exceptions import SchwiftyException
from sepaxml import SepaTransfer
from sqlalchemy import select

from api.engine import Engine
from api.errors import GatewayError, Invalid, NotFound
from api.models import PayoutRecord
from api.operations import IDEMPOTENT_REQUEST, OperationResult
from api.principals import Principal
from ledger.calls import Call
from ledger.payouts import MAX_BATCH, BatchStatus, PayoutsClient, PayoutStatus

SEPA_SCHEMA = "pain.001.001.03"
CENT = 10_000  # micro-euros per cent


class NothingToPay(GatewayError):
    """There is no pending payout to batch."""

    kind = "conflict"


@dataclass(frozen=True)
class PayoutView:
    """A payout as the gateway shows it (the IBAN masked but for its last four characters)."""

    payout_id: int
    organisation_id: str
    holder: str
    amount: int
    status: str
    batch_id: int
    iban_masked: str


@dataclass(frozen=True)
class BatchView:
    """A batch as the gateway shows it."""

    batch_id: int
    status: str
    count: int
    total: int
    payout_ids: list[int]
    sepa_file: str | None = None


class ClientLegs(Protocol):
    """Clients' payouts as the treasurer's side needs them (`api/services/client_payouts.py`)."""

    def ids(self) -> list[int]:
        """Every client payout's id, oldest first."""
        ...

    def listed(self, payout_id: int) -> PayoutView | None:
        """The client payout as lists show it; None when `payout_id` is not a client's."""
        ...

    def payee(self, payout_id: int) -> tuple[str, str, int] | None:
        """Name, IBAN and amount of the client payout; None when `payout_id` is not a client's."""
        ...


def _mask(iban: str) -> str:
    return "*" * (len(iban) - 4) + iban[-4:]


def valid_iban(text: str) -> str:
    """The IBAN in its compact form; `InvalidIban` when schwifty finds it malformed."""
    try:
        return str(IBAN(text).compact)
    except SchwiftyException as exc:
        raise Invalid("InvalidIban", f"not a valid IBAN: {exc}") from exc


class PayoutsService:
    """Payout requests, batches, SEPA files and settlement, over one engine."""

    def __init__(self, engine: Engine) -> None:
        self.gw = engine
        self.client_payouts: ClientLegs | None = None
        """Clients' payouts, which the treasurer batches alongside (set by the gateway)."""

    @property
    def contract(self) -> PayoutsClient:
        """The payouts contract's client."""
        return self.gw.system.payouts

    def _context(self, reference: str) -> str:
        return f"payout:{reference}"

    # --- asking -------------------------------------------------------------------------------

    def request(
        self, principal: Principal, amount: int, iban: str
    ) -> tuple[PayoutView, OperationResult | None]:
        """Ask for `amount` micro-euros (whole cents) of the organisation's money on `iban`. A retry
        under the same `Idempotency-Key` returns the payout made the first time (None: no transaction)."""
        if amount % CENT:
            raise Invalid("AmountNotWholeCents", "a bank transfer moves whole cents")
        compact = valid_iban(iban)
        key = IDEMPOTENT_REQUEST.get()
        seed = f"payout:{principal.organisation_id}:{key if key is not None else uuid4().hex}"
        reference = hashlib.sha256(seed.encode()).hexdigest()
        with self.gw.db.session() as s:
            existing = s.scalar(select(PayoutRecord).where(PayoutRecord.reference == reference))
            if existing is not None:
                return self.get(existing.payout_id), None
        org = self.gw.organisation(principal.organisation_id)
        approve = self.gw.system.token.approve_call(self.contract.address, amount)
        self.gw.execute(principal.id, org, approve)
        request = self.contract.request_call(amount, bytes.fromhex(reference))
        result = self.gw.execute(principal.id, org, request)
        payout_id = int(self.contract.by_reference(bytes.fromhex(reference)))
        with self.gw.db.session() as s:
            s.add(
                PayoutRecord(
                    payout_id=payout_id,
                    organisation_id=org.id,
                    reference=reference,
                    amount=amount,
                    holder=org.name,
                    iban_sealed=self.gw.master.seal(compact.encode(), self._context(reference)),
                )
            )
        return self.get(payout_id), result

    # --- reading ------------------------------------------------------------------------------

    def _row(self, payout_id: int) -> PayoutRecord:
        with self.gw.db.session() as s:
            row = s.get(PayoutRecord, payout_id)
            if row is None:
                raise NotFound("UnknownPayout", f"there is no payout {payout_id}")
            s.expunge(row)
        return row

    def _iban(self, row: PayoutRecord) -> str:
        return self.gw.master.open(row.iban_sealed, self._context(row.reference)).decode()

    def get(self, payout_id: int) -> PayoutView:
        """One payout, its state read from the chain."""
        listed = self.client_payouts.listed(payout_id) if self.client_payouts else None
        if listed is not None:
            return listed
        record = self.contract.payout(payout_id)
        row = self._row(payout_id)
        return PayoutView(
            payout_id=payout_id,
            organisation_id=row.organisation_id,
            holder=row.holder,
            amount=row.amount,
            status=record.status.name.lower(),
            batch_id=record.batch_id,
            iban_masked=_mask(self._iban(row)),
        )

    def of_organisation(self, organisation_id: str) -> list[PayoutView]:
        """The organisation's payouts, newest first."""
        with self.gw.db.session() as s:
            ids = list(
                s.scalars(
                    select(PayoutRecord.payout_id)
                    .where(PayoutRecord.organisation_id == organisation_id)
                    .order_by(PayoutRecord.payout_id.desc())
                    .limit(MAX_BATCH)
                )
            )
        return [self.get(i) for i in ids]

    def pending(self) -> list[PayoutView]:
        """Payouts waiting for a batch, oldest first (at most one batch's worth)."""
        found: list[PayoutView] = []
        with self.gw.db.session() as s:
            ids = list(s.scalars(select(PayoutRecord.payout_id).order_by(PayoutRecord.payout_id)))
        if self.client_payouts is not None:
            ids = sorted(ids + self.client_payouts.ids())
        for payout_id in ids:
            if self.contract.payout(payout_id).status == PayoutStatus.PENDING:
                found.append(self.get(payout_id))
                if len(found) == MAX_BATCH:
                    break
        return found

    # --- the treasurer ------------------------------------------------------------------------

    def _treasury(self, principal: Principal, call: Call) -> OperationResult:
        admin = self.gw.organisation(principal.organisation_id)
        return self.gw.execute(principal.id, admin, call)

    def create_batch(self, principal: Principal) -> tuple[BatchView, OperationResult]:
        """Batch every pending payout (up to the contract's cap) and write its SEPA file."""
        ids = [p.payout_id for p in self.pending()]
        if not ids:
            raise NothingToPay("NothingToPay", "no payout is pending")
        result = self._treasury(principal, self.contract.create_batch_call(ids))
        batch_id = int(result.event("BatchCreated").args["batchId"])
        path = self.write_sepa_file(batch_id)
        view = self.batch(batch_id)
        return BatchView(**{**view.__dict__, "sepa_file": str(path)}), result

    def batch(self, batch_id: int) -> BatchView:
        """Batch `batch_id` as the chain holds it; `UnknownBatch` when there is none."""
        record = self.contract.batch(batch_id)
        if record.status == BatchStatus.NONE:
            raise NotFound("UnknownBatch", f"there is no batch {batch_id}")
        return BatchView(
            batch_id,
            record.status.name.lower(),
            record.count,
            record.total,
            self.contract.batch_payouts(batch_id),
        )

    def sepa_xml(self, batch_id: int, execution_date: dt.date | None = None) -> bytes:
        """The batch as a pain.001.001.03 credit transfer file, validated against its XSD by sepaxml."""
        view = self.batch(batch_id)
        settings = self.gw.settings
        transfer = SepaTransfer(
            {
                "name": settings.sepa_debtor_name,
                "IBAN": settings.sepa_debtor_iban,
                "BIC": settings.sepa_debtor_bic,
                "batch": True,
                "currency": "EUR",
            },
            schema=SEPA_SCHEMA,
        )
        when = execution_date or dt.date.today()
        for payout_id in view.payout_ids:
            name, iban, amount = self._payee(payout_id)
            transfer.add_payment(
                {
                    "name": name,
                    "IBAN": iban,
                    "amount": amount // CENT,
                    "execution_date": when,
                    "description": f"Allmende payout {payout_id}",
                    "endtoend_id": f"ALLMENDE-P{payout_id}",
                }
            )
        xml: bytes = transfer.export(validate=True)
        return xml

    def _payee(self, payout_id: int) -> tuple[str, str, int]:
        """Name, IBAN and amount of a payout: a client's or an organisation's."""
        payee = self.client_payouts.payee(payout_id) if self.client_payouts else None
        if payee is not None:
            return payee
        row = self._row(payout_id)
        return row.holder, self._iban(row), row.amount

    def write_sepa_file(self, batch_id: int) -> Path:
        """Write the batch's SEPA file to DATA_DIR/sepa/batch-<id>.xml."""
        folder = self.gw.settings.data_dir / "sepa"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"batch-{batch_id}.xml"
        path.write_bytes(self.sepa_xml(batch_id))
        return path

    def mark_sent(
        self, principal: Principal, batch_id: int, bank_reference: str
    ) -> tuple[BatchView, OperationResult | None]:
        """Record that the bank took the batch: its total is burned on chain. Marking a batch sent a
        second time changes nothing (None: no transaction); a reopened batch is refused."""
        view = self.batch(batch_id)
        if view.status == "sent":
            return view, None
        digest = hashlib.sha256(bank_reference.encode()).digest()
        result = self._treasury(principal, self.contract.mark_sent_call(batch_id, digest, view.count))
        return self.batch(batch_id), result

    def reopen(
        self, principal: Principal, batch_id: int, reason: str
    ) -> tuple[BatchView, OperationResult | None]:
        """The bank rejected the batch: its payouts are pending again. Reopening twice changes nothing."""
        view = self.batch(batch_id)
        if view.status == "rejected":
            return view, None
        digest = hashlib.sha256(reason.encode()).digest()
        result = self._treasury(principal, self.contract.reopen_call(batch_id, digest, view.count))
        return self.batch(batch_id), result
