"""Helpers for tests that act as people of organisations over HTTP: add a person, finish their
set-up, turn on the second factor and sign in, as a real person would."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pyotp
from fastapi.testclient import TestClient

from tests.api.conftest import auth

PASSWORD = "correct horse battery staple"


@dataclass
class SignedIn:
    """A set-up person: their id, address, TOTP, session token and an API key of their own."""

    id: str
    login: str
    address: str | None
    totp: pyotp.TOTP
    session: str
    api_key: str


def next_code(totp: pyotp.TOTP) -> str:
    """The code of the next time step (the current one was used by the step before)."""
    return totp.at(datetime.now(UTC) + timedelta(seconds=totp.interval))


def ok(response: Any) -> dict[str, Any]:
    assert response.status_code < 300, response.text
    body: dict[str, Any] = response.json()
    return body


def set_up_person(client: TestClient, admin_key: str, login: str, roles: list[str]) -> SignedIn:
    """Add `login` with `roles` (as the organisation's admin), finish set-up, confirm the second
    factor, sign in, and issue the person an API key of their own with the session."""
    made = ok(
        client.post(
            "/v1/people",
            json={"login": login, "displayName": login.title(), "roles": roles},
            headers=auth(admin_key),
        )
    )
    person = made["person"]
    factor = ok(
        client.post(
            "/v1/people/setup", json={"login": login, "setupCode": made["setupCode"], "password": PASSWORD}
        )
    )
    totp = pyotp.TOTP(factor["secret"])
    ok(
        client.post(
            "/v1/people/second-factor", json={"login": login, "password": PASSWORD, "code": totp.now()}
        )
    )
    session = ok(
        client.post(
            "/v1/people/session", json={"login": login, "password": PASSWORD, "code": next_code(totp)}
        )
    )["token"]
    api_key = ok(client.post("/v1/api-keys", json={"name": f"{login} laptop"}, headers=auth(session)))[
        "apiKey"
    ]
    return SignedIn(person["id"], login, person["address"], totp, session, api_key)


def name_approver(client: TestClient, funder_key: str, program: int, person: SignedIn) -> None:
    """A funder of the program names a person's own address an approver of its tranches (consent)."""
    assert person.address is not None
    r = client.post(
        f"/v1/funder/programs/{program}/approvers", json={"address": person.address}, headers=auth(funder_key)
    )
    assert r.status_code == 201, r.text
