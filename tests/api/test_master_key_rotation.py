"""Rotating the master key: after `allmende rotate-master-key` the gateway works with the new key
(organisations sign, clients sign in, NGOs read personal data, PINs reset, retries replay) and the
old key opens nothing. A rotation that meets a record it cannot move changes nothing; a second
rotation finds everything moved already. On SQLite and PostgreSQL (the `database_url` fixture)."""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import LargeBinary, select, update
from typer.testing import CliRunner

from api import master_key
from api.app import create_app
from api.cli import app as cli
from api.db import Database
from api.gateway import Gateway
from api.keyring import LOOKUP_TAGS, lookup_tag_key
from api.master_key import NOT_UNDER_MASTER, SEALED, RotationError, RotationReport, rotate_master_key
from api.models import Base, Client, KeyringEntry, Organisation, PayoutRecord
from api.services.people import Actor, People, SecondFactorSetup
from api.settings import Settings, SettingsError
from ledger.custody import CustodyError, Sealer
from tests.api.conftest import auth, copy_deployed, make_settings

PIN = "2468"
IBAN = "DE02120300000000202051"


def _key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def _with_key(settings: Settings, key: str) -> Settings:
    return settings.model_copy(update={"master_key": SecretStr(key)})


@dataclass
class World:
    """What exists under the old key: organisations with API keys, clients, a kept response."""

    settings: Settings
    old_key: str
    funder_key: str
    ngo_key: str
    client: dict[str, Any]
    registration_retry: tuple[str, dict[str, Any]]  # (Idempotency-Key, body) of the registration


def _sealed(settings: Settings) -> dict[tuple[str, str, str], bytes | None]:
    """Every master-sealed value in the database, by (table, primary key, column)."""
    db = Database(settings.db_url)
    out: dict[tuple[str, str, str], bytes | None] = {}
    try:
        with db.session() as s:
            for field in SEALED:
                for row in s.scalars(select(field.model)):
                    pk = "/".join(str(v) for v in field.model.__mapper__.primary_key_from_instance(row))
                    out[(field.model.__tablename__, pk, field.column)] = getattr(row, field.column)
    finally:
        db.engine.dispose()
    return out


@pytest.fixture
def world(tmp_path: Path, database_url: str, deployed_data_dir: Path) -> World:
    copy_deployed(deployed_data_dir, tmp_path)
    settings = make_settings(tmp_path, database_url)
    gateway = Gateway.open(settings)
    try:
        with TestClient(create_app(settings, gateway)) as http:
            admin = gateway.bootstrap_admin()
            assert admin is not None
            orgs = {}
            for kind in ("funder", "ngo"):
                r = http.post(
                    "/v1/admin/organisations", json={"kind": kind, "name": kind}, headers=auth(admin[1])
                )
                assert r.status_code == 201, r.text
                orgs[kind] = r.json()
            r = http.post(
                "/v1/admin/mints",
                json={"organisationId": orgs["funder"]["id"], "amount": "100", "fiatReference": "R1"},
                headers=auth(admin[1]),
            )
            assert r.status_code == 201, r.text
            body = {"personal": {"name": "Rosa Rotation", "birthDate": "1970-07-07"}, "pin": PIN}
            r = http.post(
                "/v1/ngo/clients",
                json=body,
                headers={**auth(orgs["ngo"]["apiKey"]), "Idempotency-Key": "register-rosa"},
            )
            assert r.status_code == 201, r.text
            registered = r.json()
            erased = http.post(
                "/v1/ngo/clients",
                json={"personal": {"name": "Erik Erased"}},
                headers=auth(orgs["ngo"]["apiKey"]),
            ).json()
            r = http.delete(f"/v1/ngo/clients/{erased['clientId']}", headers=auth(orgs["ngo"]["apiKey"]))
            assert r.status_code == 204
        # a person of the NGO who signs, with a second factor: both secrets are under the master key
        people = People(gateway.db, gateway.master, gateway.tag, lambda *_: None, lambda *_: None)
        ngo = Actor(orgs["ngo"]["id"], None, frozenset())
        _, code = people.add(ngo, "rita", "Rita", ["caseworker"])
        factor = people.finish_setup("rita", code, "a long enough password")
        assert isinstance(factor, SecondFactorSetup)
        # a payout's IBAN, sealed under the master key (api/services/payouts.py)
        with gateway.db.session() as s:
            s.add(
                PayoutRecord(
                    payout_id=1,
                    organisation_id=orgs["ngo"]["id"],
                    reference="ab" * 32,
                    amount=1_000_000,
                    holder="ngo",
                    iban_sealed=gateway.master.seal(IBAN.encode(), f"payout:{'ab' * 32}"),
                )
            )
    finally:
        gateway.close()
    assert settings.master_key is not None
    return World(
        settings,
        settings.master_key.get_secret_value(),
        orgs["funder"]["apiKey"],
        orgs["ngo"]["apiKey"],
        registered,
        ("register-rosa", body),
    )


