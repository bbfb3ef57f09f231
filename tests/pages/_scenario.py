"""A client with something to claim, set up through the gateway's own JSON API (in process or over
HTTP): organisations, money, a released program, a registered client and a claim program."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

PIN = "80417"
PROGRAM_NAME = "Winterhilfe Nordhafen"
PERSON = {"name": "Zofia Kowalczyk-Brandt", "birthDate": "1958-11-03", "phone": "+49 170 5550199"}


@dataclass(frozen=True)
class Scenario:
    """What the tests need to know about the set-up (the secrets included, to look for leaks)."""

    admin_key: str
    ngo_key: str
    funder_key: str
    program_id: int
    client_id: str
    voucher: str
    recovery: str
    account: str
    pin: str
    claim_program_id: int


def _ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code < 300, response.text
    body: dict[str, Any] = response.json()
    return body


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def set_up(http: httpx.Client, admin_key: str, amount: str = "40") -> Scenario:
    """Funders, an NGO, a released program, a client with PIN `PIN` and a claim of `amount` euros."""
    orgs = {
        who: _ok(
            http.post("/v1/admin/organisations", json={"kind": kind, "name": who}, headers=auth(admin_key))
        )
        for who, kind in (("funder", "funder"), ("checker", "funder"), ("ngo", "ngo"))
    }
    _ok(
        http.post(
            "/v1/admin/mints",
            json={"organisationId": orgs["funder"]["id"], "amount": "1000", "fiatReference": "SEPA test"},
            headers=auth(admin_key),
        )
    )
    funder, checker, ngo = (auth(orgs[w]["apiKey"]) for w in ("funder", "checker", "ngo"))
    program = _ok(http.post("/v1/ngo/programs", json={"name": PROGRAM_NAME}, headers=ngo))["programId"]
    lot = _ok(http.post("/v1/funder/lots", json={"amount": "500"}, headers=funder))["lotId"]
    _ok(
        http.post(
            f"/v1/funder/lots/{lot}/allocations", json={"programId": program, "amount": "500"}, headers=funder
        )
    )
    # the funder names the second funder its checker for this program (approvals are per program)
    named = {"address": orgs["checker"]["address"]}
    _ok(http.post(f"/v1/funder/programs/{program}/approvers", json=named, headers=funder))
    tranche = _ok(
        http.post(
            f"/v1/ngo/programs/{program}/tranches", json={"amount": "500", "milestone": "winter"}, headers=ngo
        )
    )["trancheId"]
    _ok(http.post(f"/v1/tranches/{tranche}/approve", headers=checker))
    reg = _ok(http.post("/v1/ngo/clients", json={"personal": PERSON, "pin": PIN}, headers=ngo))
    claim_program = open_claims(http, orgs["ngo"]["apiKey"], program, [(reg["clientId"], amount)])
    return Scenario(
        admin_key=admin_key,
        ngo_key=orgs["ngo"]["apiKey"],
        funder_key=orgs["funder"]["apiKey"],
        program_id=int(program),
        client_id=reg["clientId"],
        voucher=reg["voucherCode"],
        recovery=reg["recoveryCode"],
        account=reg["account"],
        pin=PIN,
        claim_program_id=claim_program,
    )


def open_claims(
    http: httpx.Client, ngo_key: str, program: int, grants: list[tuple[str, str]], days: int = 30
) -> int:
    """A funded claim program granting `(client id, euros)`; returns its id."""
    expires = (datetime.now(UTC) + timedelta(days=days)).isoformat()
    body = {
        "programId": program,
        "name": "Winter",
        "expiresAt": expires,
        "grants": [{"clientId": c, "amount": a} for c, a in grants],
    }
    return int(_ok(http.post("/v1/ngo/claim-programs", json=body, headers=auth(ngo_key)))["claimProgramId"])


def register(http: httpx.Client, ngo_key: str, name: str, pin: str = PIN) -> dict[str, Any]:
    """Another client of the NGO."""
    return _ok(
        http.post("/v1/ngo/clients", json={"personal": {"name": name}, "pin": pin}, headers=auth(ngo_key))
    )
