"""Only configured proxies may name the client's address: `X-Forwarded-For` from anyone else, loopback
included, is ignored, so it cannot step around the per-source sign-in limit (real server, real HTTP)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
import uvicorn

from api.app import create_app
from api.gateway import Gateway
from api.services.clients import random_code
from api.serving import uvicorn_config
from tests.e2e._server import free_port

# What this module checks does not depend on the database: SQLite only (PostgreSQL: the modules
# whose behaviour does).
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

START_TIMEOUT_S = 30.0


@contextmanager
def serving(gateway: Gateway, trusted: list[str]) -> Iterator[str]:
    settings = gateway.settings.model_copy(update={"port": free_port(), "trusted_proxies": trusted})
    server = uvicorn.Server(uvicorn_config(create_app(settings, gateway), settings, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT_S
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.02)  # polling, bounded by the deadline
    try:
        yield f"http://127.0.0.1:{settings.port}"
    finally:
        server.should_exit = True
        thread.join(timeout=START_TIMEOUT_S)


def _sign_ins_with_forged_addresses(url: str, n: int) -> list[tuple[int, str]]:
    out = []
    for i in range(n):
        r = httpx.post(
            f"{url}/v1/client/session",
            json={"voucherCode": random_code(), "pin": "1357"},
            headers={"X-Forwarded-For": f"203.0.113.{i + 1}"},
            timeout=30,
        )
        out.append((r.status_code, r.json()["code"]))
    return out


def test_x_forwarded_for_from_loopback_does_not_get_past_the_source_limit_by_default(
    gateway: Gateway,
) -> None:
    gateway.settings.source_attempts = 2
    assert gateway.settings.trusted_proxies == []
    with serving(gateway, []) as url:
        outcomes = _sign_ins_with_forged_addresses(url, 3)
    assert outcomes == [(401, "InvalidVoucherOrPin")] * 2 + [(429, "SignInLocked")]


def test_a_configured_proxy_names_the_client_address(gateway: Gateway) -> None:
    gateway.settings.source_attempts = 2
    with serving(gateway, ["127.0.0.1"]) as url:
        outcomes = _sign_ins_with_forged_addresses(url, 3)
    assert outcomes == [(401, "InvalidVoucherOrPin")] * 3  # three addresses, one attempt each
