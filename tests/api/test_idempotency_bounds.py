"""Idempotency records only for callers who authenticated, bodies bounded app-wide (413 problem,
with or without Content-Length), and records that expire after the configured window."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from api import idempotency
from api.app import create_app
from api.gateway import Gateway
from api.models import IdempotencyRecord
from tests.api.conftest import Keys, auth

LIMIT = 4096


def _records(gateway: Gateway) -> int:
    with gateway.db.session() as s:
        return int(s.scalar(select(func.count()).select_from(IdempotencyRecord)) or 0)


def test_requests_that_do_not_authenticate_leave_no_idempotency_record(
    client: TestClient, keys: Keys, gateway: Gateway
) -> None:
    before = _records(gateway)
    for i, headers in enumerate(
        [
            {},
            auth("alm_000000000000_not-a-key-this-gateway-issued"),
            auth("cls_not-a-session"),
            {"Authorization": "Basic eDp5"},
        ]
    ):
        r = client.post(
            "/v1/funder/lots", json={"amount": "1"}, headers={**headers, "Idempotency-Key": f"k{i}"}
        )
        assert r.status_code == 401, r.text
        assert r.json()["code"] in {"MissingCredentials", "InvalidApiKey"}
    assert _records(gateway) == before
    r = client.post(
        "/v1/funder/lots", json={"amount": "1"}, headers={**auth(keys.funder), "Idempotency-Key": "k0"}
    )
    assert r.status_code == 201
    assert _records(gateway) == before + 1


@pytest.fixture
def small_bodies(gateway: Gateway, keys: Keys) -> Iterator[TestClient]:
    settings = gateway.settings.model_copy(update={"max_body_bytes": LIMIT})
    with TestClient(create_app(settings, gateway)) as c:
        yield c


def test_a_body_over_the_limit_is_a_413_problem_with_or_without_content_length(
    small_bodies: TestClient, keys: Keys, gateway: Gateway
) -> None:
    headers = {**auth(keys.ngo), "Content-Type": "application/json", "Idempotency-Key": "big"}
    big = b'{"name": "' + b"x" * LIMIT + b'"}'
    before = _records(gateway)
    r = small_bodies.post("/v1/ngo/programs", content=big, headers=headers)
    assert (r.status_code, r.json()["code"], r.json()["maxBytes"]) == (413, "RequestTooLarge", LIMIT)
    assert r.headers["content-type"] == "application/problem+json"

    def chunked() -> Iterator[bytes]:
        for i in range(0, len(big), 1000):
            yield big[i : i + 1000]

    r = small_bodies.post("/v1/ngo/programs", content=chunked(), headers=headers)
    assert "content-length" not in r.request.headers
    assert (r.status_code, r.json()["code"]) == (413, "RequestTooLarge")
    r = small_bodies.post(
        "/v1/ngo/clients/import",
        content="name\n" + "a,\n" * LIMIT,
        headers={**auth(keys.ngo), "Content-Type": "text/csv"},
    )
    assert (r.status_code, r.json()["code"]) == (413, "RequestTooLarge")
    assert _records(gateway) == before
    r = small_bodies.post("/v1/ngo/programs", json={"name": "small"}, headers=headers)
    assert r.status_code == 201, r.text


def test_a_kept_response_expires_after_the_window_and_the_key_is_free_again(
    client: TestClient, keys: Keys, gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    headers = {**auth(keys.funder), "Idempotency-Key": "deposit"}
    first = client.post("/v1/funder/lots", json={"amount": "1"}, headers=headers)
    assert first.status_code == 201
    reused = client.post("/v1/funder/lots", json={"amount": "2"}, headers=headers)
    assert (reused.status_code, reused.json()["code"]) == (422, "IdempotencyKeyReused")
    other = client.post(
        "/v1/funder/lots", json={"amount": "3"}, headers={**auth(keys.funder), "Idempotency-Key": "other"}
    )
    assert other.status_code == 201
    ttl = timedelta(seconds=gateway.settings.idempotency_ttl_s + 1)
    with gateway.db.session() as s:  # the window passed (moved back instead of waiting)
        s.execute(update(IdempotencyRecord).values(created_at=IdempotencyRecord.created_at - ttl))
    monkeypatch.setattr(idempotency, "_next_purge", [0.0])
    again = client.post("/v1/funder/lots", json={"amount": "2"}, headers=headers)
    assert again.status_code == 201, again.text
    assert again.json()["lotId"] != first.json()["lotId"]
    assert "idempotent-replayed" not in again.headers
    with gateway.db.session() as s:
        keys_left = set(s.scalars(select(IdempotencyRecord.key)))
    assert keys_left == {"deposit"}  # "other" expired and was purged; "deposit" is the new record
