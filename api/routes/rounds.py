"""Participatory budget rounds: NGOs run them, clients vote quadratically, the public sees the results,
auditors verify and export them."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path
from fastapi.responses import Response
from pydantic import BaseModel, Field

from api.deps import Auditor, CurrentClient, Funder, Ngo, RoundsDep
from api.errors import Invalid
from api.exports import EXPORT, Format, export_table
from api.schemas import NO_NUL, Euros, Id, IdPath, Moment, OperationPublic, Strict, euros, micro
from api.services.rounds import (
    PHASE_NAMES,
    RULE_NAMES,
    RULES,
    STATUS_NAMES,
    ClientView,
    RoundSpec,
    RoundState,
)
from ledger.participatory_budget import PROPOSALS_LIMIT, ProposalStatus

router = APIRouter(prefix="/v1", tags=["rounds"])

MAX_FUNDINGS = 32  # the contract's MAX_FUNDINGS
ProposalIdPath = Annotated[int, Path(ge=1, le=2**16 - 1, description="A proposal id within its round")]
Title = Annotated[str, Field(min_length=1, max_length=200, pattern=NO_NUL)]
Description = Annotated[str, Field(max_length=4000, pattern=NO_NUL)]
Rule = Literal["greedy-skip", "greedy-stop"]
Phase = Literal["proposals", "voting", "tally", "finalised", "abandoned"]


class FundingShare(Strict):
    lotId: Id = Field(description="An unearmarked lot of the fund ledger")
    amount: Euros


class RoundCreate(Strict):
    title: Title
    description: Description = ""
    funding: Annotated[list[FundingShare], Field(min_length=1, max_length=MAX_FUNDINGS)]
    credits: Annotated[int, Field(ge=1, le=2**32 - 1, description="Voice credits per voter")]
    votingStart: Moment = Field(description="Proposals are accepted until then")
    votingEnd: Moment
    minCost: Euros = Field(description="The least a proposal may ask")
    maxCost: Euros = Field(description="The most a proposal may ask")
    rule: Rule = Field(
        default="greedy-skip",
        description="greedy-skip: skip what no longer fits the budget; greedy-stop: stop at the first",
    )
    minVotes: Annotated[int, Field(ge=0, le=2**64 - 1, description="Fewer votes never win")] = 0
    voters: (
        Annotated[
            list[Annotated[str, Field(min_length=1, max_length=32, pattern=NO_NUL)]],
            Field(max_length=100_000),
        ]
        | None
    ) = Field(default=None, description="Client ids of your NGO; omitted: every client of your NGO")
    clientProgramId: Id | None = Field(
        default=None,
        description="A program of your NGO that the voters' own proposals fund; omitted: only NGOs propose",
    )


class RoundCreated(OperationPublic):
    roundId: int
    voterRoot: str = Field(description="Merkle root over the voters' round pseudonyms")
    voters: int


class ProposalCreate(Strict):
    programId: Id = Field(description="The program that receives the money if the proposal wins")
    amount: Euros
    title: Title
    description: Description = ""


class ProposalCreated(OperationPublic):
    proposalId: int


class RoundFinalised(OperationPublic):
    winners: list[int] = Field(description="Winning proposal ids in finalisation order")
    awarded: str
    settled: bool = Field(description="Every winner paid and the rest of the budget back in its lots")
    transactions: list[str]


class RoundAbandoned(OperationPublic):
    expiredLot: int = Field(description="The lot whose expiry came while the round still held its money")
    awarded: str = Field(description="What the winners paid before received; it stays theirs")
    released: str = Field(
        description="Every other euro of the budget, back in its lots (or with its funders)"
    )


class BallotEntry(Strict):
    proposalId: Annotated[int, Field(ge=1, le=2**16 - 1)]
    votes: Annotated[int, Field(ge=0, le=2**16 - 1, description="n votes cost n * n voice credits")]


class BallotPut(Strict):
    votes: Annotated[
        list[BallotEntry],
        Field(max_length=PROPOSALS_LIMIT, description="An empty list takes your ballot back"),
    ]


class BallotDone(OperationPublic):
    voter: str = Field(description="Your pseudonymous voting address in this round")
    ballot: list[BallotEntry]
    credits: int
    creditsUsed: int
    creditsLeft: int


class ProposalPublic(BaseModel):
    proposalId: int
    title: str | None
    description: str | None
    programId: int
    amount: str
    votes: int
    status: Literal["submitted", "withdrawn", "selected"]


class RoundPublic(BaseModel):
    roundId: int
    title: str | None
    phase: Phase
    votingStart: int
    votingEnd: int
    fundingExpiry: int | None = Field(
        description="The earliest expiry of the round's lots (null: none expires). Finalise before it: "
        "once the round holds money of an expired lot, anyone may abandon it and the money goes back"
    )
    budget: str
    credits: int
    minCost: str
    maxCost: str
    rule: Rule
    minVotes: int
    proposalCount: int
    eligibleVoters: int | None = Field(description="Size of the voter roll, when the gateway runs the round")
    ballots: int = Field(description="Voters with a ballot that counts")
    awarded: str = Field(
        description="The winners' money; for an abandoned round, what the winners paid before got"
    )
    released: str
    settled: bool


class RoundResults(RoundPublic):
    description: str | None
    proposals: list[ProposalPublic]
    winners: list[int]
    paidWinners: list[int] = Field(
        description="Winners whose money went to their program (in an abandoned round, the others get none)"
    )


class ClientRound(RoundResults):
    eligible: bool
    voter: str | None = Field(description="Your pseudonymous voting address, when you may vote")
    ballot: list[BallotEntry]
    creditsUsed: int
    creditsLeft: int


class FundingPublic(BaseModel):
    reservationId: int
    lotId: int
    remaining: str


class ProposalAudit(ProposalPublic):
    proposer: str
    contentHash: str


class RoundAuditPublic(RoundPublic):
    description: str | None
    creator: str
    token: str
    voterRoot: str
    metadataHash: str
    fundings: list[FundingPublic]
    voters: list[str] | None = Field(
        description="The voter roll in leaf order, when the gateway runs the round"
    )
    proposals: list[ProposalAudit]
    ballotsCast: int = Field(description="Ballots cast, replaced ones included")
    tallies: dict[str, int] = Field(description="Votes per active proposal, recomputed from the ballots")
    winners: list[int]
    recomputedWinners: list[int]
    allocated: str
    matches: bool
    mismatches: list[str]


def _summary(state: RoundState) -> dict[str, Any]:
    r = state.round
    return {
        "roundId": state.round_id,
        "title": state.title,
        "phase": PHASE_NAMES[state.phase],
        "votingStart": r.voting_start,
        "votingEnd": r.voting_end,
        "fundingExpiry": r.funding_expiry or None,
        "budget": euros(r.budget),
        "credits": r.credits,
        "minCost": euros(r.min_cost),
        "maxCost": euros(r.max_cost),
        "rule": RULE_NAMES[r.rule],
        "minVotes": r.min_votes,
        "proposalCount": r.proposal_count,
        "eligibleVoters": state.voters,
        "ballots": state.ballots,
        "awarded": euros(r.awarded),
        "released": euros(state.released),
        "settled": r.settled,
    }


def _proposals(state: RoundState) -> list[dict[str, Any]]:
    out = []
    for pid, p in sorted(state.proposals.items()):
        text = state.texts.get(pid)
        out.append(
            {
                "proposalId": pid,
                "title": text.title if text else None,
                "description": text.description if text else None,
                "programId": p.program_id,
                "amount": euros(p.amount),
                "votes": p.votes,
                "status": STATUS_NAMES[p.status],
            }
        )
    return out


def _results(state: RoundState) -> dict[str, Any]:
    winners = [pid for pid, p in state.proposals.items() if p.status is ProposalStatus.SELECTED]
    winners.sort(key=lambda pid: (-state.proposals[pid].votes, pid))  # the finalisation order
    return {
        **_summary(state),
        "description": state.info.description if state.info else None,
        "proposals": _proposals(state),
        "winners": winners,
        "paidWinners": winners[: state.round.paid_count],
    }


def _entries(ballot: dict[int, int]) -> list[BallotEntry]:
    return [BallotEntry(proposalId=pid, votes=v) for pid, v in sorted(ballot.items())]


def _client_round(view: ClientView) -> ClientRound:
    credits = view.state.round.credits
    return ClientRound(
        **_results(view.state),
        eligible=view.eligible,
        voter=view.voter if view.eligible else None,
        ballot=_entries(view.ballot),
        creditsUsed=view.credits_used,
        creditsLeft=credits - view.credits_used if view.eligible else 0,
    )


# --- NGOs -------------------------------------------------------------------------------------


@router.post("/ngo/rounds", status_code=201, response_model=RoundCreated)
def create_round(body: RoundCreate, service: RoundsDep, principal: Ngo) -> RoundCreated:
    """Create a round over fund-ledger lots for your clients; their round pseudonyms form the voter roll."""
    spec = RoundSpec(
        title=body.title,
        description=body.description,
        funding=[(f.lotId, micro(f.amount)) for f in body.funding],
        credits=body.credits,
        voting_start=int(body.votingStart.timestamp()),
        voting_end=int(body.votingEnd.timestamp()),
        min_cost=micro(body.minCost),
        max_cost=micro(body.maxCost),
        rule=RULES[body.rule],
        min_votes=body.minVotes,
        voters=body.voters,
        client_program_id=body.clientProgramId,
    )
    created = service.create(principal.organisation_id, spec)
    return RoundCreated(
        roundId=created.round_id,
        voterRoot="0x" + created.voter_root.hex(),
        voters=created.voters,
        **created.operation.to_json(),
    )


@router.get("/ngo/rounds", response_model=list[RoundPublic])
def list_own_rounds(service: RoundsDep, principal: Ngo) -> list[RoundPublic]:
    """The rounds your NGO created."""
    return [RoundPublic(**_summary(s)) for s in service.states(service.rounds_of(principal.organisation_id))]


@router.post("/ngo/rounds/{round_id}/proposals", status_code=201, response_model=ProposalCreated)
def submit_proposal(
    round_id: IdPath, body: ProposalCreate, service: RoundsDep, principal: Ngo
) -> ProposalCreated:
    """Propose a project for a program while the round takes proposals; its text is hashed on chain."""
    proposal_id, result = service.submit_proposal(
        principal.organisation_id, round_id, body.programId, micro(body.amount), body.title, body.description
    )
    return ProposalCreated(proposalId=proposal_id, **result.to_json())


@router.post(
    "/ngo/rounds/{round_id}/proposals/{proposal_id}/withdraw", status_code=201, response_model=OperationPublic
)
def withdraw_proposal(
    round_id: IdPath, proposal_id: ProposalIdPath, service: RoundsDep, principal: Ngo
) -> OperationPublic:
    """Withdraw your proposal before voting opens."""
    result = service.withdraw_proposal(principal.organisation_id, round_id, proposal_id)
    return OperationPublic(**result.to_json())


@router.post("/ngo/rounds/{round_id}/finalise", status_code=201, response_model=RoundFinalised)
def finalise_round(round_id: IdPath, service: RoundsDep, principal: Ngo) -> RoundFinalised:
    """After voting closes: choose the winners by the round's rule and move their money to their programs."""
    done = service.finalise(principal.organisation_id, round_id)
    first = done.operations[0]
    return RoundFinalised(
        winners=done.winners,
        awarded=euros(done.awarded),
        settled=done.settled,
        transactions=[op.transaction_hash for op in done.operations],
        operationId=first.operation_id,
        transactionHash=first.transaction_hash,
        blockNumber=first.block_number,
        events=[e.to_json() for op in done.operations for e in op.events],
    )


