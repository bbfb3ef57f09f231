"""Providers (shops, clubs, services) admitted and suspended by NGOs or the admin; programs' rules;
the public list of where a program's aid may be used."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.deps import Ngo, NgoOrAdmin, ProvidersDep
from api.operations import OperationResult
from api.schemas import (
    AcceptedProvider,
    AcceptedProviders,
    IdPath,
    OperationPublic,
    ProgramRuleChanged,
    ProgramRulePublic,
    ProgramRuleSet,
    ProviderAdmit,
    ProviderChanged,
    ProviderCreate,
    ProviderCreated,
    ProviderIdPath,
    ProviderPublic,
    ProviderSuspend,
)
from api.services.providers import ProgramRule, ProviderView

router = APIRouter(prefix="/v1", tags=["providers"])


def _public(p: ProviderView) -> dict[str, Any]:
    return {
        "providerId": p.provider_id,
        "name": p.name,
        "street": p.street,
        "postcode": p.postcode,
        "city": p.city,
        "categories": p.categories,
        "status": p.status,
        "account": p.account,
        "admittedBy": p.admitted_by,
    }


def _operation(result: OperationResult | None) -> OperationPublic | None:
    return None if result is None else OperationPublic(**result.to_json())


def _rule(rule: ProgramRule) -> dict[str, Any]:
    return {
        "programId": rule.program_id,
        "name": rule.name,
        "kind": rule.kind,
        "categories": rule.categories,
        "endsAt": rule.ends_at or None,
    }


@router.post("/providers", status_code=201, response_model=ProviderCreated)
def admit_provider(body: ProviderCreate, providers: ProvidersDep, principal: NgoOrAdmin) -> ProviderCreated:
    """Admit a new provider: its organisation, account and API key, and its entry in the registry."""
    view, api_key, result = providers.admit_new(
        principal, body.name, body.street, body.postcode, body.city, body.categories
    )
    return ProviderCreated(**_public(view), apiKey=api_key, operation=OperationPublic(**result.to_json()))


@router.get("/providers", response_model=list[ProviderPublic])
def list_providers(providers: ProvidersDep, _: NgoOrAdmin) -> list[ProviderPublic]:
    """Every provider, admitted or suspended."""
    return [ProviderPublic(**_public(p)) for p in providers.all()]


@router.post("/providers/{provider_id}/suspend", response_model=ProviderChanged)
def suspend_provider(
    provider_id: ProviderIdPath, body: ProviderSuspend, providers: ProvidersDep, principal: NgoOrAdmin
) -> ProviderChanged:
    """Suspend a provider the caller admitted (the admin: any provider)."""
    view, result = providers.suspend(principal, provider_id, body.reason)
    return ProviderChanged(**_public(view), operation=_operation(result))


@router.post("/providers/{provider_id}/admit", response_model=ProviderChanged)
def readmit_provider(
    provider_id: ProviderIdPath, body: ProviderAdmit, providers: ProvidersDep, principal: NgoOrAdmin
) -> ProviderChanged:
    """Admit a provider the caller admitted again, optionally with other categories."""
    view, result = providers.readmit(principal, provider_id, body.categories)
    return ProviderChanged(**_public(view), operation=_operation(result))


@router.put("/ngo/programs/{program_id}/rule", response_model=ProgramRuleChanged)
def set_program_rule(
    program_id: IdPath, body: ProgramRuleSet, providers: ProvidersDep, principal: Ngo
) -> ProgramRuleChanged:
    """Say how the program's aid may be used: cash, or restricted to categories."""
    ends_at = int(body.endsAt.timestamp()) if body.endsAt is not None else None
    rule, result = providers.set_rule(principal, program_id, body.categories, ends_at)
    return ProgramRuleChanged(**_rule(rule), operation=OperationPublic(**result.to_json()))


@router.get("/public/programs/{program_id}/providers", response_model=AcceptedProviders)
def accepted_providers(program_id: IdPath, providers: ProvidersDep) -> AcceptedProviders:
    """Where the program's clients may use their aid: its rule and its accepted providers."""
    rule, accepted = providers.accepted(program_id)
    return AcceptedProviders(
        program=ProgramRulePublic(**_rule(rule)),
        categories=providers.categories,
        providers=[
            AcceptedProvider(
                providerId=p.provider_id,
                name=p.name,
                street=p.street,
                postcode=p.postcode,
                city=p.city,
                categories=p.categories,
                account=p.account,
            )
            for p in accepted
        ],
    )
