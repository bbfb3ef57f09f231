"""Who may call what: every route of the app against every kind of caller, in one table.

A route added to the app without a row here fails `test_every_route_has_a_row`. The right kind of
caller gets a real request (existing ids, a valid body) and must succeed, so a row also proves the
route works for those it is meant for; everyone else is refused before anything happens.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyotp
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.app import create_app
from api.gateway import Gateway
from tests.api.conftest import Keys, auth, make_settings
from tests.api.people_support import PASSWORD

Route = tuple[str, str]  # (method, path template)

CALLERS = ("none", "invalid", "admin", "funder", "ngo", "auditor")
INVALID_KEY = "alm_000000000000_not-a-key-this-gateway-issued"

# The expected status for each caller. 401: no credentials, or an unknown or revoked key; 403: a
# valid key of the wrong kind; 200/201: the caller this route is for (HEAD mirrors GET and is left out).
#
#                                                         none invalid admin funder ngo auditor
MATRIX: dict[Route, tuple[int, int, int, int, int, int]] = {
    ("GET", "/health"):                                   (200, 200, 200, 200, 200, 200),
    ("GET", "/openapi.json"):                             (200, 200, 200, 200, 200, 200),
    ("GET", "/docs"):                                     (200, 200, 200, 200, 200, 200),
    ("GET", "/docs/oauth2-redirect"):                     (200, 200, 200, 200, 200, 200),
    ("GET", "/redoc"):                                    (200, 200, 200, 200, 200, 200),
    ("GET", "/v1/public/programs"):                       (200, 200, 200, 200, 200, 200),
    ("POST", "/rpc"):                                     (200, 200, 200, 200, 200, 200),
    ("GET", "/v1/ledger/time"):                           (200, 200, 200, 200, 200, 200),
    ("GET", "/v1/public/attestations"):                   (200, 200, 200, 200, 200, 200),
    ("GET", "/v1/public/open-data/iati.xml"):             (200, 200, 200, 200, 200, 200),
    ("GET", "/v1/public/open-data/hxl.csv"):              (200, 200, 200, 200, 200, 200),
    ("POST", "/v1/audit/attestations"):                   (401, 401, 403, 403, 403, 201),
    ("GET", "/v1/me"):                                    (401, 401, 200, 200, 200, 200),
    ("POST", "/v1/me/api-keys/rotate"):                   (401, 401, 201, 201, 201, 201),
    ("POST", "/v1/admin/organisations"):                  (401, 401, 201, 403, 403, 403),
    ("GET", "/v1/admin/organisations"):                   (401, 401, 200, 403, 403, 403),
    ("POST", "/v1/admin/mints"):                          (401, 401, 201, 403, 403, 403),
    ("POST", "/v1/funder/lots"):                          (401, 401, 403, 201, 403, 403),
    ("GET", "/v1/funder/lots"):                           (401, 401, 403, 200, 403, 403),
    ("GET", "/v1/funder/lots/{lot_id}"):                  (401, 401, 403, 200, 403, 403),
    ("GET", "/v1/funder/lots/{lot_id}/payments"):         (401, 401, 403, 200, 403, 403),
    ("GET", "/v1/funder/lots/{lot_id}/lineage"):          (401, 401, 200, 200, 403, 200),
    ("POST", "/v1/funder/lots/{lot_id}/allocations"):     (401, 401, 403, 201, 403, 403),
    ("POST", "/v1/funder/lots/{lot_id}/refund"):          (401, 401, 403, 201, 403, 403),
    ("POST", "/v1/funder/lots/{lot_id}/allocators"):      (401, 401, 403, 201, 403, 403),
    ("GET", "/v1/funder/lots/{lot_id}/allocators"):       (401, 401, 403, 200, 403, 403),
    ("DELETE", "/v1/funder/lots/{lot_id}/allocators/{address}"): (401, 401, 403, 200, 403, 403),
    ("POST", "/v1/funder/programs/{program_id}/approvers"): (401, 401, 403, 201, 403, 403),
    ("GET", "/v1/funder/programs/{program_id}/approvers"):  (401, 401, 403, 200, 403, 403),
    ("DELETE", "/v1/funder/programs/{program_id}/approvers/{address}"): (401, 401, 403, 200, 403, 403),
    ("GET", "/v1/funder/refunds"):                        (401, 401, 403, 200, 403, 403),
    ("POST", "/v1/tranches/{tranche_id}/approve"):        (401, 401, 403, 201, 403, 403),
    ("POST", "/v1/tranches/{tranche_id}/reject"):         (401, 401, 403, 201, 403, 403),
    ("POST", "/v1/ngo/programs"):                         (401, 401, 403, 403, 201, 403),
    ("GET", "/v1/ngo/programs"):                          (401, 401, 403, 403, 200, 403),
    ("POST", "/v1/ngo/programs/{program_id}/tranches"):   (401, 401, 403, 403, 201, 403),
    ("POST", "/v1/ngo/programs/{program_id}/disbursements"): (401, 401, 403, 403, 201, 403),
    ("GET", "/v1/audit/verify"):                          (401, 401, 200, 403, 403, 200),
    ("GET", "/v1/audit/events"):                          (401, 401, 200, 403, 403, 200),
    ("GET", "/v1/audit/payments"):                        (401, 401, 200, 403, 403, 200),
    ("POST", "/v1/ngo/clients"):                          (401, 401, 403, 403, 201, 403),
    ("POST", "/v1/ngo/clients/import"):                   (401, 401, 403, 403, 200, 403),
    ("GET", "/v1/ngo/clients"):                           (401, 401, 403, 403, 200, 403),
    ("GET", "/v1/ngo/clients/{client_id}"):               (401, 401, 403, 403, 200, 403),
    ("POST", "/v1/ngo/clients/{client_id}/assisted-session"): (401, 401, 403, 403, 201, 403),
    ("POST", "/v1/ngo/clients/{client_id}/pin-reset"):    (401, 401, 403, 403, 201, 403),
    ("DELETE", "/v1/ngo/clients/{client_id}"):            (401, 401, 403, 403, 204, 403),
    ("GET", "/v1/ngo/voucher-sheets/{sheet_id}"):         (401, 401, 403, 403, 200, 403),
    ("POST", "/v1/ngo/claim-programs"):                   (401, 401, 403, 403, 201, 403),
    ("POST", "/v1/ngo/rounds"):                           (401, 401, 403, 403, 201, 403),
    ("GET", "/v1/ngo/rounds"):                            (401, 401, 403, 403, 200, 403),
    ("POST", "/v1/ngo/rounds/{round_id}/proposals"):      (401, 401, 403, 403, 201, 403),
    ("POST", "/v1/ngo/rounds/{round_id}/proposals/{proposal_id}/withdraw"): (401, 401, 403, 403, 201, 403),
    ("POST", "/v1/ngo/rounds/{round_id}/finalise"):       (401, 401, 403, 403, 201, 403),
    ("POST", "/v1/ngo/rounds/{round_id}/abandon"):        (401, 401, 403, 403, 201, 403),
    ("POST", "/v1/ngo/rounds/{round_id}/cancel"):         (401, 401, 403, 403, 201, 403),
    ("POST", "/v1/funder/rounds/{round_id}/cancel"):      (401, 401, 403, 201, 403, 403),
    ("GET", "/v1/public/rounds"):                         (200, 200, 200, 200, 200, 200),
    ("GET", "/v1/public/rounds/{round_id}"):              (200, 200, 200, 200, 200, 200),
    ("GET", "/v1/audit/rounds/{round_id}"):               (401, 401, 200, 403, 403, 200),
    ("GET", "/v1/audit/rounds/{round_id}/ballots"):       (401, 401, 200, 403, 403, 200),
    ("GET", "/v1/audit/rounds/{round_id}/pabulib"):       (401, 401, 200, 403, 403, 200),
    # sign-in needs no key at all; what follows needs a client session, which no organisation key is
    ("POST", "/v1/client/session"):                       (201, 201, 201, 201, 201, 201),
    ("DELETE", "/v1/client/session"):                     (401, 401, 401, 401, 401, 401),
    ("GET", "/v1/client/me"):                             (401, 401, 401, 401, 401, 401),
    ("GET", "/v1/client/entitlements"):                   (401, 401, 401, 401, 401, 401),
    ("POST", "/v1/client/claims/{claim_program_id}"):     (401, 401, 401, 401, 401, 401),
    ("GET", "/v1/client/rounds"):                         (401, 401, 401, 401, 401, 401),
    ("GET", "/v1/client/rounds/{round_id}"):              (401, 401, 401, 401, 401, 401),
    ("PUT", "/v1/client/rounds/{round_id}/ballot"):       (401, 401, 401, 401, 401, 401),
    # people of organisations: every organisation's key acts as its admin (a person's roles are
    # checked in tests/api/test_people_api.py); the seeded person and key are the NGO's
    ("POST", "/v1/people"):                               (401, 401, 201, 201, 201, 201),
    ("GET", "/v1/people"):                                (401, 401, 200, 200, 200, 200),
    ("POST", "/v1/people/{person_id}/disable"):           (401, 401, 404, 404, 200, 404),
    ("POST", "/v1/api-keys"):                             (401, 401, 201, 201, 201, 201),
    ("GET", "/v1/api-keys"):                              (401, 401, 200, 200, 200, 200),
    ("DELETE", "/v1/api-keys/{prefix}"):                  (401, 401, 404, 404, 200, 404),
    # set-up and sign-in need no key: the login, password (or set-up code) and TOTP code are the
    # credentials; each caller signs in its own person (`_person_body`)
    ("POST", "/v1/people/setup"):                         (201, 201, 201, 201, 201, 201),
    ("POST", "/v1/people/second-factor"):                 (200, 200, 200, 200, 200, 200),
    ("POST", "/v1/people/session"):                       (201, 201, 201, 201, 201, 201),
    ("DELETE", "/v1/people/session"):                     (401, 401, 422, 422, 422, 422),
    # lists people need
    ("GET", "/v1/ngo/tranches"):                          (401, 401, 403, 403, 200, 403),
    ("GET", "/v1/funder/tranches"):                       (401, 401, 403, 200, 403, 403),
    ("GET", "/v1/ngo/claim-programs"):                    (401, 401, 403, 403, 200, 403),
    ("GET", "/v1/funder/lots/{lot_id}/rounds"):           (401, 401, 403, 200, 403, 403),
    # providers: NGOs and the admin admit and suspend (another NGO's: tests/api/test_providers_api.py)
    ("POST", "/v1/providers"):                            (401, 401, 201, 403, 201, 403),
    ("GET", "/v1/providers"):                             (401, 401, 200, 403, 200, 403),
    ("POST", "/v1/providers/{provider_id}/suspend"):      (401, 401, 200, 403, 200, 403),
    ("POST", "/v1/providers/{provider_id}/admit"):        (401, 401, 200, 403, 200, 403),
    ("PUT", "/v1/ngo/programs/{program_id}/rule"):        (401, 401, 403, 403, 200, 403),
    ("GET", "/v1/public/programs/{program_id}/providers"): (200, 200, 200, 200, 200, 200),
    # payments at the counter: a provider's cashier asks, confirms with voucher + PIN, refunds; a signed-in
    # client confirms. No caller here is a provider or a client (tests/api/test_payments_api.py)
    ("POST", "/v1/provider/payments"):                    (401, 401, 403, 403, 403, 403),
    ("GET", "/v1/provider/payments"):                     (401, 401, 403, 403, 403, 403),
    ("GET", "/v1/provider/payments/{code}"):              (401, 401, 403, 403, 403, 403),
    ("POST", "/v1/provider/payments/{code}/counter-confirmation"): (401, 401, 403, 403, 403, 403),
    ("POST", "/v1/provider/payments/{code}/refund"):      (401, 401, 403, 403, 403, 403),
    ("GET", "/v1/client/payments"):                       (401, 401, 401, 401, 401, 401),
    ("GET", "/v1/client/payments/{code}"):                (401, 401, 401, 401, 401, 401),
    ("POST", "/v1/client/payments/{code}"):               (401, 401, 401, 401, 401, 401),
    ("POST", "/v1/client/payouts"):                       (401, 401, 401, 401, 401, 401),
    ("GET", "/v1/client/payouts"):                        (401, 401, 401, 401, 401, 401),
    # payouts: a provider asks (its success: tests/api/test_payouts_api.py), the treasurer settles
    ("POST", "/v1/provider/payouts"):                     (401, 401, 403, 403, 403, 403),
    ("GET", "/v1/provider/payouts"):                      (401, 401, 403, 403, 403, 403),
    ("GET", "/v1/admin/payouts"):                         (401, 401, 200, 403, 403, 403),
    ("POST", "/v1/admin/payout-batches"):                 (401, 401, 201, 403, 403, 403),
    ("GET", "/v1/admin/payout-batches/{batch_id}"):       (401, 401, 200, 403, 403, 403),
    ("GET", "/v1/admin/payout-batches/{batch_id}/sepa.xml"): (401, 401, 200, 403, 403, 403),
    ("POST", "/v1/admin/payout-batches/{batch_id}/sent"): (401, 401, 200, 403, 403, 403),
    ("POST", "/v1/admin/payout-batches/{batch_id}/reopen"): (401, 401, 200, 403, 403, 403),
    # expired aid goes back: its NGO, its funders, the admin (another NGO's, funder's: test_expiry_api.py)
    ("POST", "/v1/claim-programs/{claim_program_id}/expiry"): (401, 401, 200, 200, 200, 403),
    ("POST", "/v1/programs/{program_id}/expiry"):         (401, 401, 200, 200, 200, 403),
}  # fmt: skip

PROVIDER = {
    "name": "Matrix shop",
    "street": "Weg 1",
    "postcode": "10115",
    "city": "Berlin",
    "categories": ["food"],
}

REFUSAL_CODES = {
    401: {"MissingCredentials", "MissingClientSession", "InvalidApiKey"},
    403: {"WrongOrganisationKind"},
    404: {"UnknownPerson", "UnknownApiKey"},  # another organisation's person or key: as if absent
    422: {"NotASession"},  # an API key has no session to sign out: revoke it instead
}


def app_routes(app: FastAPI) -> set[Route]:
    """(method, path) of every route the app serves, including those of included routers."""
    try:
        from fastapi.routing import iter_route_contexts  # FastAPI >= 0.165 includes routers lazily
    except ImportError:  # pragma: no cover - older FastAPI flattens included routers itself
        routes: Any = app.routes
    else:
        routes = iter_route_contexts(app.routes)
    return {(m, r.path) for r in routes for m in (r.methods or ()) if m != "HEAD"}


def test_every_route_has_a_row(tmp_path: Path) -> None:
    from tests.pages.test_page_authorization import PAGE_MATRIX  # the client pages have their own table
    from tests.pages.test_public_pages import PUBLIC_PAGE_MATRIX  # and so have the public pages

    served = app_routes(create_app(make_settings(tmp_path))) - PAGE_MATRIX.keys() - PUBLIC_PAGE_MATRIX.keys()
    assert served - MATRIX.keys() == set(), "add these routes to MATRIX"
    assert MATRIX.keys() - served == set(), "these MATRIX rows name routes the app no longer serves"


@dataclass
class Seed:
    """What exists before the matrix runs, so the right caller's request can succeed."""

    lot: int
    expired_lot: int
    program: int
    pending_tranche: int
    other_pending_tranche: int
    funder_org: str
    clients: list[dict[str, Any]]
    open_round: int  # takes proposals; proposal 1 may be withdrawn
    closed_round: int  # voting has closed: it may be finalised
    expired_round: int  # not finalised before its lot expired: it may be abandoned
    sheet: str  # a voucher sheet waiting for its one download
    head: tuple[int, str] = (0, "")  # a block the auditor may attest: its number and hash
    person: str = ""  # a person of the NGO the NGO may disable
    person_key: str = ""  # the prefix of an API key of the NGO it may revoke
    # per caller: a person waiting for set-up (login, code), one waiting for the second factor and
    # one signed up, waiting to sign in (login, TOTP secret)
    setting_up: dict[str, tuple[str, str]] = field(default_factory=dict)
    confirming: dict[str, tuple[str, str]] = field(default_factory=dict)
    signing_in: dict[str, tuple[str, str]] = field(default_factory=dict)
    provider: str = ""  # a provider the NGO admitted
    voting: tuple[str, str] = ("", "")  # a new round's voting start and end: within the longest schedule
    cancellable: tuple[int, int] = (0, 0)  # rounds without ballots: one its NGO cancels, one its funder
    expired_claim_program: int = 0  # a claim program that has ended with an unclaimed rest
    ended_program: int = 0  # a restricted program (with the funder's money) whose end has passed


