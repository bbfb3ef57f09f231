"""Request and response bodies. Money is a decimal string in euros (up to 6 decimals)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

MICRO = 10**6
Euros = Annotated[Decimal, Field(gt=0, le=Decimal("1e12"), decimal_places=6, examples=["125.50"])]
Address = Annotated[str, Field(pattern=r"^0x[0-9a-fA-F]{40}$")]
Id = Annotated[int, Field(ge=1, le=2**48 - 1)]


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
    name: Annotated[str, Field(min_length=1, max_length=200)]


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
    expiresAt: datetime | None = None


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


class ProgramCreate(Strict):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    description: Annotated[str, Field(max_length=4000)] = ""


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


class AuditReport(BaseModel):
    events: int
    matches: bool
    lots: int
    programs: int
    payments: int