@pytest.fixture
def new_key() -> str:
    return _key()


def _decode(key: str) -> bytes:
    return base64.b64decode(key)


def _rotate(settings: Settings, old_key: bytes, new_key: bytes, *, dry_run: bool = False) -> RotationReport:
    db = Database(settings.db_url)
    try:
        return rotate_master_key(db, old_key, new_key, dry_run=dry_run)
    finally:
        db.engine.dispose()


def test_after_rotation_the_gateway_works_with_the_new_key_only(world: World, new_key: str) -> None:
    before = _sealed(world.settings)
    report = _rotate(world.settings, _decode(world.old_key), _decode(new_key))
    assert report.committed and report.already == 0
    assert report.resealed == {
        "organisation keys": 3,  # admin, funder, NGO
        "client data keys": 1,  # the erased client has none left
        "client secrets (PIN layer kept)": 1,
        "client recovery secrets (recovery layer kept)": 1,
        "responses kept for retries": 1,
        "keyring": 1,  # the lookup-tag key, kept through the rotation
        "people's signing keys": 1,
        "people's second factors": 1,
        "payout bank accounts": 1,
    }
    after = _sealed(world.settings)
    assert after.keys() == before.keys() | {("keyring", LOOKUP_TAGS, "sealed")}
    assert all(after[k] != v for k, v in before.items() if v is not None)  # every ciphertext is new

    old, new = Sealer(_decode(world.old_key)), Sealer(_decode(new_key))
    db = Database(world.settings.db_url)
    with db.session() as s:
        orgs = list(s.scalars(select(Organisation)))
        client = s.get(Client, world.client["clientId"])
    with pytest.raises(SettingsError, match="rotated"):  # a gateway started with the old key refuses
        lookup_tag_key(db, old, _decode(world.old_key))
    db.engine.dispose()
    assert new.open(after[("payouts", "1", "iban_sealed")], f"payout:{'ab' * 32}") == IBAN.encode()
    for org in orgs:
        assert len(new.open(org.key_sealed, f"org:{org.id}")) == 32
        with pytest.raises(CustodyError):
            old.open(org.key_sealed, f"org:{org.id}")
    assert client is not None and client.data_key_sealed is not None
    with pytest.raises(CustodyError):
        old.open(client.data_key_sealed, f"client-key:{client.id}")

    settings = _with_key(world.settings, new_key)
    gateway = Gateway.open(settings)
    try:
        with TestClient(create_app(settings, gateway)) as http:
            # organisations: the same API keys, and their custodial keys still sign
            r = http.post("/v1/funder/lots", json={"amount": "10"}, headers=auth(world.funder_key))
            assert r.status_code == 201, r.text
            # the NGO reads personal data (under the client's data key, itself under the new key)
            r = http.get(f"/v1/ngo/clients/{world.client['clientId']}", headers=auth(world.ngo_key))
            assert r.json()["personal"]["name"] == "Rosa Rotation", r.text
            # the same person is still found as a duplicate (lookup tags kept their key)
            key, body = world.registration_retry
            r = http.post("/v1/ngo/clients", json={**body, "pin": "1111"}, headers=auth(world.ngo_key))
            assert (r.status_code, r.json()["code"]) == (409, "DuplicateClient")
            # a retry of the registration replays the first response, sealed under the old key before
            r = http.post(
                "/v1/ngo/clients", json=body, headers={**auth(world.ngo_key), "Idempotency-Key": key}
            )
            assert (r.status_code, r.json()) == (201, world.client)
            # the client signs in with voucher and PIN, and resets the PIN with the recovery code
            voucher = world.client["voucherCode"]
            r = http.post("/v1/client/session", json={"voucherCode": voucher, "pin": PIN})
            assert r.status_code == 201, r.text
            assert http.get("/v1/client/me", headers=auth(r.json()["token"])).status_code == 200
            r = http.post(
                f"/v1/ngo/clients/{world.client['clientId']}/pin-reset",
                json={"recoveryCode": world.client["recoveryCode"], "newPin": "9753"},
                headers=auth(world.ngo_key),
            )
            assert r.status_code == 201, r.text
            r = http.post("/v1/client/session", json={"voucherCode": r.json()["voucherCode"], "pin": "9753"})
            assert r.status_code == 201, r.text
    finally:
        gateway.close()


