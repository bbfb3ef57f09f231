"""The whole money path over real HTTP: uvicorn on a loopback port, an httpx client, the durable
embedded chain and a real database (SQLite and PostgreSQL). From the operator's first organisations
to the auditor's exports and the public figures, which must all tell the same story."""

from __future__ import annotations

import csv
import io
import json
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from eth_account import Account

from api.app import create_app
from api.gateway import Gateway
from ledger._local_node import LocalNode
from ledger.anvil import AnvilNode, anvil_binary
from ledger.hardhat import PROJECT_ROOT, HardhatNode
from tests.api.conftest import make_settings
from tests.e2e._server import START_TIMEOUT_S, free_port

pytestmark = pytest.mark.slow


class ThreadedServer:
    """uvicorn serving the app in a thread of this process, on 127.0.0.1."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.server: uvicorn.Server | None = None
        self.thread: threading.Thread | None = None
        self.url = ""

    def start(self, attempts: int = 3) -> ThreadedServer:
        for _ in range(attempts):
            port = free_port()
            config = uvicorn.Config(
                create_app(self.gateway.settings, self.gateway),
                host="127.0.0.1",
                port=port,
                log_level="warning",
            )
            self.server = uvicorn.Server(config)
            self.thread = threading.Thread(target=self.server.run, name="uvicorn", daemon=True)
            self.thread.start()
            deadline = time.monotonic() + START_TIMEOUT_S
            while not self.server.started and self.thread.is_alive() and time.monotonic() < deadline:
                time.sleep(0.01)  # polling uvicorn's startup flag, bounded by the deadline
            if self.server.started:
                self.url = f"http://127.0.0.1:{port}"
                return self
            self.stop()  # the port was taken meanwhile: try another
        raise RuntimeError("uvicorn did not start")

    def stop(self) -> None:
        if self.server is not None and self.thread is not None:
            self.server.should_exit = True
            self.thread.join(timeout=30)
            assert not self.thread.is_alive(), "uvicorn did not stop"


@pytest.fixture
def served_gateway(tmp_path: Path, database_url: str) -> Iterator[tuple[str, str, Gateway]]:
    """(base URL, admin API key, the gateway itself, for moving its chain's clock) served over HTTP."""
    gateway = Gateway.open(make_settings(tmp_path / "data", database_url))
    created = gateway.bootstrap_admin()
    assert created is not None
    server = ThreadedServer(gateway)
    try:
        server.start()
        yield server.url, created[1], gateway
    finally:
        server.stop()
        gateway.close()


@pytest.fixture
def served(served_gateway: tuple[str, str, Gateway]) -> tuple[str, str]:
    """(base URL, admin API key) of a gateway served over HTTP."""
    url, admin, _ = served_gateway
    return url, admin


NODES: dict[str, type[LocalNode]] = {"hardhat": HardhatNode, "anvil": AnvilNode}
needs_hardhat = pytest.mark.skipif(
    not (PROJECT_ROOT / "node_modules" / ".bin" / "hardhat").exists(),
    reason="node_modules/hardhat is missing",
)
needs_anvil = pytest.mark.skipif(
    not anvil_binary().exists(), reason="node_modules/@foundry-rs/anvil is missing"
)


@pytest.fixture(
    params=[pytest.param("hardhat", marks=needs_hardhat), pytest.param("anvil", marks=needs_anvil)]
)
def served_on_node(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """(base URL, admin API key) of a gateway on a JSON-RPC node (ALLMENDE_RPC_URL and a key file)."""
    with NODES[request.param]() as node:
        key_file = tmp_path / "operator-keys"
        key_file.write_text("\n".join(node.private_keys[:4]) + "\n", encoding="utf-8")
        key_file.chmod(0o600)
        settings = make_settings(tmp_path / "data").model_copy(
            update={"rpc_url": node.url, "rpc_key_file": key_file}
        )
        gateway = Gateway.open(settings)
        created = gateway.bootstrap_admin()
        assert created is not None
        server = ThreadedServer(gateway)
        try:
            server.start()
            yield server.url, created[1]
        finally:
            server.stop()
            gateway.close()


def _post(http: httpx.Client, path: str, key: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    r = http.post(
        path, json=body, headers={"Authorization": f"Bearer {key}", "Idempotency-Key": uuid.uuid4().hex}
    )
    assert r.status_code == 201, f"POST {path}: {r.status_code} {r.text}"
    assert r.headers["content-type"] == "application/json"
    answer: dict[str, Any] = r.json()
    return answer


def _get(http: httpx.Client, path: str, key: str | None = None) -> httpx.Response:
    r = http.get(path, headers={"Authorization": f"Bearer {key}"} if key else {})
    assert r.status_code == 200, f"GET {path}: {r.status_code} {r.text}"
    return r


def test_money_path_over_http_ends_in_matching_exports_and_public_figures(served: tuple[str, str]) -> None:
    url, admin = served
    with httpx.Client(base_url=url, timeout=60) as http:
        orgs = {
            who: _post(http, "/v1/admin/organisations", admin, {"kind": kind, "name": name})
            for who, kind, name in [
                ("foundation", "funder", "Stiftung Gemeinsinn"),
                ("city", "funder", "Stadt Nordhafen"),
                ("ngo", "ngo", "Tafel Nordhafen e.V."),
                ("auditor", "auditor", "Prüfstelle"),
            ]
        }
        key = {who: org["apiKey"] for who, org in orgs.items()}
        mint = _post(
            http,
            "/v1/admin/mints",
            admin,
            {
                "organisationId": orgs["foundation"]["id"],
                "amount": "5000",
                "fiatReference": "SEPA 2026-11-01",
            },
        )
        assert mint["transactionHash"].startswith("0x")

        program = _post(
            http, "/v1/ngo/programs", key["ngo"], {"name": "Lebensmittelhilfe", "description": "Nord"}
        )
        pid = program["programId"]
        lot = _post(http, "/v1/funder/lots", key["foundation"], {"amount": "3000", "earmarkProgramId": pid})
        lot_id = lot["lotId"]
        _post(
            http,
            f"/v1/funder/lots/{lot_id}/allocations",
            key["foundation"],
            {"programId": pid, "amount": "2000"},
        )
        tranche = _post(
            http, f"/v1/ngo/programs/{pid}/tranches", key["ngo"], {"amount": "1500", "milestone": "November"}
        )
        # the foundation, whose money it is, names the city its checker for this program
        city = orgs["city"]["address"]
        _post(http, f"/v1/funder/programs/{pid}/approvers", key["foundation"], {"address": city})
        _post(http, f"/v1/tranches/{tranche['trancheId']}/approve", key["city"])
        households = [Account.create().address for _ in range(3)]
        amounts = ["350", "420.5", "99.99"]
        batch = _post(
            http,
            f"/v1/ngo/programs/{pid}/disbursements",
            key["ngo"],
            {"payments": [{"address": h, "amount": a} for h, a in zip(households, amounts, strict=True)]},
        )
        assert sum(e["event"] == "Disbursed" for e in batch["events"]) == 3

        # the auditor: the ledger rebuilt from events matches the contracts
        report = _get(http, "/v1/audit/verify", key["auditor"]).json()
        assert report == {
            "events": report["events"],
            "matches": True,
            "lots": 1,
            "programs": 1,
            "payments": 3,
        }

        # the payments export, as JSON and as CSV, says who was paid how much from which lot
        as_json = _get(http, "/v1/audit/payments?format=json", key["auditor"])
        assert as_json.headers["content-type"] == "application/json"
        as_csv = _get(http, "/v1/audit/payments?format=csv", key["auditor"])
        assert as_csv.headers["content-type"].startswith("text/csv")
        assert as_csv.headers["content-disposition"] == 'attachment; filename="payments.csv"'
        rows = as_json.json()
        assert [{k: str(v) for k, v in row.items()} for row in rows] == list(
            csv.DictReader(io.StringIO(as_csv.text))
        )
        assert sorted((r["recipient"], Decimal(r["payment"])) for r in rows) == sorted(
            (h, Decimal(a)) for h, a in zip(households, amounts, strict=True)
        )
        assert {(r["batch"], r["lot"], r["funder"], r["transaction"]) for r in rows} == {
            (batch["batchId"], lot_id, orgs["foundation"]["address"], batch["transactionHash"])
        }

        # the event export: the same events in both formats, including this batch
        events = _get(http, "/v1/audit/events", key["auditor"]).json()
        events_csv = list(
            csv.DictReader(io.StringIO(_get(http, "/v1/audit/events?format=csv", key["auditor"]).text))
        )
        assert len(events) == len(events_csv) == report["events"]
        assert [(str(e["block"]), e["event"]) for e in events] == [
            (e["block"], e["event"]) for e in events_csv
        ]
        deposited = [json.loads(e["args"]) for e in events if e["event"] == "LotDeposited"]
        assert deposited == [json.loads(e["args"]) for e in events_csv if e["event"] == "LotDeposited"]
        assert [(d["lotId"], d["funder"]) for d in deposited] == [(lot_id, orgs["foundation"]["address"])]

        # the funder follows its money to the households
        traced = _get(http, f"/v1/funder/lots/{lot_id}/payments", key["foundation"]).json()
        assert sorted(p["recipient"] for p in traced) == sorted(households)

        # the public sees the aggregates, without a key
        public = _get(http, "/v1/public/programs").json()
        assert public == [
            {
                "programId": pid,
                "name": "Lebensmittelhilfe",
                "ngo": orgs["ngo"]["address"],
                "allocated": "2000.000000",
                "released": "1500.000000",
                "disbursed": "870.490000",
                "payments": 3,
            }
        ]


@pytest.mark.node
def test_money_path_over_http_on_a_json_rpc_node(served_on_node: tuple[str, str]) -> None:
    """The same money path, the gateway on hardhat and on anvil instead of the embedded chain: two
    independent EVM implementations behind ALLMENDE_RPC_URL."""
    test_money_path_over_http_ends_in_matching_exports_and_public_figures(served_on_node)


def test_a_budget_round_over_http_from_voter_roll_to_audited_results(
    served_gateway: tuple[str, str, Gateway],
) -> None:
    url, admin, gateway = served_gateway
    with httpx.Client(base_url=url, timeout=60) as http:
        orgs = {
            who: _post(http, "/v1/admin/organisations", admin, {"kind": kind, "name": name})
            for who, kind, name in [
                ("city", "funder", "Stadt Nordhafen"),
                ("ngo", "ngo", "Nachbarschaftshilfe"),
                ("auditor", "auditor", "Prüfstelle"),
            ]
        }
        key = {who: org["apiKey"] for who, org in orgs.items()}
        _post(
            http,
            "/v1/admin/mints",
            admin,
            {"organisationId": orgs["city"]["id"], "amount": "1000", "fiatReference": "SEPA"},
        )
        lot = _post(http, "/v1/funder/lots", key["city"], {"amount": "1000"})["lotId"]
        _post(http, f"/v1/funder/lots/{lot}/allocators", key["city"], {"address": orgs["ngo"]["address"]})
        pid = _post(http, "/v1/ngo/programs", key["ngo"], {"name": "Quartier"})["programId"]
        people = [
            _post(http, "/v1/ngo/clients", key["ngo"], {"personal": {"name": f"Nachbar {i}"}, "pin": "1357"})
            for i in range(3)
        ]
        now = gateway.chain.now()
        created = _post(
            http,
            "/v1/ngo/rounds",
            key["ngo"],
            {
                "title": "Quartiersbudget",
                "funding": [{"lotId": lot, "amount": "500"}],
                "credits": 50,
                "votingStart": datetime.fromtimestamp(now + 86_400, UTC).isoformat(),
                "votingEnd": datetime.fromtimestamp(now + 8 * 86_400, UTC).isoformat(),
                "minCost": "100",
                "maxCost": "400",
            },
        )
        rid = created["roundId"]
        assert created["voters"] == 3  # every client of the NGO
        for title, amount in (("Bänke", "300"), ("Bäume", "250")):
            _post(
                http,
                f"/v1/ngo/rounds/{rid}/proposals",
                key["ngo"],
                {"programId": pid, "amount": amount, "title": title},
            )

        gateway.advance_time(86_400)
        sessions = [
            http.post("/v1/client/session", json={"voucherCode": p["voucherCode"], "pin": "1357"}).json()[
                "token"
            ]
            for p in people
        ]
        for token, votes in zip(sessions, ([(1, 5)], [(2, 7)], [(1, 3), (2, 4)]), strict=True):
            r = http.put(
                f"/v1/client/rounds/{rid}/ballot",
                json={"votes": [{"proposalId": p, "votes": v} for p, v in votes]},
                headers={"Authorization": f"Bearer {token}"},
            )
            assert r.status_code == 200, r.text
        again = http.put(
            f"/v1/client/rounds/{rid}/ballot",
            json={"votes": [{"proposalId": 2, "votes": 2}]},
            headers={"Authorization": f"Bearer {sessions[0]}"},
        ).json()
        assert (again["creditsUsed"], again["creditsLeft"]) == (4, 46)

        gateway.advance_time(7 * 86_400)
        done = _post(http, f"/v1/ngo/rounds/{rid}/finalise", key["ngo"])
        assert (done["winners"], done["awarded"], done["settled"]) == ([2], "250.000000", True)

        results = _get(http, f"/v1/public/rounds/{rid}").json()
        assert [(p["title"], p["votes"]) for p in results["proposals"]] == [("Bänke", 3), ("Bäume", 13)]
        assert (results["ballots"], results["released"]) == (3, "250.000000")
        audit = _get(http, f"/v1/audit/rounds/{rid}", key["auditor"]).json()
        assert audit["matches"] is True and audit["ballotsCast"] == 4
        rows = _get(http, f"/v1/audit/rounds/{rid}/ballots", key["auditor"]).json()
        as_csv = _get(http, f"/v1/audit/rounds/{rid}/ballots?format=csv", key["auditor"]).text
        assert [{k: str(v) for k, v in row.items()} for row in rows] == list(
            csv.DictReader(io.StringIO(as_csv))
        )
        assert "Quartiersbudget" in _get(http, f"/v1/audit/rounds/{rid}/pabulib", key["auditor"]).text
        assert _get(http, "/v1/audit/verify", key["auditor"]).json()["matches"] is True