def _ok(response: Any) -> dict[str, Any]:
    assert response.status_code < 300, response.text
    body: dict[str, Any] = response.json()
    return body


def _seed(client: TestClient, gateway: Gateway, keys: Keys) -> Seed:
    made = _ok(client.post("/v1/ngo/programs", json={"name": "Matrix"}, headers=auth(keys.ngo)))
    program = made["programId"]
    lot = _ok(client.post("/v1/funder/lots", json={"amount": "1000"}, headers=auth(keys.funder)))["lotId"]
    expiry = datetime.fromtimestamp(gateway.chain.now() + 600, UTC).isoformat()
    expiring = _ok(
        client.post("/v1/funder/lots", json={"amount": "5", "expiresAt": expiry}, headers=auth(keys.funder))
    )["lotId"]
    _ok(
        client.post(
            f"/v1/funder/lots/{lot}/allocations",
            json={"programId": program, "amount": "500"},
            headers=auth(keys.funder),
        )
    )
    ngo = _ok(client.get("/v1/me", headers=auth(keys.ngo)))["address"]
    for consented in (lot, expiring):  # the funder lets the NGO put its lots into budget rounds
        _ok(
            client.post(
                f"/v1/funder/lots/{consented}/allocators", json={"address": ngo}, headers=auth(keys.funder)
            )
        )
    tranches = [
        _ok(
            client.post(
                f"/v1/ngo/programs/{program}/tranches",
                json={"amount": "100", "milestone": f"M{i}"},
                headers=auth(keys.ngo),
            )
        )["trancheId"]
        for i in range(3)
    ]
    _ok(client.post(f"/v1/tranches/{tranches[0]}/approve", headers=auth(keys.funder)))  # money to pay out
    seed_rounds = _seed_rounds(client, gateway, keys, lot, expiring, program)
    expired_claim_program = _seed_expiring_claim_program(client, gateway, keys, program)
    ended_program = _seed_ending_program(client, gateway, keys, lot)
    gateway.advance_time(3600)  # the expiring lot and claim program have expired; the others never expire
    funder = _ok(client.get("/v1/me", headers=auth(keys.funder)))["id"]
    clients = [
        _ok(
            client.post(
                "/v1/ngo/clients",
                json={"personal": {"name": f"Matrix {i}"}, "pin": "2468"},
                headers=auth(keys.ngo),
            )
        )
        for i in range(3)
    ]
    sheet = _ok(
        client.post(
            "/v1/ngo/clients?voucherSheet=true",
            json={"personal": {"name": "Matrix sheet"}},
            headers=auth(keys.ngo),
        )
    )["voucherSheet"]["sheetId"]
    block = gateway.chain.web3.eth.get_block("latest")
    head = (int(block["number"]), "0x" + bytes(block["hash"]).hex())
    provider_body = _ok(client.post("/v1/providers", json=PROVIDER, headers=auth(keys.ngo)))
    provider = provider_body["providerId"]
    _seed_payouts(client, keys, provider, provider_body["apiKey"])
    now = gateway.chain.now()
    voting = tuple(datetime.fromtimestamp(now + days * 86_400, UTC).isoformat() for days in (30, 60))
    seed = Seed(
        lot,
        expiring,
        program,
        tranches[1],
        tranches[2],
        funder,
        clients,
        *seed_rounds[:3],
        sheet,
        head,
        provider=provider,
        voting=voting,  # type: ignore[arg-type]
        cancellable=seed_rounds[3:],  # type: ignore[arg-type]
        expired_claim_program=expired_claim_program,
        ended_program=ended_program,
    )
    _seed_people(client, keys, seed)
    return seed


