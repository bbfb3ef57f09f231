"""The composition root: one engine (chain, database, custody, relaying) and the services over it.

`Gateway.open` (or `Gateway(...)` in tests) builds the engine and hands each service what it needs;
no service imports this module, so `api/` has no import circle. The HTTP layer reaches the services
through `api/deps.py`.

The names below the class are re-exported for code written against the single-module gateway.
"""

from __future__ import annotations

from api.db import Database
from api.engine import API_KEY_PREFIX, ORG_ROLES, Engine
from api.errors import (
    Forbidden,
    GatewayError,
    Invalid,
    InvalidCredentials,
    NotFound,
    Unauthorized,
    Unavailable,
)
from api.operations import DEFAULT_GAS, IDEMPOTENT_REQUEST, REQUEST_VALIDITY_S, NonceBook, OperationResult
from api.principals import Principal
from api.services.claims import ClaimsService
from api.services.client_payouts import ClientPayouts
from api.services.clients import Clients
from api.services.funds import FundsService
from api.services.overviews import Overviews
from api.services.payments import PaymentService
from api.services.payouts import PayoutsService
from api.services.people import SESSION_PREFIX as PERSON_SESSION_PREFIX
from api.services.people import People
from api.services.person_chain import PersonChain
from api.services.providers import ProvidersService
from api.services.rounds import RoundsService
from api.settings import Settings
from ledger.chain import Chain
from ledger.system import Allmende

__all__ = [
    "API_KEY_PREFIX",
    "DEFAULT_GAS",
    "IDEMPOTENT_REQUEST",
    "ORG_ROLES",
    "REQUEST_VALIDITY_S",
    "Forbidden",
    "Gateway",
    "GatewayError",
    "Invalid",
    "InvalidCredentials",
    "NonceBook",
    "NotFound",
    "OperationResult",
    "Principal",
    "Unauthorized",
    "Unavailable",
]


class Gateway(Engine):
    """Everything the HTTP layer needs, over one chain and one database: the engine and its services."""

    def __init__(self, settings: Settings, chain: Chain, system: Allmende, db: Database) -> None:
        super().__init__(settings, chain, system, db)
        self.clients = Clients(self)
        """Client registration, sign-in and erasure."""
        self.claims = ClaimsService(self, self.clients)
        """Claim programs."""
        self.rounds = RoundsService(self, self.clients)
        """Participatory budget rounds."""
        self.providers = ProvidersService(self)
        self.payouts = PayoutsService(self)
        """Providers, their admission and suspension, and programs' rules."""
        chain_roles = PersonChain(self)
        self.people = People(self.db, self.master, self.tag, chain_roles.grant, chain_roles.revoke)
        """The people of organisations: accounts, roles, sign-in, API keys, own signing keys."""
        self.funds = FundsService(self, self.people.signing_account, self.providers)
        """Lots, allocations, programs, tranches and disbursements."""
        self.overviews = Overviews(self, self.funds, self.rounds)
        """Lists: tranches with who, claim programs' money, rounds per lot."""
        self.payments = PaymentService(self, self.clients, self.claims)
        """Payments at providers' counters, their refunds and histories."""
        self.client_payouts = ClientPayouts(self, self.clients, self.payments)
        """Clients' cash paid out to their own IBAN."""
        self.payouts.client_payouts = self.client_payouts

    def authenticate(self, token: str) -> Principal:
        """The caller behind an API key (an organisation's or a person's) or a person's session;
        InvalidCredentials for anything else."""
        if not token.startswith(PERSON_SESSION_PREFIX):
            return super().authenticate(token)
        try:
            person = self.people.session(token)
        except GatewayError as exc:
            raise InvalidCredentials("InvalidSession", "the session has ended; sign in again") from exc
        org = self.organisation(person.organisation_id)
        return Principal(
            org.id, org.kind, org.name, org.address, ("*",), person_id=person.id, person_roles=person.roles
        )
