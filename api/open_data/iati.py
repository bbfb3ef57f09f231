"""IATI activity XML (standard 2.03): one activity per program, its money flows as transactions.

| flow                  | IATI transaction type      | value    |
|-----------------------|----------------------------|----------|
| `incoming-commitment` | 11 Incoming Commitment     | positive |
| `commitment-returned` | 11 Incoming Commitment     | negative (back to the funder's lot) |
| `incoming-funds`      | 1 Incoming Funds           | positive (a tranche the funder released) |
| `disbursement`        | 3 Disbursement             | positive |
| `returned`            | 3 Disbursement             | negative (unclaimed aid a claim program sent back) |

Recipients appear only as aggregates ("12 payments to clients"); no person, no pseudonym.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from xml.etree import ElementTree as ET

from api.open_data.flows import Flow, FlowKind

IATI_VERSION = "2.03"
MICRO = Decimal(1_000_000)

_TYPE: dict[FlowKind, tuple[str, int]] = {  # flow -> (IATI transaction type, sign)
    "incoming-commitment": ("11", 1),
    "commitment-returned": ("11", -1),
    "incoming-funds": ("1", 1),
    "disbursement": ("3", 1),
    "returned": ("3", -1),
}
_DESCRIPTION: dict[FlowKind, str] = {
    "incoming-commitment": "Allocated from a funder's lot",
    "commitment-returned": "Undrawn allocation returned to the funder's expired lot",
    "incoming-funds": "Tranche released by the funder",
    "disbursement": "Paid out",
    "returned": "Unclaimed aid returned by a claim program",
}


@dataclass(frozen=True)
class Reporter:
    """The organisation publishing the file (the operator) as IATI knows it."""

    ref: str  # an IATI organisation identifier, e.g. "DE-CR-HRB12345"
    name: str
    type_code: str = "22"  # IATI OrganisationType: 22 = national NGO


@dataclass(frozen=True)
class ProgramText:
    """What the public may read of a program: its name, description and implementing NGO."""

    name: str
    description: str
    ngo_name: str


def iati_activities(
    flows: Iterable[Flow],
    programs: Mapping[int, ProgramText],
    org_names: Mapping[str, str],
    block_date: Callable[[int], date],
    reporter: Reporter,
    generated: datetime | None = None,
) -> bytes:
    """An `iati-activities` document holding one activity per program in `programs` or in `flows`.

    `org_names` names organisations and receiver contracts by address; `block_date` gives the date
    of a block (the chain's clock, in UTC)."""
    by_program: dict[int, list[Flow]] = {pid: [] for pid in programs}
    for flow in flows:
        by_program.setdefault(flow.program_id, []).append(flow)
    stamp = (generated or datetime.now(UTC)).replace(microsecond=0).isoformat()
    root = ET.Element("iati-activities", {"version": IATI_VERSION, "generated-datetime": stamp})
    for pid in sorted(by_program):
        text = programs.get(pid, ProgramText(f"Program {pid}", "", ""))
        root.append(_activity(pid, text, by_program[pid], org_names, block_date, reporter, stamp))
    ET.indent(root)
    document: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return document


def _activity(
    pid: int,
    text: ProgramText,
    flows: list[Flow],
    org_names: Mapping[str, str],
    block_date: Callable[[int], date],
    reporter: Reporter,
    stamp: str,
) -> ET.Element:
    activity = ET.Element(
        "iati-activity",
        {"default-currency": "EUR", "last-updated-datetime": stamp, "hierarchy": "1"},
    )
    ET.SubElement(activity, "iati-identifier").text = f"{reporter.ref}-P{pid}"
    org = ET.SubElement(activity, "reporting-org", {"ref": reporter.ref, "type": reporter.type_code})
    _narrative(org, reporter.name)
    _narrative(ET.SubElement(activity, "title"), text.name)
    _narrative(ET.SubElement(activity, "description", {"type": "1"}), text.description or text.name)
    funders = sorted({f.counterpart for f in flows if f.kind == "incoming-commitment" and f.counterpart})
    for funder in funders:
        _narrative(ET.SubElement(activity, "participating-org", {"role": "1"}), org_names.get(funder, funder))
    implementing = ET.SubElement(activity, "participating-org", {"role": "4"})
    _narrative(implementing, text.ngo_name or "Implementing organisation")
    ET.SubElement(activity, "activity-status", {"code": "2"})  # implementation
    start = block_date(flows[0].block_number) if flows else datetime.now(UTC).date()
    ET.SubElement(activity, "activity-date", {"type": "2", "iso-date": start.isoformat()})
    for flow in flows:
        activity.append(_transaction(flow, org_names, block_date(flow.block_number)))
    return activity


def _transaction(flow: Flow, org_names: Mapping[str, str], day: date) -> ET.Element:
    code, sign = _TYPE[flow.kind]
    tx = ET.Element("transaction", {"ref": flow.transaction_hash})
    ET.SubElement(tx, "transaction-type", {"code": code})
    ET.SubElement(tx, "transaction-date", {"iso-date": day.isoformat()})
    value = ET.SubElement(tx, "value", {"currency": "EUR", "value-date": day.isoformat()})
    value.text = str(sign * Decimal(flow.amount) / MICRO)
    _narrative(ET.SubElement(tx, "description"), _DESCRIPTION[flow.kind])
    counterpart = counterpart_name(flow, org_names)
    side = "provider-org" if flow.kind in ("incoming-commitment", "incoming-funds") else "receiver-org"
    if counterpart:
        _narrative(ET.SubElement(tx, side), counterpart)
    return tx


def counterpart_name(flow: Flow, org_names: Mapping[str, str]) -> str:
    """Who gave or got the money, in words: an organisation's name, or clients as an aggregate."""
    if flow.kind == "disbursement" and not flow.counterpart:
        return f"{flow.recipients} payment{'s' if flow.recipients != 1 else ''} to clients"
    return org_names.get(flow.counterpart, flow.counterpart)


def _narrative(parent: ET.Element, text: str) -> None:
    ET.SubElement(parent, "narrative").text = text