def _seed_payouts(client: TestClient, keys: Keys, provider: str, provider_key: str) -> None:
    """Batch 1 (to be marked sent) and batch 2 (to be reopened) of one payout each, and a payout pending."""
    mint = {"organisationId": provider, "amount": "3", "fiatReference": "matrix takings"}
    _ok(client.post("/v1/admin/mints", json=mint, headers=auth(keys.admin)))
    for batch in (1, 2, None):
        ask = {"amount": "1", "iban": "DE02120300000000202051"}
        _ok(client.post("/v1/provider/payouts", json=ask, headers=auth(provider_key)))
        if batch is not None:
            assert _ok(client.post("/v1/admin/payout-batches", headers=auth(keys.admin)))["batchId"] == batch


def _seed_ending_program(client: TestClient, gateway: Gateway, keys: Keys, lot: int) -> int:
    """A program of the NGO holding one euro of the funder's `lot`, restricted and ending in ten minutes."""
    program = _ok(client.post("/v1/ngo/programs", json={"name": "Ends"}, headers=auth(keys.ngo)))["programId"]
    _ok(
        client.post(
            f"/v1/funder/lots/{lot}/allocations",
            json={"programId": program, "amount": "1"},
            headers=auth(keys.funder),
        )
    )
    ends = datetime.fromtimestamp(gateway.chain.now() + 600, UTC).isoformat()
    rule = {"kind": "restricted", "categories": ["food"], "endsAt": ends}
    _ok(client.put(f"/v1/ngo/programs/{program}/rule", json=rule, headers=auth(keys.ngo)))
    return int(program)


