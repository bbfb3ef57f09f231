"""Auditors attest on chain what they verified; anyone lists the latest attestations."""

from __future__ import annotations

from typing import Annotated, Final

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from api.deps import GatewayDep, role
from api.errors import NotFound
from api.gateway import Gateway
from api.principals import Principal
from api.schemas import OperationPublic, Strict
from ledger.attestations import AttestationsClient

MAX_LISTED: Final = 50

router = APIRouter(prefix="/v1", tags=["audit"])

AuditorOnly = Annotated[Principal, Depends(role("auditor"))]  # the on-chain auditor role is theirs alone
Hash = Annotated[str, Field(pattern=r"^0x[0-9a-fA-F]{64}$", description="32 bytes as 0x-hex")]


class AttestationCreate(Strict):
    """What the auditor verified: the deployment up to `blockNumber` (hash `blockHash`), with a report."""

    blockNumber: int = Field(ge=0, le=2**48 - 1)
    blockHash: Hash
    reportHash: Hash = Field(description="sha256 of the verification report (`allmende verify` prints it)")


class AttestationCreated(OperationPublic):
    attestationId: int


class AttestationPublic(BaseModel):
    attestationId: int
    auditor: str
    blockNumber: int
    blockHash: str
    reportHash: str
    attestedAt: int


def _attestations(gateway: Gateway) -> AttestationsClient:
    if gateway.system.attestations is None:
        raise NotFound("NoAttestationContract", "this deployment has no attestation contract")
    return gateway.system.attestations


@router.post("/audit/attestations", status_code=201, response_model=AttestationCreated)
def attest(body: AttestationCreate, gateway: GatewayDep, principal: AuditorOnly) -> AttestationCreated:
    """Record on chain, signed with the auditor's own key, that they verified up to a block."""
    org = gateway.organisation(principal.organisation_id)
    call = _attestations(gateway).attest_call(
        body.blockNumber, bytes.fromhex(body.blockHash[2:]), bytes.fromhex(body.reportHash[2:])
    )
    result = gateway.execute(principal.id, org, call)
    return AttestationCreated(
        attestationId=result.event("Attested").args["attestationId"], **result.to_json()
    )


@router.get("/public/attestations", response_model=list[AttestationPublic], tags=["public"])
def latest_attestations(
    gateway: GatewayDep, limit: Annotated[int, Query(ge=1, le=MAX_LISTED)] = 10
) -> list[AttestationPublic]:
    """The latest auditors' attestations, newest first."""
    return [
        AttestationPublic(
            attestationId=a.attestation_id,
            auditor=a.auditor,
            blockNumber=a.block_number,
            blockHash="0x" + a.block_hash.hex(),
            reportHash="0x" + a.report_hash.hex(),
            attestedAt=a.attested_at,
        )
        for a in _attestations(gateway).latest(limit)
    ]
