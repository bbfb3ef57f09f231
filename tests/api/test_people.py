"""People of organisations: set-up with a one-time code, password and TOTP sign-in, attempt limits
that hold under parallel guessing, personal and integration API keys, disabling, own signing keys.
Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pyotp
import pytest

from api.db import Database, migrate
from api.gateway import Forbidden, GatewayError, Invalid, NotFound
from api.models import Organisation
from api.services.people import (
    MAX_FAILED_SIGN_INS,
    Actor,
    Locked,
    People,
    SecondFactorSetup,
    Unauthenticated,
)
from ledger.custody import Sealer

PASSWORD = "correct horse battery"


class Chain:
    """Records the on-chain role changes the service asks for."""

    def __init__(self) -> None:
        self.granted: list[tuple[str, str]] = []
        self.revoked: list[tuple[str, str]] = []


@pytest.fixture
def setup(database_url: str) -> tuple[People, Chain, dict[str, Actor]]:
    db = Database(database_url)
    migrate(db.engine)
    chain = Chain()
    people = People(
        db,
        Sealer(os.urandom(32)),
        lambda purpose, value: f"{purpose}:{value}"[:64],
        lambda org, kind, roles, address: chain.granted.append((kind, address)),
        lambda org, kind, roles, address: chain.revoked.append((kind, address)),
    )
    orgs = {}
    with db.session() as s:
        for name, kind in (("ngo", "ngo"), ("other", "ngo"), ("funder", "funder")):
            org = Organisation(kind=kind, name=name, address="0x" + os.urandom(20).hex(), key_sealed=b"")
            s.add(org)
            s.flush()
            orgs[name] = Actor(org.id, None, frozenset())
    return people, chain, orgs


def _set_up(people: People, actor: Actor, login: str, roles: list[str]) -> tuple[str, pyotp.TOTP]:
    view, code = people.add(actor, login, login.title(), roles)
    factor = people.finish_setup(login, code, PASSWORD)
    assert isinstance(factor, SecondFactorSetup) and factor.uri.startswith("otpauth://totp/")
    totp = pyotp.TOTP(factor.secret)
    people.confirm_second_factor(login, PASSWORD, totp.now())
    return view.id, totp


def _next_code(totp: pyotp.TOTP) -> str:
    """The code of the next time step (the current one was used by the step before)."""
    return totp.at(datetime.now(UTC) + timedelta(seconds=totp.interval))


def test_a_person_sets_up_and_signs_in_with_password_and_a_fresh_code(setup) -> None:
    people, chain, orgs = setup
    person_id, totp = _set_up(people, orgs["ngo"], "erika.caseworker", ["caseworker"])
    view, token = people.sign_in("Erika.Caseworker", PASSWORD, _next_code(totp))
    assert view.id == person_id and view.second_factor and view.roles == ("caseworker",)
    assert people.session(token).id == person_id
    assert chain.granted == [("ngo", view.address)]
    people.sign_out(token)
    with pytest.raises(Unauthenticated):
        people.session(token)


def test_a_used_code_and_a_wrong_password_are_refused(setup) -> None:
    people, _, orgs = setup
    _, totp = _set_up(people, orgs["ngo"], "anna", ["approver"])
    code = _next_code(totp)
    people.sign_in("anna", PASSWORD, code)
    with pytest.raises(Unauthenticated) as replay:
        people.sign_in("anna", PASSWORD, code)
    assert replay.value.code == "SignInFailed"
    with pytest.raises(Unauthenticated):
        people.sign_in("anna", "not the password", _next_code(totp))
    with pytest.raises(Unauthenticated):
        people.sign_in("nobody", PASSWORD, _next_code(totp))


def test_signing_in_needs_the_second_factor_set_up(setup) -> None:
    people, _, orgs = setup
    _, code = people.add(orgs["ngo"], "ben", "Ben", ["viewer"])
    people.finish_setup("ben", code, PASSWORD)
    with pytest.raises(Forbidden) as refused:
        people.sign_in("ben", PASSWORD, "000000")
    assert refused.value.code == "SecondFactorNotSetUp"
    with pytest.raises(Invalid):
        people.finish_setup("ben", PASSWORD, "short")


def test_parallel_wrong_passwords_are_evaluated_no_more_often_than_the_limit(setup) -> None:
    people, _, orgs = setup
    _, totp = _set_up(people, orgs["ngo"], "target", ["caseworker"])

    def guess(i: int) -> str:
        try:
            people.sign_in("target", f"guess {i}", "123456")
        except GatewayError as exc:
            return exc.code
        return "signed in"

    with ThreadPoolExecutor(16) as pool:
        outcomes = list(pool.map(guess, range(40)))
    assert outcomes.count("signed in") == 0
    assert outcomes.count("SignInFailed") <= MAX_FAILED_SIGN_INS
    assert outcomes.count("SignInLocked") >= 40 - MAX_FAILED_SIGN_INS
    with pytest.raises(Locked):  # the right password does not get through the lock either
        people.sign_in("target", PASSWORD, _next_code(totp))


def test_a_code_guess_after_the_right_password_counts_as_a_failed_attempt(setup) -> None:
    people, _, orgs = setup
    _set_up(people, orgs["ngo"], "carla", ["caseworker"])
    outcomes = []
    for _ in range(MAX_FAILED_SIGN_INS + 2):
        try:
            people.sign_in("carla", PASSWORD, "000000")
        except GatewayError as exc:
            outcomes.append(exc.code)
    assert outcomes[-1] == "SignInLocked"


def test_only_admins_add_and_disable_people_and_only_in_their_organisation(setup) -> None:
    people, _, orgs = setup
    case_id, _ = _set_up(people, orgs["ngo"], "case", ["caseworker"])
    caseworker = Actor(orgs["ngo"].organisation_id, case_id, frozenset({"caseworker"}))
    with pytest.raises(Forbidden):
        people.add(caseworker, "sneaky", "Sneaky", ["admin"])
    with pytest.raises(NotFound):
        people.disable(orgs["other"], case_id)  # another NGO
    with pytest.raises(NotFound):
        people.disable(orgs["funder"], case_id)  # a funder
    with pytest.raises(Invalid) as wrong_role:
        people.add(orgs["funder"], "fcase", "F", ["caseworker"])  # funders have no caseworkers
    assert wrong_role.value.code == "UnknownRole"
    with pytest.raises(GatewayError) as taken:
        people.add(orgs["other"], "case", "Again", ["viewer"])
    assert taken.value.code == "LoginTaken"
    assert [p.login for p in people.members(orgs["other"])] == []
    assert [p.login for p in people.members(caseworker)] == ["case"]  # non-admins see themselves


def test_disabling_a_person_ends_their_sessions_keys_and_on_chain_roles(setup) -> None:
    people, chain, orgs = setup
    person_id, totp = _set_up(people, orgs["ngo"], "leaving", ["approver"])
    _, token = people.sign_in("leaving", PASSWORD, _next_code(totp))
    actor = Actor(orgs["ngo"].organisation_id, person_id, frozenset({"approver"}))
    key = people.issue_key(actor, "laptop", person_id)
    view = people.disable(orgs["ngo"], person_id)
    assert view.disabled
    assert chain.revoked == [("ngo", view.address)]
    with pytest.raises(Unauthenticated):
        people.session(token)
    assert all(k.revoked for k in people.keys(orgs["ngo"]) if k.person_id == person_id)
    assert key.split("_")[1] in [k.prefix for k in people.keys(orgs["ngo"])]
    with pytest.raises(GatewayError):
        people.sign_in("leaving", PASSWORD, _next_code(totp))
    with pytest.raises(Forbidden):
        people.signing_account(person_id)


def test_api_keys_are_per_person_named_and_revoked_one_at_a_time(setup) -> None:
    people, _, orgs = setup
    a_id, _ = _set_up(people, orgs["ngo"], "alice", ["caseworker"])
    b_id, _ = _set_up(people, orgs["ngo"], "bob", ["caseworker"])
    alice = Actor(orgs["ngo"].organisation_id, a_id, frozenset({"caseworker"}))
    first = people.issue_key(alice, "desk", a_id)
    second = people.issue_key(alice, "case software", a_id)
    with pytest.raises(Forbidden):
        people.issue_key(alice, "for bob", b_id)
    with pytest.raises(Forbidden):
        people.issue_key(alice, "integration", None)
    integration = people.issue_key(orgs["ngo"], "case software sync", None)
    assert {k.name for k in people.keys(alice)} == {"desk", "case software"}
    assert len(people.keys(orgs["ngo"])) == 3
    revoked = people.revoke_key(alice, first.split("_")[1])
    assert revoked.revoked
    live = {k.prefix for k in people.keys(orgs["ngo"]) if not k.revoked}
    assert live == {second.split("_")[1], integration.split("_")[1]}
    with pytest.raises(NotFound):
        people.revoke_key(alice, integration.split("_")[1])
    with pytest.raises(NotFound):
        people.revoke_key(orgs["other"], second.split("_")[1])


def test_people_who_sign_get_their_own_key_and_viewers_none(setup) -> None:
    people, _, orgs = setup
    signer_id, _ = _set_up(people, orgs["funder"], "fiona", ["approver"])
    viewer, _ = people.add(orgs["funder"], "victor", "Victor", ["viewer"])
    account = people.signing_account(signer_id)
    assert account.address == next(p.address for p in people.members(orgs["funder"]) if p.id == signer_id)
    assert viewer.address is None
    with pytest.raises(Forbidden):
        people.signing_account(viewer.id)
