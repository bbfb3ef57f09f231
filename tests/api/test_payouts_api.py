"""Payouts in euros over HTTP: a provider asks for its money on its IBAN, the treasurer batches, gets
the SEPA credit transfer file (validated here against the pain.001.001.03 XSD), reopens the batch the
bank rejected and marks the next one sent, which burns the money once. Retries never pay twice;
refusals carry a status and a `code`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sepaxml
import xmlschema
from fastapi.testclient import TestClient

from api.gateway import Gateway
from tests.api.conftest import Keys, auth

IBAN = "DE02120300000000202051"
SHOP = {"name": "Bio-Laden Mitte", "street": "Hauptstr. 1", "postcode": "10115", "city": "Berlin"}
XSD = Path(sepaxml.__file__).parent / "schemas" / "pain.001.001.03.xsd"


def _problem(response: Any, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["code"] == code, response.text


def test_a_provider_is_paid_out_by_sepa_file_once(client: TestClient, keys: Keys, gateway: Gateway) -> None:
    admin = auth(keys.admin)
    r = client.post("/v1/providers", json={**SHOP, "categories": ["food"]}, headers=auth(keys.ngo))
    assert r.status_code == 201, r.text
    shop_org, shop = r.json()["providerId"], auth(r.json()["apiKey"])
    account = r.json()["account"]
    r = client.post(
        "/v1/admin/mints",
        json={"organisationId": shop_org, "amount": "30", "fiatReference": "takings"},
        headers=admin,
    )
    assert r.status_code == 201, r.text

    # the provider asks; a retry under the same key is the same payout
    ask = {"amount": "12.50", "iban": "DE02 1203 0000 0000 2020 51"}
    first = client.post("/v1/provider/payouts", json=ask, headers={**shop, "Idempotency-Key": "p-1"})
    assert first.status_code == 201, first.text
    payout = first.json()
    assert (payout["amount"], payout["status"], payout["iban"]) == ("12.500000", "pending", "*" * 18 + "2051")
    again = client.post("/v1/provider/payouts", json=ask, headers={**shop, "Idempotency-Key": "p-1"})
    assert again.status_code == 201 and again.json()["payoutId"] == payout["payoutId"]
    assert gateway.system.balance(account) == 17_500_000

    # refusals: bad IBAN, part cents, more than the shop holds, the wrong kind of caller
    _problem(
        client.post("/v1/provider/payouts", json={**ask, "iban": "DE02120300000000202052"}, headers=shop),
        422,
        "InvalidIban",
    )
    _problem(
        client.post("/v1/provider/payouts", json={**ask, "amount": "1.005"}, headers=shop),
        422,
        "AmountNotWholeCents",
    )
    _problem(
        client.post("/v1/provider/payouts", json={**ask, "amount": "20"}, headers=shop),
        409,
        "ERC20InsufficientBalance",
    )
    _problem(
        client.post("/v1/provider/payouts", json=ask, headers=auth(keys.ngo)), 403, "WrongOrganisationKind"
    )
    _problem(client.get("/v1/admin/payouts", headers=shop), 403, "WrongOrganisationKind")
    _problem(client.post("/v1/admin/payout-batches", headers=auth(keys.funder)), 403, "WrongOrganisationKind")

    # the treasurer sees it pending, batches it and gets a valid SEPA file
    pending = client.get("/v1/admin/payouts", headers=admin).json()
    assert [p["payoutId"] for p in pending] == [payout["payoutId"]]
    r = client.post("/v1/admin/payout-batches", headers=admin)
    assert r.status_code == 201, r.text
    batch = r.json()
    assert (batch["batchId"], batch["count"], batch["total"], batch["status"]) == (1, 1, "12.500000", "open")
    written = Path(batch["sepaFile"])
    assert written.parent == gateway.settings.data_dir / "sepa"
    xml = written.read_text()
    xmlschema.XMLSchema(str(XSD)).validate(xml)
    assert IBAN in xml and '<InstdAmt Ccy="EUR">12.50</InstdAmt>' in xml and "Bio-Laden Mitte" in xml
    served = client.get("/v1/admin/payout-batches/1/sepa.xml", headers=admin)
    assert served.status_code == 200 and served.headers["content-type"].startswith("application/xml")
    xmlschema.XMLSchema(str(XSD)).validate(served.text)
    _problem(client.post("/v1/admin/payout-batches", headers=admin), 409, "NothingToPay")

    # the bank rejects it: pending again, nothing burned
    supply = int(gateway.system.token.call("totalSupply"))
    r = client.post("/v1/admin/payout-batches/1/reopen", json={"reason": "file refused"}, headers=admin)
    assert r.status_code == 200 and r.json()["status"] == "rejected", r.text
    assert int(gateway.system.token.call("totalSupply")) == supply
    _problem(
        client.post("/v1/admin/payout-batches/1/sent", json={"bankReference": "x"}, headers=admin),
        409,
        "PayoutsBatchNotOpen",
    )

    # batched again and sent: burned once, a repeated "sent" changes nothing
    assert client.post("/v1/admin/payout-batches", headers=admin).json()["batchId"] == 2
    sent = client.post("/v1/admin/payout-batches/2/sent", json={"bankReference": "BANK-42"}, headers=admin)
    assert sent.status_code == 200 and sent.json()["status"] == "sent", sent.text
    assert any(e["event"] == "BatchSent" for e in sent.json()["operation"]["events"])
    repeat = client.post("/v1/admin/payout-batches/2/sent", json={"bankReference": "BANK-42"}, headers=admin)
    assert repeat.status_code == 200 and repeat.json()["operation"] is None
    assert int(gateway.system.token.call("totalSupply")) == supply - 12_500_000
    assert gateway.system.balance(gateway.system.payouts.address) == 0
    own = client.get("/v1/provider/payouts", headers=shop).json()
    assert [(p["payoutId"], p["status"], p["batchId"]) for p in own] == [(payout["payoutId"], "settled", 2)]
    _problem(client.get("/v1/admin/payout-batches/9", headers=admin), 404, "UnknownBatch")
    assert IBAN not in str(gateway.system.events())  # the IBAN never goes on chain
