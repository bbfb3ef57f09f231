"""Demo data for a fresh gateway, played through the gateway's own HTTP routes (in process)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from eth_account import Account
from fastapi.testclient import TestClient

from api.app import create_app
from api.gateway import Gateway

DEMO_KEYS_FILE = "demo-api-keys.json"


def _ok(response: Any) -> dict[str, Any]:
    if response.status_code >= 400:
        raise RuntimeError(f"demo step failed: {response.status_code} {response.text}")
    body: dict[str, Any] = response.json()
    return body


def seed_demo(gateway: Gateway) -> Path | None:
    """Create demo organisations and play a month of a food-aid program; None if already seeded.

    The API keys go to a file readable only by the operator (never to the log)."""
    created = gateway.bootstrap_admin()
    if created is None:
        return None
    _, admin_key = created
    keys: dict[str, str] = {"admin": admin_key}
    with TestClient(create_app(gateway.settings, gateway)) as http:

        def as_(who: str) -> dict[str, str]:
            return {"Authorization": f"Bearer {keys[who]}"}

        orgs = {}
        for who, kind, name in [
            ("foundation", "funder", "Stiftung Gemeinsinn"),
            ("city", "funder", "Stadt Nordhafen, Sozialamt"),
            ("ngo", "ngo", "Tafel Nordhafen e.V."),
            ("auditor", "auditor", "Prüfstelle Soziale Mittel"),
        ]:
            org = _ok(
                http.post("/v1/admin/organisations", json={"kind": kind, "name": name}, headers=as_("admin"))
            )
            keys[who], orgs[who] = org["apiKey"], org
        for who, amount in (("foundation", "50000"), ("city", "20000")):
            _ok(
                http.post(
                    "/v1/admin/mints",
                    headers=as_("admin"),
                    json={
                        "organisationId": orgs[who]["id"],
                        "amount": amount,
                        "fiatReference": f"SEPA {who}",
                    },
                )
            )
        program = _ok(
            http.post(
                "/v1/ngo/programs",
                headers=as_("ngo"),
                json={"name": "Lebensmittelhilfe Nord", "description": "Monthly food aid"},
            )
        )
        pid = program["programId"]
        lot_a = _ok(
            http.post(
                "/v1/funder/lots",
                headers=as_("foundation"),
                json={"amount": "30000", "earmarkProgramId": pid},
            )
        )["lotId"]
        lot_b = _ok(http.post("/v1/funder/lots", headers=as_("city"), json={"amount": "15000"}))["lotId"]
        _ok(
            http.post(
                f"/v1/funder/lots/{lot_a}/allocations",
                headers=as_("foundation"),
                json={"programId": pid, "amount": "12000"},
            )
        )
        _ok(
            http.post(
                f"/v1/funder/lots/{lot_b}/allocations",
                headers=as_("city"),
                json={"programId": pid, "amount": "10000"},
            )
        )
        tranche = _ok(
            http.post(
                f"/v1/ngo/programs/{pid}/tranches",
                headers=as_("ngo"),
                json={"amount": "15000", "milestone": "Milestone 1: 300 households"},
            )
        )["trancheId"]
        _ok(http.post(f"/v1/tranches/{tranche}/approve", headers=as_("city")))
        households = [Account.create().address for _ in range(40)]
        _ok(
            http.post(
                f"/v1/ngo/programs/{pid}/disbursements",
                headers=as_("ngo"),
                json={
                    "payments": [{"address": h, "amount": "350"} for h in households],
                    "reference": "November",
                },
            )
        )
    if gateway.chain.is_embedded:  # the operator's own accounts play the ledger-level scenarios too
        from scripts.devnet import DemoCast, play_all

        play_all(gateway.system, DemoCast.from_chain(gateway.chain))
    path = gateway.settings.data_dir / DEMO_KEYS_FILE
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(keys, f, indent=2)
    return path
