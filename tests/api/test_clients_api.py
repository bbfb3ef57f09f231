"""Clients over HTTP: registration, voucher + PIN sign-in with lockout, staff-assisted mode, erasure."""

from __future__ import annotations

from fastapi.testclient import TestClient

from api.gateway import Gateway
from tests.api.conftest import Keys, auth

PERSON = {"name": "Maria Muster", "birthDate": "1961-04-12", "address": "Hafenstr. 3, 20457 Hamburg"}


def _register(
    client: TestClient, keys: Keys, pin: str | None = "4711", person: dict[str, str] = PERSON
) -> dict:
    body: dict[str, object] = {"personal": person}
    if pin is not None:
        body["pin"] = pin
    r = client.post("/v1/ngo/clients", json=body, headers=auth(keys.ngo))
    assert r.status_code == 201, r.text
    return r.json()


def test_register_sign_in_and_see_receipts(client: TestClient, keys: Keys) -> None:
    reg = _register(client, keys)
    assert reg["pin"] is None and reg["voucherCode"].count("-") == 3
    r = client.post("/v1/client/session", json={"voucherCode": reg["voucherCode"].lower(), "pin": "4711"})
    assert r.status_code == 201, r.text
    token = r.json()["token"]
    me = client.get("/v1/client/me", headers=auth(token)).json()
    assert me["account"] == reg["account"] and me["balance"] == "0.000000"
    # the NGO pays the client's pseudonymous account; the client sees the receipt
    program = client.post("/v1/ngo/programs", json={"name": "P"}, headers=auth(keys.ngo)).json()["programId"]
    lot = client.post("/v1/funder/lots", json={"amount": "100"}, headers=auth(keys.funder)).json()["lotId"]
    client.post(
        f"/v1/funder/lots/{lot}/allocations",
        json={"programId": program, "amount": "100"},
        headers=auth(keys.funder),
    )
    t = client.post(
        f"/v1/ngo/programs/{program}/tranches",
        json={"amount": "100", "milestone": "m"},
        headers=auth(keys.ngo),
    ).json()["trancheId"]
    client.post(f"/v1/tranches/{t}/approve", headers=auth(keys.funder))
    r = client.post(
        f"/v1/ngo/programs/{program}/disbursements",
        json={"payments": [{"address": reg["account"], "amount": "42"}]},
        headers=auth(keys.ngo),
    )
    assert r.status_code == 201, r.text
    me = client.get("/v1/client/me", headers=auth(token)).json()
    assert me["balance"] == "42.000000" and me["receipts"][0]["amount"] == "42.000000"
    assert client.delete("/v1/client/session", headers=auth(token)).status_code == 204
    assert client.get("/v1/client/me", headers=auth(token)).json()["code"] == "SessionExpired"


def test_wrong_pin_and_unknown_code_look_the_same_and_lock(
    client: TestClient, keys: Keys, gateway: Gateway
) -> None:
    reg = _register(client, keys)
    wrong = client.post("/v1/client/session", json={"voucherCode": reg["voucherCode"], "pin": "0000"})
    unknown = client.post("/v1/client/session", json={"voucherCode": "2222-2222-2222-2222", "pin": "0000"})
    assert (wrong.status_code, wrong.json()["code"]) == (unknown.status_code, unknown.json()["code"])
    assert wrong.json()["code"] == "InvalidVoucherOrPin" and wrong.status_code == 401
    for _ in range(gateway.settings.pin_attempts - 1):
        client.post("/v1/client/session", json={"voucherCode": reg["voucherCode"], "pin": "0000"})
    locked = client.post("/v1/client/session", json={"voucherCode": reg["voucherCode"], "pin": "4711"})
    assert (locked.status_code, locked.json()["code"]) == (429, "SignInLocked")
    assert int(locked.headers["retry-after"]) > 0