def _seed_expiring_claim_program(client: TestClient, gateway: Gateway, keys: Keys, program: int) -> int:
    """A claim program of `program` granting one euro that nobody claims, ending in ten minutes."""
    person = _ok(
        client.post("/v1/ngo/clients", json={"personal": {"name": "Matrix expiring"}}, headers=auth(keys.ngo))
    )
    expiry = datetime.fromtimestamp(gateway.chain.now() + 600, UTC).isoformat()
    body = {
        "programId": program,
        "name": "Matrix expiring claims",
        "expiresAt": expiry,
        "grants": [{"clientId": person["clientId"], "amount": "1"}],
    }
    return int(
        _ok(client.post("/v1/ngo/claim-programs", json=body, headers=auth(keys.ngo)))["claimProgramId"]
    )


def _seed_people(client: TestClient, keys: Keys, seed: Seed) -> None:
    """A person of the NGO and an NGO key to disable and revoke; for each caller three people of the
    NGO: one to set up, one to confirm the second factor, one to sign in."""
    seed.person = _ok(
        client.post(
            "/v1/people",
            json={"login": "matrix-leaving", "displayName": "L", "roles": ["viewer"]},
            headers=auth(keys.ngo),
        )
    )["person"]["id"]
    made = _ok(
        client.post("/v1/api-keys", json={"name": "matrix", "integration": True}, headers=auth(keys.ngo))
    )
    seed.person_key = made["prefix"]
    for caller in CALLERS:
        codes = {}
        for stage in ("setup", "confirm", "signin"):
            login = f"matrix-{stage}-{caller}"
            codes[stage] = _ok(
                client.post(
                    "/v1/people",
                    json={"login": login, "displayName": login, "roles": ["viewer"]},
                    headers=auth(keys.ngo),
                )
            )["setupCode"]
        seed.setting_up[caller] = (f"matrix-setup-{caller}", codes["setup"])
        for stage in ("confirm", "signin"):
            login = f"matrix-{stage}-{caller}"
            secret = _ok(
                client.post(
                    "/v1/people/setup", json={"login": login, "setupCode": codes[stage], "password": PASSWORD}
                )
            )["secret"]
            if stage == "signin":
                _ok(
                    client.post(
                        "/v1/people/second-factor",
                        json={"login": login, "password": PASSWORD, "code": pyotp.TOTP(secret).now()},
                    )
                )
            (seed.confirming if stage == "confirm" else seed.signing_in)[caller] = (login, secret)


