"""The counter (Kasse): pages for the cashiers of a provider who take payment from clients' aid.

A cashier (or an admin) of a provider organisation signs in with login, password and a TOTP code,
enters an amount and a note, and gets a payment code, shown as text and as a QR code that opens the
client's confirmation page (`/client/pay/{code}`) on the client's own phone. Or the client types their
voucher code and PIN on the counter device, like at a card terminal (counted like any sign-in). The
counter lists the day's payments with their total, and refunds a paid payment.

Plain HTML forms that work without JavaScript. The counter's session is a person's session of the
people service in its own cookie (HttpOnly, SameSite=Strict, `__Host-` and Secure unless on
localhost); each form carries a CSRF token (a keyed hash of that session); every action is in the
person's name (the operation journal records them). The voucher code and PIN typed here go to
`PaymentService.pay_at_counter` only, and the client's session it opens ends with the payment.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated

import segno
from fastapi import APIRouter, Depends, Form, Path, Request, Response
from markupsafe import Markup

from api.amounts import parse_euros
from api.errors import GatewayError
from api.i18n import N_
from api.pages._person_area import AreaRules, PersonArea, open_area, require_person
from api.pages._person_area import sign_in as area_sign_in
from api.pages._person_area import sign_out as area_sign_out
from api.pages._web import (
    COUNTER_PREFIX,
    PREFIX,
    PageRoute,
    is_secure,
    problem_of,
)
from api.principals import Principal
from api.services.clients import SignInFailed, SignInLocked
from api.services.payments import MAX_AMOUNT, PaymentView
from ledger.exceptions import ContractRevert, LedgerError

router = APIRouter(prefix=COUNTER_PREFIX, tags=["pages"], include_in_schema=False, route_class=PageRoute)
Field = Annotated[str, Form()]
Code = Annotated[str, Path(pattern=r"^[0-9A-Za-z]{8}$")]

COUNTER_ROLES = ("cashier", "admin")
"""Who may use the counter: the provider's cashiers and admins."""
PIN = re.compile(r"^[0-9]{4,8}$")
MICRO = 10**6


def counter_cookie(request: Request) -> str:
    """The counter session cookie's name: with the `__Host-` prefix whenever the cookie is Secure."""
    return "__Host-allmende-counter" if is_secure(request) else "allmende-counter"


COUNTER = AreaRules(
    COUNTER_PREFIX,
    counter_cookie,
    COUNTER_ROLES,
    "provider",
    N_("The counter is for the cashiers of an accepted place."),
)


@dataclass
class Counter(PersonArea):
    """One request to a counter page: the page machinery and the signed-in cashier."""

    CSRF_PURPOSE = "counter-csrf"
    RULES = COUNTER

    @property
    def principal(self) -> Principal:
        """The cashier as the payment service's caller."""
        assert self.person is not None
        org = self.page.gateway.organisation(self.person.organisation_id)
        return Principal(
            org.id,
            org.kind,
            org.name,
            org.address,
            ("*",),
            person_id=self.person.id,
            person_roles=self.person.roles,
        )

    def render(self, template: str, status: int = 200, **context: object) -> Response:
        """A counter page from `templates/counter/<template>`."""
        context.setdefault("problem", None)
        context.setdefault("notice", None)
        return self.page.render(f"counter/{template}", status, counter=self, base=COUNTER_PREFIX, **context)


async def open_counter(request: Request) -> Counter:
    """The counter context of a request, with its cashier if the counter cookie holds a live session."""
    return await open_area(Counter, request)


async def signed_in_counter(request: Request) -> Counter:
    """The counter context of a signed-in cashier; others are sent to sign in."""
    return require_person(await open_counter(request))


AnyCounter = Annotated[Counter, Depends(open_counter)]
SignedInCounter = Annotated[Counter, Depends(signed_in_counter)]


@router.get("")
def counter_root(counter: AnyCounter) -> Response:
    """`/counter` without its slash."""
    return counter.page.redirect(f"{COUNTER_PREFIX}/")


@router.get("/sign-in")
def sign_in_form(counter: AnyCounter, reason: str | None = None) -> Response:
    """The counter's sign-in form: login, password and a code from the authenticator app."""
    if counter.person is not None:
        return counter.page.redirect(f"{COUNTER_PREFIX}/")
    notice = counter.page.t("You are signed out.") if reason == "signed-out" else None
    return counter.render("sign_in.html", login="", notice=notice)


@router.post("/sign-in")
def sign_in(
    counter: AnyCounter, login: Field = "", password: Field = "", code: Field = "", csrf: Field = ""
) -> Response:
    """Sign in as a cashier of a provider: password and a current TOTP code."""
    return area_sign_in(counter, login, password, code, csrf)


@router.post("/sign-out")
def sign_out(counter: AnyCounter) -> Response:
    """End the counter session."""
    return area_sign_out(counter)


