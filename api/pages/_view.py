"""What the client pages show, read through the same services as the JSON API.

Entitlements come from `ClaimsService.entitlements`, payments to the client's account from the
`/v1/client/me` handler itself; this module only adds what a person needs next to them: the
program's name, the claim deadline, and the transaction of each claim they made, so an auditor can
find it on chain.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select

from api.clients import ClientSession
from api.gateway import Gateway
from api.models import ProgramInfo
from api.routes.clients import client_me
from api.schemas import MICRO
from governance.vouchers import ProgramRef, payout_address


@dataclass(frozen=True)
class Offer:
    """One entitlement as the home page shows it."""

    claim_program_id: int
    program_name: str | None
    amount: int  # micro-euros
    expiry: int  # chain timestamp; 0: never
    claimed: bool
    expired: bool

    @property
    def claimable(self) -> bool:
        """Whether the claim button makes sense now."""
        return not self.claimed and not self.expired


@dataclass(frozen=True)
class Receipt:
    """Money the client received: a claim they made, or a payment to their account."""

    kind: str  # "claim" | "payment"
    program_name: str
    amount: int  # micro-euros
    transaction_hash: str
    block_number: int


def _program_names(gateway: Gateway, program_ids: set[int]) -> dict[int, str]:
    if not program_ids:
        return {}
    with gateway.db.session() as s:
        rows = s.execute(
            select(ProgramInfo.program_id, ProgramInfo.name).where(ProgramInfo.program_id.in_(program_ids))
        ).all()
    return {int(pid): name for pid, name in rows}


def offers(gateway: Gateway, session: ClientSession) -> list[Offer]:
    """The signed-in client's entitlements, newest program first."""
    rows = gateway.claims.entitlements(session)
    infos = {r["claimProgramId"]: gateway.system.claims.program(r["claimProgramId"]).info() for r in rows}
    names = _program_names(gateway, {info.fund_program_id for info in infos.values()})
    now = gateway.chain.now() if rows else 0
    out = [
        Offer(
            claim_program_id=r["claimProgramId"],
            program_name=names.get(infos[r["claimProgramId"]].fund_program_id),
            amount=int(r["amount"]),
            expiry=infos[r["claimProgramId"]].expiry,
            claimed=bool(r["claimed"]),
            expired=0 < infos[r["claimProgramId"]].expiry <= now,
        )
        for r in rows
    ]
    return sorted(out, key=lambda o: -o.claim_program_id)


def receipts(gateway: Gateway, session: ClientSession) -> list[Receipt]:
    """Everything the signed-in client received, in chain order."""
    me = client_me(gateway, session)
    claimed = [o for o in offers(gateway, session) if o.claimed]
    payouts: dict[tuple[str, str], Offer] = {}
    for offer in claimed:
        program = gateway.system.claims.program(offer.claim_program_id)
        ref = ProgramRef(gateway.chain.chain_id, gateway.system.claims.address, offer.claim_program_id)
        payouts[(program.address.lower(), payout_address(session.root.public(), ref).lower())] = offer
    names = _program_names(gateway, {int(r["programId"]) for r in me["receipts"]})
    out: list[tuple[int, Receipt]] = []
    if payouts:
        for e in gateway.index.events():
            if e.name != "Claimed":
                continue
            found = payouts.get((e.address.lower(), str(e.args["recipient"]).lower()))
            if found is not None:
                name = found.program_name or f"#{found.claim_program_id}"
                receipt = Receipt("claim", name, int(e.args["amount"]), e.transaction_hash, e.block_number)
                out.append((e.block_number, receipt))
    for r in me["receipts"]:
        name = names.get(int(r["programId"]), f"#{r['programId']}")
        amount = int(Decimal(r["amount"]) * MICRO)
        out.append(
            (r["blockNumber"], Receipt("payment", name, amount, r["transactionHash"], r["blockNumber"]))
        )
    return [receipt for _, receipt in sorted(out, key=lambda pair: pair[0])]
