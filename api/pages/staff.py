"""The staff desk: pages for the people of an NGO who help clients in person.

A caseworker (or an admin) of an NGO signs in with login, password and a TOTP code, finds a client
by their voucher code, opens an assisted session with the client present (the client types their
PIN; the session then shows the client's own pages, where a paper ballot is entered as the client's
ballot, and every operation of it is journalled with the person who assisted), registers a client
and prints their voucher card, and resets a PIN with the recovery code from the client's file.

Plain HTML forms that work without JavaScript. The desk's session is a person's session of the people
service (`api/services/people.py`), carried in its own cookie (HttpOnly, SameSite=Strict, `__Host-`
and Secure unless on localhost), never an API key; each form carries a CSRF token (a keyed hash of
that session). Every action is in the person's name: the service calls carry their organisation and
person, and the operation journal records them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, cast

from fastapi import APIRouter, Depends, Form, Request, Response

from api.errors import GatewayError
from api.i18n import N_
from api.pages._person_area import AreaRules, PersonArea, open_area, require_person
from api.pages._person_area import sign_in as area_sign_in
from api.pages._person_area import sign_out as area_sign_out
from api.pages._web import (
    STAFF_PREFIX,
    PageRoute,
    is_secure,
    problem_of,
    session_cookie,
)
from api.services.clients import SignInFailed, SignInLocked
from api.services.voucher_sheets import SheetLanguage, SheetRequest

router = APIRouter(prefix=STAFF_PREFIX, tags=["pages"], include_in_schema=False, route_class=PageRoute)
Field = Annotated[str, Form()]

DESK_ROLES = ("caseworker", "admin")
"""Who may use the desk: the NGO's caseworkers and admins."""
PIN = re.compile(r"^[0-9]{4,8}$")
CLIENT_ID = re.compile(r"^[0-9a-f]{32}$")


def staff_cookie(request: Request) -> str:
    """The desk session cookie's name: with the `__Host-` prefix whenever the cookie is Secure."""
    return "__Host-allmende-staff" if is_secure(request) else "allmende-staff"


DESK = AreaRules(
    STAFF_PREFIX, staff_cookie, DESK_ROLES, "ngo", N_("The desk is for the caseworkers of an NGO.")
)


@dataclass
class Desk(PersonArea):
    """One request to a desk page: the page machinery (language, rendering, cookies) and the person."""

    CSRF_PURPOSE = "staff-csrf"
    RULES = DESK

    @property
    def ngo_id(self) -> str:
        assert self.person is not None
        return self.person.organisation_id

    def render(self, template: str, status: int = 200, **context: object) -> Response:
        """A desk page from `templates/staff/<template>`."""
        return self.page.render(f"staff/{template}", status, desk=self, staff=STAFF_PREFIX, **context)


async def open_desk(request: Request) -> Desk:
    """The desk context of a request, with its person if the desk cookie holds a live session."""
    return await open_area(Desk, request)


async def signed_in_desk(request: Request) -> Desk:
    """The desk context of a signed-in caseworker; others are sent to sign in."""
    return require_person(await open_desk(request))


AnyDesk = Annotated[Desk, Depends(open_desk)]
SignedInDesk = Annotated[Desk, Depends(signed_in_desk)]


def _sign_in_page(
    desk: Desk, status: int = 200, *, login: str = "", problem: str | None = None, notice: str | None = None
) -> Response:
    return desk.render("sign_in.html", status, login=login, problem=problem, notice=notice)


@router.get("")
def desk_root(desk: AnyDesk) -> Response:
    """`/staff` without its slash."""
    return desk.page.redirect(f"{STAFF_PREFIX}/")


@router.get("/sign-in")
def sign_in_form(desk: AnyDesk, reason: str | None = None) -> Response:
    """The desk's sign-in form: login, password and a code from the authenticator app."""
    if desk.person is not None:
        return desk.page.redirect(f"{STAFF_PREFIX}/")
    notice = desk.page.t("You are signed out.") if reason == "signed-out" else None
    return _sign_in_page(desk, notice=notice)


@router.post("/sign-in")
def sign_in(
    desk: AnyDesk, login: Field = "", password: Field = "", code: Field = "", csrf: Field = ""
) -> Response:
    """Sign in as a person of an NGO: password and a current TOTP code."""
    return area_sign_in(desk, login, password, code, csrf)


@router.post("/sign-out")
def sign_out(desk: AnyDesk) -> Response:
    """End the desk session."""
    return area_sign_out(desk)


@router.get("/")
def home(desk: SignedInDesk) -> Response:
    """The desk: find a client by voucher code, or register a new one."""
    return desk.render("home.html")


@router.post("/find")
def find(desk: SignedInDesk, code: Field = "", csrf: Field = "") -> Response:
    """Find the NGO's client by their voucher code."""
    t = desk.page.t
    if not desk.csrf_ok(csrf):
        return desk.render("home.html", 403, problem=t("The page was open for too long. Please try again."))
    try:
        client_id = desk.page.gateway.clients.find_by_voucher(desk.ngo_id, code.strip()[:40])
    except GatewayError:
        return desk.render(
            "home.html", 404, problem=t("No client of your organisation has this voucher code.")
        )
    return desk.page.redirect(f"{STAFF_PREFIX}/clients/{client_id}")


def _client_page(desk: Desk, client_id: str, status: int = 200, **context: object) -> Response:
    if not CLIENT_ID.fullmatch(client_id):
        return desk.render(
            "home.html", 404, problem=desk.page.t("No client of your organisation has this voucher code.")
        )
    record = desk.page.gateway.clients.describe(desk.ngo_id, client_id)  # UnknownClient for another's
    personal = record.get("personal") or {}
    return desk.render("client.html", status, client_id=client_id, name=personal.get("name", ""), **context)