def _home(counter: Counter, status: int = 200, **context: object) -> Response:
    day = counter.page.gateway.payments.history(counter.principal, counter.page.gateway.payments.today())
    context.setdefault("amount", "")
    context.setdefault("note", "")
    return counter.render("home.html", status, day=day, **context)


@router.get("/")
def home(counter: SignedInCounter) -> Response:
    """Ask for a payment; today's payments with their total."""
    return _home(counter)


def _amount(text: str) -> int | None:
    """Micro-euros of a typed amount ("12,80" or "12.80"), or None when it is not one."""
    try:
        euros = parse_euros(text.strip().replace(",", ".")[:20])
    except ValueError:
        return None
    units = int(euros * MICRO)
    return units if 0 < units <= MAX_AMOUNT and euros * MICRO == units else None


@router.post("/payments")
def ask(counter: SignedInCounter, amount: Field = "", note: Field = "", csrf: Field = "") -> Response:
    """A new payment: its code and QR code come next."""
    t = counter.page.t
    note = note.strip()[:200].replace("\x00", "")
    if not counter.csrf_ok(csrf):
        problem = t("The page was open for too long. Please try again.")
        return _home(counter, 403, amount=amount[:20], note=note, problem=problem)
    units = _amount(amount)
    if units is None:
        problem = t("Please enter an amount in euros, for example 12,80.")
        return _home(counter, 400, amount=amount[:20], note=note, problem=problem)
    try:
        view = counter.page.gateway.payments.request(counter.principal, units, note)
    except GatewayError as exc:
        _, code = problem_of(exc)
        return _home(counter, 409, amount=amount[:20], note=note, problem=counter.page.problem_text(code))
    return counter.page.redirect(f"{COUNTER_PREFIX}/payments/{view.code}")


def _qr(counter: Counter, view: PaymentView) -> Markup:
    """The QR code (inline SVG) of the client's confirmation page for this payment."""
    url = f"{str(counter.page.request.base_url).rstrip('/')}{PREFIX}/pay/{view.code}"
    svg = segno.make(url, error="m").svg_inline(scale=4, omitsize=True)
    return Markup(svg)  # segno's own SVG of our own URL: no typed text in it


def _payment(counter: Counter, code: str, status: int = 200, **context: object) -> Response:
    view = counter.page.gateway.payments.for_provider(counter.principal, code)
    return counter.render("payment.html", status, payment=view, qr=_qr(counter, view), **context)


@router.get("/payments/{code}")
def payment(counter: SignedInCounter, code: Code) -> Response:
    """One payment: its code and QR code for the client's phone, or voucher code + PIN here."""
    return _payment(counter, code)


@router.post("/payments/{code}/confirm")
def confirm(
    counter: SignedInCounter, code: Code, voucher: Field = "", pin: Field = "", csrf: Field = ""
) -> Response:
    """The client types their voucher code and PIN on the counter device and pays."""
    t = counter.page.t
    if not counter.csrf_ok(csrf):
        return _payment(counter, code, 403, problem=t("The page was open for too long. Please try again."))
    if not PIN.fullmatch(pin) or not voucher.strip():
        return _payment(counter, code, 400, problem=t("The PIN has 4 to 8 digits. Please enter digits only."))
    request = counter.page.request
    source = request.client.host if request.client else "unknown"
    try:
        counter.page.gateway.payments.pay_at_counter(
            counter.principal, code, voucher.strip()[:40], pin, source
        )
    except SignInLocked:
        return _payment(counter, code, 429, problem=t("Too many wrong PINs. Please try again later."))
    except SignInFailed as exc:
        left = exc.fields.get("attemptsLeft")
        return _payment(
            counter, code, 400, problem=counter.page.wrong_pin_text(left if isinstance(left, int) else None)
        )
    except (GatewayError, ContractRevert, LedgerError) as exc:
        status, problem = problem_of(exc)
        return _payment(counter, code, status, problem=counter.page.problem_text(problem))
    return counter.page.redirect(f"{COUNTER_PREFIX}/payments/{code}")


@router.post("/payments/{code}/refund")
def refund(counter: SignedInCounter, code: Code, csrf: Field = "") -> Response:
    """Send a paid (or partly paid) payment back to the client's aid."""
    t = counter.page.t
    if not counter.csrf_ok(csrf):
        return _payment(counter, code, 403, problem=t("The page was open for too long. Please try again."))
    try:
        counter.page.gateway.payments.refund(counter.principal, code)
    except (GatewayError, ContractRevert, LedgerError) as exc:
        status, problem = problem_of(exc)
        return _payment(counter, code, status, problem=counter.page.problem_text(problem))
    return counter.page.redirect(f"{COUNTER_PREFIX}/payments/{code}")
