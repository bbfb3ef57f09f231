"""Paying at the counter over HTTP, in one scenario: a food shop asks, one client pays on their own
phone from restricted aid first and cash after (a retried confirmation pays once), another confirms
on the counter with voucher code + PIN; refusals are precise 4xx (wrong PIN, not enough, paid
already, not paid, suspended provider, unknown code, another provider's payment); the shop sees its
day with a total and refunds; a confirmation resumed after a crash sends no leg twice."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from api.gateway import Gateway
from api.models import Payment
from tests.api.conftest import Keys, auth
from tests.api.test_claims_api import _funded_program, _open_claims, _register

SHOP = {"street": "Am Hafen 3", "postcode": "20457", "city": "Hamburg"}
MICRO = 10**6


def _provider(client: TestClient, key: str, name: str, categories: list[str]) -> dict[str, Any]:
    r = client.post("/v1/providers", json={**SHOP, "name": name, "categories": categories}, headers=auth(key))
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


def _ask(client: TestClient, shop_key: str, amount: str, note: str = "") -> Any:
    return client.post("/v1/provider/payments", json={"amount": amount, "note": note}, headers=auth(shop_key))


def _code(client: TestClient, shop_key: str, amount: str) -> str:
    r = _ask(client, shop_key, amount, "Einkauf")
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "open"
    code: str = r.json()["code"]
    return code


def _problem(response: Any, status: int, code: str) -> dict[str, Any]:
    assert (response.status_code, response.json().get("code")) == (status, code), response.text
    body: dict[str, Any] = response.json()
    return body


def test_paying_at_the_counter(client: TestClient, keys: Keys, gateway: Gateway) -> None:
    grocer = _provider(client, keys.ngo, "Frischemarkt", ["food"])
    club = _provider(client, keys.ngo, "Sportverein", ["sports"])
    shop, shop_account = grocer["apiKey"], grocer["account"]
    food = _funded_program(client, keys, "100")
    r = client.put(
        f"/v1/ngo/programs/{food}/rule",
        json={"kind": "restricted", "categories": ["food"]},
        headers=auth(keys.ngo),
    )
    assert r.status_code == 200, r.text
    regs = _register(client, keys, 2)
    claims = _open_claims(client, keys, food, regs).json()["claimProgramId"]
    tokens = []
    for reg in regs:
        token = client.post(
            "/v1/client/session", json={"voucherCode": reg["voucherCode"], "pin": "2468"}
        ).json()["token"]
        assert client.post(f"/v1/client/claims/{claims}", headers=auth(token)).status_code == 201
        tokens.append(token)
    # cash for the first client: 20 euros disbursed from a cash program to their account
    cash = _funded_program(client, keys, "20")
    account = client.get("/v1/client/me", headers=auth(tokens[0])).json()["account"]
    r = client.post(
        f"/v1/ngo/programs/{cash}/disbursements",
        json={"payments": [{"address": account, "amount": "20"}], "reference": "Dezember"},
        headers=auth(keys.ngo),
    )
    assert r.status_code == 201, r.text

    # 1. on the client's phone: 50 euros, 40 restricted first, then 10 of cash; a retry pays once
    code = _code(client, shop, "50")
    shown = client.get(f"/v1/client/payments/{code}", headers=auth(tokens[0]))
    assert shown.status_code == 200 and shown.json()["providerName"] == "Frischemarkt"
    retry = {**auth(tokens[0]), "Idempotency-Key": "pay-once-1"}
    paid = client.post(f"/v1/client/payments/{code}", headers=retry)
    assert paid.status_code == 200, paid.text
    assert paid.json()["status"] == "paid"
    assert [(leg["amount"], leg["restricted"]) for leg in paid.json()["legs"]] == [
        ("40.000000", True),
        ("10.000000", False),
    ]
    assert gateway.system.balance(shop_account) == 50 * MICRO
    again = client.post(f"/v1/client/payments/{code}", headers=retry)
    assert (again.status_code, again.json()) == (200, paid.json())
    assert gateway.system.balance(shop_account) == 50 * MICRO
    _problem(client.post(f"/v1/client/payments/{code}", headers=auth(tokens[0])), 409, "PaymentAlreadyPaid")
    receipts = client.get("/v1/client/payments", headers=auth(tokens[0]))
    assert [p["code"] for p in receipts.json()] == [code]
    assert client.get("/v1/client/payments", headers=auth(tokens[1])).json() == []

    # 2. on the counter with voucher code + PIN: a wrong PIN is refused and counted, then 12.80 is paid
    counter = _code(client, shop, "12.80")
    path = f"/v1/provider/payments/{counter}/counter-confirmation"
    wrong = {"voucherCode": regs[1]["voucherCode"], "pin": "0000"}
    _problem(client.post(path, json=wrong, headers=auth(shop)), 401, "InvalidVoucherOrPin")
    right = {"voucherCode": regs[1]["voucherCode"], "pin": "2468"}
    r = client.post(path, json=right, headers=auth(shop))
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["amount"]) == ("paid", "12.800000")
    big = _code(client, shop, "30")
    refused = _problem(
        client.post(f"/v1/provider/payments/{big}/counter-confirmation", json=right, headers=auth(shop)),
        409,
        "NotEnoughBalance",
    )
    assert (refused["needed"], refused["available"]) == ("30.000000", "27.200000")
    # restricted food aid cannot pay the sports club: the second client has nothing that may pay there
    at_club = _code(client, club["apiKey"], "1")
    _problem(client.post(f"/v1/client/payments/{at_club}", headers=auth(tokens[1])), 409, "NotEnoughBalance")

    # 3. the shop's day and refunds
    day = client.get("/v1/provider/payments", headers=auth(shop))
    assert day.status_code == 200 and day.json()["total"] == "62.800000"
    assert {p["code"] for p in day.json()["payments"]} == {code, counter}
    refunded = client.post(f"/v1/provider/payments/{code}/refund", headers=auth(shop))
    assert refunded.status_code == 200 and refunded.json()["status"] == "refunded", refunded.text
    assert gateway.system.balance(shop_account) == int(12.8 * MICRO)
    assert gateway.system.balance(account) == 20 * MICRO  # the cash leg went back where it came from
    assert (
        client.post(f"/v1/provider/payments/{code}/refund", headers=auth(shop)).json()["status"] == "refunded"
    )
    assert gateway.system.balance(shop_account) == int(12.8 * MICRO)  # refunded once
    _problem(client.post(f"/v1/provider/payments/{big}/refund", headers=auth(shop)), 409, "PaymentNotPaid")
    assert client.get("/v1/provider/payments", headers=auth(shop)).json()["total"] == "12.800000"

    # 4. other providers, strangers and unknown codes
    _problem(client.get(f"/v1/provider/payments/{code}", headers=auth(club["apiKey"])), 404, "UnknownPayment")
    _problem(client.get("/v1/client/payments/ZZZZZZZZ", headers=auth(tokens[0])), 404, "UnknownPayment")
    _problem(client.post("/v1/provider/payments/ZZZZZZZZ/refund", headers=auth(shop)), 404, "UnknownPayment")
    _problem(_ask(client, keys.ngo, "1"), 403, "WrongOrganisationKind")
    _problem(client.get(f"/v1/client/payments/{code}", headers=auth(shop)), 401, "MissingClientSession")

    # 5. a confirmation resumed after a crash (legs sent, status not yet recorded) sends nothing twice
    resumed = _code(client, shop, "5")
    assert client.post(f"/v1/client/payments/{resumed}", headers=auth(tokens[0])).status_code == 200
    with gateway.db.session() as s:
        row = s.query(Payment).filter_by(code=resumed).one()
        row.status, row.paid_at = "paying", None
    before = gateway.system.balance(shop_account)
    r = client.post(f"/v1/client/payments/{resumed}", headers=auth(tokens[0]))
    assert r.status_code == 200 and r.json()["status"] == "paid", r.text
    assert gateway.system.balance(shop_account) == before

    # 6. a leg the chain refuses (here: more than the account holds) pays nothing, and the payment is
    # open again for a fresh plan
    planned = _code(client, shop, "1")
    plan = gateway.payments._plan

    def overdrawn(row: Payment, keys: Any) -> list[dict[str, Any]]:
        return [{**leg, "amount": leg["amount"] + 10**12} for leg in plan(row, keys)]

    gateway.payments._plan = overdrawn  # type: ignore[method-assign]
    r = client.post(f"/v1/client/payments/{planned}", headers=auth(tokens[0]))
    _problem(r, 409, "ERC20InsufficientBalance")
    gateway.payments._plan = plan  # type: ignore[method-assign]
    assert client.get(f"/v1/provider/payments/{planned}", headers=auth(shop)).json()["status"] == "open"
    assert client.post(f"/v1/client/payments/{planned}", headers=auth(tokens[0])).json()["status"] == "paid"

    # 6b. a leg refused after another went through leaves the payment partly paid: the shop refunds
    # exactly what was paid
    partly = _code(client, shop, "1")

    drawn: list[tuple[str, int]] = []  # the drawn account and its balance before

    def second_leg_overdrawn(row: Payment, keys: Any) -> list[dict[str, Any]]:
        first = plan(row, keys)[0]
        drawn.append((first["account"], gateway.system.balance(first["account"])))
        return [first, {**first, "amount": 10**12}]

    shop_before = gateway.system.balance(shop_account)
    gateway.payments._plan = second_leg_overdrawn  # type: ignore[method-assign]
    _problem(
        client.post(f"/v1/client/payments/{partly}", headers=auth(tokens[0])), 409, "ERC20InsufficientBalance"
    )
    gateway.payments._plan = plan  # type: ignore[method-assign]
    assert client.get(f"/v1/provider/payments/{partly}", headers=auth(shop)).json()["status"] == "paying"
    assert gateway.system.balance(shop_account) == shop_before + MICRO
    assert gateway.system.balance(drawn[0][0]) == drawn[0][1] - MICRO
    back = client.post(f"/v1/provider/payments/{partly}/refund", headers=auth(shop))
    assert back.status_code == 200 and back.json()["status"] == "refunded", back.text
    assert gateway.system.balance(shop_account) == shop_before
    assert gateway.system.balance(drawn[0][0]) == drawn[0][1]  # the paid leg came back, once
    _problem(client.post(f"/v1/client/payments/{partly}", headers=auth(tokens[0])), 409, "PaymentAlreadyPaid")

    # 7. a suspended provider takes no payment, neither new nor already asked for
    waiting = _code(client, shop, "1")
    assert (
        client.post(
            f"/v1/providers/{grocer['providerId']}/suspend", json={}, headers=auth(keys.ngo)
        ).status_code
        == 200
    )
    _problem(client.post(f"/v1/client/payments/{waiting}", headers=auth(tokens[0])), 409, "ProviderSuspended")
    _problem(_ask(client, shop, "1"), 409, "ProviderSuspended")

    # 8. once the claim program has expired, its money pays nothing here, and the refusal says why
    r = client.post(f"/v1/providers/{grocer['providerId']}/admit", json={}, headers=auth(keys.ngo))
    assert r.status_code == 200, r.text
    gateway.advance_time(31 * 86_400)
    late = _code(client, shop, "5")
    _problem(client.post(f"/v1/client/payments/{late}", headers=auth(tokens[1])), 409, "AidExpired")