def test_a_second_rotation_finds_everything_moved_and_a_dry_run_changes_nothing(
    world: World, new_key: str
) -> None:
    old_key = _decode(world.old_key)
    dry = _rotate(world.settings, old_key, _decode(new_key), dry_run=True)
    assert not dry.committed and dry.total == 11
    unchanged = _sealed(world.settings)
    assert ("keyring", LOOKUP_TAGS, "sealed") not in unchanged
    _rotate(world.settings, old_key, _decode(new_key))
    moved = _sealed(world.settings)
    again = _rotate(world.settings, old_key, _decode(new_key))
    assert (again.total, again.already) == (0, 11)
    assert _sealed(world.settings) == moved
    with pytest.raises(RotationError, match="is the old one"):
        _rotate(world.settings, old_key, old_key)


def test_a_rotation_interrupted_after_writing_leaves_everything_under_the_old_key(
    world: World, new_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = _sealed(world.settings)

    def power_cut(*_: object) -> None:  # every record is sealed again and flushed by now
        raise KeyboardInterrupt

    monkeypatch.setattr(master_key, "_check_all_open", power_cut)
    with pytest.raises(KeyboardInterrupt):
        _rotate(world.settings, _decode(world.old_key), _decode(new_key))
    assert _sealed(world.settings) == before
    monkeypatch.undo()
    assert _rotate(world.settings, _decode(world.old_key), _decode(new_key)).total == 11


def test_a_record_that_opens_under_neither_key_stops_the_rotation_before_anything_changes(
    world: World, new_key: str
) -> None:
    db = Database(world.settings.db_url)
    with db.session() as s:  # a data key sealed under some third key
        s.execute(
            update(Client)
            .where(Client.id == world.client["clientId"])
            .values(
                data_key_sealed=Sealer(_decode(_key())).seal(
                    b"k" * 32, f"client-key:{world.client['clientId']}"
                )
            )
        )
    before = _sealed(world.settings)
    with pytest.raises(RotationError, match=r"1 record\(s\) open under neither .*clients .*data_key_sealed"):
        rotate_master_key(db, _decode(world.old_key), _decode(new_key))
    assert _sealed(world.settings) == before
    with db.session() as s:
        assert s.get(KeyringEntry, LOOKUP_TAGS) is None
    db.engine.dispose()


def _words(output: str) -> str:
    return " ".join(output.split())  # the console wraps long lines


def test_the_command_rotates_with_key_files_and_prints_no_key(
    world: World, new_key: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old_file, new_file = tmp_path / "old.key", tmp_path / "new.key"
    old_file.write_text(world.old_key + "\n")
    new_file.write_text(new_key + "\n")
    for name in ("ALLMENDE_MASTER_KEY", "ALLMENDE_MASTER_KEY_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ALLMENDE_DATABASE_URL", world.settings.db_url)
    runner = CliRunner()
    base = ["rotate-master-key", "--data-dir", str(world.settings.data_dir), "--new-key-file", str(new_file)]
    dry = runner.invoke(cli, [*base, "--old-key-file", str(old_file), "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "nothing was changed" in _words(dry.output)
    done = runner.invoke(cli, [*base, "--old-key-file", str(old_file)])
    assert done.exit_code == 0, done.output
    assert "sealed 11 records" in _words(done.output)
    monkeypatch.setenv("ALLMENDE_MASTER_KEY_FILE", str(old_file))  # the old key as the gateway loads it
    again = runner.invoke(cli, base)
    assert again.exit_code == 0, again.output
    assert "already under the new key" in _words(again.output)
    for output in (dry.output, done.output, again.output):
        assert world.old_key not in output and new_key not in output
    placeholder = tmp_path / "weak.key"
    placeholder.write_text("changeme\n")
    refused = runner.invoke(cli, [*base[:-1], str(placeholder), "--old-key-file", str(old_file)])
    assert refused.exit_code == 1 and "random 32-byte key" in _words(refused.output)
    stale = runner.invoke(cli, [*base[:-1], str(old_file), "--old-key-file", str(tmp_path / "x.key")])
    assert stale.exit_code == 1


def test_every_sealed_column_is_rotated_or_under_a_client_data_key() -> None:
    sealed_columns = {
        (table.name, column.name)
        for table in Base.metadata.sorted_tables
        for column in table.columns
        if isinstance(column.type, LargeBinary)
    }
    rotated = {(f.model.__tablename__, f.column) for f in SEALED}
    assert sealed_columns == rotated | NOT_UNDER_MASTER
