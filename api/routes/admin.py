"""Operator administration: organisations and minting against received fiat."""

from __future__ import annotations

import hashlib

from fastapi import APIRouter
from sqlalchemy import select

from api.deps import Admin, CurrentPrincipal, GatewayDep, PeopleDep
from api.models import Organisation
from api.schemas import (
    ApiKeyRotated,
    MePublic,
    MintCreate,
    OperationPublic,
    OrganisationCreate,
    OrganisationCreated,
    OrganisationPublic,
    micro,
    person_public,
)
from api.services.people import Actor

router = APIRouter(prefix="/v1", tags=["organisations"])


@router.post("/admin/organisations", status_code=201, response_model=OrganisationCreated)
def create_organisation(body: OrganisationCreate, gateway: GatewayDep, _: Admin) -> OrganisationCreated:
    """Create a funder, NGO or auditor with a custodial key, its on-chain roles and an API key."""
    org, api_key = gateway.create_organisation(body.kind, body.name)
    return OrganisationCreated(id=org.id, kind=org.kind, name=org.name, address=org.address, apiKey=api_key)


@router.get("/admin/organisations", response_model=list[OrganisationPublic])
def list_organisations(gateway: GatewayDep, _: Admin) -> list[OrganisationPublic]:
    """Every organisation."""
    with gateway.db.session() as s:
        orgs = list(s.scalars(select(Organisation).order_by(Organisation.created_at)))
    return [OrganisationPublic(id=o.id, kind=o.kind, name=o.name, address=o.address) for o in orgs]


@router.post("/admin/mints", status_code=201, response_model=OperationPublic)
def mint(body: MintCreate, gateway: GatewayDep, principal: Admin) -> OperationPublic:
    """Mint euro tokens to an organisation against fiat the treasury received."""
    target = gateway.organisation(body.organisationId)
    admin = gateway.organisation(principal.organisation_id)
    reference = hashlib.sha256(body.fiatReference.encode()).digest()
    result = gateway.execute(
        principal.id, admin, gateway.system.token.mint_call(target.address, micro(body.amount), reference)
    )
    return OperationPublic(**result.to_json())


@router.get("/me", response_model=MePublic)
def me(principal: CurrentPrincipal, people: PeopleDep) -> MePublic:
    """The calling organisation, and the person acting (None for an integration key)."""
    person = None
    if principal.person_id is not None:
        person = next((p for p in people.members(Actor.of(principal)) if p.id == principal.person_id), None)
    return MePublic(
        id=principal.organisation_id,
        kind=principal.kind,
        name=principal.name,
        address=principal.address,
        person=person_public(person) if person is not None else None,
    )


@router.post("/me/api-keys/rotate", status_code=201, response_model=ApiKeyRotated)
def rotate_api_key(gateway: GatewayDep, principal: CurrentPrincipal) -> ApiKeyRotated:
    """Issue a new API key and revoke every other key of the organisation."""
    return ApiKeyRotated(apiKey=gateway.rotate_api_key(principal))
