"""What a person of an organisation holds and signs on chain: the one place that knows how the
contracts' roles map onto people (so a change of the contracts' role model changes only this file).

The contracts tie ownership to the organisation's address: a lot belongs to the funder's address, a
program to the NGO's, so what a person does to their organisation's lots and programs (deposit,
allocate, create a program, disburse, register clients) is signed with the organisation's custodial
key and journalled with the person (`Operation.person_id`). The two sides of maker-checker are signed
with the person's own custodial key: asking for a tranche (an NGO's admins and caseworkers, whose keys
the NGO names as requesters on chain when they are added, `FundLedger.setRequester`, and revokes when
they are disabled) and approving or rejecting one. So the fund ledger's rule requester != approver
holds on chain between two people of one NGO; the gateway checks it first for a kind answer
(`FundsService.approve_tranche`).

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

SIGNED_BY_PERSON: dict[str, frozenset[str]] = {
    "ngo": frozenset({"FundLedger.requestTranche", "FundLedger.approveTranche", "FundLedger.rejectTranche"})
}
"""Organisation kind -> the `FundLedger` functions its people sign with their own key (the rest, and
everything of other kinds: the organisation's key)."""


REQUESTER_ROLES: dict[str, frozenset[str]] = {"ngo": frozenset({"admin", "caseworker"})}
"""Organisation kind -> the person roles whose keys the organisation names as tranche requesters."""


def asks_for_tranches(kind: str, roles: Sequence[str]) -> bool:
    """Whether a person of an organisation of `kind` with `roles` asks for tranches with their own key."""
    return any(r in REQUESTER_ROLES.get(kind, frozenset()) for r in roles)


def chain_roles(kind: str, roles: Sequence[str]) -> tuple[Role, ...]:
    """The on-chain roles a person of an organisation of `kind` with `roles` needs."""
    return tuple(dict.fromkeys(r for role in roles for r in PERSON_CHAIN_ROLES.get((kind, role), ())))


class PersonChain:
    """Grants and revokes what people's keys may do on chain: global roles, relayed by the gateway's admin
    key, and an NGO's naming of its people as requesters, relayed with the NGO's key."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def grant(self, organisation_id: str, kind: str, roles: Sequence[str], address: str) -> None:
        """Give `address` what its person's roles need on chain."""
        for role in chain_roles(kind, roles):
            self._engine.system.grant(self._engine.admin, role, address)
        if asks_for_tranches(kind, roles):
            self._name_requester(organisation_id, address, True)

    def revoke(self, organisation_id: str, kind: str, roles: Sequence[str], address: str) -> None:
        """Take away everything a person's roles gave `address` on chain."""
        system = self._engine.system
        for role in chain_roles(kind, roles):
            if system.has_role(role, address):
                system.roles.transact(self._engine.admin, "revokeRole", role.id, address)
        if asks_for_tranches(kind, roles):
            self._name_requester(organisation_id, address, False)

    def _name_requester(self, organisation_id: str, address: str, allowed: bool) -> None:
        engine = self._engine
        org = engine.organisation(organisation_id)
        funds = engine.system.funds
        engine.execute(f"org:{organisation_id}", org, funds.set_requester_call(address, allowed))
