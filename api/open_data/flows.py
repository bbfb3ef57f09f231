"""Program money flows as reporting transactions, taken from the fund ledger's events alone.

One `Flow` per event that moves money into, within or out of a program, in chain order:

| event                | kind                  | counterpart                          |
|----------------------|-----------------------|--------------------------------------|
| `Allocated`          | `incoming-commitment` | the funder of the lot                |
| `TrancheApproved`    | `incoming-funds`      | the approver (a funder)              |
| `BatchDisbursed`     | `disbursement`        | the batch's recipients, aggregated,  |
|                      |                       | or the receiver contract (a claim    |
|                      |                       | program) `ReceiverFunded` names      |
| `FundsReturned`      | `returned`            | the receiver that sent money back    |
| `AllocationReturned` | `commitment-returned` | the lot's funder                     |

Disbursements are aggregated per batch (a count and a total), never per recipient: a recipient is a
pseudonymous account and an export names no person and no pseudonym.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Literal

from ledger.events import Event

FlowKind = Literal["incoming-commitment", "incoming-funds", "disbursement", "returned", "commitment-returned"]


@dataclass(frozen=True)
class Flow:
    """One money movement of a program, in micro-euros."""

    program_id: int
    kind: FlowKind
    amount: int
    block_number: int
    transaction_hash: str
    counterpart: str  # an organisation's address, a receiver contract's address, or "" for clients
    recipients: int = 0  # for a disbursement to clients: how many payments the batch made
    lot_id: int = 0  # for commitments: the lot the money came from


def program_flows(events: Iterable[Event]) -> list[Flow]:
    """Every program money flow in `events` (FundLedger events; others are ignored), in chain order."""
    lot_funder: dict[int, str] = {}
    allocation_lot: dict[int, int] = {}
    receivers: dict[int, str] = {}  # batch -> receiver contract
    batch_flow: dict[int, int] = {}  # batch -> index of its disbursement in `flows`
    flows: list[Flow] = []
    for e in events:
        if e.contract != "FundLedger":
            continue
        a = e.args
        at = (e.block_number, e.transaction_hash)
        if e.name == "LotDeposited":
            lot_funder[a["lotId"]] = a["funder"]
        elif e.name == "Allocated":
            allocation_lot[a["allocationId"]] = a["lotId"]
            flows.append(
                Flow(
                    a["programId"],
                    "incoming-commitment",
                    a["amount"],
                    *at,
                    lot_funder.get(a["lotId"], ""),
                    lot_id=a["lotId"],
                )
            )
        elif e.name == "TrancheApproved":
            flows.append(Flow(a["programId"], "incoming-funds", a["amount"], *at, a["approver"]))
        elif e.name == "BatchDisbursed":  # a receiver batch names its receiver in the next event
            batch_flow[a["batchId"]] = len(flows)
            flows.append(Flow(a["programId"], "disbursement", a["total"], *at, "", recipients=a["count"]))
        elif e.name == "ReceiverFunded":
            receivers[a["batchId"]] = a["receiver"]
            i = batch_flow[a["batchId"]]
            flows[i] = replace(flows[i], counterpart=a["receiver"], recipients=0)
        elif e.name == "FundsReturned" and not a["toFunder"]:
            allocation_lot[a["allocationId"]] = a["lotId"]
            flows.append(
                Flow(
                    a["programId"],
                    "returned",
                    a["amount"],
                    *at,
                    receivers.get(a["batchId"], ""),
                    lot_id=a["lotId"],
                )
            )
        elif e.name == "AllocationReturned":
            lot = allocation_lot.get(a["allocationId"], 0)
            flows.append(
                Flow(
                    a["programId"],
                    "commitment-returned",
                    a["amount"],
                    *at,
                    lot_funder.get(lot, ""),
                    lot_id=lot,
                )
            )
    return flows
