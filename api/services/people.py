"""The people of organisations: their accounts, roles, sign-in with a second factor, API keys and
their own signing keys. No HTTP here.

Who may do what:

| action                                   | who                                                      |
|------------------------------------------|----------------------------------------------------------|
| add, disable a person; change roles      | the organisation's admins (a person with `admin`, or an  |
|                                          | integration key of the organisation)                     |
| finish set-up (password, second factor)  | the person, with the one-time set-up code an admin got   |
| sign in                                  | the person: password and a current TOTP code             |
| issue, list, revoke API keys             | a person for their own keys; admins for every key of the |
|                                          | organisation and for integration keys                    |

A person who signs on chain (every role but `viewer`) gets a custodial key of their own holding the
organisation's on-chain roles, so the contract's maker-checker rule (requester != approver) holds
between two people of one organisation. Disabling a person revokes their keys, sessions and on-chain
roles at once. Sign-in attempts are counted in the same statement that checks the lock, before the
password hash is computed, so parallel guesses cannot run past the limit.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from eth_account import Account
from eth_account.signers.local import LocalAccount
from sqlalchemy import and_, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api.db import Database
from api.engine import API_KEY_PREFIX
from api.errors import Forbidden, GatewayError, Invalid, NotFound
from api.models import ApiKey, Organisation, Person, PersonSession
from api.principals import Principal
from ledger.custody import Sealer, new_account

Role = Literal["admin", "caseworker", "approver", "cashier", "treasurer", "auditor", "viewer"]
ROLES_BY_KIND: dict[str, tuple[str, ...]] = {
    "admin": ("admin", "treasurer", "viewer"),
    "funder": ("admin", "approver", "viewer"),
    "ngo": ("admin", "caseworker", "approver", "viewer"),
    "auditor": ("admin", "auditor", "viewer"),
    "provider": ("admin", "cashier", "viewer"),
}
"""The roles a person may hold, by the kind of their organisation."""
MAX_FAILED_SIGN_INS = 5
LOCKOUT = timedelta(minutes=15)
SESSION_TTL = timedelta(hours=8)
SETUP_CODE_TTL = timedelta(days=7)
MIN_PASSWORD_LENGTH = 12
TOTP_ISSUER = "Allmende"
SESSION_PREFIX = "alp_"
"""A person's session token starts so (API keys: `alm_`, client sessions: `cls_`)."""

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


class Locked(GatewayError):
    """Too many failed sign-ins: wait until the lock ends."""

    kind = "locked"


class Unauthenticated(GatewayError):
    """The sign-in or session is not valid."""

    kind = "unauthorized"


@dataclass(frozen=True)
class Actor:
    """Who asks: an organisation, and the person within it (None for an integration key, which acts
    with the organisation's admin rights)."""

    organisation_id: str
    person_id: str | None
    roles: frozenset[str]

    @classmethod
    def of(cls, principal: Principal) -> Actor:
        """The actor an authenticated caller is."""
        return cls(principal.organisation_id, principal.person_id, frozenset(principal.person_roles))

    @property
    def is_admin(self) -> bool:
        """True for the organisation's admins and its integration keys."""
        return self.person_id is None or "admin" in self.roles


@dataclass(frozen=True)
class PersonView:
    """What the organisation sees of a person (never a secret)."""

    id: str
    organisation_id: str
    login: str
    display_name: str
    roles: tuple[str, ...]
    address: str | None
    second_factor: bool
    disabled: bool
    created_at: datetime


@dataclass(frozen=True)
class KeyView:
    """An API key as listed: never its secret."""

    prefix: str
    name: str
    person_id: str | None
    created_at: datetime
    revoked: bool


@dataclass(frozen=True)
class SecondFactorSetup:
    """What a person needs to add the gateway to an authenticator app (shown once)."""

    secret: str
    uri: str


