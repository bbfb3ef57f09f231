"""Bodies of lots, programs, tranches, disbursements, refunds, lineage and the fund audit."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, Field

from api.amounts import Euros
from api.schemas._common import (
    NO_NUL,
    Address,
    Id,
    Moment,
    OperationPublic,
    Strict,
    euros,
)
from api.services.funds import ProgramSummary
from ledger.fund_events import RefundSource


class LotCreate(Strict):
    amount: Euros
    earmarkProgramId: Id | None = None
    expiresAt: Moment | None = None


class LotPublic(BaseModel):
    lotId: int
    funder: str
    amount: str
    unallocated: str
    earmarkProgramId: int | None
    expiresAt: int | None
    refunded: bool


class LotCreated(OperationPublic):
    lotId: int


class AllocationCreate(Strict):
    programId: Id
    amount: Euros


class AllocationCreated(OperationPublic):
    allocationId: int


class NamedAccount(Strict):
    """An account a funder names (an allocator of a lot, an approver of a program's tranches)."""

    address: Address = Field(description="The on-chain address of the organisation named")


class NamedAccountPublic(BaseModel):
    """An account a funder named, and where the naming landed on chain."""

    address: str
    transactionHash: str
    blockNumber: int


class ProgramCreate(Strict):
    name: Annotated[str, Field(min_length=1, max_length=200, pattern=NO_NUL)]
    description: Annotated[str, Field(max_length=4000, pattern=NO_NUL)] = ""


class ProgramPublic(BaseModel):
    programId: int
    name: str
    ngo: str
    allocated: str
    released: str
    disbursed: str
    payments: int


class ProgramCreated(OperationPublic):
    programId: int


class TrancheCreate(Strict):
    amount: Euros
    milestone: Annotated[str, Field(min_length=1, max_length=2000)]


class TrancheCreated(OperationPublic):
    trancheId: int


class TrancheDecision(Strict):
    reason: Annotated[str, Field(max_length=2000)] = ""


class Payment(Strict):
    address: Address
    amount: Euros


class DisbursementCreate(Strict):
    payments: Annotated[list[Payment], Field(min_length=1, max_length=200)]
    reference: Annotated[str, Field(max_length=200)] = ""


class DisbursementCreated(OperationPublic):
    batchId: int


class ExpiredAidSweptPublic(BaseModel):
    programId: int
    swept: str = Field(description="Euros taken back from recipients' accounts (restricted aid not spent)")
    accounts: int = Field(description="How many accounts gave money back")
    transaction: str | None = Field(description="The transaction; null when there was nothing to send back")
    nextAfter: int | None = Field(
        description="Ask again with ?after=this for the next recipients; null: done"
    )


class TracedPayment(BaseModel):
    position: int = Field(description="the payment's place among all payments, in chain order: the cursor")
    batchId: int
    programId: int
    recipient: str
    amount: str
    transactionHash: str
    sources: list[dict[str, Any]]


class LineageSpending(BaseModel):
    provider: str  # the provider's account
    name: str | None  # its public name, when this gateway knows it
    categories: list[str]  # the provider's categories when it was paid
    amount: str


class LineagePayout(BaseModel):
    holder: str
    provider: bool  # a provider's payout, or else a client's (or anyone's) own
    amount: str


class LotLineagePublic(BaseModel):
    """Where one lot's euros are and went, rebuilt from events alone (first in, first out per account)."""

    lotId: int
    funder: str
    deposited: str
    inFundLedger: str
    refundedToFunder: str
    inClaimPrograms: str
    heldByPeople: str
    heldByProviders: str
    spentAtProviders: str
    refundedByProviders: str
    paidOutByProviders: str
    paidOutToOthers: str
    spendingByCategory: dict[str, str]
    spending: list[LineageSpending]
    payouts: list[LineagePayout]


class ReturnedAllocationPublic(BaseModel):
    allocationId: int
    programId: int
    amount: str


class RefundPublic(BaseModel):
    """Money the fund ledger sent back to the funder."""

    source: RefundSource = Field(
        description="`expired-lot`: the refund of an expired lot (its unallocated rest plus what its "
        "allocations had not drawn). After it, what still comes back from the lot goes to you directly: "
        "`released-reservation`, a budget round's reservation on the lot released later; "
        "`returned-by-receiver`, money a claim program returned from its disbursement batch"
    )
    lotId: int
    reservationId: int | None = Field(description="The released reservation (`released-reservation` only)")
    batchId: int | None = Field(description="The receiver's disbursement batch (`returned-by-receiver` only)")
    amount: str
    fromAllocations: list[ReturnedAllocationPublic] = Field(
        description="The part of `amount` taken back from programs' undrawn allocations"
    )
    transactionHash: str
    blockNumber: int
    logIndex: int


class AuditReport(BaseModel):
    events: int
    matches: bool
    lots: int
    programs: int
    payments: int


def program_public(p: ProgramSummary) -> ProgramPublic:
    """A program's figures as the API shows them."""
    return ProgramPublic(
        programId=p.program_id,
        name=p.name,
        ngo=p.ngo,
        allocated=euros(p.allocated),
        released=euros(p.released),
        disbursed=euros(p.disbursed),
        payments=p.payments,
    )
