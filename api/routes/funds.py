"""Funders deposit, allocate and follow their money; NGOs run programs, tranches and disbursements."""

from __future__ import annotations

from typing import Annotated, TypeVar

from fastapi import APIRouter, Query

from api.deps import Approver, Funder, FunderOrAuditor, FundsDep, Ngo, NgoFunderOrAdmin
from api.operations import OperationResult
from api.schemas import (
    AddressPath,
    AllocationCreate,
    AllocationCreated,
    DisbursementCreate,
    DisbursementCreated,
    ExpiredAidSweptPublic,
    IdPath,
    LineagePayout,
    LineageSpending,
    LotCreate,
    LotCreated,
    LotLineagePublic,
    LotPublic,
    NamedAccount,
    NamedAccountPublic,
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
    program_public,
)
from api.services.funds import Named
from ledger.fund_ledger import Lot
from ledger.providers import category_names

router = APIRouter(prefix="/v1", tags=["funds"])

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


@router.post("/funder/lots", status_code=201, response_model=LotCreated)
def deposit(body: LotCreate, funds: FundsDep, principal: Funder) -> LotCreated:
    """Deposit money as a lot, optionally earmarked for one program and expiring."""
    expiry = int(body.expiresAt.timestamp()) if body.expiresAt else 0
    result = funds.deposit(principal, micro(body.amount), body.earmarkProgramId or 0, expiry)
    return _created(LotCreated, result, "LotDeposited", "lotId")


@router.get("/funder/lots", response_model=list[LotPublic])
def list_lots(funds: FundsDep, principal: Funder) -> list[LotPublic]:
    """The calling funder's lots."""
    return [_lot_public(lot_id, lot) for lot_id, lot in funds.own_lots(principal)]


@router.get("/funder/lots/{lot_id}", response_model=LotPublic)
def get_lot(lot_id: IdPath, funds: FundsDep, principal: Funder) -> LotPublic:
    """One of the calling funder's lots."""
    return _lot_public(lot_id, funds.own_lot(principal, lot_id))


