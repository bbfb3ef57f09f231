"""Bodies of clients' records and of what a signed-in client sees."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel


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
