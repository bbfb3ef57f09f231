"""The machinery every client page shares: language, the session cookie, CSRF tokens, rendering,
security headers, and a route class that turns every error into a kind HTML page.

A page session is an ordinary client session of `api.services.clients.Clients` (the same one the JSON API
hands out as a bearer token), carried in a cookie that is HttpOnly, SameSite=Strict, and Secure with
the `__Host-` prefix unless the browser talks to the gateway on its own machine (localhost). Pages
read that cookie and nothing else: an `Authorization` header, an organisation's API key in
particular, never signs anybody in here.

Each form carries a CSRF token: for the signed-in forms a keyed hash of the session token (one per
session, nothing stored), for the sign-in form a keyed hash of a random pre-session cookie (a signed
double-submit token), so a forged form from another site cannot sign a person in or out or claim.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
import traceback
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.errors import GatewayError
from api.gateway import Gateway
from api.i18n import (
    LANGUAGES,
    N_,
    PROBLEMS,
    choose,
    direction,
    language_name,
    locked_text,
    translate,
    translate_plural,
    wrong_pin_text,
)
from api.operations import ACTING_PERSON
from api.pages import _format
from api.problems import GATEWAY_STATUS, REVERT_STATUS
from api.services.clients import SESSION_PREFIX, Clients, ClientSession
from api.services.people import PersonView
from ledger.exceptions import ContractRevert, LedgerError

log = logging.getLogger("allmende.pages")

PREFIX = "/client"
TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"
CSS = (STATIC / "pages.css").read_bytes()
STYLESHEET = f"{PREFIX}/static/pages.css?v={hashlib.sha256(CSS).hexdigest()[:12]}"
LANG_COOKIE = "allmende-lang"
LANG_COOKIE_AGE_S = 365 * 86_400
SIGN_IN_COOKIE_AGE_S = 3_600
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)


@dataclass(frozen=True)
class NavItem:
    """An entry of the signed-in menu: the page's path and its label (a message marked with `N_`,
    translated when the menu is shown)."""

    path: str
    label: str


NAV: list[NavItem] = [
    NavItem(f"{PREFIX}/", N_("Overview")),
    NavItem(f"{PREFIX}/what-i-have", N_("What I have")),
    NavItem(f"{PREFIX}/receipts", N_("Receipts")),
    NavItem(f"{PREFIX}/rounds", N_("Voting")),
    NavItem(f"{PREFIX}/payout", N_("To my bank")),
]
"""The signed-in menu, in order. A new page (the ballot of a budget round, say) appends its item."""


class RedactVoucher(logging.Filter):
    """Blanks a voucher code carried in a sign-in address (`?voucher=`, as a voucher's QR code may
    hold it) in the access log's lines, so the log never holds half of a person's credentials."""

    PATTERN = re.compile(r"(?i)(voucher=)[^&\s]*")

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any("voucher=" in str(a).lower() for a in record.args):
            record.args = tuple(
                self.PATTERN.sub(r"\1[redacted]", a) if isinstance(a, str) else a for a in record.args
            )
        elif "voucher=" in str(record.msg).lower():
            record.msg = self.PATTERN.sub(r"\1[redacted]", str(record.msg))
        return True


def redact_access_log() -> None:
    """Install `RedactVoucher` on uvicorn's access log (once)."""
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, RedactVoucher) for f in access.filters):
        access.addFilter(RedactVoucher())


class SignInRequired(Exception):
    """A signed-in page was asked for without a live page session."""

    def __init__(self, reason: str | None = None, path: str = f"{PREFIX}/sign-in") -> None:
        super().__init__(reason or "sign in")
        self.reason = reason
        self.path = path  # the sign-in page to go to (the client's, or the staff desk's)


def is_local(request: Request) -> bool:
    """Whether the browser reached the gateway on the gateway's own machine."""
    host = (request.url.hostname or "").lower()
    return host in LOCAL_HOSTS or host.endswith(".localhost")


def is_secure(request: Request) -> bool:
    """Cookies are Secure unless the page is served to localhost over plain HTTP."""
    return request.url.scheme == "https" or not is_local(request)


def session_cookie(request: Request) -> str:
    """The session cookie's name: with the `__Host-` prefix whenever the cookie is Secure."""
    return "__Host-allmende-session" if is_secure(request) else "allmende-session"


def sign_in_cookie(request: Request) -> str:
    """The pre-session cookie behind the sign-in form's CSRF token."""
    return "__Host-allmende-sign-in" if is_secure(request) else "allmende-sign-in"


STAFF_PREFIX = "/staff"
"""The staff desk's pages (`api/pages/staff.py`), which share the language switch."""
COUNTER_PREFIX = "/counter"
"""The providers' counter pages (`api/pages/counter.py`), which share the language switch too."""


def same_site_path(target: str | None) -> str:
    """`target` when it is one of the client pages or the staff desk's, else the home page (no open
    redirects)."""
    inside = target is not None and target.startswith(
        (f"{PREFIX}/", f"{STAFF_PREFIX}/", f"{COUNTER_PREFIX}/")
    )
    if not target or not inside or "//" in target or "\\" in target:
        return f"{PREFIX}/"
    if any(ch in target for ch in "?#@:") or not target.isascii() or not target.isprintable():
        return f"{PREFIX}/"
    return target


