"""Bodies of the lists people need: tranches with who, claim programs' money, rounds per lot."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class WhoPublic(BaseModel):
    address: str = Field(description="The address that signed on chain")
    personId: str | None = Field(default=None, description="The person of your organisation, if one")
    name: str | None = Field(default=None, description="Their name (only for your own organisation)")


class TranchePublic(BaseModel):
    trancheId: int
    programId: int
    amount: str
    milestoneHash: str
    status: Literal["pending", "approved", "rejected", "cancelled"]
    requestedBy: WhoPublic
    decidedBy: WhoPublic | None
    requestedTransaction: str
    decidedTransaction: str | None


class ClaimProgramPublic(BaseModel):
    claimProgramId: int
    name: str
    programId: int = Field(description="The fund program it is paid from")
    expiresAt: int | None = Field(description="Unix time; after it the unclaimed rest may be returned")
    expired: bool
    funded: str
    claimed: str
    unclaimed: str
    returned: str
    entitlements: int = Field(description="Clients granted an entitlement")


class LotRoundPublic(BaseModel):
    roundId: int
    title: str | None
    amount: str = Field(description="What the round holds of this lot")
    phase: str
    votingStart: int
    votingEnd: int
    awarded: str
    released: str = Field(description="Given back to the round's lots when settled or abandoned")
    settled: bool
