"""The "What I have" page: each of the signed-in client's entitlements with what the aid is for (the
claim program's own name and the NGO that gives it), what is left of it, and what happened to each
euro, read from the chain's events.

Authority: the signed-in client only, about their own entitlements (found by `ClaimsService`). The
money of an entitlement lives on the client's payout pseudonym of that claim program, so its story is
the `Claimed` event that paid it there and the euro token's `Transfer` events out of it: to the zero
address or to the payouts contract is a pay-out to a bank account (the euros are burned when the
treasurer's transfer is sent), to anyone else is money spent (at a provider), to the claim program
itself is restricted aid that was not used by the program's end and went back to the people who gave
the money. Restricted aid says its end date before it comes. Restricted aid a program with an end paid
directly to the client's own account (`Disbursed`) is one more entry: its money went back when it moved
to the fund ledger (`FundLedger.sweepExpired`).
Transaction numbers stay behind a "details" disclosure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from fastapi import APIRouter, Depends, Response
from sqlalchemy import select

from api.gateway import Gateway
from api.models import ClaimProgramName, Organisation, ProgramInfo
from api.pages._web import PREFIX, Page, PageRoute, signed_in_page
from api.services.clients import ClientSession

router = APIRouter(prefix=PREFIX, tags=["pages"], include_in_schema=False, route_class=PageRoute)

SignedIn = Annotated[Page, Depends(signed_in_page)]
ZERO = "0x" + "00" * 20


@dataclass(frozen=True)
class Step:
    """One thing that happened to the money of an entitlement."""

    kind: str  # "received" | "spent" | "paid_out" | "went_back"
    amount: int  # micro-euros
    transaction_hash: str
    block_number: int


@dataclass
class Holding:
    """One entitlement as "What I have" shows it."""

    claim_program_id: int
    name: str
    ngo: str | None
    amount: int
    claimed: bool
    expired: bool
    balance: int
    steps: list[Step] = field(default_factory=list)
    fund_program_id: int = 0  # its program's page says where the aid may be used
    expiry: int = 0  # when the claim program ends (a timestamp)
    restricted: bool = False  # restricted aid: what is not used by `expiry` goes back to the funders
    key: str = ""  # the entry's anchor when it is not a claim program's (aid paid to the client's account)

    def total(self, kind: str) -> int:
        """Micro-euros of the steps of one kind."""
        return sum(s.amount for s in self.steps if s.kind == kind)


def holdings(gateway: Gateway, session: ClientSession) -> list[Holding]:
    """The signed-in client's entitlements, newest first, each with its money's story."""
    direct = _paid_directly(gateway, session)
    rows = gateway.claims.entitlements(session)
    if not rows:
        return [direct] if direct else []
    ids = {int(r["claimProgramId"]) for r in rows}
    programs_ = {i: gateway.system.claims.program(i) for i in ids}
    infos = {i: p.info() for i, p in programs_.items()}
    rules = {
        f: gateway.system.providers.program_rule(f)
        for f in {infos[i].fund_program_id for i in ids if programs_[i].restricted_by() != ZERO}
    }
    with gateway.db.session() as s:
        own = dict(
            s.execute(
                select(ClaimProgramName.claim_program_id, ClaimProgramName.name).where(
                    ClaimProgramName.claim_program_id.in_(ids)
                )
            ).all()
        )
        programs = {
            int(pid): (name, org)
            for pid, name, org in s.execute(
                select(ProgramInfo.program_id, ProgramInfo.name, Organisation.name)
                .join(Organisation, Organisation.id == ProgramInfo.ngo_id)
                .where(ProgramInfo.program_id.in_({i.fund_program_id for i in infos.values()}))
            ).all()
        }
    payouts = {cid: address for address, cid in gateway.claims.payout_addresses(session).items()}
    token = gateway.system.token.address
    now = gateway.chain.now()
    out: dict[int, Holding] = {}
    for r in rows:
        cid = int(r["claimProgramId"])
        info = infos[cid]
        program_name, ngo = programs.get(info.fund_program_id, (None, None))
        out[cid] = Holding(
            claim_program_id=cid,
            name=own.get(cid) or program_name or f"#{cid}",
            ngo=ngo,
            amount=int(r["amount"]),
            claimed=bool(r["claimed"]),
            expired=0 < info.expiry <= now,
            balance=gateway.system.balance(payouts[cid]) if cid in payouts else 0,
            fund_program_id=info.fund_program_id,
            expiry=info.expiry,
            restricted=rules.get(info.fund_program_id, 0) != 0,
        )
    by_address = {payouts[cid]: out[cid] for cid in out if cid in payouts}
    program_of = {payouts[cid]: programs_[cid].address for cid in out if cid in payouts}
    to_bank = {ZERO.lower(), gateway.system.payouts.address.lower()}  # burned, or asked for in euros
    for e in gateway.read_model.for_accounts(list(by_address), ["Claimed", "Transfer"]):
        if e.name == "Claimed" and e.args.get("recipient") in by_address:
            h = by_address[e.args["recipient"]]
            h.steps.append(Step("received", int(e.args["amount"]), e.transaction_hash, e.block_number))
        elif e.name == "Transfer" and e.address == token and e.args["from"] in by_address:
            h = by_address[e.args["from"]]
            to = e.args["to"]
            kind = (
                "paid_out"
                if to.lower() in to_bank
                else "went_back"
                if to == program_of[e.args["from"]]
                else "spent"
            )
            h.steps.append(Step(kind, int(e.args["value"]), e.transaction_hash, e.block_number))
    claimed = sorted(out.values(), key=lambda h: -h.claim_program_id)
    return [direct, *claimed] if direct else claimed


def _paid_directly(gateway: Gateway, session: ClientSession) -> Holding | None:
    """Restricted aid with an end that the program paid to the client's own account, if any: the account
    is marked by one program's NGO, so it is one entry."""
    system = gateway.system
    account, token = gateway.claims.account(session), system.token.address
    program_id, marked_by = system.providers.restriction(token, account)
    if not program_id or marked_by != ZERO:
        return None
    ends_at = system.funds.program(program_id).ends_at
    if not ends_at:
        return None
    with gateway.db.session() as s:
        named = s.execute(
            select(ProgramInfo.name, Organisation.name)
            .join(Organisation, Organisation.id == ProgramInfo.ngo_id)
            .where(ProgramInfo.program_id == program_id)
        ).first()
    name, ngo = (named[0], named[1]) if named else (f"#{program_id}", None)
    to_bank = {ZERO.lower(), system.payouts.address.lower()}
    steps = []
    for e in gateway.read_model.for_accounts([account], ["Disbursed", "Transfer"]):
        if e.name == "Disbursed" and e.args.get("recipient") == account:
            steps.append(Step("received", int(e.args["amount"]), e.transaction_hash, e.block_number))
        elif e.name == "Transfer" and e.address == token and e.args["from"] == account:
            to = e.args["to"]
            kind = "paid_out" if to.lower() in to_bank else "spent"
            if to == system.funds.address:  # swept back after the program's end
                kind = "went_back"
            steps.append(Step(kind, int(e.args["value"]), e.transaction_hash, e.block_number))
    received = sum(s.amount for s in steps if s.kind == "received")
    return Holding(
        claim_program_id=0,
        name=name,
        ngo=ngo,
        amount=received,
        claimed=True,
        expired=ends_at <= gateway.chain.now(),
        balance=system.balance(account),
        steps=steps,
        fund_program_id=program_id,
        expiry=ends_at,
        restricted=system.providers.program_rule(program_id) != 0,
        key=f"program-{program_id}",
    )


@router.get("/what-i-have")
def what_i_have(page: SignedIn) -> Response:
    """Every entitlement: what it is for, what is left, and what happened to each euro."""
    assert page.session is not None
    return page.render("what_i_have.html", holdings=holdings(page.gateway, page.session))
