"""A gateway on a fresh in-memory chain and a temporary database, served in process.

Every test that uses the gateway runs twice, on SQLite and on PostgreSQL, through the `database_url`
fixture of tests/conftest.py. Deselect the second with `-m "not postgresql"`.
"""

from __future__ import annotations

import base64
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.app import create_app
from api.gateway import Gateway
from api.models import Base
from api.settings import Settings


@dataclass
class Keys:
    """API keys of one organisation of each kind (and a second NGO and funder)."""

    admin: str
    funder: str
    funder2: str
    ngo: str
    ngo2: str
    auditor: str


def make_settings(tmp: Path, database_url: str | None = None) -> Settings:
    return Settings(
        environment="test",
        data_dir=tmp,
        database_url=database_url,
        master_key=base64.b64encode(os.urandom(32)).decode(),  # type: ignore[arg-type]
        relay_wait_ms=1.0,
        # The chain in the test's own process: starting a chain process costs each gateway about a
        # second of a fresh interpreter. The gateway's default arrangement (the chain in a process of
        # its own) is what the end-to-end tests run (tests/e2e, `allmende serve`), crash tests included.
        chain_process=False,
    )


@pytest.fixture(scope="session")
def deployed_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory whose chain has the contracts deployed and the gateway's roles granted. Made
    once per session: deploying is most of a gateway's start, and each test's gateway starts from a copy."""
    template = tmp_path_factory.mktemp("deployed")
    Gateway.open(make_settings(template)).close()
    return template


def copy_deployed(template: Path, data_dir: Path) -> None:
    """Give `data_dir` its own copy of the template's chain and address book (not its database)."""
    shutil.copytree(template / "chain", data_dir / "chain")
    shutil.copy2(template / "address-book.json", data_dir / "address-book.json")


@pytest.fixture
def gateway(tmp_path: Path, database_url: str, deployed_data_dir: Path) -> Iterator[Gateway]:
    copy_deployed(deployed_data_dir, tmp_path)
    gw = Gateway.open(make_settings(tmp_path, database_url))
    yield gw
    gw.close()


@pytest.fixture
def client(gateway: Gateway) -> Iterator[TestClient]:
    with TestClient(create_app(gateway.settings, gateway)) as c:
        yield c


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def keys(gateway: Gateway, client: TestClient) -> Keys:
    admin = gateway.bootstrap_admin()
    assert admin is not None
    admin_key = admin[1]
    made = {}
    for name, kind in [
        ("funder", "funder"),
        ("funder2", "funder"),
        ("ngo", "ngo"),
        ("ngo2", "ngo"),
        ("auditor", "auditor"),
    ]:
        r = client.post("/v1/admin/organisations", json={"kind": kind, "name": name}, headers=auth(admin_key))
        assert r.status_code == 201, r.text
        made[name] = r.json()
    for name in ("funder", "funder2"):
        r = client.post(
            "/v1/admin/mints",
            json={"organisationId": made[name]["id"], "amount": "100000", "fiatReference": f"receipt {name}"},
            headers=auth(admin_key),
        )
        assert r.status_code == 201, r.text
    return Keys(admin_key, *(made[n]["apiKey"] for n in ("funder", "funder2", "ngo", "ngo2", "auditor")))


def database_text(gateway: Gateway) -> str:
    """Every value of every row of every table of the gateway's database, as text (bytes as
    Latin-1), to search for what must not be stored in plain."""
    out = []
    with gateway.db.engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            for row in conn.execute(select(table)):
                for value in row:
                    out.append(value.decode("latin-1") if isinstance(value, bytes) else str(value))
    return "\n".join(out)


def consent(client: TestClient, funder_key: str, lot_id: int, ngo_key: str) -> None:
    """The funder names the NGO an allocator of its lot (so the NGO may put it into a budget round)."""
    address = client.get("/v1/me", headers=auth(ngo_key)).json()["address"]
    r = client.post(
        f"/v1/funder/lots/{lot_id}/allocators", json={"address": address}, headers=auth(funder_key)
    )
    assert r.status_code == 201, r.text
