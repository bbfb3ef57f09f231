"""The client pages: sign in with voucher code and PIN, see and claim aid, see receipts, sign out.

Plain HTML forms that work without JavaScript, over the same services as the JSON API
(`Clients.sign_in`, `ClaimsService.claim`, ...). Every form post answers with a redirect
(post/redirect/get), so reloading a page never claims twice.
"""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Response

from api.errors import GatewayError
from api.i18n import LANGUAGES
from api.pages import _view
from api.pages._web import (
    CSS,
    LANG_COOKIE,
    LANG_COOKIE_AGE_S,
    PREFIX,
    Page,
    PageRoute,
    is_local,
    open_page,
    problem_of,
    same_site_path,
    session_cookie,
    signed_in_page,
)
from api.schemas import IdPath
from api.services.clients import SignInFailed, SignInLocked
from governance.errors import VoucherCodeError
from governance.vouchers import parse_code
from ledger.exceptions import ContractRevert, LedgerError

router = APIRouter(prefix=PREFIX, tags=["pages"], include_in_schema=False, route_class=PageRoute)
fallback = APIRouter(prefix=PREFIX, include_in_schema=False, route_class=PageRoute)
root = APIRouter(include_in_schema=False, route_class=PageRoute)

AnyPage = Annotated[Page, Depends(open_page)]
SignedIn = Annotated[Page, Depends(signed_in_page)]
Field = Annotated[str, Form()]

PIN = re.compile(r"^[0-9]{4,8}$")
PAYMENT_CODE = re.compile(r"^[0-9A-Za-z]{8}$")
MAX_CODE_LENGTH = 40


def _sign_in_page(
    page: Page,
    status: int = 200,
    *,
    code: str = "",
    errors: dict[str, str] | None = None,
    problem: str | None = None,
    notice: str | None = None,
    pay: str = "",
) -> Response:
    insecure = page.request.url.scheme != "https" and not is_local(page.request)
    return page.render(
        "sign_in.html",
        status,
        code=code,
        errors=errors or {},
        problem=problem,
        notice=notice,
        insecure=insecure,
        pay=pay,
    )


def _payment_code(pay: str | None) -> str:
    """A payment code to come back to after signing in (from a counter's QR code), or ""."""
    return pay if pay is not None and PAYMENT_CODE.fullmatch(pay) else ""


@root.get("/")
def start(page: AnyPage) -> Response:
    """The gateway's front door leads to the client pages."""
    return page.redirect(f"{PREFIX}/")


@router.get("")
def client_root(page: AnyPage) -> Response:
    """`/client` without its slash."""
    return page.redirect(f"{PREFIX}/")


@router.get("/sign-in")
def sign_in_form(
    page: AnyPage, reason: str | None = None, voucher: str | None = None, pay: str | None = None
) -> Response:
    """The sign-in form; `voucher` fills in the code (a voucher's QR code may carry it); `pay` is the
    payment a counter's QR code asked to confirm, shown after signing in."""
    if page.session is not None:
        return page.redirect(f"{PREFIX}/")
    code = ""
    if voucher:
        try:
            code = parse_code(voucher[:MAX_CODE_LENGTH])
        except VoucherCodeError:
            code = ""
    return _sign_in_page(
        page,
        code=code,
        problem=page.problem_text("SessionExpired") if reason == "expired" else None,
        notice=page.t("You are signed out. You can hand over the computer now.")
        if reason == "signed-out"
        else None,
        pay=_payment_code(pay),
    )


