"""The schema comes from the migrations on SQLite and PostgreSQL alike, and matches the models;
the idempotency claim holds under a race on both (the loser's IntegrityError becomes a replay)."""

from __future__ import annotations

import os
import stat
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from fastapi.testclient import TestClient
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from api.db import Database, alembic_config, migrate
from api.gateway import Gateway
from api.idempotency import _claim, _store
from api.models import Base, Operation
from ledger.custody import Sealer, new_key
from tests.api.conftest import Keys, auth, database_text


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    yield database
    database.engine.dispose()


def _head(url: str) -> str | None:
    return ScriptDirectory.from_config(alembic_config(url)).get_current_head()


def test_migrations_build_exactly_the_models_schema(db: Database, database_url: str) -> None:
    migrate(db.engine)
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn)
        assert context.get_current_revision() == _head(database_url)
        drift = compare_metadata(context, Base.metadata)
    assert drift == [], f"the models and the migrations disagree: {drift}"


def test_migrations_are_idempotent_and_reversible(db: Database, database_url: str) -> None:
    migrate(db.engine)
    migrate(db.engine)  # a second start changes nothing
    tables = set(inspect(db.engine).get_table_names()) - {"alembic_version"}
    assert tables == set(Base.metadata.tables)
    cfg = alembic_config(database_url)
    with db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "base")
    assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
    migrate(db.engine)
    assert set(inspect(db.engine).get_table_names()) - {"alembic_version"} == tables


def test_racing_claims_of_one_key_leave_one_owner_and_replay_to_the_rest(db: Database) -> None:
    migrate(db.engine)
    racers = 8
    sealer = Sealer(new_key())
    start = threading.Barrier(racers + 1)
    owners: list[int] = []
    replies: list[tuple[int, bytes]] = []

    def claim(i: int) -> None:
        start.wait(timeout=30)
        response = _claim(db, sealer, "principal", "key-1", "digest")
        if response is None:
            owners.append(i)
            _store(db, sealer, "principal", "key-1", 201, b'{"lotId": 7}')
        else:
            replies.append((response.status_code, bytes(response.body)))

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(racers)]
    for t in threads:
        t.start()
    start.wait(timeout=30)
    for t in threads:
        t.join(timeout=60)
    assert len(owners) == 1
    assert replies == [(201, b'{"lotId": 7}')] * (racers - 1)  # the very bytes of the first response


def test_a_forwarder_nonce_may_be_signed_again_only_after_its_attempt_failed(db: Database) -> None:
    migrate(db.engine)

    def attempt(status: str) -> None:
        with db.session() as s:
            s.add(Operation(principal="p", kind="k", signer="0xS", forward_nonce=7, status=status))

    attempt("failed")
    attempt("failed")
    attempt("pending")  # the nonce signed again after failed attempts
    with pytest.raises(IntegrityError):
        attempt("done")  # but never live twice


def test_responses_kept_for_retries_hold_no_secret_in_plain(
    client: TestClient, keys: Keys, gateway: Gateway
) -> None:
    """A retry gets the first response again, secrets and all, but the database keeps it sealed."""

    def twice(path: str, key: str, **kwargs: Any) -> dict[str, Any]:
        headers = {**kwargs.pop("headers", {}), "Idempotency-Key": key}
        first = client.post(path, headers=headers, **kwargs)
        again = client.post(path, headers=headers, **kwargs)
        assert first.status_code < 300, first.text
        assert (again.status_code, again.content) == (first.status_code, first.content)
        assert again.headers["idempotent-replayed"] == "true"
        assert again.headers["content-type"] == "application/json"
        body: dict[str, Any] = first.json()
        return body

    reg = twice(
        "/v1/ngo/clients",
        "register-1",
        json={"personal": {"name": "Ida Idem"}, "pin": "2468"},
        headers=auth(keys.ngo),
    )
    sign_in = {"voucherCode": reg["voucherCode"], "pin": "2468"}
    session = client.post("/v1/client/session", json=sign_in, headers={"Idempotency-Key": "sign-in-1"}).json()
    again = client.post("/v1/client/session", json=sign_in, headers={"Idempotency-Key": "sign-in-1"})
    # no credentials, no record: a retried sign-in opens another session (it moves no money)
    assert again.status_code == 201 and "idempotent-replayed" not in again.headers
    assert again.json()["token"] != session["token"]
    org = twice(
        "/v1/admin/organisations", "org-1", json={"kind": "auditor", "name": "A2"}, headers=auth(keys.admin)
    )
    rotated = twice("/v1/me/api-keys/rotate", "rotate-1", headers=auth(keys.auditor))
    refused = client.post(
        "/v1/funder/lots", json={"amount": "1"}, headers={**auth(keys.ngo), "Idempotency-Key": "no"}
    )
    replayed = client.post(
        "/v1/funder/lots", json={"amount": "1"}, headers={**auth(keys.ngo), "Idempotency-Key": "no"}
    )
    assert (
        (replayed.status_code, replayed.json())
        == (refused.status_code, refused.json())
        == (403, refused.json())
    )
    assert replayed.headers["content-type"] == "application/problem+json"

    stored = database_text(gateway)
    shown_once = [
        reg["voucherCode"],
        reg["voucherCode"].replace("-", ""),
        reg["recoveryCode"],
        reg["recoveryCode"].replace("-", ""),
        session["token"],
        org["apiKey"].split("_", 2)[2],
        rotated["apiKey"].split("_", 2)[2],
    ]
    assert [secret for secret in shown_once if secret in stored] == []


def test_the_sqlite_file_and_its_wal_and_shm_are_created_for_the_owner_only(tmp_path: Path) -> None:
    old = os.umask(0o022)  # the usual umask, which gave 0644
    try:
        db = Database(f"sqlite:///{tmp_path / 'data' / 'gateway.sqlite3'}")
        migrate(db.engine)
        with db.engine.connect() as conn:  # WAL mode: the -wal and -shm files exist while connected
            conn.execute(text("SELECT 1"))
            modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in (tmp_path / "data").iterdir()}
        db.engine.dispose()
    finally:
        os.umask(old)
    assert modes == {
        "gateway.sqlite3": 0o600,
        "gateway.sqlite3-wal": 0o600,
        "gateway.sqlite3-shm": 0o600,
    }
