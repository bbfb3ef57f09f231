"""Money to the client's own bank account, as a page: how much cash they have (and the restricted aid
that stays), the IBAN field, an optional amount (empty: all their cash), what happens next, and their
payouts so far.

Authority: the signed-in client (or a caseworker's assisted session) only, about their own money.
Asking is a form post with the session's CSRF token and a one-time field of the form (`once`), which
names the request: a form sent twice (a double click, a reload of the post) pays once. The answer is a
redirect (post/redirect/get). The IBAN is never echoed back into a page after a refusal, nor logged.
"""

from __future__ import annotations

import secrets
from decimal import Decimal, InvalidOperation
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Response

from api.errors import GatewayError
from api.i18n import N_
from api.pages._web import PREFIX, Page, PageRoute, problem_of, signed_in_page
from ledger.exceptions import ContractRevert, LedgerError

router = APIRouter(prefix=PREFIX, tags=["pages"], include_in_schema=False, route_class=PageRoute)

SignedIn = Annotated[Page, Depends(signed_in_page)]
MICRO = 10**6

PAYOUT_PROBLEMS = {
    "NotEnoughBalance": N_("Your cash does not cover this amount."),
    "InvalidIban": N_("This IBAN is not valid. Please compare it with your bank card or a bank statement."),
    "AmountNotWholeCents": N_("Please write the amount in euros and cents, like 12.50."),
}


def _render(page: Page, status: int = 200, problem: str | None = None, notice: str | None = None) -> Response:
    assert page.session is not None
    service = page.gateway.client_payouts
    return page.render(
        "payout.html",
        status,
        balance=service.balance(page.session),
        payouts=service.mine(page.session),
        once=secrets.token_urlsafe(16),
        problem=problem,
        notice=notice,
    )


def _amount(text: str) -> int | None:
    """Micro-euros of what the client typed (a comma or a point before the cents); None: all."""
    cleaned = text.strip().replace(" ", "").replace(",", ".")
    if not cleaned:
        return None
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        return -1
    if not value.is_finite() or value <= 0 or value > 10**9:
        return -1
    return int(value * MICRO) if value * 100 == int(value * 100) else -1


@router.get("/payout")
def payout_page(page: SignedIn, sent: Annotated[int, Query(ge=0, le=1)] = 0) -> Response:
    """Cash, the IBAN form and the client's payouts."""
    notice = page.t("Done: your money is on its way to your bank account.") if sent else None
    return _render(page, notice=notice)


@router.post("/payout")
def ask_payout(
    page: SignedIn,
    csrf: Annotated[str, Form()] = "",
    iban: Annotated[str, Form(max_length=42)] = "",
    amount: Annotated[str, Form(max_length=20)] = "",
    once: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    """Pay the client's cash (all of it, or the amount typed) out to the IBAN typed."""
    assert page.session is not None
    if not page.csrf_ok(csrf):
        return _render(page, 403, page.t("The page was open for too long. Please try again."))
    micro = _amount(amount)
    if micro == -1:
        return _render(page, 422, page.t(PAYOUT_PROBLEMS["AmountNotWholeCents"]))
    request = f"page:{once}" if once and once.isascii() and once.isprintable() else None
    try:
        page.gateway.client_payouts.request(page.session, micro, iban, request)
    except (GatewayError, ContractRevert, LedgerError) as exc:
        status, code = problem_of(exc)
        text = page.t(PAYOUT_PROBLEMS[code]) if code in PAYOUT_PROBLEMS else page.problem_text(code)
        return _render(page, status, text)
    return page.redirect(f"{PREFIX}/payout?sent=1")
