"""Fuzz every operation of the published OpenAPI spec in process with schemathesis.

Each operation gets valid requests (positive) and requests that break the schema (negative), sent
with an API key of the kind that operation is for, so the fuzzing reaches the handlers instead of
stopping at the authorization check. No response may be a server error, every 4xx must be an
RFC 9457 problem document with a `code`, and every response must match what the spec declares.
Bounded and derandomized, so CI sees the same requests every run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import hypothesis
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase
from hypothesis.errors import Unsatisfiable
from schemathesis import APIOperation, GenerationMode
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.gateway import Gateway
from tests.api.conftest import Keys, auth
from tests.api.people_support import set_up_person
from tests.api.test_authorization_matrix import CALLERS, MATRIX

EXAMPLES = {GenerationMode.POSITIVE: 5, GenerationMode.NEGATIVE: 3}  # per operation; ~60 operations
ROTATE = ("POST", "/v1/me/api-keys/rotate")
AUTH_REFUSALS = {
    "MissingCredentials",
    "InvalidApiKey",
    "WrongOrganisationKind",
    "MissingClientSession",
    "SessionExpired",
}
SIGN_OUT = ("DELETE", "/v1/client/session")
PERSON_SIGN_OUT = ("DELETE", "/v1/people/session")  # needs a person's session, which no key is
CHECKS = [status_code_conformance, content_type_conformance, response_schema_conformance]


def _key_for(method: str, path: str, keys: Keys, session: str) -> str | None:
    """The key of the first kind of organisation the route is for (None for public routes; a client
    session for the routes no organisation key opens)."""
    row = MATRIX[(method, path)]
    if row[0] < 300:
        return None
    if all(status >= 400 for status in row):
        return session
    kind = next(CALLERS[i] for i in range(2, len(CALLERS)) if row[i] < 300)
    key: str = getattr(keys, kind)
    return key


def _seed(client: TestClient, keys: Keys) -> list[str]:
    """Something for small generated ids to find: a program, a lot, an allocation, a pending tranche;
    two client sessions (one for signing out) and a budget round for them with a proposal; a person's
    session (for signing out); a provider's API key (for its counter)."""
    ok = [
        client.post("/v1/ngo/programs", json={"name": "Fuzz"}, headers=auth(keys.ngo)),
        client.post("/v1/funder/lots", json={"amount": "1000"}, headers=auth(keys.funder)),
        client.post(
            "/v1/funder/lots/1/allocations", json={"programId": 1, "amount": "500"}, headers=auth(keys.funder)
        ),
        client.post(
            "/v1/ngo/programs/1/tranches", json={"amount": "100", "milestone": "M"}, headers=auth(keys.ngo)
        ),
    ]
    assert all(r.status_code == 201 for r in ok), [r.text for r in ok]
    ngo = client.get("/v1/me", headers=auth(keys.ngo)).json()["address"]  # the funder lets it use lot 1
    named = client.post("/v1/funder/lots/1/allocators", json={"address": ngo}, headers=auth(keys.funder))
    assert named.status_code == 201, named.text
    sessions = []
    for i in range(2):
        reg = client.post(
            "/v1/ngo/clients", json={"personal": {"name": f"Fuzz {i}"}, "pin": "2468"}, headers=auth(keys.ngo)
        ).json()
        sessions.append(
            client.post("/v1/client/session", json={"voucherCode": reg["voucherCode"], "pin": "2468"}).json()[
                "token"
            ]
        )
    now = client.get("/v1/ledger/time").json()["timestamp"]  # within the longest schedule from now
    created = client.post(
        "/v1/ngo/rounds",
        json={
            "title": "Fuzz round",
            "funding": [{"lotId": 1, "amount": "100"}],
            "credits": 100,
            "votingStart": datetime.fromtimestamp(now + 100 * 86_400, UTC).isoformat(),
            "votingEnd": datetime.fromtimestamp(now + 200 * 86_400, UTC).isoformat(),
            "minCost": "1",
            "maxCost": "100",
        },
        headers=auth(keys.ngo),
    )
    assert created.status_code == 201, created.text
    proposal = client.post(
        "/v1/ngo/rounds/1/proposals",
        json={"programId": 1, "amount": "10", "title": "F"},
        headers=auth(keys.ngo),
    )
    assert proposal.status_code == 201, proposal.text
    sessions.append(set_up_person(client, keys.ngo, "fuzz-person", ["caseworker"]).session)
    shop = {
        "name": "Fuzz shop",
        "street": "Weg 1",
        "postcode": "10115",
        "city": "Berlin",
        "categories": ["food"],
    }
    admitted = client.post("/v1/providers", json=shop, headers=auth(keys.ngo))
    assert admitted.status_code == 201, admitted.text
    sessions.append(admitted.json()["apiKey"])  # the provider's key, for the counter's routes
    return sessions


