"""The demo `make run` serves: organisations, a month of aid, a budget round, and a client with aid
to claim whose voucher and PIN are handed to the operator in a private file."""

from __future__ import annotations

import json
import stat

from fastapi.testclient import TestClient

from api.demo import seed_demo
from api.gateway import Gateway
from tests.api.conftest import auth


def test_the_demo_is_seeded_once_and_its_client_can_claim(gateway: Gateway, client: TestClient) -> None:
    path = seed_demo(gateway)
    assert path is not None
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    keys = json.loads(path.read_text())
    assert {"admin", "foundation", "city", "ngo", "auditor", "client-voucher-code", "client-pin"} <= set(keys)
    assert seed_demo(gateway) is None  # a later start keeps what is there

    session = client.post(
        "/v1/client/session", json={"voucherCode": keys["client-voucher-code"], "pin": keys["client-pin"]}
    )
    assert session.status_code == 201, session.text
    token = session.json()["token"]
    [entitlement] = client.get("/v1/client/entitlements", headers=auth(token)).json()
    assert entitlement["amount"] == "25.000000" and entitlement["claimed"] is False
    claimed = client.post(f"/v1/client/claims/{entitlement['claimProgramId']}", headers=auth(token))
    assert claimed.status_code == 201, claimed.text

    assert client.get("/v1/audit/verify", headers=auth(keys["auditor"])).json()["matches"] is True
    rounds = client.get("/v1/public/rounds").json()
    assert any(r["phase"] == "finalised" and r["title"] == "Bürgerhaushalt Nordhafen" for r in rounds)
    [open_round] = [r for r in rounds if r["title"] == "Nachbarschaftsfonds Winter"]
    assert open_round["phase"] == "voting"  # the demo client may vote in it at /client/rounds
    mine = client.get(f"/v1/client/rounds/{open_round['roundId']}", headers=auth(token)).json()
    assert mine["eligible"] is True and mine["creditsLeft"] == 100 and len(mine["proposals"]) == 3
