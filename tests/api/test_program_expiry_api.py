"""Expired restricted aid paid directly, over HTTP: the NGO gives its restricted program an end with the
program's rule (`PUT /v1/ngo/programs/{id}/rule`, `endsAt`), pays its clients' accounts, and after the end
its NGO, a funder whose money it holds, or the admin sends back what the accounts have not spent
(`POST /v1/programs/{id}/expiry`); asking again sends nothing twice. Refusals: an earlier end, before the
end, another NGO, another funder, an unknown program."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from eth_account import Account
from fastapi.testclient import TestClient

from api.gateway import Gateway
from api.services import funds as funds_service
from api.verification.checks import check_lineage, check_providers
from api.verification.records import collect
from tests.api.conftest import Keys, auth
from tests.api.test_claims_api import _funded_program, _register
from tests.api.test_payments_api import _code
from tests.api.test_providers_api import _admit

DAY = 86_400


def _rule(client: TestClient, key: str, program: int, ends_at: int) -> dict[str, object]:
    ends = datetime.fromtimestamp(ends_at, UTC).isoformat()
    r = client.put(
        f"/v1/ngo/programs/{program}/rule",
        json={"kind": "restricted", "categories": ["food"], "endsAt": ends},
        headers=auth(key),
    )
    return {"status": r.status_code, **r.json()}


def test_expired_aid_paid_directly_goes_back_to_the_lots_once(
    client: TestClient, keys: Keys, gateway: Gateway
) -> None:
    shop = _admit(client, keys.ngo, ["food"])["apiKey"]
    program = _funded_program(client, keys, "100")
    ends_at = gateway.chain.now() + 30 * DAY
    set_rule = _rule(client, keys.ngo, program, ends_at)
    assert (set_rule["status"], set_rule["kind"], set_rule["endsAt"]) == (200, "restricted", ends_at)
    earlier = _rule(client, keys.ngo, program, ends_at - DAY)
    assert (earlier["status"], earlier["code"]) == (409, "FundLedgerEndEarlier")
    reg = _register(client, keys, 1)[0]
    spender, keeper = Account.create().address, reg["account"]
    paid = client.post(
        f"/v1/ngo/programs/{program}/disbursements",
        json={"payments": [{"address": spender, "amount": "30"}, {"address": keeper, "amount": "20"}]},
        headers=auth(keys.ngo),
    )
    assert paid.status_code == 201, paid.text
    assert gateway.system.funds.sweepable(program) == 50_000_000  # the batch recorded its draws
    path = f"/v1/programs/{program}/expiry"

    early = client.post(path, headers=auth(keys.ngo))
    assert (early.status_code, early.json()["code"]) == (409, "FundLedgerProgramNotEnded")
    gateway.advance_time(31 * DAY)
    for stranger in (keys.ngo2, keys.funder2):
        refused = client.post(path, headers=auth(stranger))
        assert (refused.status_code, refused.json()["code"]) == (403, "NotYourProgram")
    unknown = client.post("/v1/programs/9999/expiry", headers=auth(keys.admin))
    assert (unknown.status_code, unknown.json()["code"]) == (404, "FundLedgerUnknownProgram")
    # Until it is swept the money is still in the client's account, but the counter no longer takes it.
    session = client.post("/v1/client/session", json={"voucherCode": reg["voucherCode"], "pin": "2468"})
    late = client.post(
        f"/v1/client/payments/{_code(client, shop, '5')}", headers=auth(session.json()["token"])
    )
    assert (late.status_code, late.json()["code"]) == (409, "AidExpired")

    done = client.post(path, headers=auth(keys.funder))  # the funder need not wait for the NGO
    assert done.status_code == 200, done.text
    body = done.json()
    assert (body["swept"], body["accounts"], body["nextAfter"]) == ("50.000000", 2, None)
    assert gateway.system.balance(spender) == gateway.system.balance(keeper) == 0
    events = gateway.read_model.for_transaction(body["transaction"])
    assert sum(e.args["amount"] for e in events if e.name == "FundsReturned") == 50_000_000
    swept = gateway.read_model.for_accounts([keeper], ["ExpiredAidSwept"])  # the read model names the client
    assert [(e.args["programId"], e.args["amount"]) for e in swept] == [(program, 20_000_000)]

    # The auditor's checks, from the chain alone, account for what went back.
    records = collect(gateway.system)
    for section in (check_providers(records), check_lineage(records)):
        assert [c.name for c in section.checks if not c.ok] == [], section.title

    again = client.post(path, headers=auth(keys.ngo))
    assert again.status_code == 200, again.text
    assert (again.json()["swept"], again.json()["transaction"]) == ("0.000000", None)


def test_a_sweep_too_large_for_one_transaction_takes_fewer_accounts_and_goes_on(
    client: TestClient, keys: Keys, gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The gateway estimates a sweep's gas on the chain: where the accounts found would need more than
    one sweep may use, it takes fewer and says where to go on; one account alone too large is refused
    with a clear code, and nothing moves."""
    program = _funded_program(client, keys, "100")
    assert _rule(client, keys.ngo, program, gateway.chain.now() + 30 * DAY)["status"] == 200
    accounts = [Account.create().address for _ in range(6)]
    paid = client.post(
        f"/v1/ngo/programs/{program}/disbursements",
        json={"payments": [{"address": a, "amount": "5"} for a in accounts]},
        headers=auth(keys.ngo),
    )
    assert paid.status_code == 201, paid.text
    gateway.advance_time(31 * DAY)
    funds = gateway.system.funds
    one, all_six = (funds.sweep_expired_call(program, accounts[:n]).gas for n in (1, 6))
    assert one < all_six
    path = f"/v1/programs/{program}/expiry"

    monkeypatch.setattr(funds_service, "SWEEP_GAS_CAP", one - 1)
    refused = client.post(path, headers=auth(keys.ngo))
    assert (refused.status_code, refused.json()["code"]) == (409, "SweepTooLarge"), refused.text
    assert [gateway.system.balance(a) for a in accounts] == [5_000_000] * 6  # nothing moved

    monkeypatch.setattr(funds_service, "SWEEP_GAS_CAP", all_six - 1)  # six are too many, three fit
    first = client.post(path, headers=auth(keys.ngo))
    assert first.status_code == 200, first.text
    assert (first.json()["swept"], first.json()["accounts"], first.json()["nextAfter"]) == ("15.000000", 3, 3)
    assert [gateway.system.balance(a) for a in accounts] == [0] * 3 + [5_000_000] * 3
    rest = client.post(path, params={"after": 3}, headers=auth(keys.ngo))
    assert rest.status_code == 200, rest.text
    assert (rest.json()["swept"], rest.json()["accounts"], rest.json()["nextAfter"]) == ("15.000000", 3, None)
    assert [gateway.system.balance(a) for a in accounts] == [0] * 6
    assert funds.sweepable(program) == 0  # all six came back, once


