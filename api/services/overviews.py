"""Lists the people of organisations need: tranches with who asked and who decided, an NGO's claim
programs with their money, the rounds a funder's lot pays for. No HTTP here.

Read from the read model (indexed events) and the chain's views; who did what among the people of an
organisation comes from the operation journal (the chain knows addresses only). A person's name is
shown only to their own organisation; others see the address that signed.

Who sees what: an NGO sees the tranches of its own programs and its own claim programs; a funder the
tranches of programs its lots paid into and the rounds of its own lots (`UnknownLot` for another's).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import func, select

from api.engine import Engine
from api.models import BudgetRound, ClaimProgramName, Entitlement, Person
from api.principals import Principal
from api.services.funds import FundsService
from api.services.rounds import RoundsService
from ledger.events import Event
from ledger.participatory_budget import Phase

TrancheStatus = Literal["pending", "approved", "rejected", "cancelled"]
_TRANCHE_EVENTS = ("TrancheRequested", "TrancheApproved", "TrancheRejected", "TrancheCancelled")


@dataclass(frozen=True)
class Who:
    """Who signed: an address, and the person of the caller's own organisation behind it, if any."""

    address: str
    person_id: str | None = None
    name: str | None = None


@dataclass(frozen=True)
class TrancheView:
    """A tranche request and what became of it."""

    tranche_id: int
    program_id: int
    amount: int
    milestone_hash: bytes
    status: TrancheStatus
    requested_by: Who
    decided_by: Who | None
    requested_tx: str
    decided_tx: str | None


@dataclass(frozen=True)
class ClaimProgramView:
    """A claim program's money: paid in, claimed, still there, returned; and when it expires."""

    claim_program_id: int
    name: str
    fund_program_id: int
    expiry: int
    funded: int
    claimed: int
    unclaimed: int
    returned: int
    entitlements: int
    expired: bool


@dataclass(frozen=True)
class LotRoundView:
    """A round one of the funder's lots pays into, and how much of the lot it holds."""

    round_id: int
    title: str | None
    amount: int
    phase: Phase
    voting_start: int
    voting_end: int
    awarded: int
    released: int
    settled: bool


