"""What the client pages show, read through the same services as the JSON API.

Entitlements come from `ClaimsService.entitlements`, receipts (disbursements to the client's
account and the aid they claimed, each with its transaction) from the `/v1/client/me` handler
itself; this module only adds what a person needs next to them: the program's name and the claim
deadline.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from api.gateway import Gateway
from api.models import ProgramInfo
from api.services.clients import ClientSession


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
    """Everything the signed-in client received, in chain order: what `/v1/client/me` lists, with the
    names of the programs the money came from."""
    rows = gateway.claims.receipts(session)
    funding = {
        i: gateway.system.claims.program(i).info().fund_program_id
        for i in {r.claim_program_id for r in rows if r.claim_program_id is not None}
    }
    names = _program_names(
        gateway, {r.program_id for r in rows if r.program_id is not None} | set(funding.values())
    )
    out = []
    for r in rows:
        program = funding[r.claim_program_id] if r.claim_program_id is not None else r.program_id
        assert program is not None  # a disbursement names its program, a claim its claim program
        out.append(
            Receipt(
                kind="claim" if r.kind == "claim" else "payment",
                program_name=names.get(program, f"#{program}"),
                amount=r.amount,
                transaction_hash=r.transaction_hash,
                block_number=r.block_number,
            )
        )
    return out