def test_an_account_another_program_marked_takes_no_money_of_this_one(
    client: TestClient, keys: Keys, gateway: Gateway
) -> None:
    """Money paid into an account a restricted program marked would fall under that program's rule
    and its sweep; the gateway refuses it (the chain would take it) and pays the program's own
    accounts and fresh ones as before."""
    restricted, cash = _funded_program(client, keys, "100"), _funded_program(client, keys, "100")
    assert _rule(client, keys.ngo, restricted, gateway.chain.now() + 30 * DAY)["status"] == 200
    marked, fresh = Account.create().address, Account.create().address

    def pay(program: int, account: str) -> Any:
        return client.post(
            f"/v1/ngo/programs/{program}/disbursements",
            json={"payments": [{"address": account, "amount": "5"}]},
            headers=auth(keys.ngo),
        )

    assert pay(restricted, marked).status_code == 201
    refused = pay(cash, marked)
    assert refused.status_code == 409, refused.text
    assert (refused.json()["code"], refused.json()["programId"]) == (
        "RecipientBoundToAnotherProgram",
        restricted,
    )
    assert gateway.system.balance(marked) == 5_000_000  # nothing of the cash program's came in
    assert pay(restricted, marked).status_code == 201  # its own program pays it again
    assert pay(cash, fresh).status_code == 201
    assert gateway.system.balance(marked) == 10_000_000 and gateway.system.balance(fresh) == 5_000_000
