"""Providers and how programs' aid may be used. No HTTP here.

A provider (Akzeptanzstelle: a shop, a club, a service) is an organisation of kind "provider" with a
custodial account that receives clients' payments, a public record here (name, address, categories)
and an entry in the provider registry on chain (account, categories as a bitmask over the published
category list, status, the admitting NGO, and the SHA-256 of the public record).

Authority: an NGO or the admin admits a new provider; only the NGO that admitted it, or the admin,
suspends or re-admits it (`NotYourProvider` here, `ProviderRegistryNotProviderNgo` on chain). Only a
program's NGO sets its rule, "cash" or "restricted to categories" (`NotYourProgram` here,
`ProviderRegistryNotProgramNgo` on chain). The public list of a program's accepted providers needs
no sign-in and shows only what providers publish.

Invariants: the chain decides; this database mirrors a provider's status and categories only after
the registry accepted the change. A category key's position in `Settings.provider_categories` is its
bit on chain, so the list is append-only.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select

from api.engine import Engine
from api.errors import Forbidden, Invalid, NotFound
from api.models import Organisation, ProgramInfo, ProviderRecord
from api.operations import OperationResult
from api.principals import Principal
from ledger.calls import Call
from ledger.providers import category_mask, category_names


@dataclass(frozen=True)
class ProviderView:
    """A provider as the gateway shows it."""

    provider_id: str
    name: str
    street: str
    postcode: str
    city: str
    categories: list[str]
    status: str
    account: str
    admitted_by: str


@dataclass(frozen=True)
class ProgramRule:
    """How a program's aid may be used: cash (no categories) or restricted to `categories`."""

    program_id: int
    name: str
    categories: list[str]
    ends_at: int = 0  # when its restricted aid ends (a timestamp; 0: never)

    @property
    def kind(self) -> str:
        """ "cash" or "restricted"."""
        return "restricted" if self.categories else "cash"


def record_hash(name: str, street: str, postcode: str, city: str, categories: list[str]) -> bytes:
    """The SHA-256 of a provider's public record, as the registry keeps it."""
    record = {"name": name, "street": street, "postcode": postcode, "city": city, "categories": categories}
    return hashlib.sha256(json.dumps(record, sort_keys=True, ensure_ascii=False).encode()).digest()


