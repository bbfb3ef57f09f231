"""Who is calling the API: an organisation, or a person of one, authenticated by an API key or a
person's sign-in session.

A `Principal` is only ever built by authentication (`Engine.authenticate`, `Gateway.authenticate`);
its `scopes` bound what the key may do, its `address` is the organisation's custodial address (what
owns lots and programs on chain). `person_id` names the person acting (None for an organisation's
integration key, which acts with the organisation's admin rights) and `person_roles` their roles.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Principal:
    """Who is calling: an organisation by API key, or one of its people (clients come with their own
    sessions)."""

    organisation_id: str
    kind: str
    name: str
    address: str
    scopes: tuple[str, ...]
    person_id: str | None = None
    person_roles: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        """A stable identifier of the organisation for idempotency and audit records."""
        return f"org:{self.organisation_id}"

    @property
    def is_person(self) -> bool:
        """True when a person (not an integration) is acting."""
        return self.person_id is not None

    def may(self, *roles: str) -> bool:
        """True for an integration key (the organisation's admin rights) and for a person holding
        one of `roles` or `admin`."""
        return self.person_id is None or any(r in self.person_roles for r in (*roles, "admin"))
