"""Amounts and ids take ASCII digits only: Arabic-Indic, full-width and mathematical digits, which
Python's Decimal reads as numbers, are refused as 422 problems wherever money or an id is given."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.amounts import parse_euros
from tests.api.conftest import Keys, auth

ARABIC_12 = "\u0661\u0662"
FULLWIDTH_12 = "\uff11\uff12"
BOLD_5 = "\U0001d7d3"
NOT_ASCII = (ARABIC_12, FULLWIDTH_12, BOLD_5, "1\u0662.5", "12.\uff15")


@pytest.mark.parametrize("text", NOT_ASCII)
def test_parse_euros_refuses_digits_outside_ascii(text: str) -> None:
    with pytest.raises(ValueError, match="ASCII"):
        parse_euros(text)


@pytest.mark.parametrize(
    ("given", "expected"), [("12", "12"), ("0.5", "0.5"), ("125.500000", "125.500000"), (7, "7")]
)
def test_parse_euros_takes_ascii_decimals(given: str | int, expected: str) -> None:
    assert str(parse_euros(given)) == expected


@pytest.mark.parametrize("text", ["1e3", "+1", "-1", " 1", "1.", ".5", "1.0000001", "1_000", ""])
def test_parse_euros_refuses_other_spellings(text: str) -> None:
    with pytest.raises(ValueError):
        parse_euros(text)


def _refused_for(r: Any, field: str) -> bool:
    body = r.json()
    return (r.status_code, body.get("code")) == (422, "ValidationFailed") and any(
        field in e["loc"] for e in body.get("errors", [])
    )


def test_every_amount_in_a_request_refuses_digits_outside_ascii(client: TestClient, keys: Keys) -> None:
    funder, ngo, admin = auth(keys.funder), auth(keys.ngo), auth(keys.admin)
    me = client.get("/v1/me", headers=funder).json()
    program = client.post("/v1/ngo/programs", json={"name": "P"}, headers=ngo).json()["programId"]
    lot = client.post("/v1/funder/lots", json={"amount": "100"}, headers=funder).json()["lotId"]
    client_id = client.post("/v1/ngo/clients", json={"personal": {"name": "A"}}, headers=ngo).json()[
        "clientId"
    ]
    address = "0x52908400098527886E0F7030069857D2E4169EE7"

    def requests(amount: str) -> list[tuple[str, str, dict[str, Any], dict[str, str]]]:
        return [
            (
                "mint",
                "/v1/admin/mints",
                {"organisationId": me["id"], "amount": amount, "fiatReference": "r"},
                admin,
            ),
            ("deposit", "/v1/funder/lots", {"amount": amount}, funder),
            (
                "allocation",
                f"/v1/funder/lots/{lot}/allocations",
                {"programId": program, "amount": amount},
                funder,
            ),
            ("tranche", f"/v1/ngo/programs/{program}/tranches", {"amount": amount, "milestone": "m"}, ngo),
            (
                "disbursement",
                f"/v1/ngo/programs/{program}/disbursements",
                {"payments": [{"address": address, "amount": amount}]},
                ngo,
            ),
            (
                "grant",
                "/v1/ngo/claim-programs",
                {
                    "programId": program,
                    "name": "C",
                    "expiresAt": "2100-01-01T00:00:00Z",
                    "grants": [{"clientId": client_id, "amount": amount}],
                },
                ngo,
            ),
            (
                "round funding",
                "/v1/ngo/rounds",
                {
                    "title": "R",
                    "funding": [{"lotId": lot, "amount": amount}],
                    "credits": 100,
                    "votingStart": "2100-01-01T00:00:00Z",
                    "votingEnd": "2100-02-01T00:00:00Z",
                    "minCost": "1",
                    "maxCost": "10",
                },
                ngo,
            ),
        ]

    for text in (ARABIC_12, FULLWIDTH_12, BOLD_5):
        for what, path, body, headers in requests(text):
            r = client.post(path, json=body, headers=headers)
            assert _refused_for(r, "amount"), (what, text, r.status_code, r.text)
    for field in ("minCost", "maxCost"):
        _, path, body, headers = requests("5")[-1]
        r = client.post(path, json={**body, field: FULLWIDTH_12}, headers=headers)
        assert _refused_for(r, field), (field, r.text)


def test_path_query_and_body_ids_refuse_digits_outside_ascii(client: TestClient, keys: Keys) -> None:
    funder, ngo = auth(keys.funder), auth(keys.ngo)
    lot = client.post("/v1/funder/lots", json={"amount": "1"}, headers=funder).json()["lotId"]
    assert lot == 1
    for text in (ARABIC_12[:1], "\uff11", "\U0001d7cf"):  # each reads as 1 in Python
        r = client.get(f"/v1/funder/lots/{text}", headers=funder)
        assert (r.status_code, r.json()["code"]) == (422, "ValidationFailed"), text
        r = client.post(f"/v1/tranches/{text}/approve", headers=funder)
        assert (r.status_code, r.json()["code"]) == (422, "ValidationFailed"), text
        r = client.post(
            f"/v1/funder/lots/{lot}/allocations", json={"programId": text, "amount": "1"}, headers=funder
        )
        assert _refused_for(r, "programId"), text
        r = client.get(
            f"/v1/audit/rounds/{text}/ballots", params={"format": "json"}, headers=auth(keys.auditor)
        )
        assert (r.status_code, r.json()["code"]) == (422, "ValidationFailed"), text
    r = client.get(f"/v1/funder/lots/{lot}", headers=funder)
    assert r.status_code == 200
    assert client.get("/v1/ngo/programs", headers=ngo).status_code == 200