def _person_body(route: Route, caller: str, seed: Seed) -> dict[str, Any] | None:
    """The body of a people route for this caller (each adds, sets up, confirms and signs in a person of
    its own), or None for other routes."""
    if route == ("POST", "/v1/people"):
        return {"login": f"matrix-new-{caller}", "displayName": "New", "roles": ["viewer"]}
    if route == ("POST", "/v1/people/setup"):
        login, code = seed.setting_up[caller]
        return {"login": login, "setupCode": code, "password": PASSWORD}
    if route == ("POST", "/v1/people/second-factor"):
        login, secret = seed.confirming[caller]
        return {"login": login, "password": PASSWORD, "code": pyotp.TOTP(secret).now()}
    if route == ("POST", "/v1/people/session"):
        login, secret = seed.signing_in[caller]
        step = pyotp.TOTP(secret)
        return {
            "login": login,
            "password": PASSWORD,
            "code": step.at(datetime.now(UTC) + timedelta(seconds=30)),
        }
    return None


def _seed_rounds(
    client: TestClient, gateway: Gateway, keys: Keys, lot: int, expiring: int, program: int
) -> tuple[int, int, int, int, int]:
    """(open round, closed round, expired round, two rounds to cancel) once the clock has moved an hour:
    one takes proposals (its first may be withdrawn), the second's vote is over (it may be finalised),
    the third's vote is over too but its lot has expired (it may be abandoned), the last two have no
    ballot (they may be cancelled). Their roll: a client of the NGO."""
    _ok(client.post("/v1/ngo/clients", json={"personal": {"name": "Matrix voter"}}, headers=auth(keys.ngo)))

    def body(title: str, start: int, end: int, funding: tuple[int, str] = (lot, "50")) -> dict[str, Any]:
        now = gateway.chain.now()
        return {
            "title": title,
            "funding": [{"lotId": funding[0], "amount": funding[1]}],
            "credits": 100,
            "votingStart": datetime.fromtimestamp(now + start, UTC).isoformat(),
            "votingEnd": datetime.fromtimestamp(now + end, UTC).isoformat(),
            "minCost": "1",
            "maxCost": funding[1],
        }

    closed = _ok(client.post("/v1/ngo/rounds", json=body("Closed", 60, 120), headers=auth(keys.ngo)))
    opened = _ok(
        client.post("/v1/ngo/rounds", json=body("Open", 30 * 86_400, 40 * 86_400), headers=auth(keys.ngo))
    )
    _ok(
        client.post(
            f"/v1/ngo/rounds/{opened['roundId']}/proposals",
            json={"programId": program, "amount": "5", "title": "Withdrawn by the matrix"},
            headers=auth(keys.ngo),
        )
    )
    expired = _ok(
        client.post("/v1/ngo/rounds", json=body("Expired", 60, 120, (expiring, "2")), headers=auth(keys.ngo))
    )
    cancel = [
        int(
            _ok(client.post("/v1/ngo/rounds", json=body(f"Cancel {i}", 600, 1200), headers=auth(keys.ngo)))[
                "roundId"
            ]
        )
        for i in range(2)
    ]
    return int(opened["roundId"]), int(closed["roundId"]), int(expired["roundId"]), cancel[0], cancel[1]


