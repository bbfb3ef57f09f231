"""Claim programs: NGOs grant aid by client; clients claim it with their voucher session."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from api.deps import ClaimsDep, CurrentClient, Ngo, NgoFunderOrAdmin
from api.schemas import EntitlementPublic, Euros, Id, IdPath, OperationPublic, Strict, euros, micro

router = APIRouter(prefix="/v1", tags=["claims"])


class Grant(Strict):
    clientId: Annotated[str, Field(min_length=1, max_length=32)]
    amount: Euros


class ClaimProgramCreate(Strict):
    programId: Id
    name: Annotated[str, Field(min_length=1, max_length=200)]
    expiresAt: datetime
    grants: Annotated[list[Grant], Field(min_length=1, max_length=100_000)]


class ClaimProgramOpened(BaseModel):
    claimProgramId: int
    address: str
    root: str
    total: str
    transactions: list[str]


class ExpiredAidSentBack(BaseModel):
    claimProgramId: int
    reclaimed: str = Field(
        description="Euros taken back from recipients' accounts (restricted aid not spent)"
    )
    returned: str = Field(description="Euros returned to the lots: the above plus the unclaimed rest")
    accounts: int = Field(description="How many accounts gave money back")
    transaction: str | None = Field(description="The transaction; null when there was nothing to send back")
    nextAfter: int | None = Field(
        description="Ask again with ?after=this for the next recipients; null: done"
    )


class ClaimDone(OperationPublic):
    recipient: str = Field(description="Your pseudonymous account for this program")
    amount: str


@router.post("/ngo/claim-programs", status_code=201, response_model=ClaimProgramOpened)
def open_claim_program(body: ClaimProgramCreate, service: ClaimsDep, principal: Ngo) -> ClaimProgramOpened:
    """Open a claim program on one of your programs, grant amounts to your clients and fund it."""
    created = service.open_program(
        principal.organisation_id,
        body.programId,
        int(body.expiresAt.timestamp()),
        body.name,
        [(g.clientId, micro(g.amount)) for g in body.grants],
    )
    return ClaimProgramOpened(
        claimProgramId=created.claim_program_id,
        address=created.address,
        root="0x" + created.root.hex(),
        total=euros(created.total),
        transactions=[op.transaction_hash for op in created.operations],
    )


@router.get("/client/entitlements", response_model=list[EntitlementPublic])
def my_entitlements(service: ClaimsDep, session: CurrentClient) -> list[EntitlementPublic]:
    """What you may claim, and whether you have claimed it."""
    return [
        EntitlementPublic(claimProgramId=r["claimProgramId"], amount=euros(r["amount"]), claimed=r["claimed"])
        for r in service.entitlements(session)
    ]


@router.post("/client/claims/{claim_program_id}", status_code=201, response_model=ClaimDone)
def claim(claim_program_id: IdPath, service: ClaimsDep, session: CurrentClient) -> ClaimDone:
    """Claim your entitlement: signed with your claim key, paid to your pseudonymous account."""
    result, recipient, amount = service.claim(session, claim_program_id)
    return ClaimDone(recipient=recipient, amount=euros(amount), **result.to_json())


@router.post("/claim-programs/{claim_program_id}/expiry", response_model=ExpiredAidSentBack)
def send_back_expired(
    claim_program_id: IdPath,
    service: ClaimsDep,
    principal: NgoFunderOrAdmin,
    after: Annotated[int, Query(ge=0, le=2**31)] = 0,
) -> ExpiredAidSentBack:
    """After a claim program's end, send what it no longer pays back to the lots it came from: the
    unclaimed rest and what recipients of restricted aid have not spent (up to 100 accounts a request).
    Its NGO, its funders or the admin; asking again sends nothing twice."""
    done = service.send_back_expired(principal, claim_program_id, after)
    return ExpiredAidSentBack(
        claimProgramId=done.claim_program_id,
        reclaimed=euros(done.reclaimed),
        returned=euros(done.returned),
        accounts=done.accounts,
        transaction=done.operation.transaction_hash if done.operation else None,
        nextAfter=done.next_after,
    )
