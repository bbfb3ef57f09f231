"""Demo data for a fresh gateway, played through the gateway's own HTTP API.

The app is served on a free loopback port for the time of seeding (a real server in a thread), and
the demo talks to it with an ordinary HTTP client, like any integration would."""

from __future__ import annotations

import json
import os
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pyotp
import uvicorn
from eth_account import Account

from api.app import create_app
from api.gateway import Gateway

DEMO_KEYS_FILE = "demo-api-keys.json"
DEMO_PIN = "2468"
DEMO_STAFF = (  # (login, name, role) of two people of the demo NGO: one asks, the other approves
    ("maria.fallarbeit", "Maria Fallarbeit", "caseworker"),
    ("jonas.freigabe", "Jonas Freigabe", "approver"),
)
DEMO_VOTERS = 8
DAY = 86_400
DEMO_PROJECTS = (  # (title, euros, for the neighbourhood program rather than food aid)
    ("Spielplatz im Nordpark erneuern", "2000", True),
    ("Warme Mahlzeiten im Winter", "1500", False),
    ("Lastenrad für die Tafel", "1200", False),
    ("Sprachcafé für Neuankommende", "800", True),
)


def _ok(response: Any) -> dict[str, Any]:
    if response.status_code >= 400:
        raise RuntimeError(f"demo step failed: {response.status_code} {response.text}")
    body: dict[str, Any] = response.json()
    return body