def _request(route: Route, seed: Seed) -> tuple[str, dict[str, Any] | str | None]:
    """The concrete path and body the route's own caller sends."""
    paths = {
        "{lot_id}": str(seed.lot),
        "{program_id}": str(seed.program),
        "{tranche_id}": str(seed.pending_tranche),
        "{client_id}": seed.clients[0]["clientId"],
        "{claim_program_id}": "1",
        "{round_id}": str(seed.open_round),
        "{proposal_id}": "1",
        "{sheet_id}": seed.sheet,
        "{person_id}": seed.person,
        "{prefix}": seed.person_key,
        "{provider_id}": seed.provider,
        "{address}": "0x" + "ab" * 20,
        "{code}": "ABCDEFGH",
        "{batch_id}": "1",
    }
    bodies: dict[Route, dict[str, Any]] = {
        ("POST", "/v1/admin/organisations"): {"kind": "auditor", "name": "Second auditor"},
        ("POST", "/v1/admin/mints"): {"organisationId": seed.funder_org, "amount": "1", "fiatReference": "R"},
        ("POST", "/v1/funder/lots"): {"amount": "10"},
        ("POST", "/v1/funder/lots/{lot_id}/allocations"): {"programId": seed.program, "amount": "10"},
        ("POST", "/v1/funder/lots/{lot_id}/allocators"): {"address": "0x" + "ab" * 20},
        ("POST", "/v1/funder/programs/{program_id}/approvers"): {"address": "0x" + "ab" * 20},
        ("POST", "/v1/tranches/{tranche_id}/reject"): {"reason": "not yet"},
        ("POST", "/v1/ngo/programs"): {"name": "Second program"},
        ("POST", "/v1/ngo/programs/{program_id}/tranches"): {"amount": "5", "milestone": "M9"},
        ("POST", "/v1/ngo/programs/{program_id}/disbursements"): {
            "payments": [{"address": "0x" + "11" * 20, "amount": "1"}],
            "reference": "matrix",
        },
        ("POST", "/v1/ngo/clients"): {"personal": {"name": "Matrix new"}},
        ("POST", "/v1/ngo/clients/{client_id}/assisted-session"): {"pin": "2468"},
        ("POST", "/v1/ngo/clients/{client_id}/pin-reset"): {
            "recoveryCode": seed.clients[1]["recoveryCode"],
            "newPin": "1357",
        },
        ("POST", "/v1/ngo/claim-programs"): {
            "programId": seed.program,
            "name": "Matrix claims",
            "expiresAt": "2099-01-01T00:00:00Z",
            "grants": [{"clientId": seed.clients[0]["clientId"], "amount": "1"}],
        },
        ("POST", "/v1/client/session"): {"voucherCode": seed.clients[0]["voucherCode"], "pin": "2468"},
        ("POST", "/v1/ngo/rounds"): {
            "title": "Matrix round",
            "funding": [{"lotId": seed.lot, "amount": "10"}],
            "credits": 100,
            "votingStart": seed.voting[0],
            "votingEnd": seed.voting[1],
            "minCost": "1",
            "maxCost": "10",
        },
        ("POST", "/v1/ngo/rounds/{round_id}/proposals"): {
            "programId": seed.program,
            "amount": "5",
            "title": "P",
        },
        ("PUT", "/v1/client/rounds/{round_id}/ballot"): {"votes": [{"proposalId": 1, "votes": 1}]},
        ("POST", "/rpc"): {"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber", "params": []},
        ("POST", "/v1/api-keys"): {"name": "matrix integration", "integration": True},
        ("POST", "/v1/providers"): {**PROVIDER, "name": "Second shop"},
        ("POST", "/v1/providers/{provider_id}/suspend"): {"reason": "matrix"},
        ("POST", "/v1/providers/{provider_id}/admit"): {},
        ("POST", "/v1/provider/payments"): {"amount": "1", "note": "matrix"},
        ("POST", "/v1/provider/payments/{code}/counter-confirmation"): {
            "voucherCode": seed.clients[0]["voucherCode"],
            "pin": "2468",
        },
        ("PUT", "/v1/ngo/programs/{program_id}/rule"): {"kind": "cash"},
        ("POST", "/v1/provider/payouts"): {"amount": "1", "iban": "DE02120300000000202051"},
        ("POST", "/v1/client/payouts"): {"iban": "DE02120300000000202051"},
        ("POST", "/v1/admin/payout-batches/{batch_id}/sent"): {"bankReference": "matrix bank"},
        ("POST", "/v1/admin/payout-batches/{batch_id}/reopen"): {"reason": "matrix"},
        ("POST", "/v1/audit/attestations"): {
            "blockNumber": seed.head[0],
            "blockHash": seed.head[1],
            "reportHash": "0x" + "42" * 32,
        },
    }
    if route == ("POST", "/v1/ngo/clients/{client_id}/pin-reset"):
        paths["{client_id}"] = seed.clients[1]["clientId"]
    if route == ("DELETE", "/v1/ngo/clients/{client_id}"):
        paths["{client_id}"] = seed.clients[2]["clientId"]
    if route == ("POST", "/v1/funder/lots/{lot_id}/refund"):
        paths["{lot_id}"] = str(seed.expired_lot)
    if route == ("POST", "/v1/ngo/rounds/{round_id}/finalise"):
        paths["{round_id}"] = str(seed.closed_round)
    if route == ("POST", "/v1/ngo/rounds/{round_id}/cancel"):
        paths["{round_id}"] = str(seed.cancellable[0])
    if route == ("POST", "/v1/funder/rounds/{round_id}/cancel"):
        paths["{round_id}"] = str(seed.cancellable[1])
    if route == ("POST", "/v1/ngo/rounds/{round_id}/abandon"):
        paths["{round_id}"] = str(seed.expired_round)
    if route == ("POST", "/v1/admin/payout-batches/{batch_id}/reopen"):
        paths["{batch_id}"] = "2"
    if route == ("POST", "/v1/tranches/{tranche_id}/reject"):
        paths["{tranche_id}"] = str(seed.other_pending_tranche)
    if route == ("POST", "/v1/claim-programs/{claim_program_id}/expiry"):
        paths["{claim_program_id}"] = str(seed.expired_claim_program)
    if route == ("POST", "/v1/programs/{program_id}/expiry"):
        paths["{program_id}"] = str(seed.ended_program)
    path = route[1]
    for placeholder, value in paths.items():
        path = path.replace(placeholder, value)
    if route == ("POST", "/v1/ngo/clients/import"):
        return path, "name,birthDate\nMatrix import,2000-01-01\n"
    return path, bodies.get(route)


