"""Participatory budget rounds through the gateway. No HTTP here.

An NGO creates a round over lots of the fund ledger for a voter roll of its clients: the gateway derives
each client's VOTE pseudonym for the round from their public root (no PIN needed) and publishes the
roll's Merkle root with the round. The roll is stored as pseudonyms only, never with the clients they
belong to: a signed-in client finds their place on it by deriving their own pseudonym, so erasing a
client leaves nothing that links them to their ballots. Ballots are signed with the VOTE key derived
from the signed-in client's secret and relayed; the gateway adds the Merkle proof.

Round, proposal and round texts stay in the gateway's database; the chain holds their hashes
(`text_hash`). Phases follow the chain's clock as the contract defines them (proposals until
`votingStart`, voting until `votingEnd`, then tally until someone finalises), so no call advances
them; finalising is the one step the round's NGO takes at the end, before the earliest expiry of the
round's lots (`Round.funding_expiry`). A round still holding money of an expired lot can never settle:
its NGO (or anyone, on chain) abandons it, which gives every reserved euro back. Until the first ballot
the round's NGO or the funder of one of its lots may cancel it (`cancelRound`): its whole budget goes
back to the lots. Every lot's funder must have named the NGO an allocator of that lot before the NGO
can put it into a round (the contract refuses with `ParticipatoryBudgetNoConsent`).
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from eth_account import Account
from sqlalchemy import select

from api.engine import Engine
from api.errors import Forbidden, GatewayError, Invalid, NotFound
from api.models import BudgetRound, Client, Operation, ProgramInfo, RoundProposal, RoundVoter
from api.operations import OperationResult
from api.services.clients import Clients, ClientSession
from governance import qv
from governance.errors import GovernanceError
from governance.pabulib import export_round
from governance.pseudonyms import PublicRoot
from governance.qv_verify import RoundAudit, verify_rounds
from governance.voters import RoundRef, VoterRoll, vote_address, vote_key
from ledger.events import Event
from ledger.participatory_budget import (
    Phase,
    Proposal,
    ProposalStatus,
    Round,
    RoundParams,
    SelectionRule,
)
from ledger.revert_errors import (
    ParticipatoryBudgetAlreadySettled,
    ParticipatoryBudgetCreditsExceeded,
    ParticipatoryBudgetNotEligible,
    ParticipatoryBudgetRoundAbandoned,
)

PAYOUTS_PER_TX = 40
"""Winners paid per transaction when finalising (the rest by `payWinners`, in the same request)."""

PHASE_NAMES = {
    Phase.NONE: "none",
    Phase.PROPOSALS: "proposals",
    Phase.VOTING: "voting",
    Phase.TALLY: "tally",
    Phase.FINALISED: "finalised",
    Phase.ABANDONED: "abandoned",
}
RULE_NAMES = {SelectionRule.GREEDY_SKIP: "greedy-skip", SelectionRule.GREEDY_STOP: "greedy-stop"}
RULES = {name: rule for rule, name in RULE_NAMES.items()}
STATUS_NAMES = {
    ProposalStatus.NONE: "none",
    ProposalStatus.SUBMITTED: "submitted",
    ProposalStatus.WITHDRAWN: "withdrawn",
    ProposalStatus.SELECTED: "selected",
}


def text_hash(title: str, description: str) -> bytes:
    """The hash that stands on chain for a round's or a proposal's text: SHA-256 of the JSON object
    `{"description": ..., "title": ...}` as Python's `json.dumps(..., sort_keys=True)` writes it."""
    return hashlib.sha256(
        json.dumps({"title": title, "description": description}, sort_keys=True).encode()
    ).digest()


@dataclass(frozen=True)
class RoundSpec:
    """What an NGO decides when it creates a round (amounts in micro-euros, times in unix seconds)."""

    title: str
    description: str
    funding: Sequence[tuple[int, int]]  # (lot id, amount)
    credits: int
    voting_start: int
    voting_end: int
    min_cost: int
    max_cost: int
    rule: SelectionRule = SelectionRule.GREEDY_SKIP
    min_votes: int = 0
    voters: Sequence[str] | None = None  # client ids; None: every client of the NGO
    client_program_id: int | None = None  # the NGO's program clients may propose for; None: they may not