@contextmanager
def _served(gateway: Gateway) -> Iterator[httpx.Client]:
    """The gateway's app served on a free loopback port while the block runs, and a client of it."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(create_app(gateway.settings, gateway), log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError("the demo could not serve the app on a loopback port")
            threading.Event().wait(0.01)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120) as http:
            yield http
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


def _play_round(
    http: httpx.Client, gateway: Gateway, as_: Callable[[str], dict[str, str]], pid: int, lot: int
) -> None:
    """A participatory budget round of the NGO's clients over the city's unearmarked money. On the
    embedded chain the clock moves on: clients vote with voucher + PIN and the NGO finalises; on an
    external chain the round stays open for proposals."""
    quarter = _ok(
        http.post(
            "/v1/ngo/programs",
            headers=as_("ngo"),
            json={"name": "Quartier Nord", "description": "Projects the neighbourhood chose"},
        )
    )["programId"]
    clients = [
        _ok(
            http.post(
                "/v1/ngo/clients",
                headers=as_("ngo"),
                json={"personal": {"name": f"Demo-Klient*in {i}"}, "pin": DEMO_PIN},
            )
        )
        for i in range(1, DEMO_VOTERS + 1)
    ]
    now = gateway.chain.now()
    created = _ok(
        http.post(
            "/v1/ngo/rounds",
            headers=as_("ngo"),
            json={
                "title": "Bürgerhaushalt Nordhafen",
                "description": "Wofür sollen 4.000 € der Stadt im Quartier ausgegeben werden?",
                "funding": [{"lotId": lot, "amount": "4000"}],
                "credits": 100,
                "votingStart": datetime.fromtimestamp(now + 7 * DAY, UTC).isoformat(),
                "votingEnd": datetime.fromtimestamp(now + 21 * DAY, UTC).isoformat(),
                "minCost": "500",
                "maxCost": "2500",
                "minVotes": 1,
            },
        )
    )
    rid = created["roundId"]
    for title, amount, program in DEMO_PROJECTS:
        _ok(
            http.post(
                f"/v1/ngo/rounds/{rid}/proposals",
                headers=as_("ngo"),
                json={"programId": quarter if program else pid, "amount": amount, "title": title},
            )
        )
    if not gateway.chain.is_embedded:
        return
    gateway.advance_time(7 * DAY)
    for i, reg in enumerate(clients):
        token = _ok(
            http.post("/v1/client/session", json={"voucherCode": reg["voucherCode"], "pin": DEMO_PIN})
        )
        favourite, second = 1 + i % len(DEMO_PROJECTS), 1 + (i + 2) % len(DEMO_PROJECTS)
        votes = [{"proposalId": favourite, "votes": 8}, {"proposalId": second, "votes": 4 + i % 3}]
        _ok(
            http.put(
                f"/v1/client/rounds/{rid}/ballot",
                headers={"Authorization": f"Bearer {token['token']}"},
                json={"votes": sorted(votes, key=lambda v: v["proposalId"])},
            )
        )
    gateway.advance_time(14 * DAY)
    _ok(http.post(f"/v1/ngo/rounds/{rid}/finalise", headers=as_("ngo")))


def _staff(http: httpx.Client, ngo: dict[str, str], funder: dict[str, str], pid: int) -> dict[str, str]:
    """Two people of the NGO, set up as they would be: the NGO's admin adds them, each sets a password
    with the set-up code and turns on the second factor; the admin gives each an API key. A funder of
    the program names the approver's own address as an approver of its tranches (consent). The
    caseworker asks for a tranche and the approver approves it, each with their own key (the approver
    signs on chain with their own custodial key). Their sign-in data: login, password, TOTP secret."""
    out: dict[str, str] = {}
    keys: dict[str, dict[str, str]] = {}
    for login, name, role in DEMO_STAFF:
        made = _ok(
            http.post("/v1/people", headers=ngo, json={"login": login, "displayName": name, "roles": [role]})
        )
        password = f"demo-{role}-{os.urandom(6).hex()}"
        secret = _ok(
            http.post(
                "/v1/people/setup",
                json={"login": login, "setupCode": made["setupCode"], "password": password},
            )
        )["secret"]
        _ok(
            http.post(
                "/v1/people/second-factor",
                json={"login": login, "password": password, "code": pyotp.TOTP(secret).now()},
            )
        )
        key = _ok(
            http.post(
                "/v1/api-keys", headers=ngo, json={"name": f"{name} (demo)", "personId": made["person"]["id"]}
            )
        )["apiKey"]
        keys[role] = {"Authorization": f"Bearer {key}"}
        if role == "approver":
            _ok(
                http.post(
                    f"/v1/funder/programs/{pid}/approvers",
                    headers=funder,
                    json={"address": made["person"]["address"]},
                )
            )
        out.update(
            {
                f"{role}-login": login,
                f"{role}-password": password,
                f"{role}-totp-secret": secret,
                f"{role}-api-key": key,
            }
        )
    tranche = _ok(
        http.post(
            f"/v1/ngo/programs/{pid}/tranches",
            headers=keys["caseworker"],
            json={"amount": "2000", "milestone": "Milestone 2: Winter packages"},
        )
    )["trancheId"]
    _ok(http.post(f"/v1/tranches/{tranche}/approve", headers=keys["approver"]))
    return out


def _demo_client(
    http: httpx.Client, gateway: Gateway, ngo: dict[str, str], pid: int, lot: int
) -> dict[str, str]:
    """A client with 25 € to claim and a round open for their vote, so the client pages can be tried:
    their voucher code and PIN."""
    reg = _ok(
        http.post(
            "/v1/ngo/clients", headers=ngo, json={"personal": {"name": "Erika Beispiel"}, "pin": DEMO_PIN}
        )
    )
    expires = datetime.fromtimestamp(gateway.chain.now() + 60 * DAY, UTC).isoformat()
    _ok(
        http.post(
            "/v1/ngo/claim-programs",
            headers=ngo,
            json={
                "programId": pid,
                "name": "Wintergeld",
                "expiresAt": expires,
                "grants": [{"clientId": reg["clientId"], "amount": "25"}],
            },
        )
    )
    _open_round(http, gateway, ngo, pid, lot)
    return {"client-voucher-code": reg["voucherCode"], "client-pin": DEMO_PIN}


DEMO_PROVIDERS = (
    ("provider-food", "Frischemarkt Nordhafen", "Hafenstraße 12", ["food", "household"]),
    ("provider-sports", "SV Nordhafen 1921 e.V.", "Am Sportpark 3", ["sports"]),
)
TEILHABE_PROGRAM = "Teilhabe: Sport und Kultur"
DEMO_BANK_REFERENCE = "DEMO-BANK-2026-001"


def _demo_payout(http: httpx.Client, as_: Callable[[str], dict[str, str]], shop_key: str) -> None:
    """The food shop is paid out in euros: it asks for its takings at the counter on its IBAN, the
    treasurer batches the payout, which writes the SEPA file to DATA_DIR/sepa/, and marks it sent."""
    shop = {"Authorization": f"Bearer {shop_key}"}
    ask = {"amount": SHOP_PURCHASE[0], "iban": "DE02120300000000202051"}
    _ok(http.post("/v1/provider/payouts", headers={**shop, "Idempotency-Key": "demo-payout"}, json=ask))
    batch = _ok(http.post("/v1/admin/payout-batches", headers=as_("admin")))["batchId"]
    sent = {"bankReference": DEMO_BANK_REFERENCE}
    _ok(http.post(f"/v1/admin/payout-batches/{batch}/sent", headers=as_("admin"), json=sent))


def _demo_providers(http: httpx.Client, as_: Callable[[str], dict[str, str]]) -> dict[str, str]:
    """A food shop and a sports club admitted by the demo NGO, and a program restricted to sports and
    culture (funded by the foundation, released by the city, paid to five households whose accounts
    the chain then lets pay only the club), so `/client/programs/{id}/providers` shows both kinds of
    rule: the providers' API keys."""
    ngo = as_("ngo")
    keys = {}
    for key, name, street, categories in DEMO_PROVIDERS:
        body = {
            "name": name,
            "street": street,
            "postcode": "26954",
            "city": "Nordhafen",
            "categories": categories,
        }
        keys[key] = _ok(http.post("/v1/providers", headers=ngo, json=body))["apiKey"]
    program = _ok(
        http.post(
            "/v1/ngo/programs",
            headers=ngo,
            json={"name": TEILHABE_PROGRAM, "description": "Club fees and culture for children"},
        )
    )["programId"]
    rule = {"kind": "restricted", "categories": ["sports", "culture"]}
    _ok(http.put(f"/v1/ngo/programs/{program}/rule", headers=ngo, json=rule))
    lot = _ok(
        http.post(
            "/v1/funder/lots", headers=as_("foundation"), json={"amount": "2000", "earmarkProgramId": program}
        )
    )["lotId"]
    allocation = {"programId": program, "amount": "2000"}
    _ok(http.post(f"/v1/funder/lots/{lot}/allocations", headers=as_("foundation"), json=allocation))
    tranche = _ok(
        http.post(
            f"/v1/ngo/programs/{program}/tranches",
            headers=ngo,
            json={"amount": "500", "milestone": "Club season spring"},
        )
    )["trancheId"]
    _ok(http.post(f"/v1/tranches/{tranche}/approve", headers=as_("foundation")))
    payments = [{"address": Account.create().address, "amount": "60"} for _ in range(5)]
    _ok(
        http.post(
            f"/v1/ngo/programs/{program}/disbursements",
            headers=ngo,
            json={"payments": payments, "reference": "Vereinsbeiträge Frühjahr"},
        )
    )
    return keys


