"""Bodies of payouts in euros and the treasurer's batches."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

from api.amounts import Euros
from api.schemas._common import (
    NO_NUL,
    OperationPublic,
    Strict,
)


class PayoutCreate(Strict):
    """How much of the organisation's money to pay out, and to which bank account."""

    amount: Euros
    iban: Annotated[
        str, Field(min_length=15, max_length=42, pattern=NO_NUL, examples=["DE02120300000000202051"])
    ]


class PayoutPublic(BaseModel):
    payoutId: int
    organisationId: str
    holder: str
    amount: str
    status: str  # pending | batched | settled
    batchId: int
    iban: str  # masked but for the last four characters


class PayoutCreated(PayoutPublic):
    operation: OperationPublic | None


class ClientPayoutCreate(Strict):
    """How much of the client's cash to pay out (none: all of it), and to which bank account."""

    amount: Euros | None = None
    iban: Annotated[
        str, Field(min_length=15, max_length=42, pattern=NO_NUL, examples=["DE02120300000000202051"])
    ]


class ClientPayoutPublic(BaseModel):
    payoutId: int
    amount: str
    status: str  # pending | batched | settled
    batchId: int
    iban: str  # masked but for its last four characters
    createdAt: str


class ClientPayoutsCreated(BaseModel):
    payouts: list[ClientPayoutPublic] = Field(description="One payout per account the cash came from")
    total: str
    operations: list[OperationPublic]


class PayoutBatchPublic(BaseModel):
    batchId: int
    status: str  # open | sent | rejected
    count: int
    total: str
    payoutIds: list[int]
    sepaFile: str | None = None


class PayoutBatchChanged(PayoutBatchPublic):
    operation: OperationPublic | None


class PayoutBatchSent(Strict):
    """The bank's reference for the transfer (kept off chain; its hash goes on chain)."""

    bankReference: Annotated[str, Field(min_length=1, max_length=200, pattern=NO_NUL)]


class PayoutBatchReopen(Strict):
    """Why the bank rejected the batch (kept off chain; its hash goes on chain)."""

    reason: Annotated[str, Field(max_length=1000, pattern=NO_NUL)] = ""
