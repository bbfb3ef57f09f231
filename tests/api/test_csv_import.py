"""CSV import: malformed rows are row errors (never a 500), fields keep the JSON API's limits, and a
request imports at most `import_max_rows` rows (each costs two argon2 derivations)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from api.gateway import Gateway
from tests.api.conftest import Keys, auth


def _import(client: TestClient, keys: Keys, text: str) -> Any:
    return client.post(
        "/v1/ngo/clients/import", content=text, headers={**auth(keys.ngo), "Content-Type": "text/csv"}
    )


def test_malformed_rows_are_row_errors_and_the_good_rows_are_imported(client: TestClient, keys: Keys) -> None:
    text = (
        "name,birthDate\n"
        "Anna Alt,1950-01-01\n"  # 2
        "Bernd Bau,1960-02-02,extra\n"  # 3
        "Carla Cohn\n"  # 4
        + "D"
        * 1_000_000  # 5: a 1 MB name cell
        + ",1970-03-03\n"
        "Emil Ernst,1980-04-04\n"  # 6
        '"Frida Fink,1990-05-05\n'  # 7: the quote is never closed
        "Gustav Gans,2000-06-06\n"
    )
    r = _import(client, keys, text)
    assert r.status_code == 200, r.text[:500]
    report = r.json()
    assert [c["row"] for c in report["created"]] == [2, 6]
    assert [(e["row"], e["code"]) for e in report["errors"]] == [
        (3, "TooManyFields"),
        (4, "TooFewFields"),
        (5, "UnreadableRow"),
        (7, "UnreadableRow"),
    ]
    assert len(client.get("/v1/ngo/clients", headers=auth(keys.ngo)).json()) == 2


def test_csv_fields_keep_the_limits_of_the_json_api(client: TestClient, keys: Keys) -> None:
    long_name, long_notes = "N" * 300, "n" * 2001
    for personal in (
        {"name": long_name},
        {"name": "Ok", "notes": long_notes},
        {"name": "Ok", "phone": "1" * 51},
    ):
        r = client.post("/v1/ngo/clients", json={"personal": personal}, headers=auth(keys.ngo))
        assert (r.status_code, r.json()["code"]) == (422, "ValidationFailed")
    text = (
        f"name,notes,phone\n{long_name},,\nOk,{long_notes},\nOk2,,{'1' * 51}\nFine,{'n' * 2000},{'1' * 50}\n"
    )
    r = _import(client, keys, text)
    assert r.status_code == 200, r.text
    report = r.json()
    assert [(e["row"], e["code"], e["field"]) for e in report["errors"]] == [
        (2, "InvalidField", "name"),
        (3, "InvalidField", "notes"),
        (4, "InvalidField", "phone"),
    ]
    assert [c["row"] for c in report["created"]] == [5]


def test_an_import_over_the_row_cap_is_refused_whole(
    client: TestClient, keys: Keys, gateway: Gateway
) -> None:
    gateway.settings.import_max_rows = 3
    r = _import(client, keys, "name\nA\nB\nC\nD\n")
    assert (r.status_code, r.json()["code"], r.json()["maxRows"]) == (422, "TooManyRows", 3)
    assert client.get("/v1/ngo/clients", headers=auth(keys.ngo)).json() == []
    r = _import(client, keys, "name\nA\nB\nC\n")
    assert r.status_code == 200 and len(r.json()["created"]) == 3


def test_the_client_list_comes_a_page_at_a_time_and_only_for_the_own_ngo(
    client: TestClient, keys: Keys, gateway: Gateway
) -> None:
    r = _import(client, keys, "name\nA\nB\nC\nD\nE\n")
    created = [c["clientId"] for c in r.json()["created"]]
    ngo = auth(keys.ngo)
    pages, after = [], None
    while True:
        params = {"limit": 2, **({"after": after} if after else {})}
        page = client.get("/v1/ngo/clients", params=params, headers=ngo).json()
        pages.append(page)
        if len(page) < 2:
            break
        after = page[-1]
    assert [len(p) for p in pages] == [2, 2, 1]
    assert sorted(i for p in pages for i in p) == sorted(created)  # each once
    r = client.get("/v1/ngo/clients", params={"after": created[0]}, headers=auth(keys.ngo2))
    assert (r.status_code, r.json()["code"]) == (404, "UnknownClient")  # another NGO's client is no cursor
    r = client.get("/v1/ngo/clients", params={"limit": 1001}, headers=ngo)
    assert (r.status_code, r.json()["code"]) == (422, "ValidationFailed")
