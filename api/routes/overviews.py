"""Lists people need: tranches (pending, approved, rejected, with who), an NGO's claim programs
(funded, claimed, unclaimed, expiry, returned) and the rounds a funder's lot pays into."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import Funder, Ngo, OverviewsDep
from api.schemas import (
    ClaimProgramPublic,
    IdPath,
    LotRoundPublic,
    TranchePublic,
    WhoPublic,
    euros,
)
from api.services.overviews import TrancheView, Who
from api.services.rounds import PHASE_NAMES

router = APIRouter(prefix="/v1", tags=["lists"])


def _who(who: Who) -> WhoPublic:
    return WhoPublic(address=who.address, personId=who.person_id, name=who.name)


def _tranche(t: TrancheView) -> TranchePublic:
    return TranchePublic(
        trancheId=t.tranche_id,
        programId=t.program_id,
        amount=euros(t.amount),
        milestoneHash="0x" + t.milestone_hash.hex(),
        status=t.status,
        requestedBy=_who(t.requested_by),
        decidedBy=_who(t.decided_by) if t.decided_by else None,
        requestedTransaction=t.requested_tx,
        decidedTransaction=t.decided_tx,
    )


@router.get("/ngo/tranches", response_model=list[TranchePublic])
def ngo_tranches(lists: OverviewsDep, principal: Ngo) -> list[TranchePublic]:
    """The tranches of your NGO's programs: pending, approved, rejected or cancelled, with who."""
    return [_tranche(t) for t in lists.ngo_tranches(principal)]


@router.get("/funder/tranches", response_model=list[TranchePublic])
def funder_tranches(lists: OverviewsDep, principal: Funder) -> list[TranchePublic]:
    """The tranches of programs your lots paid into, with who asked and who decided."""
    return [_tranche(t) for t in lists.funder_tranches(principal)]


@router.get("/ngo/claim-programs", response_model=list[ClaimProgramPublic])
def claim_programs(lists: OverviewsDep, principal: Ngo) -> list[ClaimProgramPublic]:
    """Your NGO's claim programs: funded, claimed, unclaimed, returned, and when they expire."""
    return [
        ClaimProgramPublic(
            claimProgramId=c.claim_program_id,
            name=c.name,
            programId=c.fund_program_id,
            expiresAt=c.expiry or None,
            expired=c.expired,
            funded=euros(c.funded),
            claimed=euros(c.claimed),
            unclaimed=euros(c.unclaimed),
            returned=euros(c.returned),
            entitlements=c.entitlements,
        )
        for c in lists.claim_programs(principal)
    ]


@router.get("/funder/lots/{lot_id}/rounds", response_model=list[LotRoundPublic])
def lot_rounds(lot_id: IdPath, lists: OverviewsDep, principal: Funder) -> list[LotRoundPublic]:
    """The participatory budget rounds your lot pays into, and how much of it each holds."""
    return [
        LotRoundPublic(
            roundId=r.round_id,
            title=r.title,
            amount=euros(r.amount),
            phase=PHASE_NAMES[r.phase],
            votingStart=r.voting_start,
            votingEnd=r.voting_end,
            awarded=euros(r.awarded),
            released=euros(r.released),
            settled=r.settled,
        )
        for r in lists.lot_rounds(principal, lot_id)
    ]
