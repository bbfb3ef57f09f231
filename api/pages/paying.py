"""Paying at a provider's counter from the client's own phone: the counter shows a code (as a QR code
that opens this page), the signed-in client sees who asks for how much and for what, and confirms.

Authority: the signed-in client only. An open payment is shown to any signed-in client (the code is
what the cashier hands over); a paid one only to the client whose accounts paid it, as if it did not
exist for everyone else. Paying is a form post with the page's CSRF token, answered with a redirect
(post/redirect/get), and `PaymentService.pay` pays a payment at most once, so a reload never pays twice.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Path, Response

from api.errors import GatewayError
from api.pages._web import PREFIX, Page, PageRoute, open_page, problem_of, signed_in_page
from api.services.payments import PaymentView
from ledger.exceptions import ContractRevert, LedgerError

router = APIRouter(prefix=PREFIX, tags=["pages"], include_in_schema=False, route_class=PageRoute)

SignedIn = Annotated[Page, Depends(signed_in_page)]
AnyPage = Annotated[Page, Depends(open_page)]
Code = Annotated[str, Path(pattern=r"^[0-9A-Za-z]{8}$")]


def _render(page: Page, view: PaymentView, status: int = 200, problem: str | None = None) -> Response:
    return page.render("pay.html", status, payment=view, problem=problem)


@router.get("/pay/{code}")
def payment(page: AnyPage, code: Code) -> Response:
    """Who asks for how much, and the button to pay; or what became of the client's payment. Without
    a session (the counter's QR code opened this on the client's phone): sign in, then back here."""
    if page.session is None:
        return page.redirect(f"{PREFIX}/sign-in?pay={code}")
    return _render(page, page.gateway.payments.for_client(page.session, code))


@router.post("/pay/{code}")
def pay(page: SignedIn, code: Code, csrf: Annotated[str, Form()] = "") -> Response:
    """Pay from the client's aid that may be used at this provider."""
    assert page.session is not None
    view = page.gateway.payments.for_client(page.session, code)
    if not page.csrf_ok(csrf):
        return _render(page, view, 403, page.t("The page was open for too long. Please try again."))
    try:
        page.gateway.payments.pay(page.session, code)
    except (GatewayError, ContractRevert, LedgerError) as exc:
        status, problem = problem_of(exc)
        return _render(page, view, status, page.problem_text(problem))
    return page.redirect(f"{PREFIX}/pay/{view.code}")
