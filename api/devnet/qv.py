"""The devnet's participatory budget: clients decide by quadratic voting, the money follows the vote.

`play_qv_round` deposits an unearmarked lot, opens a round over it, lets NGOs and one client propose,
has ten pseudonymous clients vote through the relayer (they hold keys but never gas), moves the
chain's clock past the vote, finalises, and checks the round with the independent verifier.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from eth_account import Account
from rich.console import Console
from rich.table import Table

from governance.errors import GovernanceError
from governance.merkle import StandardMerkleTree
from governance.pabulib import export_round
from governance.qv import finalisation_order
from governance.qv_verify import AuditReport, verify_rounds
from ledger.participatory_budget import ProposalStatus, RoundParams
from ledger.roles import Role
from ledger.system import Allmende

if TYPE_CHECKING:
    from api.devnet.cast import DemoCast

EUR = 1_000_000
DAY = 86_400
CLIENTS = 10
CREDITS = 100
PROJECTS = (
    ("Spielplatz im Nordpark erneuern", 4_000),
    ("Warme Mahlzeiten im Winter", 3_500),
    ("Beratungsstunden in der Bibliothek", 1_500),
    ("Lastenrad für die Tafel", 2_500),
    ("Sprachcafé für Neuankommende", 1_200),
)
CLIENT_PROJECT = ("Bänke und Schatten am Marktplatz", 2_000)


def _h(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()


def play_qv_round(
    system: Allmende, cast: DemoCast, program_ids: Sequence[int], pb_path: Path | None = None
) -> None:
    """Run one participatory budget round of 10,000 € on the devnet (the chain's clock moves 3 weeks).

    Proposals go to `program_ids` in turn. Raises GovernanceError if the verifier disagrees with the
    chain. With `pb_path`, the finished round is also written there as a pabulib .pb file.
    """
    if not program_ids:
        raise ValueError("the round needs at least one program to fund")
    c = cast
    for role, who in [
        (Role.TREASURER, c.treasurer),
        (Role.FUNDER, c.city),
        (Role.NGO, c.ngo),
        (Role.RELAYER, c.relayer),
    ]:
        system.grant(c.admin, role, who.address)
    token = system.token.address
    system.mint(c.treasurer, c.city.address, 12_000 * EUR, _h("Bürgerhaushalt: Überweisung der Stadt"))
    system.approve(c.city, system.funds.address, 12_000 * EUR)
    lot = system.funds.deposit(c.city, token, 12_000 * EUR).event("LotDeposited").args["lotId"]
    system.funds.set_lot_allocator(c.city, lot, c.ngo.address)  # the city consents to the NGO's round

    clients = [Account.create() for _ in range(CLIENTS)]  # pseudonymous keys the gateway holds
    tree = StandardMerkleTree.of([[client.address] for client in clients], ["address"])
    now = system.chain.now()
    params = RoundParams(
        voting_start=now + 7 * DAY,
        voting_end=now + 21 * DAY,
        voter_root=tree.root,
        credits=CREDITS,
        min_cost=500 * EUR,
        max_cost=5_000 * EUR,
        min_votes=1,
        metadata_hash=_h("Bürgerhaushalt Nord 2025"),
    )
    created = system.budget.create_round(c.ngo, params, [(lot, 10_000 * EUR)])
    round_id = created.event("RoundCreated").args["roundId"]

    for i, (title, euros) in enumerate(PROJECTS):
        program = program_ids[i % len(program_ids)]
        system.budget.submit_proposal(c.ngo, round_id, program, euros * EUR, _h(title))
    title, euros = CLIENT_PROJECT
    system.budget.submit_proposal(
        clients[0], round_id, program_ids[-1], euros * EUR, _h(title), tree.proof(0), relayer=c.relayer
    )

    system.chain.advance_time(params.voting_start - system.chain.now())
    rng = random.Random(2025)
    count = len(PROJECTS) + 1
    for i, client in enumerate(clients):
        favourite, second = rng.sample(range(1, count + 1), 2)
        ballot = {favourite: 8, second: rng.randint(1, 6)}  # 64 + at most 36 credits
        system.budget.cast_ballot(client, round_id, ballot, tree.proof(i), relayer=c.relayer)
    changed = {1: 5, 3: 5, 6: 5}  # one client changes their mind: the new ballot replaces the old
    system.budget.cast_ballot(clients[1], round_id, changed, tree.proof(1), relayer=c.relayer)

    system.chain.advance_time(params.voting_end - system.chain.now())
    tallies = {pid: p.votes for pid, p in system.budget.proposals(round_id).items()}
    system.budget.finalise(c.relayer, round_id, finalisation_order(tallies))

    events = system.events()
    report = verify_rounds(events)
    if not report.ok:
        raise GovernanceError("the verifier disagrees with the chain: " + "; ".join(report.mismatches))
    if pb_path is not None:
        pb_path.write_text(export_round(events, round_id, country="Germany", unit="Nord"), encoding="utf-8")


def qv_summary(system: Allmende, console: Console, report: AuditReport | None = None) -> bool:
    """Print every round's proposals, votes and winners and whether the events verify; True when they do."""
    report = report or verify_rounds(system.events())
    for round_id, audit in sorted(report.rounds.items()):
        table = Table(title=f"Participatory budget, round {round_id}: {audit.model.budget / EUR:,.2f} €")
        for col in ("proposal", "program", "asks €", "votes", "selected"):
            table.add_column(col)
        on_chain = system.budget.proposals(round_id)
        for pid in finalisation_order(audit.tallies):
            p = on_chain[pid]
            table.add_row(
                str(pid),
                str(p.program_id),
                f"{p.amount / EUR:,.2f}",
                str(p.votes),
                "yes" if p.status is ProposalStatus.SELECTED else "",
            )
        console.print(table)
        console.print(
            f"round {round_id}: {audit.ballots_cast} ballots, {audit.allocated / EUR:,.2f} € to the winners' "
            f"programs, {audit.released / EUR:,.2f} € back to the fund"
        )
    console.print(
        f"verifier: {len(report.rounds)} rounds recomputed from events: "
        + ("[green]all agree[/green]" if report.ok else "[red]" + "; ".join(report.mismatches) + "[/red]")
    )
    return report.ok
