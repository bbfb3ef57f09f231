"""A funder follows a lot's euros over HTTP: disbursed to a person, spent at a food shop, paid out by
the shop. The funder, the admin and an auditor see it; another funder is told there is no such lot
(404), a provider and an NGO are refused (403), a stranger 401 (the rest: the authorization matrix)."""

from __future__ import annotations

from eth_account import Account
from eth_utils import keccak
from fastapi.testclient import TestClient

from api.gateway import Gateway
from tests.api.conftest import Keys, auth
from tests.api.test_claims_api import _funded_program
from tests.api.test_providers_api import _admit

EUR = 1_000_000


def test_a_lot_is_followed_to_the_shop_and_its_payout(
    client: TestClient, keys: Keys, gateway: Gateway
) -> None:
    shop = _admit(client, keys.ngo, ["food"])
    program = _funded_program(client, keys, amount="100")
    lot = max(x["lotId"] for x in client.get("/v1/funder/lots", headers=auth(keys.funder)).json())
    person = Account.create()
    r = client.post(
        f"/v1/ngo/programs/{program}/disbursements",
        json={"payments": [{"address": person.address, "amount": "30"}]},
        headers=auth(keys.ngo),
    )
    assert r.status_code == 201, r.text
    token = gateway.system.token  # relayed, as the counter will: people hold no gas money
    gateway.execute("test", person, token.transfer_call(shop["account"], 20 * EUR))
    shop_key = gateway.organisation_account(gateway.organisation(shop["providerId"]))
    gateway.execute("test", shop_key, token.redeem_call(5 * EUR, keccak(text="payout")))

    path = f"/v1/funder/lots/{lot}/lineage"
    r = client.get(path, headers=auth(keys.funder))
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["lotId"], body["deposited"], body["inFundLedger"]) == (lot, "100.000000", "70.000000")
    assert body["spending"] == [
        {
            "provider": shop["account"],
            "name": "Bio-Laden Mitte",
            "categories": ["food"],
            "amount": "20.000000",
        }
    ]
    assert body["spendingByCategory"] == {"food": "20.000000"}
    assert body["heldByPeople"] == "10.000000"
    assert body["payouts"] == [{"holder": shop["account"], "provider": True, "amount": "5.000000"}]
    assert (body["paidOutByProviders"], body["heldByProviders"]) == ("5.000000", "15.000000")
    for key in (keys.admin, keys.auditor):
        assert client.get(path, headers=auth(key)).json() == body
    for key, status, code in (
        (keys.funder2, 404, "UnknownLot"),
        (keys.ngo, 403, "WrongOrganisationKind"),
        (shop["apiKey"], 403, "WrongOrganisationKind"),
        (None, 401, "MissingCredentials"),
    ):
        r = client.get(path, headers=auth(key) if key else {})
        assert (r.status_code, r.json()["code"]) == (status, code)
    r = client.get("/v1/funder/lots/999/lineage", headers=auth(keys.auditor))
    assert (r.status_code, r.json()["code"]) == (404, "UnknownLot")
