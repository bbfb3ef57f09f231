"""Bodies of providers and of programs' rules."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, model_validator

from api.schemas._common import (
    NO_NUL,
    CategoryKey,
    OperationPublic,
    PublicText,
    Strict,
)


class ProviderCreate(Strict):
    """A shop, club or service to admit: everything here is published."""

    name: PublicText
    street: PublicText
    postcode: Annotated[str, Field(min_length=1, max_length=16, pattern=NO_NUL)]
    city: Annotated[str, Field(min_length=1, max_length=100, pattern=NO_NUL)]
    categories: Annotated[list[CategoryKey], Field(min_length=1, max_length=64)]


class ProviderAdmit(Strict):
    """Admit a provider again; without categories it keeps its own."""

    categories: Annotated[list[CategoryKey], Field(min_length=1, max_length=64)] | None = None


class ProviderSuspend(Strict):
    """Why the provider is suspended (kept off chain; its hash goes on chain)."""

    reason: Annotated[str, Field(max_length=1000, pattern=NO_NUL)] = ""


class ProviderPublic(BaseModel):
    providerId: str
    name: str
    street: str
    postcode: str
    city: str
    categories: list[str]
    status: Literal["admitted", "suspended"]
    account: str = Field(description="The provider's account on chain, which clients pay")
    admittedBy: str = Field(description="The organisation that admitted it")


class ProviderChanged(ProviderPublic):
    operation: OperationPublic | None = Field(description="None when nothing had to change on chain")


class ProviderCreated(ProviderPublic):
    apiKey: str = Field(description="The provider organisation's first API key. Shown once.")
    operation: OperationPublic


class ProgramRuleSet(Strict):
    """How a program's aid may be used: "cash", or "restricted" to at least one category."""

    kind: Literal["cash", "restricted"]
    categories: Annotated[list[CategoryKey], Field(max_length=64)] = []  # noqa: RUF012 (a pydantic field)
    endsAt: datetime | None = Field(
        default=None,
        description="When the restricted aid ends: what clients paid directly have not used by then goes "
        "back to the funders. Set before the program pays anything; afterwards only later.",
    )

    @model_validator(mode="after")
    def _categories_fit_the_kind(self) -> ProgramRuleSet:
        if (self.kind == "restricted") != bool(self.categories):
            raise ValueError("a restricted program names its categories; a cash program names none")
        return self


class ProgramRulePublic(BaseModel):
    programId: int
    name: str
    kind: Literal["cash", "restricted"]
    categories: list[str]
    endsAt: int | None = Field(
        default=None, description="When its restricted aid ends (Unix time); null: never"
    )


class ProgramRuleChanged(ProgramRulePublic):
    operation: OperationPublic


class AcceptedProvider(BaseModel):
    providerId: str
    name: str
    street: str
    postcode: str
    city: str
    categories: list[str]
    account: str


class AcceptedProviders(BaseModel):
    """Where a program's clients may use their aid."""

    program: ProgramRulePublic
    categories: list[str] = Field(description="Every published category key, in bit order")
    providers: list[AcceptedProvider]
