"""Nothing personal or secret reaches the logs, even with every logger at DEBUG."""

from __future__ import annotations

import logging

import pytest
from fastapi.testclient import TestClient

from api.gateway import Gateway
from tests.api.conftest import Keys, auth


def test_a_scenario_logs_no_personal_data_and_no_secret(
    client: TestClient, keys: Keys, gateway: Gateway, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # the root logger and everything that propagates to it
    person = {"name": "Zofia Kowalczyk-Brandt", "birthDate": "1958-11-03", "phone": "+49 170 5550199"}
    reg = client.post(
        "/v1/ngo/clients?voucherSheet=true", json={"personal": person, "pin": "80417"}, headers=auth(keys.ngo)
    ).json()
    assert client.get(reg["voucherSheet"]["href"], headers=auth(keys.ngo)).status_code == 200
    wrong = client.post("/v1/client/session", json={"voucherCode": reg["voucherCode"], "pin": "11111"})
    assert wrong.status_code == 401
    session = client.post(
        "/v1/client/session", json={"voucherCode": reg["voucherCode"], "pin": "80417"}
    ).json()
    client.get("/v1/client/me", headers=auth(session["token"]))
    client.post(
        f"/v1/ngo/clients/{reg['clientId']}/pin-reset",
        json={"recoveryCode": reg["recoveryCode"], "newPin": "55123"},
        headers=auth(keys.ngo),
    )
    client.post("/v1/funder/lots", json={"amount": "1"}, headers=auth(keys.funder))

    secrets = [
        *person.values(),
        "Zofia",
        "Kowalczyk",
        "80417",
        "55123",
        reg["voucherCode"],
        reg["voucherCode"].replace("-", ""),
        reg["recoveryCode"],
        session["token"],
        keys.ngo,
        keys.funder,
        keys.admin,
        keys.ngo.split("_", 2)[2],
        gateway.settings.master_key.get_secret_value(),  # type: ignore[union-attr]
    ]
    logged = "\n".join(
        f"{r.name} {r.getMessage()} {r.args!r} {getattr(r, 'exc_text', '') or ''}" for r in caplog.records
    )
    assert caplog.records, "the scenario should have logged something to scan"
    leaked = [s for s in secrets if s and s in logged]
    assert not leaked, f"found in the logs: {leaked}"