def test_duplicates_are_refused_and_csv_import_deduplicates(client: TestClient, keys: Keys) -> None:
    first = _register(client, keys)
    r = client.post(
        "/v1/ngo/clients",
        json={"personal": {**PERSON, "name": " maria  MUSTER "}, "pin": "1234"},
        headers=auth(keys.ngo),
    )
    assert (r.status_code, r.json()["code"], r.json()["clientId"]) == (
        409,
        "DuplicateClient",
        first["clientId"],
    )
    csv_text = (
        "name,birthDate\nAli Demir,1990-01-01\nAli Demir,1990-01-01\n,1980-02-02\nMaria Muster,1961-04-12\n"
    )
    r = client.post(
        "/v1/ngo/clients/import", content=csv_text, headers={**auth(keys.ngo), "Content-Type": "text/csv"}
    )
    assert r.status_code == 200, r.text
    report = r.json()
    assert [c["row"] for c in report["created"]] == [2] and report["created"][0]["pin"]
    assert sorted(d["row"] for d in report["duplicates"]) == [3, 5]
    assert [e["code"] for e in report["errors"]] == ["MissingName"]


def test_assisted_session_is_recorded_and_pin_reset_needs_the_recovery_code(
    client: TestClient, keys: Keys
) -> None:
    reg = _register(client, keys)
    r = client.post(
        f"/v1/ngo/clients/{reg['clientId']}/assisted-session", json={"pin": "4711"}, headers=auth(keys.ngo)
    )
    assert r.status_code == 201 and r.json()["assistedBy"]
    r = client.post(
        f"/v1/ngo/clients/{reg['clientId']}/assisted-session", json={"pin": "4711"}, headers=auth(keys.ngo2)
    )
    assert (r.status_code, r.json()["code"]) == (404, "UnknownClient")  # another NGO sees nothing
    r = client.post(
        f"/v1/ngo/clients/{reg['clientId']}/pin-reset",
        json={"recoveryCode": "2222-2222-2222-2222", "newPin": "9999"},
        headers=auth(keys.ngo),
    )
    assert (r.status_code, r.json()["code"]) == (403, "InvalidRecoveryCode")
    r = client.post(
        f"/v1/ngo/clients/{reg['clientId']}/pin-reset",
        json={"recoveryCode": reg["recoveryCode"], "newPin": "9999"},
        headers=auth(keys.ngo),
    )
    assert r.status_code == 201
    new_code = r.json()["voucherCode"]
    assert (
        client.post("/v1/client/session", json={"voucherCode": reg["voucherCode"], "pin": "9999"}).status_code
        == 401
    )
    r = client.post("/v1/client/session", json={"voucherCode": new_code, "pin": "9999"})
    assert r.status_code == 201
    token = r.json()["token"]
    assert (
        client.get("/v1/client/me", headers=auth(token)).json()["account"] == reg["account"]
    )  # same pseudonym


def test_erasure_destroys_the_data_and_the_sign_in(client: TestClient, keys: Keys, gateway: Gateway) -> None:
    reg = _register(client, keys)
    assert client.get(f"/v1/ngo/clients/{reg['clientId']}", headers=auth(keys.ngo)).json()["personal"][
        "name"
    ] == ("Maria Muster")
    assert client.delete(f"/v1/ngo/clients/{reg['clientId']}", headers=auth(keys.ngo)).status_code == 204
    record = client.get(f"/v1/ngo/clients/{reg['clientId']}", headers=auth(keys.ngo)).json()
    assert record["erased"] is True and "personal" not in record and "account" not in record
    r = client.post("/v1/client/session", json={"voucherCode": reg["voucherCode"], "pin": "4711"})
    assert r.status_code == 401
    with gateway.db.engine.connect() as conn:
        dump = b"".join(
            bytes(str(row), "utf-8") for row in conn.exec_driver_sql("SELECT * FROM clients").fetchall()
        )
    assert b"Maria" not in dump and b"1961-04-12" not in dump
