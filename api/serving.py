"""How the HTTP server runs the app: which peers may name the client's address.

The per-source sign-in limit counts by the client's address. Behind a reverse proxy that address is
the proxy's, and the proxy names the real one in `X-Forwarded-For`; anyone else could name any
address there and so step around the limit. The header is therefore read only from the peers listed
in `ALLMENDE_TRUSTED_PROXIES` (addresses or networks); by default nobody is trusted, not even
loopback, and the address is the TCP peer's.
"""

from __future__ import annotations

from typing import Any

import uvicorn

from api.settings import Settings


def uvicorn_config(app: Any, settings: Settings, **options: Any) -> uvicorn.Config:
    """The server's configuration for `app` on `settings.host`:`settings.port`."""
    trusted = list(settings.trusted_proxies)
    return uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        proxy_headers=bool(trusted),
        forwarded_allow_ips=trusted or [],
        **options,
    )
