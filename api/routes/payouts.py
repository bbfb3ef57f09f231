"""Payouts in euros: a provider asks for its money on its bank account, a client for their cash on
theirs; the treasurer batches pending payouts, downloads the SEPA credit transfer file, marks a batch
sent or reopens a rejected one."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from api.deps import Admin, ClientPayoutsDep, CurrentClient, PayoutsDep, Provider
from api.operations import OperationResult
from api.schemas import (
    ClientPayoutCreate,
    ClientPayoutPublic,
    ClientPayoutsCreated,
    IdPath,
    OperationPublic,
    PayoutBatchChanged,
    PayoutBatchPublic,
    PayoutBatchReopen,
    PayoutBatchSent,
    PayoutCreate,
    PayoutCreated,
    PayoutPublic,
    euros,
    micro,
)
from api.services.client_payouts import ClientPayoutView
from api.services.payouts import BatchView, PayoutView

router = APIRouter(prefix="/v1", tags=["payouts"])


def _payout(p: PayoutView) -> PayoutPublic:
    return PayoutPublic(
        payoutId=p.payout_id,
        organisationId=p.organisation_id,
        holder=p.holder,
        amount=euros(p.amount),
        status=p.status,
        batchId=p.batch_id,
        iban=p.iban_masked,
    )


def _batch(b: BatchView) -> PayoutBatchPublic:
    return PayoutBatchPublic(
        batchId=b.batch_id,
        status=b.status,
        count=b.count,
        total=euros(b.total),
        payoutIds=b.payout_ids,
        sepaFile=b.sepa_file,
    )


def _operation(result: OperationResult | None) -> OperationPublic | None:
    return None if result is None else OperationPublic(**result.to_json())


@router.post("/provider/payouts", status_code=201, response_model=PayoutCreated)
def request_payout(body: PayoutCreate, payouts: PayoutsDep, principal: Provider) -> PayoutCreated:
    """Ask for an amount of the provider's money on its bank account (whole cents)."""
    view, result = payouts.request(principal, micro(body.amount), body.iban)
    return PayoutCreated(**_payout(view).model_dump(), operation=_operation(result))


@router.get("/provider/payouts", response_model=list[PayoutPublic])
def list_own_payouts(payouts: PayoutsDep, principal: Provider) -> list[PayoutPublic]:
    """The provider's payouts, newest first."""
    return [_payout(p) for p in payouts.of_organisation(principal.organisation_id)]


@router.get("/admin/payouts", response_model=list[PayoutPublic])
def list_pending_payouts(payouts: PayoutsDep, _: Admin) -> list[PayoutPublic]:
    """Payouts waiting for a batch, oldest first."""
    return [_payout(p) for p in payouts.pending()]


@router.post("/admin/payout-batches", status_code=201, response_model=PayoutBatchChanged)
def create_payout_batch(payouts: PayoutsDep, principal: Admin) -> PayoutBatchChanged:
    """Batch the pending payouts on chain and write the batch's SEPA file under the data directory."""
    view, result = payouts.create_batch(principal)
    return PayoutBatchChanged(**_batch(view).model_dump(), operation=_operation(result))


@router.get("/admin/payout-batches/{batch_id}", response_model=PayoutBatchPublic)
def get_payout_batch(batch_id: IdPath, payouts: PayoutsDep, _: Admin) -> PayoutBatchPublic:
    """One batch as the chain holds it."""
    return _batch(payouts.batch(batch_id))


@router.get("/admin/payout-batches/{batch_id}/sepa.xml", response_class=Response)
def get_payout_batch_sepa(batch_id: IdPath, payouts: PayoutsDep, _: Admin) -> Response:
    """The batch as a SEPA credit transfer file (pain.001.001.03), validated against its schema."""
    return Response(payouts.sepa_xml(batch_id), media_type="application/xml")


@router.post("/admin/payout-batches/{batch_id}/sent", response_model=PayoutBatchChanged)
def mark_payout_batch_sent(
    batch_id: IdPath, body: PayoutBatchSent, payouts: PayoutsDep, principal: Admin
) -> PayoutBatchChanged:
    """The bank took the batch: record the settlement on chain (its total is burned, once)."""
    view, result = payouts.mark_sent(principal, batch_id, body.bankReference)
    return PayoutBatchChanged(**_batch(view).model_dump(), operation=_operation(result))


@router.post("/admin/payout-batches/{batch_id}/reopen", response_model=PayoutBatchChanged)
def reopen_payout_batch(
    batch_id: IdPath, body: PayoutBatchReopen, payouts: PayoutsDep, principal: Admin
) -> PayoutBatchChanged:
    """The bank rejected the batch: its payouts are pending again (nothing was burned)."""
    view, result = payouts.reopen(principal, batch_id, body.reason)
    return PayoutBatchChanged(**_batch(view).model_dump(), operation=_operation(result))


def _client_payout(p: ClientPayoutView) -> ClientPayoutPublic:
    return ClientPayoutPublic(
        payoutId=p.payout_id,
        amount=euros(p.amount),
        status=p.status,
        batchId=p.batch_id,
        iban=p.iban_masked,
        createdAt=p.created_at.isoformat(),
    )


@router.post("/client/payouts", status_code=201, response_model=ClientPayoutsCreated)
def request_client_payout(
    body: ClientPayoutCreate, payouts: ClientPayoutsDep, session: CurrentClient
) -> ClientPayoutsCreated:
    """Pay the signed-in client's cash (not restricted aid) out to their bank account: the amount in
    whole cents, or all of their cash when none is given."""
    amount = None if body.amount is None else micro(body.amount)
    views, results = payouts.request(session, amount, body.iban)
    return ClientPayoutsCreated(
        payouts=[_client_payout(v) for v in views],
        total=euros(sum(v.amount for v in views)),
        operations=[OperationPublic(**r.to_json()) for r in results],
    )


@router.get("/client/payouts", response_model=list[ClientPayoutPublic])
def list_client_payouts(payouts: ClientPayoutsDep, session: CurrentClient) -> list[ClientPayoutPublic]:
    """The signed-in client's payouts to their bank account, newest first."""
    return [_client_payout(v) for v in payouts.mine(session)]
