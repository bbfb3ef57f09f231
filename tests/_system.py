"""Preparing a freshly deployed system for tests: grant roles, then give funders money the fund
ledger may pull. Shared by the session-wide system of tests/conftest.py and the per-backend systems
of tests/ledger/test_backends.py, so both set up their people the same way."""

from __future__ import annotations

from collections.abc import Iterable

from eth_account.signers.local import LocalAccount

from ledger.roles import Role
from ledger.system import Allmende


def grant_and_fund(
    system: Allmende,
    admin: LocalAccount,
    roles: Iterable[tuple[Role, LocalAccount]],
    *,
    treasurer: LocalAccount,
    funders: Iterable[LocalAccount],
    amount: int,
    allowance: int | None = None,
) -> None:
    """Grant each `(role, account)`, mint `amount` to each funder and let the fund ledger pull
    `allowance` of it (default: exactly `amount`). The treasurer needs the TREASURER role."""
    for role, who in roles:
        system.grant(admin, role, who.address)
    for funder in funders:
        system.mint(treasurer, funder.address, amount)
        system.approve(funder, system.funds.address, amount if allowance is None else allowance)
