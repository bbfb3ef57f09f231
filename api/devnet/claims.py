"""Demo: a winter-aid claim program paid from a fund-ledger program, claimed with vouchers.

The NGO opens a claim program, the gateway issues 20 vouchers (claim keys and codes derived from one
secret per client, which only the gateway keeps), the NGO publishes the tree and funds the program
with `disburseTo`, 15 clients claim at the desk through the relayer, and after the expiry the NGO
returns the rest, which flows back to the lots it came from.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from api.devnet.cast import DemoCast
from api.settings import Settings
from api.voucher_pdf import VoucherCard, render_voucher_sheets
from governance.claim_tree import ClaimEntry, ClaimTree
from governance.vouchers import (
    ProgramRef,
    address_of,
    claim_key,
    new_client_secret,
    parse_code,
    payout_key,
    voucher_code,
)
from ledger.claims import ClaimProgramClient, sign_claim
from ledger.system import Allmende

EUR = 1_000_000
DAY = 86_400
VOUCHERS = 20
CLAIMANTS = 15
PROGRAM_NAME = "Winterhilfe Nord"


@dataclass
class ClaimDemo:
    """What the demo left behind, for a summary: the program and the gateway's (off-chain) records."""

    program: ClaimProgramClient
    codes: dict[str, str] = field(default_factory=dict)  # client -> voucher code
    claimed: list[str] = field(default_factory=list)
    returned: int = 0


def _ensure_released(system: Allmende, cast: DemoCast, program_id: int, amount: int) -> None:
    """Release a tranche when the program has less than `amount` ready to disburse."""
    p = system.funds.program(program_id)
    missing = amount - (p.released - p.disbursed)
    if missing > 0:
        tranche = system.funds.request_tranche(
            cast.ngo, program_id, missing, hashlib.sha256(b"milestone: winter vouchers").digest()
        )
        system.funds.approve_tranche(cast.approver, tranche.event("TrancheRequested").args["trancheId"])


def run_claim_program(
    system: Allmende, cast: DemoCast, program_id: int, sheet_path: Path | None = None
) -> ClaimDemo:
    """Play the claim program on fund-ledger program `program_id` (run by `cast.ngo`)."""
    chain = system.chain
    description = hashlib.sha256(f"{PROGRAM_NAME}: 20 Haushalte, 14 Tage".encode()).digest()
    program = system.claims.open_program(cast.ngo, program_id, chain.now() + 14 * DAY, description)
    ref = ProgramRef(chain.chain_id, system.claims.address, program.program_id)
    demo = ClaimDemo(program)

    # The gateway: one secret per client; keys, payout accounts and codes are derived, never stored.
    gateway = {f"client-{i:02d}": new_client_secret() for i in range(VOUCHERS)}
    entries = []
    for index, (client, secret) in enumerate(gateway.items()):
        amount = (30 + 5 * (index % 4)) * EUR
        entries.append(ClaimEntry(index, address_of(claim_key(secret, ref)), amount))
        demo.codes[client] = voucher_code(secret, ref)
    if sheet_path is not None:
        cards = [VoucherCard(code) for code in demo.codes.values()]
        sheet_path.write_bytes(
            render_voucher_sheets(
                PROGRAM_NAME, cards, sign_in_url=Settings().sign_in_url, valid_until="in 14 Tagen"
            )
        )

    tree = ClaimTree.build(entries)
    program.add_root(cast.ngo, tree.cap)
    total = sum(e.amount for e in entries)
    _ensure_released(system, cast, program_id, total)
    reference = program.program_id.to_bytes(32, "big")  # abi.encode(claimProgramId), for the record
    system.funds.disburse_to(cast.ngo, program_id, program.address, total, reference)

    # At the desk: the client's code is typed in, the gateway finds the client, signs, the relayer submits.
    by_code = {code: client for client, code in demo.codes.items()}
    clients = list(gateway)
    for client in clients[:CLAIMANTS]:
        typed = demo.codes[client].lower().replace("-", " ")
        found = by_code[parse_code(typed)]
        secret, index = gateway[found], clients.index(found)
        recipient = address_of(payout_key(secret, ref))
        claim = sign_claim(claim_key(secret, ref), program.domain, index, recipient, chain.now() + 600)
        proof = tree.proof(index)
        program.claim(
            cast.relayer, claim, root_id=1, position=proof.position, amount=proof.amount, proof=proof.proof
        )
        demo.claimed.append(found)

    chain.advance_time(15 * DAY)
    result = program.return_unclaimed(cast.ngo)
    demo.returned = sum(e.args["amount"] for e in result.events_named("UnclaimedReturned"))
    return demo


def play_claim_program(system: Allmende, cast: DemoCast, program_id: int) -> None:
    """The devnet's claim scenario: 20 vouchers, 15 relayed claims, the rest returned after expiry."""
    run_claim_program(system, cast, program_id)