@router.get("/funder/lots/{lot_id}/payments", response_model=list[TracedPayment])
def lot_payments(
    lot_id: IdPath,
    funds: FundsDep,
    principal: Funder,
    after: Annotated[int | None, Query(ge=0, description="the last `position` of the page before")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 500,
) -> list[TracedPayment]:
    """The payments this lot paid for, traced from events alone, in chain order, a page at a time: ask
    again with `after` set to the last `position` you got until a page comes back shorter than `limit`."""
    return [
        TracedPayment(
            position=position,
            batchId=p.batch_id,
            programId=p.program_id,
            recipient=p.recipient,
            amount=euros(p.amount),
            transactionHash=p.transaction_hash,
            sources=[{"lotId": s.lot_id, "amount": euros(s.amount)} for s in p.sources if s.lot_id == lot_id],
        )
        for position, p in funds.lot_payments(principal, lot_id, after, limit)
    ]


@router.get("/funder/lots/{lot_id}/lineage", response_model=LotLineagePublic)
def lot_lineage(lot_id: IdPath, funds: FundsDep, principal: FunderOrAuditor) -> LotLineagePublic:
    """Where this lot's euros went: spending per provider and category, and payouts, from events alone."""
    lot, providers = funds.lot_lineage(principal, lot_id)
    published = funds.providers.categories
    spending: list[LineageSpending] = []
    by_category: dict[str, int] = {}
    for (account, mask), amount in sorted(lot.spent.items()):
        names = category_names(mask, published)
        view = providers.get(account)
        spending.append(
            LineageSpending(
                provider=account, name=view.name if view else None, categories=names, amount=euros(amount)
            )
        )
        key = "+".join(names) or "uncategorised"
        by_category[key] = by_category.get(key, 0) + amount
    return LotLineagePublic(
        lotId=lot.lot_id,
        funder=lot.funder,
        deposited=euros(lot.deposited),
        inFundLedger=euros(lot.in_fund_ledger),
        refundedToFunder=euros(lot.refunded),
        inClaimPrograms=euros(lot.in_claim_programs),
        heldByPeople=euros(lot.held),
        heldByProviders=euros(lot.held_by_providers),
        spentAtProviders=euros(lot.spent_total),
        refundedByProviders=euros(lot.refunded_by_providers),
        paidOutByProviders=euros(lot.paid_out_by_providers),
        paidOutToOthers=euros(lot.paid_out_to_others),
        spendingByCategory={k: euros(v) for k, v in sorted(by_category.items())},
        spending=spending,
        payouts=[
            LineagePayout(
                holder=holder,
                provider=holder in lot.providers,
                amount=euros(n),
            )
            for holder, n in sorted(lot.paid_out.items())
        ],
    )


@router.post("/funder/lots/{lot_id}/allocations", status_code=201, response_model=AllocationCreated)
def allocate(lot_id: IdPath, body: AllocationCreate, funds: FundsDep, principal: Funder) -> AllocationCreated:
    """Allocate part of one of your lots to a program."""
    result = funds.allocate(principal, lot_id, body.programId, micro(body.amount))
    return _created(AllocationCreated, result, "Allocated", "allocationId")


def _named_public(named: Named) -> NamedAccountPublic:
    return NamedAccountPublic(
        address=named.address, transactionHash=named.transaction_hash, blockNumber=named.block_number
    )


@router.post("/funder/lots/{lot_id}/allocators", status_code=201, response_model=NamedAccountPublic)
def name_allocator(
    lot_id: IdPath, body: NamedAccount, funds: FundsDep, principal: Funder
) -> NamedAccountPublic:
    """Consent: let an organisation (an NGO) allocate this lot's money or put it into a budget round."""
    result = funds.set_lot_allocator(principal, lot_id, body.address, True)
    return _named_public(Named(body.address, result.transaction_hash, result.block_number))


@router.get("/funder/lots/{lot_id}/allocators", response_model=list[NamedAccountPublic])
def list_allocators(lot_id: IdPath, funds: FundsDep, principal: Funder) -> list[NamedAccountPublic]:
    """Who you let allocate this lot's money besides you, in the order named."""
    return [_named_public(n) for n in funds.lot_allocators(principal, lot_id)]


@router.delete("/funder/lots/{lot_id}/allocators/{address}", response_model=OperationPublic)
def revoke_allocator(
    lot_id: IdPath, address: AddressPath, funds: FundsDep, principal: Funder
) -> OperationPublic:
    """Withdraw consent: what the allocator allocated or reserved before stays."""
    return OperationPublic(**funds.set_lot_allocator(principal, lot_id, address, False).to_json())


@router.post("/funder/programs/{program_id}/approvers", status_code=201, response_model=NamedAccountPublic)
def name_approver(
    program_id: IdPath, body: NamedAccount, funds: FundsDep, principal: Funder
) -> NamedAccountPublic:
    """Let someone approve or reject this program's tranches for you (your money must be in it)."""
    result = funds.set_program_approver(principal, program_id, body.address, True)
    return _named_public(Named(body.address, result.transaction_hash, result.block_number))


@router.get("/funder/programs/{program_id}/approvers", response_model=list[NamedAccountPublic])
def list_approvers(program_id: IdPath, funds: FundsDep, principal: Funder) -> list[NamedAccountPublic]:
    """The approvers you named for this program's tranches."""
    return [_named_public(n) for n in funds.program_approvers(principal, program_id)]


@router.delete("/funder/programs/{program_id}/approvers/{address}", response_model=OperationPublic)
def revoke_approver(
    program_id: IdPath, address: AddressPath, funds: FundsDep, principal: Funder
) -> OperationPublic:
    """Revoke an approver you named; another funder's naming of the same approver stays."""
    return OperationPublic(**funds.set_program_approver(principal, program_id, address, False).to_json())


@router.post("/funder/lots/{lot_id}/refund", status_code=201, response_model=OperationPublic)
def refund(lot_id: IdPath, funds: FundsDep, principal: Funder) -> OperationPublic:
    """Take back the unspent rest of an expired lot."""
    return OperationPublic(**funds.refund(principal, lot_id).to_json())


@router.get("/funder/refunds", response_model=list[RefundPublic])
def list_refunds(funds: FundsDep, principal: Funder) -> list[RefundPublic]:
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
        for r in funds.refunds(principal)
    ]


