"""What a person of an organisation holds and signs on chain: the one place that knows how the
contracts' roles map onto people (so a change of the contracts' role model changes only this file).

The contracts tie ownership to the organisation's address: a lot belongs to the funder's address, a
program to the NGO's, so what a person does to their organisation's lots and programs (deposit,
allocate, create a program, request a tranche, disburse, register clients) is signed with the
organisation's custodial key and journalled with the person (`Operation.person_id`). What the
contracts check by role instead of ownership is signed with the person's own custodial key: approving
and rejecting tranches. So the fund ledger's maker-checker rule (requester != approver) holds on
chain between the organisation that asked and the person who approved, and the gateway adds the
rule between two people of one organisation (`FundsService.approve_tranche`: the person who asked
for a tranche never decides it).

Who may decide a tranche is the funders' choice on chain (consent, `FundLedger.setProgramApprover`):
a funder whose money is in the program, or an address such a funder named for it. So a funder's
people decide with the funder's own key (the funder's address is the program's funder, the person is
journalled), and an NGO's approver decides with their own key, which works once a funder of the
program named that person's address (`POST /v1/funder/programs/{id}/approvers`, the address from
`GET /v1/people`). No person holds a global role on chain: `PERSON_CHAIN_ROLES` is empty, and the
grant and revoke hooks stay for roles a later contract may check per person.
"""

from __future__ import annotations

from collections.abc import Sequence

from api.engine import Engine
from ledger.roles import Role

PERSON_CHAIN_ROLES: dict[tuple[str, str], tuple[Role, ...]] = {}
"""(organisation kind, person role) -> the on-chain roles the person's own key needs."""

SIGNED_BY_PERSON: dict[str, frozenset[str]] = {"ngo": frozenset({"approveTranche", "rejectTranche"})}
"""Organisation kind -> the `FundLedger` functions its people sign with their own key (the rest, and
everything of other kinds: the organisation's key)."""


def chain_roles(kind: str, roles: Sequence[str]) -> tuple[Role, ...]:
    """The on-chain roles a person of an organisation of `kind` with `roles` needs."""
    return tuple(dict.fromkeys(r for role in roles for r in PERSON_CHAIN_ROLES.get((kind, role), ())))


class PersonChain:
    """Grants and revokes people's on-chain roles, relayed by the gateway's admin key."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def grant(self, kind: str, roles: Sequence[str], address: str) -> None:
        """Give `address` what its person's roles need on chain."""
        for role in chain_roles(kind, roles):
            self._engine.system.grant(self._engine.admin, role, address)

    def revoke(self, kind: str, roles: Sequence[str], address: str) -> None:
        """Take away every on-chain role a person's roles gave `address`."""
        system = self._engine.system
        for role in chain_roles(kind, roles):
            if system.has_role(role, address):
                system.roles.transact(self._engine.admin, "revokeRole", role.id, address)
