"""Shared parts of request and response bodies: money, addresses, ids, times, strict bodies."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from eth_utils import to_checksum_address
from fastapi import Path
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

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


class OperationPublic(BaseModel):
    """Where a state change landed on chain."""

    operationId: str
    transactionHash: str
    blockNumber: int
    events: list[dict[str, Any]]


Login = Annotated[str, Field(min_length=3, max_length=80, pattern=r"^[A-Za-z0-9._@-]+$")]


PersonRole = Literal["admin", "caseworker", "approver", "cashier", "treasurer", "auditor", "viewer"]


def _utc(moment: datetime) -> datetime:
    """A time the database kept without a zone (all of them UTC), with its zone."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


CategoryKey = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")]


ProviderIdPath = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$", description="A provider's id")]


PublicText = Annotated[str, Field(min_length=1, max_length=200, pattern=NO_NUL)]