def test_each_caller_gets_the_status_its_row_says(client: TestClient, gateway: Gateway, keys: Keys) -> None:
    seed = _seed(client, gateway, keys)
    credentials: dict[str, str | None] = {
        "none": None,
        "invalid": INVALID_KEY,
        "admin": keys.admin,
        "funder": keys.funder,
        "ngo": keys.ngo,
        "auditor": keys.auditor,
    }
    mismatches: list[str] = []
    for route, expected_row in MATRIX.items():
        method, _ = route
        path, body = _request(route, seed)
        # refusals first: they must change nothing, so the allowed caller still finds the seeded state
        order = sorted(range(len(CALLERS)), key=lambda i: expected_row[i] < 300)
        for i in order:
            caller, expected = CALLERS[i], expected_row[i]
            key = credentials[caller]
            headers = auth(key) if key else {}
            body = _person_body(route, caller, seed) or body
            if isinstance(body, str):
                response = client.request(
                    method, path, content=body, headers={**headers, "Content-Type": "text/csv"}
                )
            else:
                response = client.request(method, path, json=body, headers=headers)
            got = response.status_code
            code = response.json().get("code") if got >= 400 else None
            if got != expected:
                mismatches.append(f"{method} {path} as {caller}: {got} {code or ''}, expected {expected}")
                continue
            if got >= 400:
                if not response.headers["content-type"].startswith("application/problem+json"):
                    mismatches.append(f"{method} {path} as {caller}: {got} is not a problem document")
                if code not in REFUSAL_CODES[got]:
                    mismatches.append(f"{method} {path} as {caller}: {got} with code {code}")
                if got == 401 and not response.headers.get("www-authenticate", "").startswith("Bearer"):
                    mismatches.append(f"{method} {path} as {caller}: 401 without WWW-Authenticate: Bearer")
            if route == ("POST", "/v1/me/api-keys/rotate") and got == 201:
                credentials[caller] = response.json()["apiKey"]  # the old key is revoked now
    assert not mismatches, "\n".join(mismatches)


