"""The embedded devnet: deploy (idempotently), play the demo scenario once, print a summary.

The chain stays on disk under the data directory, so the next start resumes where this one ended.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from eth_account import Account
from rich.console import Console
from rich.table import Table

from api.devnet.cast import BOOK_FILE, DAY, EUR, DemoCast
from api.devnet.claims import play_claim_program
from api.devnet.qv import play_qv_round, qv_summary
from ledger.audit import audit_funds
from ledger.roles import Role
from ledger.system import Allmende

__all__ = ["BOOK_FILE", "DemoCast", "play_all", "play_demo", "run_devnet", "summary"]


def _h(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()


def play_demo(system: Allmende, cast: DemoCast) -> None:
    """A month of a food-aid program: deposits, allocation, a tranche, a disbursement, a refund."""
    c = cast
    for role, who in [
        (Role.TREASURER, c.treasurer),
        (Role.FUNDER, c.foundation),
        (Role.FUNDER, c.city),
        (Role.NGO, c.ngo),
        (Role.RELAYER, c.relayer),
    ]:
        system.grant(c.admin, role, who.address)
    token = system.token.address
    for funder, amount in ((c.foundation, 50_000 * EUR), (c.city, 20_000 * EUR)):
        system.mint(c.treasurer, funder.address, amount, _h(f"bank receipt {funder.address}"))
        system.approve(funder, system.funds.address, amount)

    food = system.funds.create_program(c.ngo, token, _h("Lebensmittelhilfe Nord")).event("ProgramCreated")
    program = food.args["programId"]
    now = system.chain.now()
    lot_a = system.funds.deposit(c.foundation, token, 30_000 * EUR, earmark=program, expiry=now + 30 * DAY)
    lot_b = system.funds.deposit(c.city, token, 15_000 * EUR)
    lot_a_id = lot_a.event("LotDeposited").args["lotId"]
    lot_b_id = lot_b.event("LotDeposited").args["lotId"]
    system.funds.allocate(c.foundation, lot_a_id, program, 12_000 * EUR)
    # Consent: the city lets the operator allocate its lot, the foundation names its tranche checker.
    system.funds.set_lot_allocator(c.city, lot_b_id, c.admin.address)
    system.funds.allocate(c.admin, lot_b_id, program, 10_000 * EUR)
    system.funds.set_program_approver(c.foundation, program, c.approver.address)
    tranche = system.funds.request_tranche(c.ngo, program, 15_000 * EUR, _h("milestone 1: 300 households"))
    system.funds.approve_tranche(c.approver, tranche.event("TrancheRequested").args["trancheId"])
    households = [Account.create().address for _ in range(40)]
    system.funds.disburse(c.ngo, program, [(h, 350 * EUR) for h in households], _h("November payments"))
    system.chain.advance_time(31 * DAY)
    system.funds.refund(c.admin, lot_a_id)


def play_all(system: Allmende, cast: DemoCast) -> None:
    """Every demo scenario: the fund ledger's month, a claim program, a participatory budget round."""
    play_demo(system, cast)
    program_id = system.funds.counts()[1]  # the program play_demo created
    play_claim_program(system, cast, program_id)
    play_qv_round(system, cast, [program_id])


def summary(system: Allmende, console: Console) -> bool:
    """Print where the money is and whether the events rebuild the state; True when they do."""
    audit = audit_funds(system)
    on_chain, payments = audit.on_chain, audit.payments

    contracts = Table(title=f"Allmende on chain {system.chain.chain_id}")
    contracts.add_column("contract")
    contracts.add_column("address")
    contracts.add_column("block", justify="right")
    for name, d in system.book.contracts.items():
        contracts.add_row(name, d.address, str(d.deploy_block))
    console.print(contracts)

    lots = Table(title="Lots (funders' deposits)")
    for col in ("lot", "funder", "deposited €", "unallocated €", "earmark", "refunded"):
        lots.add_column(col)
    for lot_id, lot in on_chain.lots.items():
        lots.add_row(
            str(lot_id),
            lot.funder[:10] + "…",
            f"{lot.amount / EUR:,.2f}",
            f"{lot.unallocated / EUR:,.2f}",
            str(lot.earmark or "-"),
            "yes" if lot.refunded else "no",
        )
    console.print(lots)

    programs = Table(title="Programs")
    for col in ("program", "allocated €", "released €", "disbursed €"):
        programs.add_column(col)
    for pid, p in on_chain.programs.items():
        programs.add_row(
            str(pid), f"{p.allocated / EUR:,.2f}", f"{p.released / EUR:,.2f}", f"{p.disbursed / EUR:,.2f}"
        )
    console.print(programs)

    by_lot: dict[int, int] = {}
    for payment in payments:
        for src in payment.sources:
            by_lot[src.lot_id] = by_lot.get(src.lot_id, 0) + src.amount
    console.print(
        f"{len(payments)} payments to pseudonymous accounts, traced to lots: "
        + ", ".join(f"lot {k}: {v / EUR:,.2f} €" for k, v in sorted(by_lot.items()))
    )
    ok = audit.matches
    console.print(
        f"audit: {audit.events} events rebuild the fund ledger's state: "
        + ("[green]matches the contract[/green]" if ok else "[red]MISMATCH[/red]")
    )
    return ok


def run_devnet(data_dir: Path, console: Console | None = None) -> bool:
    """Open (or create) the durable embedded chain, deploy, play the demo once, print the summary."""
    from ledger.embedded import EmbeddedChain

    console = console or Console()
    with EmbeddedChain.open(data_dir / "chain") as chain:
        cast = DemoCast.from_chain(chain)
        system = Allmende.deploy(chain, cast.admin, data_dir / BOOK_FILE)
        if system.funds.counts()[0] == 0:
            console.print("playing the demo scenarios …")
            play_all(system, cast)
        else:
            console.print(f"resumed the chain in {data_dir} at block {chain.web3.eth.block_number}")
        funds_ok = summary(system, console)
        return qv_summary(system, console) and funds_ok
