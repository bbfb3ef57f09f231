"""The people of an organisation: admins add, list and disable them; a person finishes set-up,
turns on the second factor, signs in and out; API keys per person or per integration.

Who may call what is decided by the people service (`api/services/people.py`): the organisation's
admins (a person with `admin`, or an integration key) manage people and every key of the
organisation; a person manages their own keys. Set-up and sign-in need no key: the login, the
password (or set-up code) and a TOTP code are the credentials, counted against a lock.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response
from fastapi.security import HTTPAuthorizationCredentials

from api.deps import CurrentPrincipal, PeopleDep, bearer
from api.errors import Invalid
from api.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyPublic,
    PersonCreate,
    PersonCreated,
    PersonCredentials,
    PersonPublic,
    PersonSessionCreated,
    PersonSetup,
    SecondFactorPublic,
    key_public,
    person_public,
)
from api.services.people import SESSION_PREFIX, Actor

router = APIRouter(prefix="/v1", tags=["people"])


@router.post("/people", status_code=201, response_model=PersonCreated)
def add_person(body: PersonCreate, people: PeopleDep, principal: CurrentPrincipal) -> PersonCreated:
    """Add a person to your organisation (admins); their one-time set-up code is shown once."""
    view, code = people.add(Actor.of(principal), body.login, body.displayName, body.roles)
    return PersonCreated(person=person_public(view), setupCode=code)


@router.get("/people", response_model=list[PersonPublic])
def list_people(people: PeopleDep, principal: CurrentPrincipal) -> list[PersonPublic]:
    """The people of your organisation (admins; anyone else sees only themselves)."""
    return [person_public(p) for p in people.members(Actor.of(principal))]


@router.post("/people/{person_id}/disable", response_model=PersonPublic)
def disable_person(person_id: str, people: PeopleDep, principal: CurrentPrincipal) -> PersonPublic:
    """Disable a person (admins): their sessions and keys end, their on-chain roles are revoked."""
    return person_public(people.disable(Actor.of(principal), person_id))


@router.post("/people/setup", status_code=201, response_model=SecondFactorPublic)
def finish_setup(body: PersonSetup, people: PeopleDep) -> SecondFactorPublic:
    """Set your password with the set-up code; get the second factor's secret (shown once)."""
    factor = people.finish_setup(body.login, body.setupCode, body.password)
    return SecondFactorPublic(secret=factor.secret, uri=factor.uri)


@router.post("/people/second-factor", response_model=PersonPublic)
def confirm_second_factor(body: PersonCredentials, people: PeopleDep) -> PersonPublic:
    """Turn the second factor on with a first code from your authenticator app."""
    return person_public(people.confirm_second_factor(body.login, body.password, body.code))


@router.post("/people/session", status_code=201, response_model=PersonSessionCreated)
def sign_in(body: PersonCredentials, people: PeopleDep) -> PersonSessionCreated:
    """Sign in with login, password and a current TOTP code."""
    view, token = people.sign_in(body.login, body.password, body.code)
    return PersonSessionCreated(token=token, person=person_public(view))


@router.delete("/people/session", status_code=204)
def sign_out(
    people: PeopleDep,
    principal: CurrentPrincipal,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Response:
    """End your session (an API key has no session to end: revoke it instead)."""
    token = credentials.credentials if credentials is not None else ""
    if not principal.is_person or not token.startswith(SESSION_PREFIX):
        raise Invalid("NotASession", "only a session is signed out; revoke an API key instead")
    people.sign_out(token)
    return Response(status_code=204)


@router.post("/api-keys", status_code=201, response_model=ApiKeyCreated)
def issue_api_key(body: ApiKeyCreate, people: PeopleDep, principal: CurrentPrincipal) -> ApiKeyCreated:
    """A new named API key: your own, a person's (admins) or an integration's (admins); shown once."""
    person_id = None if body.integration else (body.personId or principal.person_id)
    key = people.issue_key(Actor.of(principal), body.name, person_id)
    listed = next(k for k in people.keys(Actor.of(principal)) if k.prefix == key.split("_")[1])
    return ApiKeyCreated(apiKey=key, **key_public(listed).model_dump())


@router.get("/api-keys", response_model=list[ApiKeyPublic])
def list_api_keys(people: PeopleDep, principal: CurrentPrincipal) -> list[ApiKeyPublic]:
    """Your organisation's API keys (admins) or your own: named, prefix only, never the secret."""
    return [key_public(k) for k in people.keys(Actor.of(principal))]


@router.delete("/api-keys/{prefix}", response_model=ApiKeyPublic)
def revoke_api_key(prefix: str, people: PeopleDep, principal: CurrentPrincipal) -> ApiKeyPublic:
    """Revoke one API key; every other key stays valid."""
    return key_public(people.revoke_key(Actor.of(principal), prefix))
