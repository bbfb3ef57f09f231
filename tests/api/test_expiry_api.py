"""Expired aid over HTTP: after a claim program's end its NGO, a funder whose money it holds, or the admin
sends back what it no longer pays (the unclaimed rest and what recipients of restricted aid have not
spent) to the lots it came from; asking again sends nothing twice. Refusals: before the end, another NGO,
another funder, an unknown claim program."""

from __future__ import annotations

from fastapi.testclient import TestClient

from api.gateway import Gateway
from api.open_data.figures import figures
from api.verification.checks import check_claims, check_providers
from api.verification.records import collect
from tests.api.conftest import Keys, auth
from tests.api.test_claims_api import _funded_program, _open_claims, _register
from tests.api.test_providers_api import _admit, _rule

DAY = 86_400


def test_expired_restricted_aid_goes_back_to_the_lots_once(
    client: TestClient, keys: Keys, gateway: Gateway
) -> None:
    _admit(client, keys.ngo, ["food"])
    program = _funded_program(client, keys)
    assert _rule(client, keys.ngo, program, "restricted", ["food"]).status_code == 200
    regs = _register(client, keys, 2)
    opened = _open_claims(client, keys, program, regs).json()  # 40 euros each, for 30 days
    claim_program = opened["claimProgramId"]
    session = client.post("/v1/client/session", json={"voucherCode": regs[0]["voucherCode"], "pin": "2468"})
    recipient = client.post(
        f"/v1/client/claims/{claim_program}", headers=auth(session.json()["token"])
    ).json()["recipient"]
    path = f"/v1/claim-programs/{claim_program}/expiry"

    early = client.post(path, headers=auth(keys.ngo))
    assert (early.status_code, early.json()["code"]) == (409, "ClaimProgramNotExpired")
    gateway.advance_time(31 * DAY)
    for stranger in (keys.ngo2, keys.funder2):
        refused = client.post(path, headers=auth(stranger))
        assert (refused.status_code, refused.json()["code"]) == (403, "NotYourClaimProgram")
    unknown = client.post("/v1/claim-programs/999/expiry", headers=auth(keys.admin))
    assert (unknown.status_code, unknown.json()["code"]) == (404, "ClaimProgramsUnknownProgram")
    assert gateway.system.balance(recipient) == 40_000_000

    done = client.post(path, headers=auth(keys.funder))  # the funder need not wait for the NGO
    assert done.status_code == 200, done.text
    body = done.json()
    assert (body["reclaimed"], body["returned"], body["accounts"], body["nextAfter"]) == (
        "40.000000",
        "80.000000",
        1,
        None,
    )
    assert body["transaction"].startswith("0x")
    assert gateway.system.balance(recipient) == 0
    events = gateway.read_model.for_transaction(body["transaction"])
    assert sum(e.args["amount"] for e in events if e.name == "FundsReturned") == 80_000_000

    # The auditor's checks and the public figures, from the chain alone, account for what went back.
    records = collect(gateway.system)
    for section in (check_claims(records), check_providers(records)):
        assert [c.name for c in section.checks if not c.ok] == [], section.title
    assert check_providers(records).figures["restricted money that expired and went back"] == 40_000_000
    shown = figures(records.events).claim_programs[opened["address"]]
    assert (shown.claimed, shown.reclaimed, shown.returned, shown.held) == (
        40_000_000,
        40_000_000,
        80_000_000,
        0,
    )

    again = client.post(path, headers=auth(keys.ngo))
    assert again.status_code == 200, again.text
    assert (again.json()["returned"], again.json()["transaction"]) == ("0.000000", None)
