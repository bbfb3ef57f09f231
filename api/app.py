"""The FastAPI gateway: wallet-free access to Allmende for NGOs, funders, auditors and clients."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from api import pages, problems
from api.gateway import Gateway
from api.idempotency import IdempotencyMiddleware
from api.limits import BodyLimitMiddleware
from api.pages import public as public_pages
from api.routes import (
    admin,
    attestations,
    audit,
    claims,
    clients,
    funds,
    ledger,
    open_data,
    overviews,
    payments,
    payouts,
    people,
    providers,
    rounds,
    rpc,
)
from api.settings import Settings, get_settings


def create_app(settings: Settings | None = None, gateway: Gateway | None = None) -> FastAPI:
    """The app; opens (or uses) a gateway for its lifetime."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own = gateway is None
        app.state.gateway = gateway or Gateway.open(settings)
        try:
            yield
        finally:
            if own:
                app.state.gateway.close()

    app = FastAPIOffline(  # Swagger UI and ReDoc from the package's own files, never a CDN
        title="Allmende gateway",
        version="0.1.0",
        description="Transparent aid and participatory budgeting without a wallet. "
        "Errors are RFC 9457 problem details with a stable `code`.",
        lifespan=lifespan,
        responses=problems.RESPONSES,
    )
    if gateway is not None:
        app.state.gateway = gateway
    problems.install(app)
    app.add_middleware(IdempotencyMiddleware)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)  # outermost: first
    app.include_router(admin.router)
    app.include_router(funds.router)
    app.include_router(clients.router)
    app.include_router(claims.router)
    app.include_router(rounds.router)
    app.include_router(audit.router)
    app.include_router(audit.public)
    app.include_router(rpc.router)
    app.include_router(ledger.router)
    app.include_router(attestations.router)
    app.include_router(people.router)
    app.include_router(overviews.router)
    app.include_router(providers.router)
    app.include_router(payments.router)
    app.include_router(payouts.router)
    app.include_router(open_data.router)
    app.include_router(public_pages.router)  # the public transparency pages under /public (HTML)
    pages.install(app)  # the client web pages under /client (HTML; errors as pages, not problems)

    @app.get("/health", tags=["public"])
    def health() -> dict[str, str]:
        """Liveness."""
        return {"status": "ok"}

    return app
