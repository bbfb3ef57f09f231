"""Clients' own proposals in a budget round. No HTTP here.

Authority: a signed-in client (or a member of staff assisting them) may propose in a round of the
client's NGO while its proposals are open, when the round names a program for clients' proposals
(`BudgetRound.client_program_id`, set by the NGO when it creates the round) and the client is on the
round's voter roll. The proposal is signed with the client's voting key of the round (the same
pseudonym their ballot uses, so the chain sees a voter of the round propose, as the contract
allows, and never the client) and relayed with the roll's Merkle proof. The text stays in the
gateway's database under the client's NGO, its hash goes on chain, as for an NGO's proposal
(`RoundsService.submit_proposal`); the contract checks the phase and the cost bounds.
"""

from __future__ import annotations

from eth_account import Account

from api.engine import Engine
from api.errors import Forbidden, NotFound
from api.models import BudgetRound, RoundProposal
from api.operations import OperationResult
from api.services.clients import ClientSession
from api.services.rounds import RoundsService, text_hash
from governance.voters import vote_address, vote_key
from ledger.revert_errors import ParticipatoryBudgetNotEligible


def client_round(gateway: Engine, session: ClientSession, round_id: int) -> BudgetRound:
    """The gateway's record of a round of the client's NGO; `NotFound` for any other."""
    with gateway.db.session() as s:
        info = s.get(BudgetRound, round_id)
        if info is None or info.ngo_id != session.ngo_id:
            raise NotFound("UnknownRound", f"the client's NGO runs no round {round_id}")
        s.expunge(info)
    return info


def submit(
    gateway: Engine,
    rounds: RoundsService,
    session: ClientSession,
    round_id: int,
    amount: int,
    title: str,
    description: str,
) -> tuple[int, OperationResult]:
    """Propose `amount` micro-euros for the round's client program; returns the proposal id."""
    info = client_round(gateway, session, round_id)
    if info.client_program_id is None:
        raise Forbidden("ClientProposalsClosed", f"round {round_id} takes no proposals from clients")
    ref = rounds.ref(info.pseudonym_round)
    address = vote_address(session.root.public(), ref)
    roll = rounds.roll(round_id)
    if address not in roll:
        raise ParticipatoryBudgetNotEligible(round_id, address)
    voter = Account.from_key(vote_key(session.root, ref))
    call = gateway.system.budget.submit_proposal_call(
        round_id, info.client_program_id, amount, text_hash(title, description), roll.proof(address)
    )
    result = gateway.execute(
        session.principal,
        voter,
        call,
        acting_for=session.client_id if session.assisted_by else None,
    )
    proposal_id = int(result.event("ProposalSubmitted").args["proposalId"])
    with gateway.db.session() as s:
        s.merge(
            RoundProposal(
                round_id=round_id,
                proposal_id=proposal_id,
                organisation_id=session.ngo_id,
                title=title,
                description=description,
            )
        )
    return proposal_id, result
