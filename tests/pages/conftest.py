"""A gateway on a copy of a deployed chain and a SQLite database, its pages served in process over
https://testserver (so the Secure session cookie travels as it would in a browser)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.gateway import Gateway
from tests.api.conftest import copy_deployed, deployed_data_dir, make_settings
from tests.e2e.test_gateway_http import ThreadedServer
from tests.pages._scenario import Scenario, set_up

__all__ = ["deployed_data_dir"]  # the session's deployed chain, shared with the API tests' fixtures

BASE_URL = "https://testserver"


@pytest.fixture
def gateway(tmp_path: Path, deployed_data_dir: Path) -> Iterator[Gateway]:
    copy_deployed(deployed_data_dir, tmp_path)
    gw = Gateway.open(make_settings(tmp_path, f"sqlite:///{tmp_path / 'gateway.sqlite3'}"))
    yield gw
    gw.close()


@pytest.fixture
def client(gateway: Gateway) -> Iterator[TestClient]:
    with TestClient(create_app(gateway.settings, gateway), base_url=BASE_URL, follow_redirects=False) as c:
        yield c


@pytest.fixture
def scenario(gateway: Gateway, client: TestClient) -> Scenario:
    created = gateway.bootstrap_admin()
    assert created is not None
    return set_up(client, created[1])


@pytest.fixture
def served(gateway: Gateway) -> Iterator[ThreadedServer]:
    """The gateway's pages served over real HTTP on 127.0.0.1, for a real browser."""
    server = ThreadedServer(gateway).start()
    try:
        yield server
    finally:
        server.stop()


def scenario_over_http(http: httpx.Client, gateway: Gateway) -> Scenario:
    """The pages' scenario, set up over real HTTP against a served gateway."""
    created = gateway.bootstrap_admin()
    assert created is not None
    return set_up(http, created[1])


CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    """The CSRF token of the first form on a page."""
    match = CSRF.search(html)
    assert match is not None, "the page has no form with a CSRF token"
    return match.group(1)


def sign_in(client: TestClient, voucher: str, pin: str) -> None:
    """Sign in through the form, as a browser would."""
    token = csrf_of(client.get("/client/sign-in").text)
    r = client.post("/client/sign-in", data={"code": voucher, "pin": pin, "csrf": token})
    assert (r.status_code, r.headers.get("location")) == (303, "/client/"), r.text
