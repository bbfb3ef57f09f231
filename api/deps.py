"""FastAPI dependencies: the gateway and the calling organisation."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.errors import Forbidden
from api.errors import Unauthorized as Unauthorized  # re-exported: the routes raise it
from api.gateway import Gateway
from api.principals import Principal

bearer = HTTPBearer(auto_error=False, description="An organisation's API key: `alm_<prefix>_<secret>`")


def get_gateway(request: Request) -> Gateway:
    """The gateway of this app."""
    gateway: Gateway = request.app.state.gateway
    return gateway


GatewayDep = Annotated[Gateway, Depends(get_gateway)]


def current_principal(
    gateway: GatewayDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    """The organisation whose API key signs this request."""
    if credentials is None:
        raise Unauthorized("MissingCredentials", "send an API key as `Authorization: Bearer alm_...`")
    return gateway.authenticate(credentials.credentials)


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def role(*kinds: str) -> Callable[[Principal], Principal]:
    """A dependency admitting only organisations of the given kinds."""

    def check(principal: CurrentPrincipal) -> Principal:
        if principal.kind not in kinds:
            raise Forbidden(
                "WrongOrganisationKind", f"this needs a {' or '.join(kinds)} key", needed=list(kinds)
            )
        return principal

    return check


Admin = Annotated[Principal, Depends(role("admin"))]
Funder = Annotated[Principal, Depends(role("funder"))]
Ngo = Annotated[Principal, Depends(role("ngo"))]
Auditor = Annotated[Principal, Depends(role("auditor", "admin"))]
Approver = Annotated[Principal, Depends(role("funder"))]
