"""The ledger's clock, for everyone: the time of the latest block.

Public and read-only. Deadlines on chain (voting ends, expiries, tranche schedules) are checked
against the chain's clock, not the wall clock; a demo or test chain may run far ahead of the wall
clock, so a client that plans a deadline asks here instead of learning the chain's time from a
`ParticipatoryBudgetBadSchedule` refusal.
"""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter
from pydantic import BaseModel

from api.deps import GatewayDep

router = APIRouter(prefix="/v1/ledger", tags=["public"])


class LedgerTime(BaseModel):
    """The latest block: its number and its timestamp, as Unix seconds and as ISO 8601 (UTC)."""

    blockNumber: int
    timestamp: int
    iso: str
    secondsAheadOfWallClock: int


@router.get("/time")
def ledger_time(gateway: GatewayDep) -> LedgerTime:
    """The chain's clock: the number and time of the latest block."""
    block = gateway.chain.web3.eth.get_block("latest")
    timestamp = int(block["timestamp"])
    return LedgerTime(
        blockNumber=int(block["number"]),
        timestamp=timestamp,
        iso=datetime.fromtimestamp(timestamp, UTC).isoformat().replace("+00:00", "Z"),
        secondsAheadOfWallClock=timestamp - int(datetime.now(UTC).timestamp()),
    )