@router.post("/sign-in")
def sign_in(page: AnyPage, code: Field = "", pin: Field = "", csrf: Field = "", pay: Field = "") -> Response:
    """Voucher code and PIN: a wrong PIN and an unknown code get the same answer; so do their lockouts."""
    typed = code.strip()[:MAX_CODE_LENGTH]
    pay = _payment_code(pay)
    if not page.sign_in_csrf_ok(csrf):
        return _sign_in_page(
            page,
            403,
            code=typed,
            problem=page.t("The page was open for too long. Please try again."),
            pay=pay,
        )
    errors: dict[str, str] = {}
    if not typed:
        errors["code"] = page.t("Please enter the code from your voucher.")
    else:
        try:
            if len(code) > MAX_CODE_LENGTH:
                raise VoucherCodeError("too long")
            typed = parse_code(code)
        except VoucherCodeError:  # the check symbol is public arithmetic: this tells nobody anything
            errors["code"] = page.t(
                "The code seems to have a typing mistake. Please compare each character with your voucher."
            )
    if not PIN.fullmatch(pin):
        errors["pin"] = page.t("The PIN has 4 to 8 digits. Please enter digits only.")
    if errors:
        return _sign_in_page(page, 400, code=typed, errors=errors, pay=pay)
    source = page.request.client.host if page.request.client else "unknown"
    try:
        token, _ = page.clients.sign_in(typed, pin, source)
    except SignInLocked as exc:
        minutes = max(1, -(-int(exc.fields.get("retryAfter", 60)) // 60))
        response = _sign_in_page(page, 429, code=typed, problem=page.locked_text(minutes), pay=pay)
        response.headers["Retry-After"] = str(exc.fields.get("retryAfter", 60))
        return response
    except SignInFailed as exc:
        left = exc.fields.get("attemptsLeft")
        problem = page.wrong_pin_text(left if isinstance(left, int) else None)
        return _sign_in_page(page, 400, code=typed, problem=problem, pay=pay)
    if page.token is not None:  # someone else's session left open on this browser ends here
        page.clients.sign_out(page.token)
    page.set_cookie(session_cookie(page.request), token, max_age=page.clients.settings.session_ttl_s)
    return page.redirect(f"{PREFIX}/pay/{pay}" if pay else f"{PREFIX}/")


def _home(
    page: Page, status: int = 200, *, claimed: int | None = None, problem: str | None = None
) -> Response:
    assert page.session is not None
    offers = _view.offers(page.gateway, page.session)
    done = next((o for o in offers if o.claim_program_id == claimed and o.claimed), None)
    return page.render("home.html", status, offers=offers, done=done, problem=problem)


@router.get("/")
def home(page: SignedIn, claimed: str | None = None) -> Response:
    """What the client may claim now, and what they have claimed."""
    just = int(claimed) if claimed and claimed.isdigit() and len(claimed) < 16 else None
    return _home(page, claimed=just)


@router.post("/claims/{claim_program_id}")
def claim(page: SignedIn, claim_program_id: IdPath, csrf: Field = "") -> Response:
    """Claim an entitlement; the claim is signed with the client's own key and relayed."""
    assert page.session is not None
    if not page.csrf_ok(csrf):
        return _home(page, 403, problem=page.t("The page was open for too long. Please try again."))
    try:
        page.gateway.claims.claim(page.session, claim_program_id)
    except (GatewayError, ContractRevert, LedgerError) as exc:
        status, code = problem_of(exc)
        return _home(page, status, problem=page.problem_text(code))
    return page.redirect(f"{PREFIX}/?claimed={claim_program_id}")


@router.get("/receipts")
def receipts(page: SignedIn) -> Response:
    """What the client received, each with the transaction an auditor can look up; and what they paid
    at accepted places."""
    assert page.session is not None
    rows = _view.receipts(page.gateway, page.session)
    total = sum(r.amount for r in rows)
    payments = page.gateway.payments.mine(page.session)
    return page.render("receipts.html", receipts=rows, total=total, payments=payments)


@router.post("/sign-out")
def sign_out(page: AnyPage) -> Response:
    """End the session. No CSRF token needed: a forged post could only sign a person out, the safe
    direction on a shared computer, and the button of a page left open must always work."""
    if page.token is not None:
        page.clients.sign_out(page.token)
    page.delete_cookie(session_cookie(page.request))
    return page.redirect(f"{PREFIX}/sign-in?reason=signed-out")


@router.get("/language/{lang}")
def switch_language(page: AnyPage, lang: str, next: str | None = None) -> Response:
    """The visible language switch: remember the choice and go back to the page."""
    if lang not in LANGUAGES:
        return page.render("not_found.html", 404)
    page.lang = lang
    page.set_cookie(LANG_COOKIE, lang, max_age=LANG_COOKIE_AGE_S, samesite="lax")
    return page.redirect(same_site_path(next))


@router.get("/static/pages.css")
def stylesheet() -> Response:
    """The one stylesheet (pages link it with a hash of its content, so it may be cached)."""
    return Response(
        CSS,
        media_type="text/css; charset=utf-8",
        headers={"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"},
    )


@fallback.api_route("/{rest:path}", methods=["GET", "POST"])
def not_found(page: AnyPage, rest: str) -> Response:
    """Any other address under the client pages."""
    return page.render("not_found.html", 404)