SHOP_PURCHASE = ("12.80", "Obst, Brot, Milch")


def _pay_at_the_shop(
    http: httpx.Client, as_: Callable[[str], dict[str, str]], pid: int, keys: dict[str, str]
) -> None:
    """The demo client gets 30 € of food aid on their account (cash: usable anywhere) and pays 12,80 €
    at the food shop's counter with voucher code + PIN; the 25 € to claim stay for the client pages."""
    signed_in = _ok(
        http.post(
            "/v1/client/session",
            json={"voucherCode": keys["client-voucher-code"], "pin": keys["client-pin"]},
        )
    )
    me = {"Authorization": f"Bearer {signed_in['token']}"}
    account = _ok(http.get("/v1/client/me", headers=me))["account"]
    http.delete("/v1/client/session", headers=me)
    _ok(
        http.post(
            f"/v1/ngo/programs/{pid}/disbursements",
            headers=as_("ngo"),
            json={"payments": [{"address": account, "amount": "30"}], "reference": "Dezember"},
        )
    )
    shop = as_("provider-food")
    amount, note = SHOP_PURCHASE
    code = _ok(http.post("/v1/provider/payments", headers=shop, json={"amount": amount, "note": note}))[
        "code"
    ]
    _ok(
        http.post(
            f"/v1/provider/payments/{code}/counter-confirmation",
            headers=shop,
            json={"voucherCode": keys["client-voucher-code"], "pin": keys["client-pin"]},
        )
    )


