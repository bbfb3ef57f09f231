"""HXL-tagged CSV of program money flows: a header row, the HXL hashtag row, one row per flow.

HXL (the Humanitarian Exchange Language) puts a row of hashtags under the header so tools such as
the HXL Proxy and HDX read the columns without a mapping. Amounts are euros with a sign: money
that went back (to a funder's lot, or from a claim program) is negative.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Mapping
from datetime import date
from decimal import Decimal

from api.open_data.flows import Flow
from api.open_data.iati import MICRO, ProgramText, counterpart_name

COLUMNS: tuple[tuple[str, str], ...] = (
    ("Activity", "#activity+id"),
    ("Program", "#activity+name"),
    ("Implementing organisation", "#org+name+impl"),
    ("Funder", "#org+name+funder"),
    ("Flow", "#meta+type"),
    ("Date", "#date"),
    ("Amount", "#value+funding"),
    ("Currency", "#currency"),
    ("Payments to clients", "#reached"),
    ("Recipient", "#org+name+recipient"),
    ("Transaction", "#meta+transaction"),
)
_SIGN = {"commitment-returned": -1, "returned": -1}
_FUNDER_SIDE = ("incoming-commitment", "incoming-funds", "commitment-returned")


def hxl_csv(
    flows: Iterable[Flow],
    programs: Mapping[int, ProgramText],
    org_names: Mapping[str, str],
    block_date: Callable[[int], date],
    activity_prefix: str,
) -> str:
    """The flows as HXL-tagged CSV text."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([name for name, _ in COLUMNS])
    writer.writerow([tag for _, tag in COLUMNS])
    for f in flows:
        text = programs.get(f.program_id, ProgramText(f"Program {f.program_id}", "", ""))
        who = counterpart_name(f, org_names)
        funder_side = f.kind in _FUNDER_SIDE
        writer.writerow(
            [
                f"{activity_prefix}-P{f.program_id}",
                text.name,
                text.ngo_name,
                who if funder_side else "",
                f.kind,
                block_date(f.block_number).isoformat(),
                str(_SIGN.get(f.kind, 1) * Decimal(f.amount) / MICRO),
                "EUR",
                f.recipients or "",
                "" if funder_side else who,
                f.transaction_hash,
            ]
        )
    return out.getvalue()