@router.post("/tranches/{tranche_id}/approve", status_code=201, response_model=OperationPublic)
def approve_tranche(tranche_id: IdPath, funds: FundsDep, principal: Approver) -> OperationPublic:
    """Approve a tranche request (the checker in maker-checker; never the requester)."""
    return OperationPublic(**funds.approve_tranche(principal, tranche_id).to_json())


@router.post("/tranches/{tranche_id}/reject", status_code=201, response_model=OperationPublic)
def reject_tranche(
    tranche_id: IdPath, body: TrancheDecision, funds: FundsDep, principal: Approver
) -> OperationPublic:
    """Reject a tranche request, with a reason kept off-chain (its hash goes on chain)."""
    return OperationPublic(**funds.reject_tranche(principal, tranche_id, body.reason).to_json())


@router.post("/ngo/programs", status_code=201, response_model=ProgramCreated)
def create_program(body: ProgramCreate, funds: FundsDep, principal: Ngo) -> ProgramCreated:
    """Create a program run by your NGO; its public description is hashed on chain."""
    program_id, result = funds.create_program(principal, body.name, body.description)
    return ProgramCreated(programId=program_id, **result.to_json())


@router.get("/ngo/programs", response_model=list[ProgramPublic])
def list_own_programs(funds: FundsDep, principal: Ngo) -> list[ProgramPublic]:
    """Your NGO's programs."""
    return [program_public(p) for p in funds.program_summaries() if p.ngo == principal.address]


@router.post("/ngo/programs/{program_id}/tranches", status_code=201, response_model=TrancheCreated)
def request_tranche(
    program_id: IdPath, body: TrancheCreate, funds: FundsDep, principal: Ngo
) -> TrancheCreated:
    """Ask for money to be released on a milestone (a funder approves it)."""
    result = funds.request_tranche(principal, program_id, micro(body.amount), body.milestone)
    return _created(TrancheCreated, result, "TrancheRequested", "trancheId")


@router.post("/ngo/programs/{program_id}/disbursements", status_code=201, response_model=DisbursementCreated)
def disburse(
    program_id: IdPath, body: DisbursementCreate, funds: FundsDep, principal: Ngo
) -> DisbursementCreated:
    """Pay many pseudonymous accounts in one transaction."""
    payments = [(p.address, micro(p.amount)) for p in body.payments]
    result = funds.disburse(principal, program_id, payments, body.reference)
    return _created(DisbursementCreated, result, "BatchDisbursed", "batchId")


@router.post("/programs/{program_id}/expiry", response_model=ExpiredAidSweptPublic)
def send_back_expired(
    program_id: IdPath,
    funds: FundsDep,
    principal: NgoFunderOrAdmin,
    after: Annotated[int, Query(ge=0, le=2**31)] = 0,
) -> ExpiredAidSweptPublic:
    """After a restricted program's end, send what the accounts it paid directly have not spent back to
    the lots it came from (up to 100 accounts a request). Its NGO, its funders or the admin; asking
    again sends nothing twice."""
    done = funds.send_back_expired(principal, program_id, after)
    return ExpiredAidSweptPublic(
        programId=done.program_id,
        swept=euros(done.swept),
        accounts=done.accounts,
        transaction=done.operation.transaction_hash if done.operation else None,
        nextAfter=done.next_after,
    )