@dataclass(frozen=True)
class RoundCreated:
    """A round on chain, its roll published."""

    round_id: int
    voter_root: bytes
    voters: int
    operation: OperationResult


@dataclass(frozen=True)
class Finalised:
    """A round finalised (and, as far as one request goes, paid)."""

    operations: list[OperationResult]
    winners: list[int]
    awarded: int
    settled: bool


@dataclass(frozen=True)
class Abandoned:
    """A round abandoned after one of its lots expired: what its paid winners keep, what went back."""

    operation: OperationResult
    lot_id: int  # the expired lot
    awarded: int
    released: int


@dataclass(frozen=True)
class BallotCast:
    """A ballot on chain and what it cost."""

    operation: OperationResult
    voter: str
    ballot: dict[int, int]
    credits_used: int
    credits: int

    @property
    def credits_left(self) -> int:
        """Voice credits the voter has not spent."""
        return self.credits - self.credits_used


@dataclass(frozen=True)
class RoundState:
    """A round as the chain holds it, with what the gateway knows of it (None for rounds made elsewhere)."""

    round_id: int
    round: Round
    phase: Phase
    proposals: dict[int, Proposal]
    info: BudgetRound | None
    texts: dict[int, RoundProposal]
    voters: int | None
    ballots: int  # voters whose current ballot is not empty
    released: int  # money the round gave back to its lots (when settled or abandoned)

    @property
    def title(self) -> str | None:
        """The round's title, when the gateway holds it."""
        return self.info.title if self.info is not None else None


@dataclass(frozen=True)
class ClientView:
    """A round as one signed-in client sees it: eligibility, their ballot and their credits."""

    state: RoundState
    eligible: bool
    voter: str
    ballot: dict[int, int]
    credits_used: int


@dataclass
class Verification:
    """An auditor's check of one round: the events recomputed, the contract's views and the gateway's
    records compared with them."""

    state: RoundState
    audit: RoundAudit
    voters: list[str] | None
    mismatches: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class BallotRecord:
    """One `BallotCast` event: a ballot as cast (later replaced or not)."""

    event: Event
    current: bool


_STATE_EVENTS = ("BallotCast", "RoundSettled", "RoundAbandoned", "RoundCancelled")
"""The events a round's state is counted from (current voters, money released)."""


