"""Nothing personal or secret reaches the logs when a client uses the pages, even at DEBUG (the same
scan as tests/api/test_logs_hold_no_secrets.py; the browser test scans a real server's log too)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.gateway import Gateway
from api.pages._web import RedactVoucher
from tests.api.conftest import make_settings
from tests.pages._scenario import PERSON, Scenario
from tests.pages.conftest import csrf_of, sign_in


def secrets_of(scenario: Scenario, gateway: Gateway) -> list[str]:
    """Every string that must never be logged."""
    master = gateway.settings.master_key
    return [
        *PERSON.values(),
        "Zofia",
        "Kowalczyk",
        scenario.pin,
        scenario.voucher,
        scenario.voucher.replace("-", ""),
        scenario.recovery,
        scenario.ngo_key,
        scenario.funder_key,
        scenario.admin_key,
        scenario.ngo_key.split("_", 2)[2],
        master.get_secret_value() if master is not None else "",
    ]


def test_a_client_on_the_pages_leaves_nothing_personal_or_secret_in_the_logs(
    client: TestClient, scenario: Scenario, gateway: Gateway, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client.get("/client/sign-in", params={"voucher": scenario.voucher})
    token = csrf_of(client.get("/client/sign-in").text)
    wrong = client.post("/client/sign-in", data={"code": scenario.voucher, "pin": "11111", "csrf": token})
    assert wrong.status_code == 400
    sign_in(client, scenario.voucher, scenario.pin)
    session = client.cookies.get("__Host-allmende-session") or ""
    home = client.get("/client/")
    claim_token = csrf_of(home.text)
    assert (
        client.post(f"/client/claims/{scenario.claim_program_id}", data={"csrf": claim_token}).status_code
        == 303
    )
    client.get("/client/receipts")
    client.post("/client/sign-out")

    secrets = [*secrets_of(scenario, gateway), session, claim_token, token]
    gateway_records = [r for r in caplog.records if r.name != "httpx"]  # httpx logs the test's own requests
    logged = "\n".join(
        f"{r.name} {r.getMessage()} {r.args!r} {getattr(r, 'exc_text', '') or ''}" for r in gateway_records
    )
    assert gateway_records, "the scenario should have logged something to scan"
    leaked = [s for s in secrets if s and s in logged]
    assert not leaked, f"found in the logs: {leaked}"


def test_the_access_log_blanks_a_voucher_code_in_the_address(tmp_path: Path) -> None:
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", "/client/sign-in?voucher=ABCD-EFGH-JKMN-PQRS&x=1", "1.1", 200),
        None,
    )
    assert RedactVoucher().filter(record)
    assert "ABCD" not in record.getMessage() and "voucher=[redacted]&x=1" in record.getMessage()
    plain = logging.LogRecord("x", logging.INFO, __file__, 1, "GET /client/sign-in?VOUCHER=ABCD", None, None)
    RedactVoucher().filter(plain)
    assert "ABCD" not in plain.getMessage()
    create_app(make_settings(tmp_path))
    assert any(isinstance(f, RedactVoucher) for f in logging.getLogger("uvicorn.access").filters)