class Overviews:
    """The lists, over one engine and the fund and round services."""

    def __init__(self, engine: Engine, funds: FundsService, rounds: RoundsService) -> None:
        self.gw = engine
        self.funds = funds
        self.rounds = rounds

    # --- tranches ------------------------------------------------------------------------------

    def ngo_tranches(self, principal: Principal) -> list[TrancheView]:
        """The tranches of the calling NGO's programs, oldest first."""
        return [t for t in self._tranches(principal) if t.program_id in self._own_programs(principal)]

    def funder_tranches(self, principal: Principal) -> list[TrancheView]:
        """The tranches of programs the calling funder's lots paid into, oldest first."""
        lots = [
            e.args["lotId"] for e in self.gw.read_model.for_accounts([principal.address], ["LotDeposited"])
        ]
        programs = {e.args["programId"] for e in self.gw.read_model.for_lots(lots, ["Allocated"])}
        return [t for t in self._tranches(principal) if t.program_id in programs]

    def _own_programs(self, principal: Principal) -> set[int]:
        events = self.gw.read_model.named(["ProgramCreated"], "FundLedger")
        return {e.args["programId"] for e in events if e.args["ngo"] == principal.address}

    def _tranches(self, principal: Principal) -> list[TrancheView]:
        people = self.funds.tranche_people()
        names = self._names(principal, (p for who in people.values() for p in who.values()))
        requested: dict[int, Event] = {}
        decided: dict[int, tuple[TrancheStatus, Event | None]] = {}
        for e in self.gw.read_model.named(_TRANCHE_EVENTS, "FundLedger"):
            tid = int(e.args["trancheId"])
            if e.name == "TrancheRequested":
                requested[tid] = e
            elif e.name == "TrancheApproved":
                decided[tid] = ("approved", e)
            elif e.name == "TrancheRejected":
                decided[tid] = ("rejected", e)
            else:
                decided[tid] = ("cancelled", None)

        def who(address: str, person_id: str | None) -> Who:
            name = names.get(person_id) if person_id else None
            return Who(address, person_id if name else None, name)

        out = []
        for tid, e in sorted(requested.items()):
            status, decision = decided.get(tid, ("pending", None))
            by = people.get(tid, {})
            out.append(
                TrancheView(
                    tranche_id=tid,
                    program_id=int(e.args["programId"]),
                    amount=int(e.args["amount"]),
                    milestone_hash=e.args["milestoneHash"],
                    status=status,
                    requested_by=who(e.args["requester"], by.get("requested")),
                    decided_by=who(decision.args["approver"], by.get(status)) if decision else None,
                    requested_tx=e.transaction_hash,
                    decided_tx=decision.transaction_hash if decision else None,
                )
            )
        return out

    def _names(self, principal: Principal, person_ids: Iterable[str]) -> dict[str, str]:
        """Display names of the given people who belong to the caller's organisation."""
        wanted = set(person_ids)
        if not wanted:
            return {}
        with self.gw.db.session() as s:
            rows = s.execute(
                select(Person.id, Person.display_name).where(
                    Person.id.in_(wanted), Person.organisation_id == principal.organisation_id
                )
            ).all()
        return {pid: name for pid, name in rows}

    # --- claim programs ------------------------------------------------------------------------

    def claim_programs(self, principal: Principal) -> list[ClaimProgramView]:
        """The calling NGO's claim programs with their money, oldest first."""
        token = self.gw.system.token
        now = self.gw.chain.now()
        with self.gw.db.session() as s:
            names = {n.claim_program_id: n.name for n in s.scalars(select(ClaimProgramName))}
            granted = dict(
                s.execute(
                    select(Entitlement.claim_program_id, func.count()).group_by(Entitlement.claim_program_id)
                ).all()
            )
        out = []
        for program in self.gw.system.claims.programs():
            info = program.info()
            if info.ngo != principal.address:
                continue
            left = int(token.call("balanceOf", program.address))
            out.append(
                ClaimProgramView(
                    claim_program_id=info.claim_program_id,
                    name=names.get(info.claim_program_id, f"Claim program {info.claim_program_id}"),
                    fund_program_id=info.fund_program_id,
                    expiry=info.expiry,
                    funded=info.funded,
                    claimed=info.funded - info.returned - left,
                    unclaimed=left,
                    returned=info.returned,
                    entitlements=int(granted.get(info.claim_program_id, 0)),
                    expired=info.expiry != 0 and info.expiry <= now,
                )
            )
        return out

    # --- rounds per lot ------------------------------------------------------------------------

    def lot_rounds(self, principal: Principal, lot_id: int) -> list[LotRoundView]:
        """The rounds the funder's lot pays into (`UnknownLot` for another funder's lot)."""
        self.funds.own_lot(principal, lot_id)
        held: dict[int, int] = {}
        for e in self.gw.read_model.for_lots([lot_id], ["RoundFunded"]):
            held[int(e.args["roundId"])] = held.get(int(e.args["roundId"]), 0) + int(e.args["amount"])
        with self.gw.db.session() as s:
            titles = {
                r.round_id: r.title
                for r in s.scalars(select(BudgetRound).where(BudgetRound.round_id.in_(held)))
            }
        out = []
        for state in self.rounds.states(sorted(held)):
            r = state.round
            out.append(
                LotRoundView(
                    round_id=state.round_id,
                    title=titles.get(state.round_id),
                    amount=held[state.round_id],
                    phase=state.phase,
                    voting_start=r.voting_start,
                    voting_end=r.voting_end,
                    awarded=r.awarded,
                    released=state.released,
                    settled=r.settled,
                )
            )
        return out
