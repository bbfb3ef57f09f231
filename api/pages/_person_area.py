"""What the staff desk and the counter share: pages for a person of an organisation, signed in with
password and TOTP, in a session cookie of the area's own, with a CSRF token per session on every form.

An area (`AreaRules`) names its path prefix, cookie, the roles and the organisation kind it admits
and what it tells anyone else. `PersonArea` is one request to such a page; `sign_in` and `sign_out`
are the form handlers' work, the same in every area.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar, TypeVar

from fastapi import Request, Response
from starlette.concurrency import run_in_threadpool

from api.errors import GatewayError
from api.operations import ACTING_PERSON
from api.pages._web import Page, SignInRequired, _open, staff_person
from api.services.people import SESSION_TTL, Locked, PersonView

TOTP_CODE = re.compile(r"^[0-9]{6}$")


@dataclass(frozen=True)
class AreaRules:
    """Who an area admits: people of an organisation of `kind` holding one of `roles`."""

    prefix: str  # path prefix of the area's pages, e.g. /staff
    cookie: Callable[[Request], str]  # the name of the area's session cookie for a request
    roles: tuple[str, ...]
    kind: str
    refused: str  # what a signed-in person of another kind or role is told (marked with N_)


@dataclass
class PersonArea:
    """One request to a page of an area: the page machinery and the signed-in person, if any."""

    CSRF_PURPOSE: ClassVar[str]
    RULES: ClassVar[AreaRules]

    page: Page
    person: PersonView | None = None
    token: str | None = None

    @property
    def csrf(self) -> str:
        """The CSRF token of this session's forms (a keyed hash of the session)."""
        assert self.token is not None
        return self.page.gateway.tag(self.CSRF_PURPOSE, self.token)

    def csrf_ok(self, submitted: str) -> bool:
        """Whether a posted form carries this session's CSRF token."""
        if self.token is None or not submitted or not submitted.isascii():
            return False
        return hmac.compare_digest(self.csrf.encode(), submitted.encode())

    def render(self, template: str, status: int = 200, **context: object) -> Response:
        """A page of the area."""
        raise NotImplementedError


A = TypeVar("A", bound=PersonArea)


async def open_area(area: type[A], request: Request) -> A:
    """The area's context of a request, with its person if the area's cookie holds a live session;
    every operation of the request is then done in their name."""
    page = _open(request)
    rules = area.RULES
    cookie = rules.cookie(request)
    person, token = await run_in_threadpool(staff_person, page, cookie, rules.roles, rules.kind)
    ACTING_PERSON.set(person.id if person is not None else None)
    return area(page, person, token)


def require_person(found: A) -> A:
    """`found` if a person is signed in; else they are sent to the area's sign-in."""
    if found.person is None:
        raise SignInRequired(path=f"{found.RULES.prefix}/sign-in")
    return found


def sign_in(area: PersonArea, login: str, password: str, code: str, csrf: str) -> Response:
    """Sign a person in with password and a current TOTP code: the area's home with a fresh session
    cookie, or the sign-in page again saying kindly what went wrong."""
    t, rules = area.page.t, area.RULES
    login = login.strip()[:80]

    def again(status: int, problem: str) -> Response:
        return area.render("sign_in.html", status, login=login, problem=problem, notice=None)

    if not area.page.sign_in_csrf_ok(csrf):
        return again(403, t("The page was open for too long. Please try again."))
    if not login or not password or not TOTP_CODE.fullmatch(code.strip()):
        return again(400, t("Please enter your login, your password and the 6-digit code."))
    people = area.page.gateway.people
    try:
        person, token = people.sign_in(login, password, code.strip())
    except Locked:
        return again(429, t("Too many failed sign-ins. Please try again in 15 minutes."))
    except GatewayError:
        return again(400, t("The login, the password or the code is not right."))
    kind = area.page.gateway.organisation(person.organisation_id).kind
    if kind != rules.kind or not any(r in person.roles for r in rules.roles):
        people.sign_out(token)
        return again(403, t(rules.refused))
    if area.token is not None:
        people.sign_out(area.token)
    area.page.set_cookie(rules.cookie(area.page.request), token, max_age=int(SESSION_TTL.total_seconds()))
    return area.page.redirect(f"{rules.prefix}/")


def sign_out(area: PersonArea) -> Response:
    """End the area's session (no CSRF token needed: signing out is the safe direction)."""
    if area.token is not None:
        area.page.gateway.people.sign_out(area.token)
    area.page.delete_cookie(area.RULES.cookie(area.page.request))
    return area.page.redirect(f"{area.RULES.prefix}/sign-in?reason=signed-out")
