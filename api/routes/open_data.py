"""Open data for funders' reporting, for anyone: IATI 2.03 activity XML and HXL-tagged CSV of every
program's money flows, from the chain's events alone (`api.open_data`). Recipients appear only as
aggregates ("12 payments to clients"); organisations and claim-program contracts by name."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response
from sqlalchemy import select

from api.block_times import block_date
from api.deps import GatewayDep
from api.gateway import Gateway
from api.models import Organisation, ProgramInfo
from api.open_data import ProgramText, Reporter, hxl_csv, iati_activities, program_flows

router = APIRouter(prefix="/v1/public/open-data", tags=["public"])


def _texts(gateway: Gateway) -> tuple[dict[int, ProgramText], dict[str, str]]:
    """The programs' public texts, and names of organisations and claim programs by address."""
    with gateway.db.session() as s:
        orgs = {o.id: o for o in s.scalars(select(Organisation).where(Organisation.kind != "admin"))}
        infos = list(s.scalars(select(ProgramInfo)))
    programs = {
        p.program_id: ProgramText(p.name, p.description, orgs[p.ngo_id].name if p.ngo_id in orgs else "")
        for p in infos
    }
    names = {o.address: o.name for o in orgs.values()}
    for e in gateway.index.events():
        if e.name == "ClaimProgramCreated":
            names[e.args["program"]] = (
                f"Claim program {e.args['claimProgramId']} (of program {e.args['fundProgramId']})"
            )
    return programs, names


def _reporter(gateway: Gateway) -> Reporter:
    return Reporter(gateway.settings.iati_org_ref, gateway.settings.iati_org_name)


@router.get(
    "/iati.xml",
    responses={200: {"description": "IATI 2.03 iati-activities", "content": {"application/xml": {}}}},
)
def iati(gateway: GatewayDep) -> Response:
    """Every program as an IATI 2.03 activity, its money flows as transactions."""
    programs, names = _texts(gateway)
    flows = program_flows(gateway.index.events())
    document = iati_activities(flows, programs, names, lambda n: block_date(gateway, n), _reporter(gateway))
    return Response(
        document,
        media_type="application/xml",
        headers={"Content-Disposition": 'inline; filename="allmende-iati-activities.xml"'},
    )


@router.get(
    "/hxl.csv",
    responses={200: {"description": "HXL-tagged CSV", "content": {"text/csv": {}}}},
)
def hxl(gateway: GatewayDep) -> Response:
    """Every program money flow as HXL-tagged CSV (a header row, then the hashtag row)."""
    programs, names = _texts(gateway)
    flows = program_flows(gateway.index.events())
    text = hxl_csv(flows, programs, names, lambda n: block_date(gateway, n), gateway.settings.iati_org_ref)
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="allmende-flows-hxl.csv"'},
    )
