"""Every contract error has an HTTP mapping; unsafe settings refuse to start; idempotency under races."""

from __future__ import annotations

import base64
import os
import threading
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from api.gateway import Gateway
from api.problems import REVERT_STATUS
from api.settings import Settings, SettingsError
from ledger.exceptions import Panic, RevertWithReason, UnknownRevert
from ledger.revert_errors import ERRORS
from tests.api.conftest import Keys, auth


def test_every_contract_error_has_a_4xx_mapping() -> None:
    names = {cls.__name__ for cls in ERRORS} | {
        RevertWithReason.__name__,
        Panic.__name__,
        UnknownRevert.__name__,
    }
    missing = sorted(names - set(REVERT_STATUS))
    assert not missing, f"add these contract errors to api/problems.py REVERT_STATUS: {missing}"
    assert all(400 <= status < 500 for status in REVERT_STATUS.values())


def test_production_refuses_missing_or_placeholder_master_key(tmp_path: Path) -> None:
    with pytest.raises(SettingsError):
        Settings(environment="production", data_dir=tmp_path).load_master_key()
    with pytest.raises(SettingsError):
        Settings(environment="production", data_dir=tmp_path, master_key="changeme").load_master_key()  # type: ignore[arg-type]
    weak = base64.b64encode(bytes(32)).decode()
    with pytest.raises(SettingsError):
        Settings(environment="production", data_dir=tmp_path, master_key=weak).load_master_key()  # type: ignore[arg-type]
    good = base64.b64encode(os.urandom(32)).decode()
    assert len(Settings(environment="production", master_key=good).load_master_key()) == 32  # type: ignore[arg-type]


def test_production_refuses_to_serve_without_the_public_address(tmp_path: Path) -> None:
    good = base64.b64encode(os.urandom(32)).decode()
    settings = Settings(environment="production", data_dir=tmp_path / "d", master_key=good)  # type: ignore[arg-type]
    with pytest.raises(SettingsError, match="PUBLIC_BASE_URL"):
        Gateway.open(settings)
    assert not (tmp_path / "d").exists()  # refused before anything was created
    served = settings.model_copy(update={"public_base_url": "https://hilfe.example.org"})
    served.check_serving()
    assert served.sign_in_url == "https://hilfe.example.org/client/sign-in"
    Settings(environment="development", data_dir=tmp_path).check_serving()  # loopback is fine there


def test_development_creates_a_private_key_file(tmp_path: Path) -> None:
    key = Settings(environment="development", data_dir=tmp_path).load_master_key()
    path = tmp_path / "master.key"
    assert path.stat().st_mode & 0o777 == 0o600
    assert Settings(environment="development", data_dir=tmp_path).load_master_key() == key


def test_concurrent_duplicates_pay_once(client: TestClient, keys: Keys) -> None:
    headers = {**auth(keys.funder), "Idempotency-Key": "same-deposit"}
    results: list[tuple[int, dict[str, object]]] = []

    def post() -> None:
        r = client.post("/v1/funder/lots", json={"amount": "7"}, headers=headers)
        results.append((r.status_code, r.json()))

    threads = [threading.Thread(target=post) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [status for status, _ in results] == [201] * 6
    assert len({body["lotId"] for _, body in results}) == 1  # type: ignore[index]
    assert len(client.get("/v1/funder/lots", headers=auth(keys.funder)).json()) == 1


def test_unknown_routes_and_bad_bodies_are_problems(client: TestClient, keys: Keys) -> None:
    r = client.get("/v1/nothing-here")
    assert (r.status_code, r.json()["code"]) == (404, "NotFound")
    r = client.post("/v1/funder/lots", json={"amount": "-5"}, headers=auth(keys.funder))
    assert (r.status_code, r.json()["code"]) == (422, "ValidationFailed")
    r = client.post("/v1/funder/lots", json={"amount": "5", "surprise": 1}, headers=auth(keys.funder))
    assert r.status_code == 422


def test_the_public_base_url_makes_the_sign_in_address_printed_on_vouchers() -> None:
    assert Settings(public_base_url="https://hilfe.example.org/").sign_in_url == (
        "https://hilfe.example.org/client/sign-in"
    )
    assert Settings(host="127.0.0.1", port=8123).sign_in_url == "http://127.0.0.1:8123/client/sign-in"
    for bad in ("hilfe.example.org", "javascript:alert(1)", "https://x.org/?a=1", "ftp://x.org"):
        with pytest.raises(ValidationError, match="public_base_url"):
            Settings(public_base_url=bad)