NOT_A_LIVE_KEY = [  # (Authorization header or None, status, code)
    (None, 401, "MissingCredentials"),
    ("Basic dXNlcjpwYXNz", 401, "MissingCredentials"),
    ("Bearer", 401, "MissingCredentials"),
    ("Bearer not-an-api-key", 401, "InvalidApiKey"),
    (f"Bearer {INVALID_KEY}", 401, "InvalidApiKey"),
    ("Bearer alm_a_b_c_d", 401, "InvalidApiKey"),
]


def test_credentials_that_are_not_a_live_key_are_refused(client: TestClient) -> None:
    for header, status, code in NOT_A_LIVE_KEY:
        r = client.get("/v1/me", headers={"Authorization": header} if header else {})
        assert (r.status_code, r.json()["code"]) == (status, code), header
        challenge = r.headers["www-authenticate"]
        assert challenge.startswith("Bearer realm=")
        # RFC 6750 §3.1: an error code only when a token was sent and failed
        assert ('error="invalid_token"' in challenge) == (code == "InvalidApiKey"), header


def test_a_revoked_key_is_refused_and_a_forged_secret_is_too(client: TestClient, keys: Keys) -> None:
    new = client.post("/v1/me/api-keys/rotate", headers=auth(keys.auditor)).json()["apiKey"]
    r = client.get("/v1/audit/verify", headers=auth(keys.auditor))
    assert (r.status_code, r.json()["code"]) == (401, "InvalidApiKey")
    assert 'error="invalid_token"' in r.headers["www-authenticate"]
    prefix = new.split("_")[1]
    forged = f"alm_{prefix}_{'x' * 43}"
    r = client.get("/v1/audit/verify", headers=auth(forged))
    assert (r.status_code, r.json()["code"]) == (401, "InvalidApiKey")
    assert r.headers["www-authenticate"].startswith("Bearer ")
    assert client.get("/v1/audit/verify", headers=auth(new)).status_code == 200
