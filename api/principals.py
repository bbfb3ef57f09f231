"""Who is calling the API: an organisation (or a person of one) authenticated by an API key.

A `Principal` is only ever built by authentication (`Gateway.authenticate`, the people service);
its `scopes` bound what the key may do, its `address` is the organisation's custodial address.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Principal:
    """Who is calling: an organisation by API key (clients come with their own sessions)."""

    organisation_id: str
    kind: str
    name: str
    address: str
    scopes: tuple[str, ...]

    @property
    def id(self) -> str:
        """A stable identifier for idempotency and audit records."""
        return f"org:{self.organisation_id}"
