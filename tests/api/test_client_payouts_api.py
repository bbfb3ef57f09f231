"""Clients' cash paid out to their own IBAN over HTTP, in one scenario: a client holding restricted food
aid, cash disbursed to them and cash claimed from a cash program asks for part of their cash (two
accounts pay a leg each; a retry pays once), then for all the rest; restricted aid stays. Refusals
carry a status and a `code`. The treasurer batches the client's payouts with the SEPA file holding
their IBAN and name (valid against the pain.001.001.03 XSD); erasing the client is refused while a
payout is pending and afterwards leaves their IBAN unreadable and gone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sepaxml
import xmlschema
from fastapi.testclient import TestClient

from api.errors import NotFound
from api.gateway import Gateway
from api.models import ClientPayoutRecord
from tests.api.conftest import Keys, auth
from tests.api.test_claims_api import _funded_program, _open_claims, _register

IBAN = "DE75512108001245126199"
XSD = Path(sepaxml.__file__).parent / "schemas" / "pain.001.001.03.xsd"
MICRO = 10**6


def _problem(response: Any, status: int, code: str) -> dict[str, Any]:
    assert (response.status_code, response.json().get("code")) == (status, code), response.text
    body: dict[str, Any] = response.json()
    return body


def test_a_client_is_paid_out_their_cash_once(client: TestClient, keys: Keys, gateway: Gateway) -> None:
    ngo, admin = auth(keys.ngo), auth(keys.admin)
    food = _funded_program(client, keys, "40")
    r = client.put(
        f"/v1/ngo/programs/{food}/rule", json={"kind": "restricted", "categories": ["food"]}, headers=ngo
    )
    assert r.status_code == 200, r.text
    regs = _register(client, keys, 1)
    client_id = regs[0]["clientId"]
    food_claims = _open_claims(client, keys, food, regs).json()["claimProgramId"]
    cash_claims = _open_claims(client, keys, _funded_program(client, keys, "40"), regs).json()[
        "claimProgramId"
    ]
    session = client.post("/v1/client/session", json={"voucherCode": regs[0]["voucherCode"], "pin": "2468"})
    me = auth(session.json()["token"])
    for claims in (food_claims, cash_claims):
        assert client.post(f"/v1/client/claims/{claims}", headers=me).status_code == 201
    account = client.get("/v1/client/me", headers=me).json()["account"]
    r = client.post(
        f"/v1/ngo/programs/{_funded_program(client, keys, '20')}/disbursements",
        json={"payments": [{"address": account, "amount": "20"}], "reference": "Dezember"},
        headers=ngo,
    )
    assert r.status_code == 201, r.text
    supply = int(gateway.system.token.call("totalSupply"))

    # refusals: bad IBAN, part cents, more than their cash (restricted food aid does not count)
    ask = {"amount": "25", "iban": "DE75 5121 0800 1245 1261 99"}
    _problem(
        client.post("/v1/client/payouts", json={**ask, "iban": "DE75512108001245126198"}, headers=me),
        422,
        "InvalidIban",
    )
    _problem(
        client.post("/v1/client/payouts", json={**ask, "amount": "0.001"}, headers=me),
        422,
        "AmountNotWholeCents",
    )
    refused = _problem(
        client.post("/v1/client/payouts", json={**ask, "amount": "61"}, headers=me), 409, "NotEnoughBalance"
    )
    assert (refused["needed"], refused["available"]) == ("61.000000", "60.000000")
    _problem(client.post("/v1/client/payouts", json=ask, headers=ngo), 401, "MissingClientSession")

    # 25 euros: 20 from the account disbursements go to, 5 from the cash claims; a retry pays once
    retry = {**me, "Idempotency-Key": "cp-1"}
    first = client.post("/v1/client/payouts", json=ask, headers=retry)
    assert first.status_code == 201, first.text
    body = first.json()
    assert body["total"] == "25.000000" and len(body["operations"]) == 4
    assert [(p["amount"], p["status"], p["iban"]) for p in body["payouts"]] == [
        ("20.000000", "pending", "*" * 18 + "6199"),
        ("5.000000", "pending", "*" * 18 + "6199"),
    ]
    again = client.post("/v1/client/payouts", json=ask, headers=retry)
    assert again.status_code == 201 and again.json()["payouts"] == body["payouts"]
    with gateway.db.session() as s:
        assert s.query(ClientPayoutRecord).count() == 2
    assert gateway.system.balance(gateway.system.payouts.address) == 25 * MICRO
    assert gateway.system.balance(account) == 0

    # no amount: all the rest of their cash (35); the 40 of food aid stay
    rest = client.post("/v1/client/payouts", json={"iban": IBAN}, headers={**me, "Idempotency-Key": "cp-2"})
    assert rest.status_code == 201 and rest.json()["total"] == "35.000000", rest.text
    _problem(client.post("/v1/client/payouts", json={"iban": IBAN}, headers=me), 409, "NotEnoughBalance")
    ids = [p["payoutId"] for p in body["payouts"] + rest.json()["payouts"]]
    own = client.get("/v1/client/payouts", headers=me)
    assert own.status_code == 200 and [p["payoutId"] for p in own.json()] == sorted(ids, reverse=True)

    # erasure waits while a payout is pending
    _problem(client.delete(f"/v1/ngo/clients/{client_id}", headers=ngo), 409, "PayoutPending")

    # the treasurer batches them: the SEPA file holds the client's IBAN and name
    pending = client.get("/v1/admin/payouts", headers=admin).json()
    assert [(p["payoutId"], p["holder"]) for p in pending] == [(i, "client") for i in sorted(ids)]
    batch = client.post("/v1/admin/payout-batches", headers=admin)
    assert batch.status_code == 201 and batch.json()["total"] == "60.000000", batch.text
    xml = Path(batch.json()["sepaFile"]).read_text()
    xmlschema.XMLSchema(str(XSD)).validate(xml)
    assert (
        xml.count(IBAN) == 3 and xml.count("Person 0") == 3 and '<InstdAmt Ccy="EUR">5.00</InstdAmt>' in xml
    )
    batch_id = batch.json()["batchId"]
    sent = client.post(
        f"/v1/admin/payout-batches/{batch_id}/sent", json={"bankReference": "B-7"}, headers=admin
    )
    assert sent.status_code == 200 and sent.json()["status"] == "sent", sent.text
    assert int(gateway.system.token.call("totalSupply")) == supply - 60 * MICRO
    assert {p["status"] for p in client.get("/v1/client/payouts", headers=me).json()} == {"settled"}
    assert IBAN not in str(gateway.system.events())  # never on chain

    # erased: the sealed IBAN cannot be opened any more, and the rows hold neither it nor the client
    with gateway.db.session() as s:
        sealed = [(r.reference, r.iban_sealed) for r in s.query(ClientPayoutRecord)]
    assert client.delete(f"/v1/ngo/clients/{client_id}", headers=ngo).status_code == 204
    for reference, blob in sealed:
        assert blob is not None
        with pytest.raises(NotFound):
            gateway.clients.open_personal(client_id, blob, f"client-payout:{client_id}:{reference}")
    with gateway.db.session() as s:
        assert {(r.client_id, r.iban_sealed) for r in s.query(ClientPayoutRecord)} == {(None, None)}