@router.post("/ngo/rounds/{round_id}/abandon", status_code=201, response_model=RoundAbandoned)
def abandon_round(round_id: IdPath, service: RoundsDep, principal: Ngo) -> RoundAbandoned:
    """When one of your round's lots has expired before the round was settled (the fund ledger no longer
    allocates its money, so the round can never settle): give every reserved euro back to its lot or
    funder. Winners paid before keep their money; the round takes nothing more. Anyone may do it on chain."""
    done = service.abandon(principal.organisation_id, round_id)
    return RoundAbandoned(
        expiredLot=done.lot_id,
        awarded=euros(done.awarded),
        released=euros(done.released),
        **done.operation.to_json(),
    )


class RoundCancelled(OperationPublic):
    released: str = Field(description="The round's whole budget, back in its lots")


@router.post("/ngo/rounds/{round_id}/cancel", status_code=201, response_model=RoundCancelled)
def cancel_round(round_id: IdPath, service: RoundsDep, principal: Ngo) -> RoundCancelled:
    """Cancel your round before its first ballot: its whole budget goes back to its lots."""
    result, released = service.cancel(principal.organisation_id, round_id, creator=True)
    return RoundCancelled(released=euros(released), **result.to_json())


@router.post("/funder/rounds/{round_id}/cancel", status_code=201, response_model=RoundCancelled)
def cancel_funded_round(round_id: IdPath, service: RoundsDep, principal: Funder) -> RoundCancelled:
    """Cancel, before its first ballot, a round that one of your lots funds: its money goes back."""
    result, released = service.cancel(principal.organisation_id, round_id, creator=False)
    return RoundCancelled(released=euros(released), **result.to_json())


