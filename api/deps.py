"""FastAPI dependencies: the gateway, one per service, the calling organisation and the signed-in client.

Routes reach services only through these `Annotated` dependencies."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from api.errors import Forbidden
from api.errors import Unauthorized as Unauthorized  # re-exported: the routes raise it
from api.gateway import Gateway
from api.operations import ACTING_PERSON
from api.principals import Principal
from api.services.claims import ClaimsService
from api.services.client_payouts import ClientPayouts
from api.services.clients import SESSION_PREFIX, Clients, ClientSession
from api.services.funds import FundsService
from api.services.overviews import Overviews
from api.services.payments import PaymentService
from api.services.payouts import PayoutsService
from api.services.people import People
from api.services.providers import ProvidersService
from api.services.rounds import RoundsService

bearer = HTTPBearer(
    auto_error=False,
    description="An API key (an organisation's or a person's): `alm_<prefix>_<secret>`, "
    "or a person's session: `alp_...`",
)


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


def get_people(gateway: GatewayDep) -> People:
    """The people service of this app."""
    return gateway.people


def get_overviews(gateway: GatewayDep) -> Overviews:
    """The lists of this app."""
    return gateway.overviews


def get_providers(gateway: GatewayDep) -> ProvidersService:
    """The provider service of this app."""
    return gateway.providers


def get_payments(gateway: GatewayDep) -> PaymentService:
    """The payment service of this app."""
    return gateway.payments


ClientsDep = Annotated[Clients, Depends(get_clients)]
OverviewsDep = Annotated[Overviews, Depends(get_overviews)]
PeopleDep = Annotated[People, Depends(get_people)]
ClaimsDep = Annotated[ClaimsService, Depends(get_claims)]
RoundsDep = Annotated[RoundsService, Depends(get_rounds)]
FundsDep = Annotated[FundsService, Depends(get_funds)]
ProvidersDep = Annotated[ProvidersService, Depends(get_providers)]
PaymentsDep = Annotated[PaymentService, Depends(get_payments)]


def get_payouts(gateway: GatewayDep) -> PayoutsService:
    """The payouts service of the app's gateway."""
    return gateway.payouts


PayoutsDep = Annotated[PayoutsService, Depends(get_payouts)]


def get_client_payouts(gateway: GatewayDep) -> ClientPayouts:
    """The clients' payouts service of the app's gateway."""
    return gateway.client_payouts


ClientPayoutsDep = Annotated[ClientPayouts, Depends(get_client_payouts)]


async def current_principal(
    gateway: GatewayDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    """The organisation (or its person) whose API key or session signs this request. Async so that
    the acting person, set here, reaches the route and the operations it journals (a synchronous
    dependency runs in a copied context)."""
    if credentials is None:
        raise Unauthorized("MissingCredentials", "send an API key as `Authorization: Bearer alm_...`")
    principal = await run_in_threadpool(gateway.authenticate, credentials.credentials)
    ACTING_PERSON.set(principal.person_id)
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


MAKER_ROLES: dict[str, tuple[str, ...]] = {
    "admin": ("treasurer",),
    "funder": (),
    "ngo": ("caseworker",),
    "auditor": ("auditor",),
    "provider": ("cashier",),
}
"""The person roles (besides `admin`) that may change things in the name of an organisation of each
kind; every person of the organisation may read. Approving is the `approver`'s alone (`Approver`)."""


def role(*kinds: str) -> Callable[[Request, Principal], Principal]:
    """A dependency admitting only organisations of the given kinds, and of their people those whose
    roles let them do what the request does (reading: everyone; changing: `MAKER_ROLES`)."""

    def check(request: Request, principal: CurrentPrincipal) -> Principal:
        if principal.kind not in kinds:
            raise Forbidden(
                "WrongOrganisationKind", f"this needs a {' or '.join(kinds)} key", needed=list(kinds)
            )
        if request.method not in ("GET", "HEAD") and not principal.may(*MAKER_ROLES.get(principal.kind, ())):
            raise Forbidden(
                "MissingPersonRole",
                "your roles in your organisation do not let you do this",
                needed=["admin", *MAKER_ROLES.get(principal.kind, ())],
            )
        return principal

    return check


def approver(principal: CurrentPrincipal) -> Principal:
    """A funder's integration key, or a person with the `approver` role of a funder or an NGO (the
    checker of maker-checker; an NGO's approver decides only its own NGO's tranches)."""
    if principal.kind not in ("funder", "ngo") or (principal.kind == "ngo" and not principal.is_person):
        raise Forbidden("WrongOrganisationKind", "this needs a funder key or an approver", needed=["funder"])
    if principal.is_person and "approver" not in principal.person_roles:
        raise Forbidden("MissingPersonRole", "only an approver decides tranches", needed=["approver"])
    return principal


Admin = Annotated[Principal, Depends(role("admin"))]
Funder = Annotated[Principal, Depends(role("funder"))]
Ngo = Annotated[Principal, Depends(role("ngo"))]
Auditor = Annotated[Principal, Depends(role("auditor", "admin"))]
FunderOrAuditor = Annotated[Principal, Depends(role("funder", "auditor", "admin"))]
Approver = Annotated[Principal, Depends(approver)]
NgoOrAdmin = Annotated[Principal, Depends(role("ngo", "admin"))]
Provider = Annotated[Principal, Depends(role("provider"))]
NgoFunderOrAdmin = Annotated[Principal, Depends(role("ngo", "funder", "admin"))]


async def current_client(
    clients: ClientsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> ClientSession:
    """The signed-in client of this request. In an assisted session the person of the NGO who
    assists is the acting person of its operations (async for the same reason as `current_principal`)."""
    if credentials is None or not credentials.credentials.startswith(SESSION_PREFIX):
        raise Unauthorized("MissingClientSession", "sign in with voucher code and PIN first")
    session = clients.session(credentials.credentials)  # in memory: no I/O
    ACTING_PERSON.set(session.assisted_person)
    return session


CurrentClient = Annotated[ClientSession, Depends(current_client)]
