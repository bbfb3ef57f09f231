"""Bodies of the people of organisations: accounts, second factors, sessions and API keys."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field

from api.schemas._common import (
    NO_NUL,
    Login,
    PersonRole,
    Strict,
    _utc,
)
from api.services.people import KeyView, PersonView


class PersonCreate(Strict):
    login: Login
    displayName: Annotated[str, Field(min_length=1, max_length=200, pattern=NO_NUL)]
    roles: Annotated[list[PersonRole], Field(min_length=1, max_length=7)]


class PersonPublic(BaseModel):
    id: str
    organisationId: str
    login: str
    displayName: str
    roles: list[str]
    address: str | None = Field(description="The person's own signing address (None: signs nothing)")
    secondFactor: bool
    disabled: bool
    createdAt: datetime


class PersonCreated(BaseModel):
    person: PersonPublic
    setupCode: str = Field(description="Shown once: the person sets their password with it.")


class PersonSetup(Strict):
    login: Login
    setupCode: Annotated[str, Field(min_length=1, max_length=200)]
    password: Annotated[str, Field(min_length=1, max_length=200, pattern=NO_NUL)]


class SecondFactorPublic(BaseModel):
    secret: str = Field(description="Shown once: the TOTP secret for an authenticator app.")
    uri: str = Field(description="otpauth:// URI of the same secret (for a QR code).")


class PersonCredentials(Strict):
    login: Login
    password: Annotated[str, Field(min_length=1, max_length=200)]
    code: Annotated[str, Field(pattern=r"^[0-9]{6}$", description="A current TOTP code")]


class PersonSessionCreated(BaseModel):
    token: str = Field(description="Send as `Authorization: Bearer alp_...`; ends on sign-out.")
    person: PersonPublic


class ApiKeyCreate(Strict):
    name: Annotated[str, Field(min_length=1, max_length=80, pattern=NO_NUL)]
    personId: Annotated[str | None, Field(default=None, max_length=32)] = None
    integration: bool = Field(default=False, description="A key of no person (admins only)")


class ApiKeyPublic(BaseModel):
    prefix: str
    name: str
    personId: str | None
    createdAt: datetime
    revoked: bool


class ApiKeyCreated(ApiKeyPublic):
    apiKey: str = Field(description="Shown once; store it safely.")


def person_public(p: PersonView) -> PersonPublic:
    """A person as the API shows them (never a secret)."""
    return PersonPublic(
        id=p.id,
        organisationId=p.organisation_id,
        login=p.login,
        displayName=p.display_name,
        roles=list(p.roles),
        address=p.address,
        secondFactor=p.second_factor,
        disabled=p.disabled,
        createdAt=_utc(p.created_at),
    )


def key_public(k: KeyView) -> ApiKeyPublic:
    """An API key as listed: its prefix and name, never its secret."""
    return ApiKeyPublic(
        prefix=k.prefix, name=k.name, personId=k.person_id, createdAt=_utc(k.created_at), revoked=k.revoked
    )
