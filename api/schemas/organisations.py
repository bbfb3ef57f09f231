"""Bodies of organisations, their API keys and the admin's mints."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field

from api.amounts import Euros
from api.schemas._common import (
    NO_NUL,
    Strict,
)
from api.schemas.people import PersonPublic


class OrganisationCreate(Strict):
    kind: Literal["funder", "ngo", "auditor"]
    name: Annotated[str, Field(min_length=1, max_length=200, pattern=NO_NUL)]


class OrganisationPublic(BaseModel):
    id: str
    kind: str
    name: str
    address: str


class OrganisationCreated(OrganisationPublic):
    apiKey: str = Field(description="Shown once; store it safely.")


class ApiKeyRotated(BaseModel):
    apiKey: str


class MintCreate(Strict):
    organisationId: Annotated[str, Field(min_length=1, max_length=32)]
    amount: Euros
    fiatReference: Annotated[str, Field(min_length=1, max_length=200, description="Bank receipt reference")]


class MePublic(OrganisationPublic):
    person: PersonPublic | None = Field(default=None, description="The person acting (None: an integration)")
