"""Funders deposit, allocate and follow their money; NGOs run programs, tranches and disbursements."""

from __future__ import annotations

import hashlib
import json
from typing import Any, TypeVar

from fastapi import APIRouter
from sqlalchemy import select

from api.deps import Approver, Funder, GatewayDep, Ngo
from api.errors import Forbidden, NotFound
from api.gateway import Gateway
from api.models import ProgramInfo
from api.operations import OperationResult
from api.principals import Principal
from api.schemas import (
    AllocationCreate,
    AllocationCreated,
    DisbursementCreate,
    DisbursementCreated,
    IdPath,
    LotCreate,
    LotCreated,
    LotPublic,
    OperationPublic,
    ProgramCreate,
    ProgramCreated,
    ProgramPublic,
    RefundPublic,
    ReturnedAllocationPublic,
    TracedPayment,
    TrancheCreate,
    TrancheCreated,
    TrancheDecision,
    euros,
    micro,
)
from ledger.fund_events import refunds, trace_payments
from ledger.fund_ledger import Lot

router = APIRouter(prefix="/v1", tags=["funds"])

GAS_DEPOSIT = 250_000
GAS_ALLOCATE = 250_000
GAS_TRANCHE = 200_000
GAS_PER_PAYMENT = 45_000


def _sha(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()


def _funds(gateway: Gateway, principal: Principal, function: str, *args: Any, gas: int) -> OperationResult:
    """`FundLedger.function(*args)`, signed with the calling organisation's key and relayed."""
    org = gateway.organisation(principal.organisation_id)
    return gateway.execute(principal.id, org, gateway.system.funds, function, *args, gas=gas)


Created = TypeVar("Created", bound=OperationPublic)


def _created(model: type[Created], result: OperationResult, event: str, id_field: str) -> Created:
    """The response to a call that created something: the new id (the argument `id_field` of the
    first `event`, which names it the same) next to where the call landed on chain."""
    return model(**{id_field: result.event(event).args[id_field]}, **result.to_json())


def _lot_public(lot_id: int, lot: Lot) -> LotPublic:
    return LotPublic(
        lotId=lot_id,
        funder=lot.funder,
        amount=euros(lot.amount),
        unallocated=euros(lot.unallocated),
        earmarkProgramId=lot.earmark or None,
        expiresAt=lot.expiry or None,
        refunded=lot.refunded,
    )


def _own_lot(gateway: Gateway, principal: Principal, lot_id: int) -> Lot:
    lot = gateway.system.funds.lot(lot_id)
    if lot.funder != principal.address:
        raise NotFound("UnknownLot", f"you have no lot {lot_id}")
    return lot


@router.post("/funder/lots", status_code=201, response_model=LotCreated)
def deposit(body: LotCreate, gateway: GatewayDep, principal: Funder) -> LotCreated:
    """Deposit money as a lot, optionally earmarked for one program and expiring."""
    expiry = int(body.expiresAt.timestamp()) if body.expiresAt else 0
    result = _funds(
        gateway,
        principal,
        "deposit",
        gateway.system.token.address,
        micro(body.amount),
        body.earmarkProgramId or 0,
        expiry,
        gas=GAS_DEPOSIT,
    )
    return _created(LotCreated, result, "LotDeposited", "lotId")


@router.get("/funder/lots", response_model=list[LotPublic])
def list_lots(gateway: GatewayDep, principal: Funder) -> list[LotPublic]:
    """The calling funder's lots."""
    funds = gateway.system.funds
    lots = funds.counts()[0]
    out = []
    for lot_id in range(1, lots + 1):
        lot = funds.lot(lot_id)
        if lot.funder == principal.address:
            out.append(_lot_public(lot_id, lot))
    return out


@router.get("/funder/lots/{lot_id}", response_model=LotPublic)
def get_lot(lot_id: IdPath, gateway: GatewayDep, principal: Funder) -> LotPublic:
    """One of the calling funder's lots."""
    return _lot_public(lot_id, _own_lot(gateway, principal, lot_id))


@router.get("/funder/lots/{lot_id}/payments", response_model=list[TracedPayment])
def lot_payments(lot_id: IdPath, gateway: GatewayDep, principal: Funder) -> list[TracedPayment]:
    """Every payment this lot paid for, traced from events alone."""
    _own_lot(gateway, principal, lot_id)
    out = []
    for p in trace_payments(gateway.index.events()):
        shares = [s for s in p.sources if s.lot_id == lot_id]
        if shares:
            out.append(
                TracedPayment(
                    batchId=p.batch_id,
                    programId=p.program_id,
                    recipient=p.recipient,
                    amount=euros(p.amount),
                    transactionHash=p.transaction_hash,
                    sources=[{"lotId": s.lot_id, "amount": euros(s.amount)} for s in shares],
                )
            )
    return out


@router.post("/funder/lots/{lot_id}/allocations", status_code=201, response_model=AllocationCreated)
def allocate(
    lot_id: IdPath, body: AllocationCreate, gateway: GatewayDep, principal: Funder
) -> AllocationCreated:
    """Allocate part of one of your lots to a program."""
    result = _funds(
        gateway,
        principal,
        "allocate",
        lot_id,
        body.programId,
        micro(body.amount),
        gas=GAS_ALLOCATE,
    )
    return _created(AllocationCreated, result, "Allocated", "allocationId")


@router.post("/funder/lots/{lot_id}/refund", status_code=201, response_model=OperationPublic)
def refund(lot_id: IdPath, gateway: GatewayDep, principal: Funder) -> OperationPublic:
    """Take back the unspent rest of an expired lot."""
    _own_lot(gateway, principal, lot_id)
    result = _funds(
        gateway,
        principal,
        "refund",
        lot_id,
        gas=1_000_000,
    )
    return OperationPublic(**result.to_json())


@router.get("/funder/refunds", response_model=list[RefundPublic])
def list_refunds(gateway: GatewayDep, principal: Funder) -> list[RefundPublic]:
    """Money returned to you, oldest first: refunds of your expired lots, and what came back from
    them after the refund (released reservations, claim programs' returns). From events alone."""
    return [
        RefundPublic(
            source=r.source,
            lotId=r.lot_id,
            reservationId=r.reservation_id,
            batchId=r.batch_id,
            amount=euros(r.amount),
            fromAllocations=[
                ReturnedAllocationPublic(
                    allocationId=b.allocation_id, programId=b.program_id, amount=euros(b.amount)
                )
                for b in r.from_allocations
            ],
            transactionHash=r.transaction_hash,
            blockNumber=r.block_number,
            logIndex=r.log_index,
        )
        for r in refunds(gateway.index.events())
        if r.funder == principal.address
    ]


@router.post("/tranches/{tranche_id}/approve", status_code=201, response_model=OperationPublic)
def approve_tranche(tranche_id: IdPath, gateway: GatewayDep, principal: Approver) -> OperationPublic:
    """Approve a tranche request (the checker in maker-checker; never the requester)."""
    result = _funds(
        gateway,
        principal,
        "approveTranche",
        tranche_id,
        gas=GAS_TRANCHE,
    )
    return OperationPublic(**result.to_json())


@router.post("/tranches/{tranche_id}/reject", status_code=201, response_model=OperationPublic)
def reject_tranche(
    tranche_id: IdPath, body: TrancheDecision, gateway: GatewayDep, principal: Approver
) -> OperationPublic:
    """Reject a tranche request, with a reason kept off-chain (its hash goes on chain)."""
    result = _funds(
        gateway,
        principal,
        "rejectTranche",
        tranche_id,
        _sha(body.reason),
        gas=GAS_TRANCHE,
    )
    return OperationPublic(**result.to_json())


@router.post("/ngo/programs", status_code=201, response_model=ProgramCreated)
def create_program(body: ProgramCreate, gateway: GatewayDep, principal: Ngo) -> ProgramCreated:
    """Create a program run by your NGO; its public description is hashed on chain."""
    metadata = _sha(json.dumps({"name": body.name, "description": body.description}, sort_keys=True))
    result = _funds(
        gateway,
        principal,
        "createProgram",
        gateway.system.token.address,
        metadata,
        gas=GAS_ALLOCATE,
    )
    created = _created(ProgramCreated, result, "ProgramCreated", "programId")
    with gateway.db.session() as s:
        s.merge(
            ProgramInfo(
                program_id=created.programId,
                ngo_id=principal.organisation_id,
                name=body.name,
                description=body.description,
            )
        )
    return created


@router.get("/ngo/programs", response_model=list[ProgramPublic])
def list_own_programs(gateway: GatewayDep, principal: Ngo) -> list[ProgramPublic]:
    """Your NGO's programs."""
    return [p for p in program_summaries(gateway) if p.ngo == principal.address]


def _own_program(gateway: Gateway, principal: Principal, program_id: int) -> None:
    if gateway.system.funds.program(program_id).ngo != principal.address:
        raise Forbidden("NotYourProgram", f"program {program_id} is run by another NGO")


@router.post("/ngo/programs/{program_id}/tranches", status_code=201, response_model=TrancheCreated)
def request_tranche(
    program_id: IdPath, body: TrancheCreate, gateway: GatewayDep, principal: Ngo
) -> TrancheCreated:
    """Ask for money to be released on a milestone (a funder approves it)."""
    result = _funds(
        gateway,
        principal,
        "requestTranche",
        program_id,
        micro(body.amount),
        _sha(body.milestone),
        gas=GAS_TRANCHE,
    )
    return _created(TrancheCreated, result, "TrancheRequested", "trancheId")


@router.post("/ngo/programs/{program_id}/disbursements", status_code=201, response_model=DisbursementCreated)
def disburse(
    program_id: IdPath, body: DisbursementCreate, gateway: GatewayDep, principal: Ngo
) -> DisbursementCreated:
    """Pay many pseudonymous accounts in one transaction."""
    recipients = [p.address for p in body.payments]
    amounts = [micro(p.amount) for p in body.payments]
    result = _funds(
        gateway,
        principal,
        "disburse",
        program_id,
        recipients,
        amounts,
        _sha(body.reference),
        gas=150_000 + GAS_PER_PAYMENT * len(recipients),
    )
    return _created(DisbursementCreated, result, "BatchDisbursed", "batchId")


def program_summaries(gateway: Gateway) -> list[ProgramPublic]:
    """Every program with its money figures and payment count."""
    funds = gateway.system.funds
    count = funds.counts()[1]
    with gateway.db.session() as s:
        names = {p.program_id: p.name for p in s.scalars(select(ProgramInfo))}
    payments: dict[int, int] = {}
    for e in gateway.index.events():
        if e.name == "Disbursed":
            payments[e.args["programId"]] = payments.get(e.args["programId"], 0) + 1
    out = []
    for pid in range(1, count + 1):
        p = funds.program(pid)
        out.append(
            ProgramPublic(
                programId=pid,
                name=names.get(pid, f"Program {pid}"),
                ngo=p.ngo,
                allocated=euros(p.allocated),
                released=euros(p.released),
                disbursed=euros(p.disbursed),
                payments=payments.get(pid, 0),
            )
        )
    return out