# --- clients ----------------------------------------------------------------------------------


@router.get("/client/rounds", response_model=list[ClientRound])
def my_rounds(service: RoundsDep, session: CurrentClient) -> list[ClientRound]:
    """The rounds you may vote in, with your ballot and credits."""
    return [_client_round(v) for v in service.client_rounds(session)]


@router.get("/client/rounds/{round_id}", response_model=ClientRound)
def my_round(round_id: IdPath, service: RoundsDep, session: CurrentClient) -> ClientRound:
    """A round with its proposals, your current ballot and the credits you have used and have left."""
    return _client_round(service.client_view(session, round_id))


@router.put("/client/rounds/{round_id}/ballot", response_model=BallotDone)
def cast_ballot(round_id: IdPath, body: BallotPut, service: RoundsDep, session: CurrentClient) -> BallotDone:
    """Cast your ballot, replacing any earlier one: n votes on a proposal cost n * n credits."""
    votes: dict[int, int] = {}
    for entry in body.votes:
        if entry.proposalId in votes:
            raise Invalid(
                "DuplicateProposal",
                f"proposal {entry.proposalId} appears twice in the ballot",
                proposalId=entry.proposalId,
            )
        votes[entry.proposalId] = entry.votes
    done = service.cast_ballot(session, round_id, votes)
    return BallotDone(
        voter=done.voter,
        ballot=_entries(done.ballot),
        credits=done.credits,
        creditsUsed=done.credits_used,
        creditsLeft=done.credits_left,
        **done.operation.to_json(),
    )