_env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


@dataclass
class Page:
    """One request to a client page: its language, its session (if any) and how to answer it."""

    request: Request
    gateway: Gateway
    lang: str
    token: str | None = None
    session: ClientSession | None = None
    cookies: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    nonce: str | None = None  # of the sign-in form's pre-session cookie, once asked for

    @property
    def clients(self) -> Clients:
        """The client service (sign-in, sessions)."""
        return self.gateway.clients

    def t(self, message: str, **params: object) -> str:
        """`message` in this page's language."""
        return translate(self.lang, message, **params)

    def tn(self, singular: str, plural: str, num: int, **params: object) -> str:
        """The form of a message that fits the number `num`, in this page's language."""
        return translate_plural(self.lang, singular, plural, num, **params)

    @property
    def direction(self) -> str:
        """`rtl` for Arabic and Persian, else `ltr`."""
        return direction(self.lang)

    def money(self, micro_euros: int) -> str:
        """An amount as this page's readers write it."""
        return _format.money(micro_euros, self.lang)

    def day(self, timestamp: int) -> str:
        """A date as this page's readers write it."""
        return _format.day(timestamp, self.lang)

    @property
    def csrf(self) -> str:
        """The CSRF token of this session's forms (nothing stored: a keyed hash of the session)."""
        if self.token is None:
            raise SignInRequired()
        return self.gateway.tag("page-csrf", self.token)

    @property
    def sign_in_csrf(self) -> str:
        """The sign-in form's CSRF token: a keyed hash of a random pre-session cookie."""
        if self.nonce is None:
            name = sign_in_cookie(self.request)
            self.nonce = self.request.cookies.get(name, "")
            if not _fair_nonce(self.nonce):
                self.nonce = secrets.token_urlsafe(24)
                self.set_cookie(name, self.nonce, max_age=SIGN_IN_COOKIE_AGE_S)
        return self.gateway.tag("sign-in-csrf", self.nonce)

    def csrf_ok(self, submitted: str | None) -> bool:
        """Whether a posted form carries this session's CSRF token."""
        if self.token is None or not submitted or not submitted.isascii():
            return False
        return hmac.compare_digest(self.gateway.tag("page-csrf", self.token).encode(), submitted.encode())

    def sign_in_csrf_ok(self, submitted: str | None) -> bool:
        """Whether a posted sign-in form carries the token of this browser's pre-session cookie."""
        nonce = self.request.cookies.get(sign_in_cookie(self.request), "")
        if not _fair_nonce(nonce) or not submitted or not submitted.isascii():
            return False
        return hmac.compare_digest(self.gateway.tag("sign-in-csrf", nonce).encode(), submitted.encode())

    def set_cookie(self, name: str, value: str, *, max_age: int, samesite: str = "strict") -> None:
        """A cookie for the response: HttpOnly, Path=/, Secure unless on localhost over HTTP."""
        options = {
            "max_age": max_age,
            "path": "/",
            "httponly": True,
            "secure": is_secure(self.request),
            "samesite": samesite,
        }
        self.cookies.append((name, value, options))

    def delete_cookie(self, name: str) -> None:
        """Expire a cookie in the browser."""
        self.set_cookie(name, "", max_age=0)

    def path_for_switch(self) -> str:
        """Where the language switch brings the person back to."""
        return same_site_path(self.request.url.path)

    def languages(self) -> list[dict[str, str | bool]]:
        """The visible language switch: every language in its own name, the current one marked."""
        back = quote(self.path_for_switch(), safe="/")
        return [
            {
                "code": code,
                "name": language_name(code),
                "href": f"{PREFIX}/language/{code}?next={back}",
                "current": code == self.lang,
            }
            for code in LANGUAGES
        ]

    def finish(self, response: Response) -> Response:
        """Add this page's cookies and the headers every page carries."""
        for name, value, options in self.cookies:
            response.set_cookie(name, value, **options)
        headers = response.headers
        headers["Cache-Control"] = "no-store"  # a shared computer's back button shows nothing personal
        headers["Content-Security-Policy"] = CSP
        headers["Referrer-Policy"] = "no-referrer"
        headers["X-Content-Type-Options"] = "nosniff"
        headers["X-Frame-Options"] = "DENY"
        headers["Content-Language"] = self.lang
        headers["Vary"] = "Accept-Language, Cookie"
        return response

    def render(self, template: str, status: int = 200, **context: Any) -> Response:
        """An HTML page from `templates/<template>`."""
        html = _env.get_template(template).render(
            page=self,
            t=self.t,
            tn=self.tn,
            lang=self.lang,
            nav=NAV if self.session is not None else [],
            current=self.request.url.path,
            prefix=PREFIX,
            stylesheet=STYLESHEET,
            **context,
        )
        return self.finish(HTMLResponse(html, status_code=status))

    def redirect(self, target: str) -> Response:
        """See other: the browser GETs `target` (after a form post, or to sign in)."""
        return self.finish(RedirectResponse(target, status_code=303))

    def problem_text(self, code: str, **params: object) -> str:
        """The kind words for a problem `code` of the JSON API (a general message for the rest)."""
        return self.t(PROBLEMS.get(code, PROBLEMS["Other"]), **params)

    def locked_text(self, minutes: int) -> str:
        """Sign-in is locked for `minutes`: what happened and when to try again."""
        return locked_text(self.lang, minutes)

    def wrong_pin_text(self, attempts_left: int | None) -> str:
        """A wrong code or PIN, and how many tries are left before a lockout where that is known."""
        if attempts_left is None or attempts_left < 1:
            return self.problem_text("InvalidVoucherOrPin")
        return wrong_pin_text(self.lang, attempts_left)

    def problem(self, status: int, code: str) -> Response:
        """A kind error page for a problem `code` of the JSON API."""
        return self.render("error.html", status, message=self.problem_text(code))


