"""Client web pages served by the gateway: sign in with voucher code and PIN, claim aid, see receipts.

Server-rendered HTML (Jinja2) that works without JavaScript, in German by default and in English.
`install(app)` adds them to the gateway; `docs/client-pages.md` says how to add a page.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from api.pages._web import (
    NAV,
    PREFIX,
    NavItem,
    Page,
    PageRoute,
    open_page,
    redact_access_log,
    signed_in_page,
)
from api.pages.counter import router as counter
from api.pages.holdings import router as holdings
from api.pages.paying import router as paying
from api.pages.payout import router as payout
from api.pages.providers import router as providers
from api.pages.routes import fallback, root, router
from api.pages.staff import router as staff
from api.pages.voting import router as voting

ROUTERS: list[APIRouter] = [router, holdings, voting, staff, providers, paying, payout, counter]
"""Routers of client pages, included in this order before the catch-all "not found" page."""

__all__ = [
    "NAV",
    "PREFIX",
    "ROUTERS",
    "NavItem",
    "Page",
    "PageRoute",
    "install",
    "open_page",
    "signed_in_page",
]


def install(app: FastAPI) -> None:
    """Serve the client pages under `/client` and send the gateway's front door there."""
    for pages in ROUTERS:
        app.include_router(pages)
    app.include_router(fallback)
    app.include_router(root)
    redact_access_log()
