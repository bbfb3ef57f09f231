"""PIN limits hold under parallel attempts: each attempt is counted (per voucher and per source)
before argon2 evaluates it, so no more than the limit are ever evaluated and the lock holds, on
SQLite and on PostgreSQL alike. Staff-assisted sessions count against the same limits."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx
from fastapi.testclient import TestClient

from api.gateway import Gateway
from api.models import Client
from api.services.clients import random_code
from tests.api.conftest import Keys, auth

PARALLEL = 48
RIGHT_PIN, WRONG_PIN = "2468", "1357"


def _register(client: TestClient, keys: Keys, name: str = "A") -> dict[str, str]:
    r = client.post(
        "/v1/ngo/clients", json={"personal": {"name": name}, "pin": RIGHT_PIN}, headers=auth(keys.ngo)
    )
    assert r.status_code == 201, r.text
    body: dict[str, str] = r.json()
    return body


def _in_parallel(call: Callable[[int], httpx.Response], n: int = PARALLEL) -> Counter[tuple[int, str]]:
    """Run `call(i)` for i < n at once (all threads released together); count (status, code)."""
    start = threading.Barrier(n)

    def one(i: int) -> tuple[int, str]:
        start.wait(timeout=60)
        r = call(i)
        return r.status_code, r.json()["code"]

    with ThreadPoolExecutor(max_workers=n) as pool:
        return Counter(pool.map(one, range(n)))


def _row(gateway: Gateway, client_id: str) -> Client:
    with gateway.db.session() as s:
        row = s.get(Client, client_id)
    assert row is not None
    return row


def test_parallel_wrong_pins_on_one_voucher_evaluate_no_more_than_the_limit_and_lock_it(
    client: TestClient, keys: Keys, gateway: Gateway
) -> None:
    limit = gateway.settings.pin_attempts
    reg = _register(client, keys)
    outcomes = _in_parallel(
        lambda _: client.post(
            "/v1/client/session", json={"voucherCode": reg["voucherCode"], "pin": WRONG_PIN}
        )
    )
    assert outcomes == {(401, "InvalidVoucherOrPin"): limit, (429, "SignInLocked"): PARALLEL - limit}
    row = _row(gateway, reg["clientId"])
    assert row.failed_attempts == limit
    assert row.locked_until is not None
    r = client.post("/v1/client/session", json={"voucherCode": reg["voucherCode"], "pin": RIGHT_PIN})
    assert (r.status_code, r.json()["code"]) == (429, "SignInLocked")
    assert int(r.headers["retry-after"]) > 0


def test_parallel_assisted_sessions_count_against_the_same_voucher_limit(
    client: TestClient, keys: Keys, gateway: Gateway
) -> None:
    limit = gateway.settings.pin_attempts
    reg = _register(client, keys)
    path = f"/v1/ngo/clients/{reg['clientId']}/assisted-session"
    outcomes = _in_parallel(lambda _: client.post(path, json={"pin": WRONG_PIN}, headers=auth(keys.ngo)))
    assert outcomes == {(401, "InvalidVoucherOrPin"): limit, (429, "SignInLocked"): PARALLEL - limit}
    r = client.post(path, json={"pin": RIGHT_PIN}, headers=auth(keys.ngo))
    assert (r.status_code, r.json()["code"]) == (429, "SignInLocked")
    r = client.post("/v1/client/session", json={"voucherCode": reg["voucherCode"], "pin": RIGHT_PIN})
    assert (r.status_code, r.json()["code"]) == (429, "SignInLocked")


def test_parallel_attempts_from_one_source_evaluate_no_more_than_the_source_limit(
    client: TestClient, gateway: Gateway
) -> None:
    gateway.settings.source_attempts = 8
    codes = [random_code() for _ in range(PARALLEL)]  # unknown codes: each evaluated like a real one
    outcomes = _in_parallel(
        lambda i: client.post("/v1/client/session", json={"voucherCode": codes[i], "pin": WRONG_PIN})
    )
    assert outcomes == {(401, "InvalidVoucherOrPin"): 8, (429, "SignInLocked"): PARALLEL - 8}


def test_a_wrong_pin_says_how_many_tries_are_left_and_a_right_one_starts_the_count_afresh(
    client: TestClient, keys: Keys, gateway: Gateway
) -> None:
    limit = gateway.settings.pin_attempts
    reg = _register(client, keys)
    sign_in = {"voucherCode": reg["voucherCode"]}
    for left in (limit - 1, limit - 2):
        r = client.post("/v1/client/session", json={**sign_in, "pin": WRONG_PIN})
        assert (r.status_code, r.json()["code"], r.json()["attemptsLeft"]) == (
            401,
            "InvalidVoucherOrPin",
            left,
        )
    assert client.post("/v1/client/session", json={**sign_in, "pin": RIGHT_PIN}).status_code == 201
    assert _row(gateway, reg["clientId"]).failed_attempts == 0
    for left in range(limit - 1, -1, -1):
        r = client.post("/v1/client/session", json={**sign_in, "pin": WRONG_PIN})
        assert (r.status_code, r.json()["attemptsLeft"]) == (401, left)
    r = client.post("/v1/client/session", json={**sign_in, "pin": RIGHT_PIN})
    assert (r.status_code, r.json()["code"]) == (429, "SignInLocked")
    assert 0 < r.json()["retryAfter"] <= gateway.settings.lockout_s


def test_an_unknown_code_answers_like_a_known_one_with_the_same_count(
    client: TestClient, gateway: Gateway
) -> None:
    limit = gateway.settings.pin_attempts
    code = random_code()
    lefts = []
    for _ in range(limit):
        r = client.post("/v1/client/session", json={"voucherCode": code, "pin": WRONG_PIN})
        assert (r.status_code, r.json()["code"]) == (401, "InvalidVoucherOrPin")
        lefts.append(r.json()["attemptsLeft"])
    assert lefts == list(range(limit - 1, -1, -1))
    r = client.post("/v1/client/session", json={"voucherCode": code, "pin": WRONG_PIN})
    assert (r.status_code, r.json()["code"]) == (429, "SignInLocked")


def test_a_lapsed_lock_starts_a_fresh_count(client: TestClient, keys: Keys, gateway: Gateway) -> None:
    limit = gateway.settings.pin_attempts
    reg = _register(client, keys)
    for _ in range(limit):
        client.post("/v1/client/session", json={"voucherCode": reg["voucherCode"], "pin": WRONG_PIN})
    with gateway.db.session() as s:  # the lock ran out (moved back instead of waiting for it)
        row = s.get(Client, reg["clientId"])
        assert row is not None and row.locked_until is not None
        row.locked_until = row.locked_until.replace(year=2000)
    r = client.post("/v1/client/session", json={"voucherCode": reg["voucherCode"], "pin": WRONG_PIN})
    assert (r.status_code, r.json()["attemptsLeft"]) == (401, limit - 1)
    r = client.post("/v1/client/session", json={"voucherCode": reg["voucherCode"], "pin": RIGHT_PIN})
    assert r.status_code == 201