class RoundsService:
    """Creates rounds for NGOs, relays their proposals and finalisation, and clients' ballots."""

    def __init__(self, gateway: Engine, clients: Clients) -> None:
        self.gw = gateway
        self.clients = clients
        self.budget = gateway.system.budget
        self._rolls: dict[int, VoterRoll] = {}
        self._infos: dict[int, BudgetRound] = {}
        self._lock = threading.Lock()
        self._create_lock = threading.Lock()

    def ref(self, pseudonym_round: int) -> RoundRef:
        """What the voting pseudonyms of a round are derived for."""
        return RoundRef(self.gw.chain.chain_id, self.budget.address, pseudonym_round)

    # --- NGOs -------------------------------------------------------------------------------

    def _voter_roots(self, ngo_id: str, client_ids: Sequence[str] | None) -> list[PublicRoot]:
        clients = self.clients
        if client_ids is None:
            with self.gw.db.session() as s:
                rows = list(
                    s.scalars(
                        select(Client)
                        .where(Client.ngo_id == ngo_id, Client.erased_at.is_(None))
                        .order_by(Client.created_at, Client.id)
                    )
                )
        else:
            rows = [clients._own(ngo_id, cid) for cid in dict.fromkeys(client_ids)]
        roots = []
        for row in rows:
            if row.erased_at is not None or row.public_root_sealed is None:
                raise NotFound("ClientErased", f"client {row.id} was erased", clientId=row.id)
            roots.append(clients.public_root(row))
        if not roots:
            raise Invalid("NoVoters", "a round needs at least one voter: register clients first")
        return roots

    def _roll(self, roots: Iterable[PublicRoot], pseudonym_round: int) -> VoterRoll:
        ref = self.ref(pseudonym_round)
        return VoterRoll.of([vote_address(root, ref) for root in roots])

    def create(self, ngo_id: str, spec: RoundSpec) -> RoundCreated:
        """Create a round funded from `spec.funding`, for the NGO's clients (or those named)."""
        ngo = self.gw.organisation(ngo_id)
        if spec.client_program_id is not None:
            with self.gw.db.session() as s:
                program = s.get(ProgramInfo, spec.client_program_id)
            if program is None or program.ngo_id != ngo_id:
                raise Forbidden("NotYourProgram", f"program {spec.client_program_id} is run by another NGO")
        roots = self._voter_roots(ngo_id, spec.voters)
        lots = [lot for lot, _ in spec.funding]
        amounts = [amount for _, amount in spec.funding]
        with self._create_lock:  # the roll is derived for the id the round will get
            predicted = self.budget.round_count() + 1
            roll = self._roll(roots, predicted)
            params = RoundParams(
                voting_start=spec.voting_start,
                voting_end=spec.voting_end,
                voter_root=roll.root,
                credits=spec.credits,
                min_cost=spec.min_cost,
                max_cost=spec.max_cost,
                rule=spec.rule,
                min_votes=spec.min_votes,
                metadata_hash=text_hash(spec.title, spec.description),
            )
            result = self.gw.execute(
                f"org:{ngo_id}", ngo, self.budget.create_round_call(params, lots, amounts)
            )
        event = result.event("RoundCreated")
        round_id, root = int(event.args["roundId"]), bytes(event.args["voterRoot"])
        pseudonym_round = predicted
        if round_id != predicted:
            # Another round came first (the roll still works: its pseudonyms are for `predicted`), or
            # this is the retry of a request whose round was created for its own id before a crash.
            again = self._roll(roots, round_id)
            if again.root == root:
                roll, pseudonym_round = again, round_id
        if roll.root != root:
            raise GatewayError("VoterRollMismatch", f"round {round_id} was created with another voter roll")
        with self.gw.db.session() as s:
            if s.get(BudgetRound, round_id) is None:
                s.add(
                    BudgetRound(
                        round_id=round_id,
                        ngo_id=ngo_id,
                        title=spec.title,
                        description=spec.description,
                        pseudonym_round=pseudonym_round,
                        credits=spec.credits,
                        client_program_id=spec.client_program_id,
                    )
                )
                s.add_all(
                    RoundVoter(round_id=round_id, leaf_index=i, address=a)
                    for i, a in enumerate(roll.addresses)
                )
        with self._lock:
            self._rolls[round_id] = roll
        return RoundCreated(round_id, root, len(roll), result)

    def _info(self, round_id: int) -> BudgetRound:
        """The gateway's record of a round (never changed once written, so read once)."""
        row = self._infos.get(round_id)
        if row is None:
            with self.gw.db.session() as s:
                row = s.get(BudgetRound, round_id)
            if row is None:
                raise NotFound("UnknownRound", f"the gateway runs no round {round_id}")
            self._infos[round_id] = row
        return row

    def _own_round(self, ngo_id: str, round_id: int) -> BudgetRound:
        row = self._info(round_id)
        if row.ngo_id != ngo_id:
            raise Forbidden("NotYourRound", f"round {round_id} is run by another NGO")
        return row

    def rounds_of(self, ngo_id: str) -> list[int]:
        """Ids of the rounds the NGO created through the gateway."""
        with self.gw.db.session() as s:
            return list(
                s.scalars(
                    select(BudgetRound.round_id)
                    .where(BudgetRound.ngo_id == ngo_id)
                    .order_by(BudgetRound.round_id)
                )
            )

    def submit_proposal(
        self, org_id: str, round_id: int, program_id: int, amount: int, title: str, description: str
    ) -> tuple[int, OperationResult]:
        """Propose `amount` for a program in a round the gateway runs; the text stays here, its hash goes
        on chain. Any NGO may propose, as the contract allows; returns the proposal id."""
        self._info(round_id)
        org = self.gw.organisation(org_id)
        call = self.budget.submit_proposal_call(round_id, program_id, amount, text_hash(title, description))
        result = self.gw.execute(f"org:{org_id}", org, call)
        proposal_id = int(result.event("ProposalSubmitted").args["proposalId"])
        with self.gw.db.session() as s:
            s.merge(
                RoundProposal(
                    round_id=round_id,
                    proposal_id=proposal_id,
                    organisation_id=org_id,
                    title=title,
                    description=description,
                )
            )
        return proposal_id, result

    def withdraw_proposal(self, org_id: str, round_id: int, proposal_id: int) -> OperationResult:
        """Withdraw one's own proposal while proposals are open."""
        org = self.gw.organisation(org_id)
        return self.gw.execute(
            f"org:{org_id}", org, self.budget.withdraw_proposal_call(round_id, proposal_id)
        )

    def finalise(self, ngo_id: str, round_id: int) -> Finalised:
        """Finalise the NGO's round once voting has closed, and pay its winners (or go on paying them)."""
        self._own_round(ngo_id, round_id)
        ngo = self.gw.organisation(ngo_id)
        principal = f"org:{ngo_id}"
        r = self.budget.round(round_id)
        if r.abandoned:
            raise ParticipatoryBudgetRoundAbandoned(round_id)
        if r.settled:
            raise ParticipatoryBudgetAlreadySettled(round_id)
        operations = []
        if not r.finalised:
            proposals = self.budget.proposals(round_id)
            active = {pid: p for pid, p in proposals.items() if p.status is ProposalStatus.SUBMITTED}
            order = qv.finalisation_order({pid: p.votes for pid, p in active.items()})
            expected = qv.select(
                [qv.Candidate(pid, p.amount, p.votes) for pid, p in active.items()],
                r.budget,
                qv.SelectionRule(int(r.rule)),
                r.min_votes,
            )
            fundings = len(self.budget.fundings(round_id))
            call = self.budget.finalise_call(round_id, order, PAYOUTS_PER_TX, len(expected.winners), fundings)
            operations.append(self.gw.execute(principal, ngo, call))
            r = self.budget.round(round_id)
        while not r.settled:
            paid = r.paid_count
            call = self.budget.pay_winners_call(round_id, PAYOUTS_PER_TX, len(self.budget.fundings(round_id)))
            operations.append(self.gw.execute(principal, ngo, call))
            r = self.budget.round(round_id)
            if r.paid_count == paid:
                break  # a retried request found this payment made already: ask again to go on
        return Finalised(operations, self.budget.winners(round_id), r.awarded, r.settled)

    def abandon(self, ngo_id: str, round_id: int) -> Abandoned:
        """Abandon the NGO's round once it holds money of an expired lot (it can then never settle):
        every reservation goes back to its lot or funder; winners paid before keep their money. The
        contract refuses with `ParticipatoryBudgetFundingNotExpired` while the round can still settle."""
        self._own_round(ngo_id, round_id)
        r = self.budget.round(round_id)
        if r.abandoned:
            raise ParticipatoryBudgetRoundAbandoned(round_id)
        if r.settled:
            raise ParticipatoryBudgetAlreadySettled(round_id)
        call = self.budget.abandon_call(round_id, len(self.budget.fundings(round_id)))
        result = self.gw.execute(f"org:{ngo_id}", self.gw.organisation(ngo_id), call)
        event = result.event("RoundAbandoned")
        return Abandoned(
            result, int(event.args["lotId"]), int(event.args["awarded"]), int(event.args["released"])
        )

    def cancel(self, org_id: str, round_id: int, *, creator: bool) -> tuple[OperationResult, int]:
        """Cancel a round before its first ballot, as its NGO (`creator`: `NotYourRound` for another's) or
        as a funder of one of its lots (the contract refuses anyone else: `ParticipatoryBudgetNotCanceller`).
        Returns the operation and what went back to the lots."""
        if creator:
            self._own_round(org_id, round_id)
        call = self.budget.cancel_round_call(round_id, len(self.budget.fundings(round_id)))
        result = self.gw.execute(f"org:{org_id}", self.gw.organisation(org_id), call)
        return result, int(result.event("RoundCancelled").args["released"])

    # --- clients ----------------------------------------------------------------------------

    def roll(self, round_id: int) -> VoterRoll:
        """The round's voter roll (rebuilt from the database once per process)."""
        with self._lock:
            roll = self._rolls.get(round_id)
        if roll is None:
            with self.gw.db.session() as s:
                addresses = list(
                    s.scalars(
                        select(RoundVoter.address)
                        .where(RoundVoter.round_id == round_id)
                        .order_by(RoundVoter.leaf_index)
                    )
                )
            if not addresses:
                raise NotFound("UnknownRound", f"the gateway runs no round {round_id}")
            roll = VoterRoll.of(addresses)
            with self._lock:
                self._rolls[round_id] = roll
        return roll

    def _voter(self, session: ClientSession, info: BudgetRound) -> tuple[str, bool]:
        address = vote_address(session.root.public(), self.ref(info.pseudonym_round))
        return address, address in self.roll(info.round_id)

    def client_rounds(self, session: ClientSession) -> list[ClientView]:
        """The rounds of the client's NGO the client may vote in."""
        with self.gw.db.session() as s:
            infos = list(
                s.scalars(
                    select(BudgetRound)
                    .where(BudgetRound.ngo_id == session.ngo_id)
                    .order_by(BudgetRound.round_id)
                )
            )
        out = []
        for info in infos:
            _, eligible = self._voter(session, info)
            if eligible:
                out.append(self.client_view(session, info.round_id))
        return out

    def client_view(self, session: ClientSession, round_id: int) -> ClientView:
        """A round the gateway runs, with the signed-in client's ballot and credits."""
        info = self._info(round_id)
        address, eligible = self._voter(session, info)
        ballot, spent = self.budget.ballot(round_id, address) if eligible else ({}, 0)
        return ClientView(self.state(round_id), eligible, address, ballot, spent)

    def cast_ballot(self, session: ClientSession, round_id: int, votes: Mapping[int, int]) -> BallotCast:
        """Cast (or replace) the signed-in client's ballot: proposal id -> votes; empty takes it back.

        What the gateway knows to fail is refused before signing, with the contract's own error
        (`ParticipatoryBudgetNotEligible`, `ParticipatoryBudgetCreditsExceeded`); the phase and the
        proposals' state are the contract's to check."""
        info = self._info(round_id)
        address, eligible = self._voter(session, info)
        if not eligible:
            raise ParticipatoryBudgetNotEligible(round_id, address)
        clean = qv.normalise_ballot(votes)
        cost = qv.ballot_cost(clean)
        if cost > info.credits:
            raise ParticipatoryBudgetCreditsExceeded(cost, info.credits)
        retracted = self._entries_of_last_ballot(round_id, address)
        voter = Account.from_key(vote_key(session.root, self.ref(info.pseudonym_round)))
        call = self.budget.cast_ballot_call(round_id, clean, self.roll(round_id).proof(address), retracted)
        result = self.gw.execute(
            session.principal, voter, call, acting_for=session.client_id if session.assisted_by else None
        )
        spent = int(result.event("BallotCast").args["creditsSpent"])
        return BallotCast(result, address, clean, spent, info.credits)

    def _entries_of_last_ballot(self, round_id: int, voter: str) -> int:
        """How many entries the ballot being replaced has, from the gateway's own records: only the
        gateway holds a voting key (sealed with the client's PIN), so its records know every ballot,
        and asking them keeps the request off the chain until it is relayed."""
        if not self.gw.journal.has_signed(voter):
            return 0  # a first ballot
        with self.gw.db.session() as s:
            last = s.scalars(
                select(Operation.result)
                .where(
                    Operation.signer == voter,
                    Operation.kind == "ParticipatoryBudget.castBallot",
                    Operation.status == "done",
                )
                .order_by(Operation.forward_nonce.desc())
                .limit(1)
            ).first()
        for event in (last or {}).get("events", []):
            if event["event"] == "BallotCast" and event["args"]["roundId"] == round_id:
                return len(event["args"]["proposalIds"])
        return 0

    # --- everyone ---------------------------------------------------------------------------

    def round_ids(self) -> list[int]:
        """Every round on chain, the gateway's and others'."""
        return list(range(1, self.budget.round_count() + 1))

    def state(self, round_id: int, events: Sequence[Event] | None = None) -> RoundState:
        """A round from the chain's views, its events and the gateway's records."""
        r = self.budget.round(round_id)  # ParticipatoryBudgetUnknownRound for none
        phase = self.budget.phase(round_id)
        proposals = self.budget.proposals(round_id)
        with self.gw.db.session() as s:
            info = s.get(BudgetRound, round_id)
            texts = {
                t.proposal_id: t
                for t in s.scalars(select(RoundProposal).where(RoundProposal.round_id == round_id))
            }
        voters = len(self.roll(round_id)) if info is not None else None
        if events is None:
            events = self.gw.read_model.for_round(round_id, _STATE_EVENTS)
        current: dict[str, bool] = {}
        released = 0
        for e in events:
            if e.contract != "ParticipatoryBudget" or e.args.get("roundId") != round_id:
                continue
            if e.name == "BallotCast":
                current[e.args["voter"]] = bool(e.args["proposalIds"])
            elif e.name in ("RoundSettled", "RoundAbandoned", "RoundCancelled"):  # cancelled: abandoned
                released = int(e.args["released"])
        return RoundState(round_id, r, phase, proposals, info, texts, voters, sum(current.values()), released)

    def states(self, round_ids: Iterable[int] | None = None) -> list[RoundState]:
        """The rounds named, or every round on chain."""
        events = self.gw.read_model.named(_STATE_EVENTS, "ParticipatoryBudget")
        return [self.state(rid, events) for rid in (self.round_ids() if round_ids is None else round_ids)]

    # --- auditors ---------------------------------------------------------------------------

    def verify(self, round_id: int) -> Verification:
        """Recompute the round from events alone and compare the contract's views and the gateway's
        records (voter roll, texts) with it."""
        events = self.gw.index.events()
        state = self.state(round_id, events)
        audit = verify_rounds(events).rounds.get(round_id)
        if audit is None:  # the contract knows the round but no event announced it
            raise GatewayError("RoundWithoutEvents", f"no RoundCreated event for round {round_id}")
        voters = list(self.roll(round_id).addresses) if state.info is not None else None
        check = Verification(state, audit, voters, list(audit.mismatches))
        check.mismatches.extend(self._chain_mismatches(round_id, state, audit))
        check.mismatches.extend(self._record_mismatches(round_id, state))
        return check

    def _chain_mismatches(self, round_id: int, state: RoundState, audit: RoundAudit) -> list[str]:
        """Where the contract's tallies and winners differ from those recomputed from the ballots."""
        out = []
        for pid, p in state.proposals.items():
            if p.status is not ProposalStatus.WITHDRAWN and audit.tallies.get(pid) != p.votes:
                out.append(f"proposal {pid} holds {p.votes} votes, the ballots give {audit.tallies.get(pid)}")
        if state.round.finalised and self.budget.winners(round_id) != list(audit.winners):
            out.append(
                f"the contract's winners {self.budget.winners(round_id)}, the rule's {list(audit.winners)}"
            )
        return out

    def _record_mismatches(self, round_id: int, state: RoundState) -> list[str]:
        """Where the gateway's records (voter roll, texts) do not hash to what the chain holds."""
        out, r = [], state.round
        if state.info is not None:
            if self.roll(round_id).root != r.voter_root:
                out.append("the gateway's voter roll does not hash to the round's voter root")
            if text_hash(state.info.title, state.info.description) != r.metadata_hash:
                out.append("the gateway's round text does not hash to the round's metadata hash")
        for pid, t in state.texts.items():
            on_chain = state.proposals.get(pid)
            if on_chain is None or text_hash(t.title, t.description) != on_chain.content_hash:
                out.append(f"the gateway's text of proposal {pid} does not hash to its content hash")
        return out

    def ballots(self, round_id: int) -> list[BallotRecord]:
        """Every ballot cast in the round, in chain order; the last of each voter is current."""
        self.budget.round(round_id)
        cast = self.gw.read_model.for_round(round_id, ("BallotCast",))
        last = {e.args["voter"]: i for i, e in enumerate(cast)}
        return [BallotRecord(e, last[e.args["voter"]] == i) for i, e in enumerate(cast)]

    def pabulib(self, round_id: int) -> str:
        """The round as a pabulib .pb file, rebuilt and verified from events."""
        title = self.state(round_id).title
        events = self.gw.index.events()
        try:
            if title:
                return export_round(events, round_id, description=title)
            return export_round(events, round_id)
        except GovernanceError as exc:
            raise GatewayError("RoundDoesNotVerify", str(exc)) from exc
