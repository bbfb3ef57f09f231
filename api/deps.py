"""FastAPI dependencies: the gateway, one per service, the calling organisation and the signed-in client.

Routes reach services only through these `Annotated` dependencies."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.claims import ClaimsService
from api.clients import SESSION_PREFIX, Clients, ClientSession
from api.errors import Forbidden
from api.errors import Unauthorized as Unauthorized  # re-exported: the routes raise it
from api.gateway import Gateway
from api.principals import Principal
from api.rounds import RoundsService
from api.services.funds import FundsService

bearer = HTTPBearer(auto_error=False, description="An organisation's API key: `alm_<prefix>_<secret>`")


def get_gateway(request: Request) -> Gateway:
    """The gateway of this app."""
    gateway: Gateway = request.app.state.gateway
    return gateway


GatewayDep = Annotated[Gateway, Depends(get_gateway)]


def get_clients(gateway: GatewayDep) -> Clients:
    """The client service of this app."""
    return gateway.clients


def get_claims(gateway: GatewayDep) -> ClaimsService:
    """The claim service of this app."""
    return gateway.claims


def get_rounds(gateway: GatewayDep) -> RoundsService:
    """The round service of this app."""
    return gateway.rounds


def get_funds(gateway: GatewayDep) -> FundsService:
    """The fund service of this app."""
    return gateway.funds


ClientsDep = Annotated[Clients, Depends(get_clients)]
ClaimsDep = Annotated[ClaimsService, Depends(get_claims)]
RoundsDep = Annotated[RoundsService, Depends(get_rounds)]
FundsDep = Annotated[FundsService, Depends(get_funds)]


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


def current_client(
    clients: ClientsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> ClientSession:
    """The signed-in client of this request."""
    if credentials is None or not credentials.credentials.startswith(SESSION_PREFIX):
        raise Unauthorized("MissingClientSession", "sign in with voucher code and PIN first")
    return clients.session(credentials.credentials)


CurrentClient = Annotated[ClientSession, Depends(current_client)]
