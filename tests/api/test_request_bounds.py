"""Inputs the contracts cannot take are refused as 422 problems before they reach the chain
(each of these was a 500 found by the OpenAPI fuzzing)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import Keys, auth

# What this module checks does not depend on the database: SQLite only (PostgreSQL: the modules
# whose behaviour does).
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def test_ids_outside_uint48_bad_checksums_pre_epoch_times_and_nul_characters_are_422(
    client: TestClient, keys: Keys
) -> None:
    funder, ngo = auth(keys.funder), auth(keys.ngo)
    for path in ("/v1/funder/lots/0", "/v1/funder/lots/-3", f"/v1/funder/lots/{2**48}"):
        r = client.get(path, headers=funder)
        assert (r.status_code, r.json()["code"]) == (422, "ValidationFailed"), path
    r = client.post(f"/v1/tranches/{2**64}/approve", headers=funder)
    assert (r.status_code, r.json()["code"]) == (422, "ValidationFailed")
    r = client.post(
        "/v1/funder/lots", json={"amount": "1", "expiresAt": "1969-12-31T23:59:59Z"}, headers=funder
    )
    assert (r.status_code, r.json()["code"]) == (422, "ValidationFailed")
    r = client.post(
        "/v1/funder/lots", json={"amount": "1", "expiresAt": "1970-01-01T00:00:00Z"}, headers=funder
    )
    assert r.status_code == 422  # 0 would mean "never expires"

    for body in ({"name": "a\x00b"}, {"name": "P", "description": "\x00"}):  # PostgreSQL cannot store NUL
        r = client.post("/v1/ngo/programs", json=body, headers=ngo)
        assert (r.status_code, r.json()["code"]) == (422, "ValidationFailed")
    r = client.post("/v1/admin/organisations", json={"kind": "ngo", "name": "\x00"}, headers=auth(keys.admin))
    assert (r.status_code, r.json()["code"]) == (422, "ValidationFailed")

    program = client.post("/v1/ngo/programs", json={"name": "P"}, headers=ngo).json()["programId"]
    good = "0x52908400098527886E0F7030069857D2E4169EE7"  # an EIP-55 example
    typo = good[:-1] + "e"
    r = client.post(
        f"/v1/ngo/programs/{program}/disbursements",
        json={"payments": [{"address": typo, "amount": "1"}]},
        headers=ngo,
    )
    assert (r.status_code, r.json()["code"]) == (422, "ValidationFailed")
    assert "checksum" in r.text
    for spelling in (good.lower(), "0x" + good[2:].upper()):  # no checksum to check: accepted
        r = client.post(
            f"/v1/ngo/programs/{program}/disbursements",
            json={"payments": [{"address": spelling, "amount": "1"}]},
            headers=ngo,
        )
        assert (r.status_code, r.json()["code"]) == (409, "FundLedgerInsufficientFunds"), r.text