OPEN_ROUND_TITLE = "Nachbarschaftsfonds Winter"


def _open_round(http: httpx.Client, gateway: Gateway, ngo: dict[str, str], pid: int, lot: int) -> None:
    """A round over the city's last 1.000 € that every client of the NGO, the demo client included,
    may vote in at `/client/rounds` (on the embedded chain the clock moves on to its voting; on an
    external chain it stays open for proposals, which clients may make too)."""
    now = gateway.chain.now()
    created = _ok(
        http.post(
            "/v1/ngo/rounds",
            headers=ngo,
            json={
                "title": OPEN_ROUND_TITLE,
                "description": "Was hilft im Winter am meisten? Sie entscheiden mit.",
                "funding": [{"lotId": lot, "amount": "1000"}],
                "credits": 100,
                "votingStart": datetime.fromtimestamp(now + 3_600, UTC).isoformat(),
                "votingEnd": datetime.fromtimestamp(now + 30 * DAY, UTC).isoformat(),
                "minCost": "100",
                "maxCost": "600",
                "clientProgramId": pid,
            },
        )
    )
    for title, amount in (
        ("Warme Decken für die Notunterkunft", "400"),
        ("Heißer Tee am Hafen", "150"),
        ("Winterjacken für Kinder", "600"),
    ):
        _ok(
            http.post(
                f"/v1/ngo/rounds/{created['roundId']}/proposals",
                headers=ngo,
                json={"programId": pid, "amount": amount, "title": title},
            )
        )
    if gateway.chain.is_embedded:
        gateway.advance_time(3_600)


def seed_demo(gateway: Gateway) -> Path | None:
    """Create demo organisations and play a month of a food-aid program; None if already seeded.

    The API keys, the sign-in data of two people of the NGO (login, password, TOTP secret), and the
    voucher code and PIN of a demo client with aid to claim, go to a file readable only by the
    operator (never to the log)."""
    created = gateway.bootstrap_admin()
    if created is None:
        return None
    _, admin_key = created
    keys: dict[str, str] = {"admin": admin_key}
    with _served(gateway) as http:

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
        # The city consents to the NGO putting its unearmarked lot into the neighbourhood's budget rounds.
        _ok(
            http.post(
                f"/v1/funder/lots/{lot_b}/allocators",
                headers=as_("city"),
                json={"address": orgs["ngo"]["address"]},
            )
        )
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
        keys.update(_staff(http, as_("ngo"), as_("city"), pid))
        _play_round(http, gateway, as_, pid, lot_b)
    if gateway.chain.is_embedded:  # the operator's own accounts play the ledger-level scenarios too
        from api.devnet import DemoCast, play_all

        play_all(gateway.system, DemoCast.from_chain(gateway.chain))
    with _served(gateway) as http:
        keys.update(_demo_client(http, gateway, {"Authorization": f"Bearer {keys['ngo']}"}, pid, lot_b))
        keys.update(_demo_providers(http, as_))
        _pay_at_the_shop(http, as_, pid, keys)
        _demo_payout(http, as_, keys["provider-food"])
    path = gateway.settings.data_dir / DEMO_KEYS_FILE
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(keys, f, indent=2)
    return path