class ProvidersService:
    """Providers, their admission and suspension, and programs' rules, over one engine."""

    def __init__(self, engine: Engine) -> None:
        self.gw = engine

    # --- categories -------------------------------------------------------------------------

    @property
    def categories(self) -> list[str]:
        """The published category keys, in bit order."""
        return list(self.gw.settings.provider_categories)

    def _mask(self, keys: list[str]) -> int:
        unknown = [k for k in keys if k not in self.gw.settings.provider_categories]
        if unknown:
            raise Invalid(
                "UnknownCategory",
                f"unknown categories {unknown}; known are {self.categories}",
                unknown=unknown,
            )
        return category_mask(keys, self.categories)

    def _ordered(self, keys: list[str]) -> list[str]:
        """`keys` without repeats, in published order."""
        return category_names(self._mask(keys), self.categories)

    # --- providers ---------------------------------------------------------------------------

    def _execute(self, principal: Principal, call: Call) -> OperationResult:
        org = self.gw.organisation(principal.organisation_id)
        return self.gw.execute(principal.id, org, call)

    def admit_new(
        self, principal: Principal, name: str, street: str, postcode: str, city: str, categories: list[str]
    ) -> tuple[ProviderView, str, OperationResult]:
        """Create the provider's organisation (custodial account, first API key) and admit it on chain."""
        keys = self._ordered(categories)
        if not keys:
            raise Invalid("NoCategories", "a provider serves at least one category")
        org, api_key = self.gw.create_organisation("provider", name)
        metadata = record_hash(name, street, postcode, city, keys)
        result = self._execute(
            principal, self.gw.system.providers.admit_call(org.address, self._mask(keys), metadata)
        )
        with self.gw.db.session() as s:
            s.add(
                ProviderRecord(
                    organisation_id=org.id,
                    name=name,
                    street=street,
                    postcode=postcode,
                    city=city,
                    categories=",".join(keys),
                    status="admitted",
                    admitted_by=principal.organisation_id,
                )
            )
        return self.get(org.id), api_key, result

    def _own(self, principal: Principal, provider_id: str) -> ProviderRecord:
        """The provider, if the caller admitted it or is the admin; `NotYourProvider` otherwise."""
        with self.gw.db.session() as s:
            row = s.get(ProviderRecord, provider_id)
            if row is None:
                raise NotFound("UnknownProvider", f"there is no provider {provider_id}")
            s.expunge(row)
        if principal.kind != "admin" and row.admitted_by != principal.organisation_id:
            raise Forbidden("NotYourProvider", "another NGO admitted this provider")
        return row

    def suspend(
        self, principal: Principal, provider_id: str, reason: str
    ) -> tuple[ProviderView, OperationResult | None]:
        """Suspend the provider: restricted accounts can no longer pay it. Suspending a suspended
        provider changes nothing (None: no transaction)."""
        row = self._own(principal, provider_id)
        if row.status == "suspended":
            return self.get(provider_id), None
        account = self.gw.organisation(provider_id).address
        reason_hash = hashlib.sha256(reason.encode()).digest()
        result = self._execute(principal, self.gw.system.providers.suspend_call(account, reason_hash))
        self._update(provider_id, status="suspended")
        return self.get(provider_id), result

    def readmit(
        self, principal: Principal, provider_id: str, categories: list[str] | None
    ) -> tuple[ProviderView, OperationResult]:
        """Admit the provider again (after a suspension, or with other categories)."""
        row = self._own(principal, provider_id)
        keys = self._ordered(categories) if categories is not None else row.categories.split(",")
        if not keys:
            raise Invalid("NoCategories", "a provider serves at least one category")
        account = self.gw.organisation(provider_id).address
        metadata = record_hash(row.name, row.street, row.postcode, row.city, keys)
        result = self._execute(
            principal, self.gw.system.providers.admit_call(account, self._mask(keys), metadata)
        )
        self._update(provider_id, status="admitted", categories=",".join(keys))
        return self.get(provider_id), result

    def _update(self, provider_id: str, **values: str) -> None:
        with self.gw.db.session() as s:
            row = s.get(ProviderRecord, provider_id)
            assert row is not None
            for name, value in values.items():
                setattr(row, name, value)
            row.updated_at = datetime.now(UTC)

    def get(self, provider_id: str) -> ProviderView:
        """One provider; `UnknownProvider` when there is none."""
        views = self._views(provider_id)
        if not views:
            raise NotFound("UnknownProvider", f"there is no provider {provider_id}")
        return views[0]

    def all(self) -> list[ProviderView]:
        """Every provider, admitted or suspended, by name."""
        return self._views(None)

    def _views(self, provider_id: str | None) -> list[ProviderView]:
        query = select(ProviderRecord, Organisation.address).join(
            Organisation, Organisation.id == ProviderRecord.organisation_id
        )
        if provider_id is not None:
            query = query.where(ProviderRecord.organisation_id == provider_id)
        with self.gw.db.session() as s:
            rows = s.execute(query.order_by(ProviderRecord.name, ProviderRecord.organisation_id)).all()
            return [
                ProviderView(
                    provider_id=r.organisation_id,
                    name=r.name,
                    street=r.street,
                    postcode=r.postcode,
                    city=r.city,
                    categories=[c for c in r.categories.split(",") if c],
                    status=r.status,
                    account=address,
                    admitted_by=r.admitted_by,
                )
                for r, address in rows
            ]

    # --- programs' rules -----------------------------------------------------------------------

    def set_rule(
        self, principal: Principal, program_id: int, categories: list[str], ends_at: int | None = None
    ) -> tuple[ProgramRule, OperationResult]:
        """Set the program's rule: no categories is cash. The program's NGO only. Claim programs opened
        from now on follow it; accounts already restricted by it follow its categories at once. With
        `ends_at` (a timestamp) the restricted aid it pays directly ends then (`FundLedger.setProgramEnd`:
        before it pays anything, afterwards only later); the same end again changes nothing."""
        funds = self.gw.system.funds
        program = funds.program(program_id)
        if program.ngo != principal.address:
            raise Forbidden("NotYourProgram", f"program {program_id} is run by another NGO")
        keys = self._ordered(categories)
        if ends_at is not None and ends_at != program.ends_at:
            self._execute(principal, funds.set_program_end_call(program_id, ends_at))
        result = self._execute(
            principal, self.gw.system.providers.set_program_rule_call(program_id, self._mask(keys))
        )
        return self.rule(program_id), result

    def rule(self, program_id: int) -> ProgramRule:
        """The program's rule as the registry holds it (`FundLedgerUnknownProgram` for no program)."""
        ends_at = self.gw.system.funds.program(program_id).ends_at
        mask = self.gw.system.providers.program_rule(program_id)
        with self.gw.db.session() as s:
            info = s.get(ProgramInfo, program_id)
            name = info.name if info is not None else f"Program {program_id}"
        return ProgramRule(program_id, name, category_names(mask, self.categories), ends_at)

    def accepted(self, program_id: int) -> tuple[ProgramRule, list[ProviderView]]:
        """The program's rule and the admitted providers its clients may pay: all of them for cash,
        else those serving one of its categories."""
        rule = self.rule(program_id)
        wanted = set(rule.categories)
        providers = [
            p
            for p in self.all()
            if p.status == "admitted" and (not wanted or wanted.intersection(p.categories))
        ]
        return rule, providers

    def restrict_before_paying(self, principal: Principal, program_id: int, accounts: list[str]) -> None:
        """Before a direct disbursement of a restricted program (the caller knows its rule), mark its
        recipients on chain, so the money they receive can reach only the program's providers."""
        if not accounts:
            return
        self._execute(principal, self.gw.system.providers.restrict_accounts_call(program_id, accounts))