# --- the public -------------------------------------------------------------------------------


@router.get("/public/rounds", response_model=list[RoundPublic], tags=["public"])
def public_rounds(service: RoundsDep) -> list[RoundPublic]:
    """Every round: its budget, phase, how many proposals and ballots, and the money awarded."""
    return [RoundPublic(**_summary(s)) for s in service.states()]


@router.get("/public/rounds/{round_id}", response_model=RoundResults, tags=["public"])
def public_round(round_id: IdPath, service: RoundsDep) -> RoundResults:
    """A round's proposals with their votes, and once finalised its winners: aggregates only."""
    return RoundResults(**_results(service.state(round_id)))


# --- auditors ---------------------------------------------------------------------------------


@router.get("/audit/rounds/{round_id}", response_model=RoundAuditPublic)
def audit_round(round_id: IdPath, service: RoundsDep, _: Auditor) -> RoundAuditPublic:
    """Everything about a round, recomputed from events and compared with the contract and the gateway."""
    check = service.verify(round_id)
    state, audit, r = check.state, check.audit, check.state.round
    proposals = [
        ProposalAudit(
            **p,
            proposer=state.proposals[p["proposalId"]].proposer,
            contentHash="0x" + state.proposals[p["proposalId"]].content_hash.hex(),
        )
        for p in _proposals(state)
    ]
    return RoundAuditPublic(
        **{**_summary(state), "description": state.info.description if state.info else None},
        creator=r.creator,
        token=r.token,
        voterRoot="0x" + r.voter_root.hex(),
        metadataHash="0x" + r.metadata_hash.hex(),
        fundings=[
            FundingPublic(reservationId=f.reservation_id, lotId=f.lot_id, remaining=euros(f.remaining))
            for f in service.budget.fundings(round_id)
        ],
        voters=check.voters,
        proposals=proposals,
        ballotsCast=audit.ballots_cast,
        tallies={str(pid): v for pid, v in sorted(audit.tallies.items())},
        winners=_results(state)["winners"],
        recomputedWinners=list(audit.winners) if audit.finalised else [],
        allocated=euros(audit.allocated),
        matches=not check.mismatches,
        mismatches=check.mismatches,
    )


@router.get("/audit/rounds/{round_id}/ballots", responses=EXPORT)
def export_ballots(round_id: IdPath, service: RoundsDep, _: Auditor, format: Format = "json") -> Response:
    """Every ballot cast in the round, replaced ones too, by voting pseudonym."""
    rows: list[dict[str, object]] = []
    for record in service.ballots(round_id):
        e = record.event
        rows.append(
            {
                "block": e.block_number,
                "logIndex": e.log_index,
                "transaction": e.transaction_hash,
                "voter": e.args["voter"],
                "ballot": " ".join(
                    f"{pid}:{v}" for pid, v in zip(e.args["proposalIds"], e.args["votes"], strict=True)
                ),
                "creditsSpent": e.args["creditsSpent"],
                "current": record.current,
            }
        )
    return export_table(rows, format, f"round-{round_id}-ballots")


@router.get(
    "/audit/rounds/{round_id}/pabulib",
    responses={200: {"description": "The round in pabulib's .pb format", "content": {"text/plain": {}}}},
)
def export_pabulib(round_id: IdPath, service: RoundsDep, _: Auditor) -> Response:
    """The round as open data in pabulib's .pb format, rebuilt and verified from events."""
    return Response(
        service.pabulib(round_id),
        media_type="text/plain; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="round-{round_id}.pb"'},
    )
