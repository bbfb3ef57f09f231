"""Request and response bodies. Money is a decimal string in euros (up to 6 decimals)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from eth_utils import to_checksum_address
from fastapi import Path
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from api.amounts import Euros
from api.services.funds import ProgramSummary
from ledger.fund_events import RefundSource

__all__ = ["Euros"]

MICRO = 10**6


def _checksummed(address: str) -> str:
    """The EIP-55 form; a mixed-case address must already carry a valid checksum (else it has a typo)."""
    checksummed: str = to_checksum_address(address)
    digits = address[2:]
    if digits != digits.lower() and digits != digits.upper() and address != checksummed:
        raise ValueError("the address has an invalid EIP-55 checksum")
    return checksummed


Address = Annotated[str, Field(pattern=r"^0x[0-9a-fA-F]{40}$"), AfterValidator(_checksummed)]


def _after_epoch(moment: datetime) -> datetime:
    """On chain, times are unsigned seconds and 0 means 'never'; earlier moments cannot be expressed."""
    if moment.timestamp() < 1:
        raise ValueError("the time must be after 1970-01-01T00:00:00Z")
    return moment


Moment = Annotated[datetime, AfterValidator(_after_epoch)]
Id = Annotated[int, Field(ge=1, le=2**48 - 1)]
NO_NUL = r"^[^\x00]*$"  # PostgreSQL text cannot hold NUL characters
IdPath = Annotated[int, Path(ge=1, le=2**48 - 1, description="An on-chain id (uint48, from 1)")]
AddressPath = Annotated[
    str,
    Path(pattern=r"^0x[0-9a-fA-F]{40}$", description="An on-chain address"),
    AfterValidator(_checksummed),
]


def micro(amount: Decimal) -> int:
    """Euros to micro-euros (the token's units)."""
    return int(amount * MICRO)


def euros(units: int) -> str:
    """Micro-euros to a euro string."""
    return str((Decimal(units) / MICRO).quantize(Decimal("0.000001")))


class Strict(BaseModel):
    """Bodies reject unknown fields."""

    model_config = ConfigDict(extra="forbid")


class OrganisationCreate(Strict):
    kind: Literal["funder", "ngo", "auditor"]
    name: Annotated[str, Field(min_length=1, max_length=200, pattern=NO_NUL)]


class OrganisationPublic(BaseModel):
    id: str
    kind: str
    name: str
    address: str


class OrganisationCreated(OrganisationPublic):
    apiKey: str = Field(description="Shown once; store it safely.")


class ApiKeyRotated(BaseModel):
    apiKey: str


class MintCreate(Strict):
    organisationId: Annotated[str, Field(min_length=1, max_length=32)]
    amount: Euros
    fiatReference: Annotated[str, Field(min_length=1, max_length=200, description="Bank receipt reference")]


class OperationPublic(BaseModel):
    """Where a state change landed on chain."""

    operationId: str
    transactionHash: str
    blockNumber: int
    events: list[dict[str, Any]]


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


class TracedPayment(BaseModel):
    batchId: int
    programId: int
    recipient: str
    amount: str
    transactionHash: str
    sources: list[dict[str, Any]]


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


class ReceiptPublic(BaseModel):
    """Money a client received: `programId` for a disbursement, `claimProgramId` for a claim."""

    kind: Literal["disbursement", "claim"]
    programId: int | None = None
    claimProgramId: int | None = None
    recipient: str
    amount: str
    transactionHash: str
    blockNumber: int


class ClientMe(BaseModel):
    """The signed-in client's pseudonymous account, its balance and what it received."""

    clientId: str
    account: str
    balance: str
    receipts: list[ReceiptPublic]


class EntitlementPublic(BaseModel):
    """Aid the signed-in client may claim in one claim program, and whether they have."""

    claimProgramId: int
    amount: str
    claimed: bool


class ClientRecord(BaseModel):
    """A client's record as their NGO sees it: `personal` and `account` are absent once erased."""

    clientId: str
    createdAt: str
    erased: bool
    personal: dict[str, Any] | None = None
    account: str | None = None