def _fair_nonce(nonce: str) -> bool:
    return 16 <= len(nonce) <= 64 and nonce.isascii() and nonce.isprintable()


async def open_page(request: Request) -> Page:
    """The page context of a request, signed in if its session cookie holds a live session. In an
    assisted session the person of the NGO who assists is the acting person of the page's operations
    (async, so that this reaches the route: a synchronous dependency runs in a copied context)."""
    page = _open(request)
    ACTING_PERSON.set(page.session.assisted_person if page.session is not None else None)
    return page


def _open(request: Request) -> Page:
    """The page context of a request (in memory only: the session store and the cookies)."""
    gateway: Gateway = request.app.state.gateway
    page = Page(
        request, gateway, choose(request.cookies.get(LANG_COOKIE), request.headers.get("accept-language"))
    )
    token = request.cookies.get(session_cookie(request))
    if token is None:
        return page
    try:
        if not token.startswith(SESSION_PREFIX) or len(token) > 100:  # an API key is no session
            raise GatewayError("NotASession", "not a client session")
        page.session = gateway.clients.session(token)
        page.token = token
    except GatewayError:
        page.delete_cookie(session_cookie(request))  # dead or foreign: the browser forgets it
    return page


async def signed_in_page(request: Request) -> Page:
    """The page context of a signed-in client; others are sent to sign in."""
    page = await open_page(request)
    if page.session is None:
        had_cookie = session_cookie(request) in request.cookies
        raise SignInRequired("expired" if had_cookie else None)
    return page


def staff_person(
    page: Page, cookie: str, roles: frozenset[str] | tuple[str, ...], kind: str
) -> tuple[PersonView | None, str | None]:
    """The person whose live session the `cookie` holds, with their token, if they are enabled, hold one
    of `roles` and belong to an organisation of `kind`; else (None, None). A dead session's cookie is
    deleted."""
    token = page.request.cookies.get(cookie)
    if not token or len(token) > 100:
        return None, None
    try:
        person = page.gateway.people.session(token)
    except GatewayError:
        page.delete_cookie(cookie)
        return None, None
    if person.disabled or not any(r in person.roles for r in roles):
        return None, None
    if page.gateway.organisation(person.organisation_id).kind != kind:
        return None, None
    return person, token


def problem_of(exc: GatewayError | ContractRevert | LedgerError) -> tuple[int, str]:
    """HTTP status and problem `code` of an error, as the JSON API answers it."""
    if isinstance(exc, ContractRevert):
        name = type(exc).__name__
        return REVERT_STATUS.get(name, 409), name
    if isinstance(exc, GatewayError):
        status = GATEWAY_STATUS.get(exc.kind, 409)
        return status, "Unavailable" if status == 503 else exc.code
    return 503, "Unavailable"


def _error_page(request: Request, exc: Exception) -> Response:
    """The HTML answer to an exception a page handler did not handle itself (never a 500 for a
    refusal; an unexpected error is logged by type and code location only, since its message may
    hold what a person typed)."""
    page = _open(request)
    if isinstance(exc, SignInRequired):
        # open_page has expired a dead session cookie already
        suffix = f"?reason={exc.reason}" if exc.reason else ""
        return page.redirect(f"{exc.path}{suffix}")
    if isinstance(exc, RequestValidationError) and request.method == "POST":
        return page.problem(400, "Other")  # a form no page of ours sends
    if isinstance(exc, RequestValidationError | StarletteHTTPException):
        return page.render("not_found.html", 404)
    if isinstance(exc, GatewayError | ContractRevert | LedgerError):
        return page.problem(*problem_of(exc))
    frames = "".join(traceback.format_tb(exc.__traceback__))
    log.error("page %s failed with %s at\n%s", request.url.path, type(exc).__name__, frames)
    return page.problem(500, "Other")


class PageRoute(APIRoute):
    """A route whose errors become HTML pages instead of the JSON API's problem documents."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def page_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except Exception as exc:
                return _error_page(request, exc)

        return page_handler
