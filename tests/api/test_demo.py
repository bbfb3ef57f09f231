"""The demo `make run` serves: organisations, a month of aid, a budget round, and a client with aid
to claim whose voucher and PIN are handed to the operator in a private file."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pyotp
import sepaxml
import xmlschema
from fastapi.testclient import TestClient

from api.demo import seed_demo
from api.gateway import Gateway
from tests.api.conftest import auth
from tests.api.people_support import next_code


def test_the_demo_is_seeded_once_and_its_client_can_claim(gateway: Gateway, client: TestClient) -> None:
    path = seed_demo(gateway)
    assert path is not None
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    keys = json.loads(path.read_text())
    assert {"admin", "foundation", "city", "ngo", "auditor", "client-voucher-code", "client-pin"} <= set(keys)
    assert seed_demo(gateway) is None  # a later start keeps what is there
    _two_people_asked_and_approved(client, keys)

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

    # two providers admitted by the demo NGO; a program restricted to sports and culture lists the club
    listed = client.get("/v1/providers", headers=auth(keys["ngo"])).json()
    assert sorted(p["name"] for p in listed) == ["Frischemarkt Nordhafen", "SV Nordhafen 1921 e.V."]
    assert {"provider-food", "provider-sports"} <= set(keys)
    programs = client.get("/v1/public/programs").json()
    teilhabe = next(p["programId"] for p in programs if p["name"] == "Teilhabe: Sport und Kultur")
    accepted = client.get(f"/v1/public/programs/{teilhabe}/providers").json()
    assert accepted["program"]["kind"] == "restricted"
    assert [p["name"] for p in accepted["providers"]] == ["SV Nordhafen 1921 e.V."]

    # the demo client paid 12,80 € at the food shop's counter with voucher code + PIN, from cash aid
    day = client.get("/v1/provider/payments", headers=auth(keys["provider-food"])).json()
    assert day["total"] == "12.800000"
    [paid] = day["payments"]
    assert (paid["status"], paid["note"], [leg["restricted"] for leg in paid["legs"]]) == (
        "paid",
        "Obst, Brot, Milch",
        [False],
    )
    assert [p["code"] for p in client.get("/v1/client/payments", headers=auth(token)).json()] == [
        paid["code"]
    ]

    # the food shop was paid out its takings: the payout settled, the SEPA file written and valid
    [payout] = client.get("/v1/provider/payouts", headers=auth(keys["provider-food"])).json()
    assert (payout["amount"], payout["status"]) == ("12.800000", "settled")
    sepa = gateway.settings.data_dir / "sepa" / f"batch-{payout['batchId']}.xml"
    xmlschema.XMLSchema(str(Path(sepaxml.__file__).parent / "schemas" / "pain.001.001.03.xsd")).validate(
        sepa.read_text()
    )


def _two_people_asked_and_approved(client: TestClient, keys: dict[str, str]) -> None:
    """The demo NGO's caseworker asked for a tranche and its approver approved it, each as themselves;
    both sign in with their password and a TOTP code from the printed secret."""
    tranches = client.get("/v1/ngo/tranches", headers=auth(keys["ngo"])).json()
    [theirs] = [t for t in tranches if t["requestedBy"]["name"] == "Maria Fallarbeit"]
    assert theirs["status"] == "approved" and theirs["decidedBy"]["name"] == "Jonas Freigabe"
    assert theirs["requestedBy"]["address"] != theirs["decidedBy"]["address"]
    for role in ("caseworker", "approver"):
        signed_in = client.post(
            "/v1/people/session",
            json={
                "login": keys[f"{role}-login"],
                "password": keys[f"{role}-password"],
                "code": next_code(pyotp.TOTP(keys[f"{role}-totp-secret"])),
            },
        )
        assert signed_in.status_code == 201, signed_in.text
        assert signed_in.json()["person"]["roles"] == [role]
