"""A client's personal data as the gateway takes it: one definition of every field and its limit,
shared by the JSON API (`POST /v1/ngo/clients`) and the CSV import. Kept encrypted, never on chain."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field


class Personal(BaseModel):
    """Name (required), birth date, address, phone and notes of a client."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=200)]
    birthDate: Annotated[str, Field(max_length=20)] = ""
    address: Annotated[str, Field(max_length=500)] = ""
    phone: Annotated[str, Field(max_length=50)] = ""
    notes: Annotated[str, Field(max_length=2000)] = ""


PERSONAL_FIELDS = tuple(Personal.model_fields)
