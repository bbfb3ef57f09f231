"""Auditors verify the ledger from events alone and export everything; the public sees aggregates."""

from __future__ import annotations

import json

from fastapi import APIRouter
from fastapi.responses import Response

from api.deps import Auditor, FundsDep, GatewayDep
from api.exports import EXPORT, Format, export_table
from api.schemas import AuditReport, ProgramPublic, euros, program_public
from ledger.audit import audit_funds
from ledger.fund_events import trace_payments

router = APIRouter(prefix="/v1", tags=["audit"])
public = APIRouter(prefix="/v1/public", tags=["public"])


@router.get("/audit/verify", response_model=AuditReport)
def verify(gateway: GatewayDep, _: Auditor) -> AuditReport:
    """Rebuild the fund ledger from events alone and compare it with the contracts' views."""
    audit = audit_funds(gateway.system, gateway.index.events())
    return AuditReport(
        events=audit.events,
        matches=audit.matches,
        lots=len(audit.on_chain.lots),
        programs=len(audit.on_chain.programs),
        payments=len(audit.payments),
    )


@router.get("/audit/events", responses=EXPORT)
def export_events(gateway: GatewayDep, _: Auditor, format: Format = "json") -> Response:
    """Every decoded event of every Allmende contract, in chain order."""
    rows = []
    for e in gateway.index.events():
        j = e.to_json()
        rows.append(
            {
                "block": j["blockNumber"],
                "logIndex": j["logIndex"],
                "transaction": j["transactionHash"],
                "contract": j["contract"],
                "event": j["event"],
                "args": json.dumps(j["args"], default=str, sort_keys=True),
            }
        )
    return export_table(rows, format, "events")


@router.get("/audit/payments", responses=EXPORT)
def export_payments(gateway: GatewayDep, _: Auditor, format: Format = "json") -> Response:
    """Every payment with the lots and funders that paid it."""
    rows: list[dict[str, object]] = []
    for p in trace_payments(gateway.index.events()):
        for s in p.sources:
            rows.append(
                {
                    "batch": p.batch_id,
                    "program": p.program_id,
                    "recipient": p.recipient,
                    "payment": euros(p.amount),
                    "lot": s.lot_id,
                    "funder": s.funder,
                    "paidByLot": euros(s.amount),
                    "transaction": p.transaction_hash,
                }
            )
    return export_table(rows, format, "payments")


@public.get("/programs", response_model=list[ProgramPublic])
def public_programs(funds: FundsDep) -> list[ProgramPublic]:
    """Every program's allocated, released and disbursed money and its number of payments."""
    return [program_public(p) for p in funds.program_summaries()]