@router.get("/clients/{client_id}")
def client(desk: SignedInDesk, client_id: str) -> Response:
    """A client of the NGO: open an assisted session with them, or reset their PIN."""
    return _client_page(desk, client_id)


@router.post("/clients/{client_id}/assist")
def assist(desk: SignedInDesk, client_id: str, pin: Field = "", csrf: Field = "") -> Response:
    """The client, present, types their PIN: their own pages open in an assisted session."""
    t = desk.page.t
    if not desk.csrf_ok(csrf):
        return _client_page(
            desk, client_id, 403, problem=t("The page was open for too long. Please try again.")
        )
    if not PIN.fullmatch(pin):
        return _client_page(
            desk, client_id, 400, problem=t("The PIN has 4 to 8 digits. Please enter digits only.")
        )
    request = desk.page.request
    source = request.client.host if request.client else "unknown"
    assert desk.person is not None
    try:
        token, _ = desk.page.gateway.clients.assisted_session(
            desk.ngo_id, client_id, pin, source, desk.person.id
        )
    except SignInLocked:
        return _client_page(desk, client_id, 429, problem=t("Too many wrong PINs. Please try again later."))
    except SignInFailed as exc:
        left = exc.fields.get("attemptsLeft")
        problem = desk.page.wrong_pin_text(left if isinstance(left, int) else None)
        return _client_page(desk, client_id, 400, problem=problem)
    desk.page.set_cookie(session_cookie(request), token, max_age=desk.page.clients.settings.session_ttl_s)
    return desk.page.redirect("/client/")


@router.post("/clients/{client_id}/pin-reset")
def pin_reset(
    desk: SignedInDesk, client_id: str, recovery: Field = "", pin: Field = "", csrf: Field = ""
) -> Response:
    """A new PIN with the recovery code from the client's file; a new voucher card to print."""
    t = desk.page.t
    if not desk.csrf_ok(csrf):
        return _client_page(
            desk, client_id, 403, problem=t("The page was open for too long. Please try again.")
        )
    if not PIN.fullmatch(pin):
        return _client_page(
            desk, client_id, 400, problem=t("The PIN has 4 to 8 digits. Please enter digits only.")
        )
    clients = desk.page.gateway.clients
    try:
        voucher = clients.reset_pin(desk.ngo_id, client_id, recovery.strip()[:80], pin)
    except GatewayError as exc:
        _, code = problem_of(exc)
        if code == "InvalidRecoveryCode":
            return _client_page(desk, client_id, 403, problem=t("The recovery code does not match."))
        raise
    sheet = clients.hold_sheet(desk.ngo_id, SheetRequest(language=_card_language(desk)), [(voucher, None)])
    return desk.render("issued.html", 201, voucher=voucher, recovery=None, sheet=sheet.sheet_id)


def _card_language(desk: Desk) -> SheetLanguage:
    """The voucher card speaks the desk's language (the one the client chose with the staff) and German."""
    return cast(SheetLanguage, desk.page.lang)


@router.get("/register")
def register_form(desk: SignedInDesk) -> Response:
    """Register a new client."""
    return desk.render("register.html", name="", birth="")


@router.post("/register")
def register(
    desk: SignedInDesk, name: Field = "", birth: Field = "", pin: Field = "", csrf: Field = ""
) -> Response:
    """Register a client (their data encrypted, never on chain) and print their voucher card."""
    t = desk.page.t
    name, birth = name.strip()[:200], birth.strip()[:10]
    if not desk.csrf_ok(csrf):
        return desk.render(
            "register.html",
            403,
            name=name,
            birth=birth,
            problem=t("The page was open for too long. Please try again."),
        )
    if not name or (pin and not PIN.fullmatch(pin)):
        return desk.render(
            "register.html",
            400,
            name=name,
            birth=birth,
            problem=t("Please enter a name, and a PIN of 4 to 8 digits or none."),
        )
    clients = desk.page.gateway.clients
    personal = {"name": name, **({"birthDate": birth} if birth else {})}
    try:
        reg = clients.register(desk.ngo_id, personal, pin or None)
    except GatewayError as exc:
        _, code = problem_of(exc)
        message = (
            t("This person is registered already.")
            if code == "DuplicateClient"
            else t("Please check what you entered.")
        )
        return desk.render(
            "register.html",
            409 if code == "DuplicateClient" else 400,
            name=name,
            birth=birth,
            problem=message,
        )
    sheet = clients.hold_sheet(
        desk.ngo_id, SheetRequest(label="name", language=_card_language(desk)), [(reg.voucher_code, name)]
    )
    return desk.render(
        "issued.html",
        201,
        voucher=reg.voucher_code,
        recovery=reg.recovery_code,
        pin=reg.pin,
        sheet=sheet.sheet_id,
        client_id=reg.client_id,
    )


@router.get("/voucher-sheets/{sheet_id}")
def voucher_sheet(desk: SignedInDesk, sheet_id: str) -> Response:
    """The voucher card just issued, as a PDF to print: once (the code is not stored)."""
    if not re.fullmatch(r"[A-Za-z0-9_-]{8,64}", sheet_id):
        return desk.page.render("not_found.html", 404)
    try:
        pdf = desk.page.gateway.clients.sheets.take(desk.ngo_id, sheet_id)
    except GatewayError:
        return desk.page.render("not_found.html", 404)
    return desk.page.finish(
        Response(
            pdf,
            media_type="application/pdf",
            headers={"Content-Disposition": 'attachment; filename="voucher.pdf"'},
        )
    )