def _problem(response: schemathesis.Response) -> str | None:
    """Why a 4xx response is not a problem document, or None when it is one."""
    content_type = response.headers.get("content-type", [""])[0]  # schemathesis keeps header lists
    if not content_type.startswith("application/problem+json"):
        return f"content-type {content_type!r}"
    body = response.json()
    if not isinstance(body, dict) or not isinstance(body.get("code"), str) or not body["code"]:
        return f"no code in {body!r}"
    if body.get("status") != response.status_code:
        return f"status {body.get('status')} in the body, {response.status_code} on the response"
    return None


@dataclass
class Caller:
    """The key an operation is fuzzed with, and what got past authorization."""

    route: tuple[str, str]
    key: str | None
    reached: list[int] = field(default_factory=list)

    def headers(self) -> dict[str, str]:
        return auth(self.key) if self.key else {}


def _fuzz(operation: APIOperation[Any, Any, Any, Any], mode: GenerationMode, caller: Caller) -> None:
    @hypothesis.settings(
        max_examples=EXAMPLES[mode],
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
    def fuzz(case: schemathesis.Case[Any]) -> None:
        headers = caller.headers()
        response = case.call(headers=headers)
        sent = f"{case.as_curl_command(headers=headers)}\n -> {response.status_code} {response.text[:300]}"
        assert response.status_code < 500, f"server error: {sent}"
        code = None
        if response.status_code >= 400:
            why = _problem(response)
            assert why is None, f"not a problem document ({why}): {sent}"
            code = response.json()["code"]
        case.validate_response(response, checks=CHECKS, headers=headers)
        if mode is GenerationMode.POSITIVE and code not in AUTH_REFUSALS:
            caller.reached.append(response.status_code)
        if caller.route == ROTATE and response.status_code == 201:
            caller.key = response.json()["apiKey"]  # the previous key is revoked now

    fuzz()


def test_no_operation_errors_or_breaks_its_contract(client: TestClient, gateway: Gateway, keys: Keys) -> None:
    sessions = _seed(client, keys)
    schema = schemathesis.openapi.from_asgi("/openapi.json", client.app)
    operations = [result.ok() for result in schema.get_all_operations() if isinstance(result, Ok)]
    public_outside_v1 = ("/health", "/rpc")
    assert len(operations) == sum(
        1 for _, path in MATRIX if path.startswith("/v1") or path in public_outside_v1
    )
    failures: list[str] = []
    for operation in operations:
        route = (operation.method.upper(), operation.path)
        # rotation revokes the organisation's other keys: it gets an organisation of its own (ngo2)
        session = (
            sessions[1] if route == SIGN_OUT else sessions[2] if route == PERSON_SIGN_OUT else sessions[0]
        )
        key = session if route == PERSON_SIGN_OUT else _key_for(*route, keys, session)
        if route[1].startswith("/v1/provider/"):  # no caller of the matrix is a provider
            key = sessions[3]
        caller = Caller(route, keys.ngo2 if route == ROTATE else key)
        for mode in EXAMPLES:
            try:
                _fuzz(operation, mode, caller)
            except Unsatisfiable:
                assert mode is GenerationMode.NEGATIVE  # an operation without input has nothing to break
            except (Exception, BaseExceptionGroup) as exc:  # FailureGroup is a BaseExceptionGroup
                failures.append(f"{operation.label} [{mode.value}]: {exc}")
        if not caller.reached:
            failures.append(f"{operation.label}: no valid request got past authorization")
    assert not failures, "\n\n".join(failures)