class People:
    """People of organisations over one database; the chain is reached through the two callables."""

    def __init__(
        self,
        db: Database,
        master: Sealer,
        tag: Callable[[str, str], str],
        grant_roles: Callable[[str, str, Sequence[str], str], None],
        revoke_roles: Callable[[str, str, Sequence[str], str], None],
    ) -> None:
        """`grant_roles(organisation id, kind, roles, address)` gives a person's address what their
        roles need on chain in an organisation of that kind (`api/services/person_chain.py`);
        `revoke_roles(organisation id, kind, roles, address)` takes it away."""
        self._db = db
        self._master = master
        self._tag = tag
        self._grant = grant_roles
        self._revoke = revoke_roles

    # --- the organisation's admins ---------------------------------------------------------

    def add(
        self, actor: Actor, login: str, display_name: str, roles: Sequence[str]
    ) -> tuple[PersonView, str]:
        """A new person of the actor's organisation and their one-time set-up code (shown once)."""
        self._require_admin(actor)
        org = self._organisation(actor.organisation_id)
        wanted = self._check_roles(org.kind, roles)
        login = _normal_login(login)
        code = secrets.token_urlsafe(18)
        signs = any(r != "viewer" for r in wanted)
        account, key = new_account() if signs else (None, b"")
        try:
            with self._db.session() as s:
                person = Person(
                    organisation_id=org.id,
                    login=login,
                    display_name=display_name.strip(),
                    roles=list(wanted),
                    password_hash=_hasher.hash(code),
                    address=account.address if account else None,
                    created_by=actor.person_id,
                    locked_until=None,
                )
                s.add(person)
                s.flush()
                if account is not None:
                    person.key_sealed = self._master.seal(key, f"person:{person.id}")
        except IntegrityError as exc:
            raise GatewayError("LoginTaken", f"the login {login!r} is taken", login=login) from exc
        if account is not None:
            self._grant(org.id, org.kind, wanted, account.address)
        return _view(person), code

    def members(self, actor: Actor) -> list[PersonView]:
        """The people of the actor's organisation (admins; others see only themselves)."""
        with self._db.session() as s:
            query = select(Person).where(Person.organisation_id == actor.organisation_id)
            if not actor.is_admin:
                query = query.where(Person.id == actor.person_id)
            return [_view(p) for p in s.scalars(query.order_by(Person.created_at))]

    def disable(self, actor: Actor, person_id: str) -> PersonView:
        """Stop a person: their sessions and API keys end and their on-chain roles are revoked."""
        self._require_admin(actor)
        if person_id == actor.person_id:
            raise GatewayError("CannotDisableYourself", "ask another admin to disable your account")
        org = self._organisation(actor.organisation_id)
        now = _utcnow()
        with self._db.session() as s:
            person = self._person_of(s, actor, person_id)
            if person.disabled_at is None:
                person.disabled_at = now
                for key in s.scalars(select(ApiKey).where(ApiKey.person_id == person.id)):
                    key.revoked_at = key.revoked_at or now
                for session in s.scalars(select(PersonSession).where(PersonSession.person_id == person.id)):
                    s.delete(session)
            address = person.address
            view = _view(person)
        if address is not None:
            self._revoke(org.id, org.kind, view.roles, address)
        return view

    # --- set-up and sign-in ------------------------------------------------------------------

    def finish_setup(self, login: str, setup_code: str, new_password: str) -> SecondFactorSetup:
        """Replace the set-up code with the person's own password and start the second factor."""
        if len(new_password) < MIN_PASSWORD_LENGTH:
            raise Invalid(
                "PasswordTooShort",
                f"choose a password of at least {MIN_PASSWORD_LENGTH} characters",
                minimum=MIN_PASSWORD_LENGTH,
            )
        person = self._checked_password(login, setup_code)
        if person.totp_confirmed:
            raise GatewayError("SetupAlreadyDone", "this account is set up already; sign in")
        if person.created_at.replace(tzinfo=None) + SETUP_CODE_TTL < _utcnow():
            raise Unauthenticated("SetupCodeExpired", "the set-up code has expired; ask an admin")
        self._succeeded(person)
        secret = pyotp.random_base32()
        with self._db.session() as s:
            row = s.get(Person, person.id)
            assert row is not None
            row.password_hash = _hasher.hash(new_password)
            row.totp_sealed = self._master.seal(secret.encode(), f"person-totp:{row.id}")
        uri = pyotp.TOTP(secret).provisioning_uri(name=person.login, issuer_name=TOTP_ISSUER)
        return SecondFactorSetup(secret, uri)

    def confirm_second_factor(self, login: str, password: str, code: str) -> PersonView:
        """Turn the second factor on with a first code from the authenticator app."""
        person = self._checked_password(login, password)
        self._check_totp(person, code)
        self._succeeded(person)
        with self._db.session() as s:
            row = s.get(Person, person.id)
            assert row is not None
            row.totp_confirmed = True
            return _view(row)

    def sign_in(self, login: str, password: str, code: str) -> tuple[PersonView, str]:
        """A session token for a person with password and a current second-factor code."""
        person = self._checked_password(login, password)
        if not person.totp_confirmed:
            raise Forbidden("SecondFactorNotSetUp", "finish setting up your second factor first")
        self._check_totp(person, code)
        self._succeeded(person)
        token = SESSION_PREFIX + secrets.token_urlsafe(32)
        with self._db.session() as s:
            s.add(
                PersonSession(
                    token_tag=self._tag("person-session", token),
                    person_id=person.id,
                    expires_at=_utcnow() + SESSION_TTL,
                )
            )
        return _view(person), token

    def session(self, token: str) -> PersonView:
        """The person of a live session."""
        with self._db.session() as s:
            row = s.get(PersonSession, self._tag("person-session", token))
            person = s.get(Person, row.person_id) if row is not None else None
            if (
                row is None
                or person is None
                or person.disabled_at is not None
                or row.expires_at.replace(tzinfo=None) < _utcnow()
            ):
                raise Unauthenticated("SessionExpired", "sign in again")
            return _view(person)

    def sign_out(self, token: str) -> None:
        """End a session (nothing happens for an unknown token)."""
        with self._db.session() as s:
            row = s.get(PersonSession, self._tag("person-session", token))
            if row is not None:
                s.delete(row)

    # --- API keys ------------------------------------------------------------------------

    def issue_key(self, actor: Actor, name: str, person_id: str | None) -> str:
        """A new API key named `name`, for a person (themselves, or anyone by an admin) or, with
        `person_id` None, for an integration (admins); its secret is returned once."""
        if person_id is None or person_id != actor.person_id:
            self._require_admin(actor)
        if person_id is not None:
            with self._db.session() as s:
                person = self._person_of(s, actor, person_id)
                if person.disabled_at is not None:
                    raise Forbidden("PersonDisabled", "this person's account is disabled")
        prefix, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
        with self._db.session() as s:
            s.add(
                ApiKey(
                    organisation_id=actor.organisation_id,
                    person_id=person_id,
                    name=name.strip(),
                    prefix=prefix,
                    secret_hash=self._tag("api-key", secret),
                    scopes=["*"],
                )
            )
        return f"{API_KEY_PREFIX}_{prefix}_{secret}"

    def keys(self, actor: Actor) -> list[KeyView]:
        """The organisation's API keys (admins), or the actor's own."""
        with self._db.session() as s:
            query = select(ApiKey).where(ApiKey.organisation_id == actor.organisation_id)
            if not actor.is_admin:
                query = query.where(ApiKey.person_id == actor.person_id)
            return [
                KeyView(k.prefix, k.name, k.person_id, k.created_at, k.revoked_at is not None)
                for k in s.scalars(query.order_by(ApiKey.created_at))
            ]

    def revoke_key(self, actor: Actor, prefix: str) -> KeyView:
        """Revoke one key; every other key stays valid."""
        with self._db.session() as s:
            key = s.scalar(
                select(ApiKey).where(ApiKey.prefix == prefix, ApiKey.organisation_id == actor.organisation_id)
            )
            if key is None or (not actor.is_admin and key.person_id != actor.person_id):
                raise NotFound("UnknownApiKey", f"no API key {prefix} of yours")
            key.revoked_at = key.revoked_at or _utcnow()
            return KeyView(key.prefix, key.name, key.person_id, key.created_at, True)

    # --- signing -------------------------------------------------------------------------

    def signing_account(self, person_id: str) -> LocalAccount:
        """The person's own custodial key (they must sign on chain and be enabled)."""
        with self._db.session() as s:
            person = s.get(Person, person_id)
            if person is None or person.key_sealed is None or person.disabled_at is not None:
                raise Forbidden("PersonCannotSign", "this person does not sign on chain")
            account: LocalAccount = Account.from_key(
                self._master.open(person.key_sealed, f"person:{person.id}")
            )
            return account

    # --- inside ------------------------------------------------------------------------------

    def _checked_password(self, login: str, password: str) -> Person:
        """The person whose password (or set-up code) this is, after counting the attempt. The count
        is cleared only by `_succeeded`, once every factor of the step passed."""
        person = self._count_attempt(_normal_login(login))
        stored = person.password_hash if person is not None else None
        try:
            # an unknown login costs the same hash, so timing does not tell which logins exist
            ok = _hasher.verify(stored or _DUMMY_HASH, password) and stored is not None
        except (VerificationError, InvalidHashError):
            ok = False
        if not ok or person is None:
            raise Unauthenticated("SignInFailed", "login, password or code is not right")
        return person

    def _succeeded(self, person: Person) -> None:
        with self._db.session() as s:
            s.execute(update(Person).where(Person.id == person.id).values(failed_attempts=0))

    def _count_attempt(self, login: str) -> Person | None:
        """Count a sign-in attempt in one statement, before any hash is computed; the person, or
        None for an unknown or disabled login. Past the limit the account locks for a while."""
        now = _utcnow()
        with self._db.session() as s:
            counted = s.execute(
                update(Person)
                .where(
                    Person.login == login,
                    Person.disabled_at.is_(None),
                    or_(Person.locked_until.is_(None), Person.locked_until < now),
                )
                .values(failed_attempts=Person.failed_attempts + 1)
                .returning(Person.id, Person.failed_attempts)
            ).first()
            if counted is None:
                locked = s.scalar(
                    select(Person.locked_until).where(and_(Person.login == login, Person.locked_until >= now))
                )
                if locked is not None:
                    raise Locked(
                        "SignInLocked",
                        "too many failed sign-ins; try again later",
                        lockedUntil=locked.replace(tzinfo=UTC).isoformat(),
                    )
                return None
            person_id, attempts = counted
            if attempts > MAX_FAILED_SIGN_INS:
                s.execute(
                    update(Person)
                    .where(Person.id == person_id)
                    .values(locked_until=now + LOCKOUT, failed_attempts=0)
                )
                s.commit()
                raise Locked(
                    "SignInLocked",
                    "too many failed sign-ins; try again later",
                    lockedUntil=(now + LOCKOUT).replace(tzinfo=UTC).isoformat(),
                )
            return s.get(Person, person_id)

    def _check_totp(self, person: Person, code: str) -> None:
        """Accept a current TOTP code once: a code seen before (or an older one) is refused."""
        if person.totp_sealed is None:
            raise Forbidden("SecondFactorNotSetUp", "finish setting up your second factor first")
        totp = pyotp.TOTP(self._master.open(person.totp_sealed, f"person-totp:{person.id}").decode())
        now = datetime.now(UTC)
        step = next(
            (
                int((now + timedelta(seconds=d)).timestamp()) // totp.interval
                for d in (0, -totp.interval, totp.interval)
                if totp.verify(code, for_time=now + timedelta(seconds=d))
            ),
            None,
        )
        with self._db.session() as s:
            used = step is not None and (
                s.execute(
                    update(Person)
                    .where(Person.id == person.id, Person.totp_last_step < step)
                    .values(totp_last_step=step)
                    .returning(Person.id)
                ).first()
                is not None
            )
        if not used:
            raise Unauthenticated("SignInFailed", "login, password or code is not right")

    def _require_admin(self, actor: Actor) -> None:
        if not actor.is_admin:
            raise Forbidden("NotAnAdmin", "only the organisation's admins may do this")

    def _organisation(self, organisation_id: str) -> Organisation:
        with self._db.session() as s:
            org = s.get(Organisation, organisation_id)
        if org is None:
            raise NotFound("UnknownOrganisation", f"no organisation {organisation_id}")
        return org

    @staticmethod
    def _person_of(s: Session, actor: Actor, person_id: str) -> Person:
        person = s.get(Person, person_id)
        if person is None or person.organisation_id != actor.organisation_id:
            raise NotFound("UnknownPerson", f"no person {person_id} in your organisation")
        return person

    @staticmethod
    def _check_roles(kind: str, roles: Sequence[str]) -> tuple[str, ...]:
        allowed = ROLES_BY_KIND.get(kind, ())
        wanted = tuple(dict.fromkeys(roles))
        unknown = [r for r in wanted if r not in allowed]
        if not wanted or unknown:
            raise Invalid(
                "UnknownRole",
                f"roles must be some of {', '.join(allowed)}",
                allowed=list(allowed),
                unknown=unknown,
            )
        return wanted


def _utcnow() -> datetime:
    """Now in UTC without a zone: the form the database columns keep and compare."""
    return datetime.now(UTC).replace(tzinfo=None)


def _normal_login(login: str) -> str:
    login = login.strip().lower()
    if not 3 <= len(login) <= 80 or not all(c.isascii() and (c.isalnum() or c in "._-@") for c in login):
        raise Invalid("InvalidLogin", "a login has 3 to 80 letters, digits and . _ - @")
    return login


def _view(p: Person) -> PersonView:
    return PersonView(
        p.id,
        p.organisation_id,
        p.login,
        p.display_name,
        tuple(p.roles),
        p.address,
        p.totp_confirmed,
        p.disabled_at is not None,
        p.created_at,
    )
