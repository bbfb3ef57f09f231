"""What the chain says about a deployment: code, events and views, read once, then checked offline.

Events are read up to one block (`block_number`, whose hash the report names); views are read after
them, so a chain that moves on meanwhile can only add events the check did not see. The records are
plain data, so a check can be shown the same records with one thing altered.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ledger.address_book import AddressBook
from ledger.claims import ClaimProgramInfo
from ledger.events import Event
from ledger.fund_events import ConsentView, replay_consent
from ledger.fund_ledger import FundState
from ledger.roles import Role
from ledger.system import Allmende

Progress = Callable[[str], None]


@dataclass(frozen=True)
class ClaimRecords:
    """One claim program's views."""

    address: str
    info: ClaimProgramInfo
    balance: int  # its token balance: what it still holds
    roots: dict[int, bytes]  # root id -> root as the contract reports it
    claimed: dict[int, bool]  # index -> isClaimed, for every index a Claimed event names


@dataclass
class Records:
    """A deployment as the chain reports it up to `block_number`."""

    chain_id: int
    block_number: int
    block_hash: str
    book: AddressBook
    book_roles: dict[str, list[str]]  # the book's optional "roles": role name -> holders
    code: dict[str, bytes]  # address -> runtime code on chain
    events: list[Event]
    fund_state: FundState
    fund_ledger_balance: int
    total_supply: int
    balances: dict[str, int]  # balanceOf of every account a Transfer event names
    round_winners: dict[int, list[int]]
    claim_programs: dict[str, ClaimRecords] = field(default_factory=dict)
    claim_program_view: list[str] = field(default_factory=list)  # ClaimPrograms.programs()
    has_role: dict[tuple[str, str], bool] = field(default_factory=dict)  # (role name, account) -> view
    consent_views: dict[ConsentView, bool] = field(default_factory=dict)  # every pair the events name


def book_roles(path: Path) -> dict[str, list[str]]:
    """The role holders an address book names under `"roles"` (none when it names none)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    roles = data.get("roles", {})
    return {str(name): [str(a) for a in holders] for name, holders in roles.items()}


def collect(
    system: Allmende, roles: dict[str, list[str]] | None = None, progress: Progress | None = None
) -> Records:
    """Read everything the checks need from `system`'s chain."""
    step = progress or (lambda _: None)
    web3 = system.chain.web3
    step("reading the head")
    head = web3.eth.get_block("latest")
    block_number = int(head["number"])
    step(f"reading events up to block {block_number}")
    events = system.events(to_block=block_number)
    step("reading code")
    code = {d.address: bytes(web3.eth.get_code(d.address)) for d in system.book.contracts.values()}  # type: ignore[arg-type]
    created = [e.args["program"] for e in events if e.name == "ClaimProgramCreated"]
    for address in created:
        code[address] = bytes(web3.eth.get_code(address))
    step("reading the fund ledger's views")
    token = system.token.address
    fund_state = system.funds.read_state([token])
    holders = {
        a
        for e in events
        if e.name == "Transfer" and e.address == token
        for a in (e.args["from"], e.args["to"])
    }
    holders.discard("0x" + "00" * 20)
    step("reading balances")
    balances = system.balances(sorted(holders))
    step("reading consent")
    consent_views = system.funds.consent_views(replay_consent(events).expected_views())
    step("reading rounds")
    rounds = {int(e.args["roundId"]) for e in events if e.name == "RoundCreated"}
    winners = {rid: system.budget.winners(rid) for rid in sorted(rounds)}
    step("reading claim programs")
    claim_programs: dict[str, ClaimRecords] = {}
    for client in system.claims.programs():
        mine = [e for e in events if e.address == client.address]
        root_ids = [int(e.args["rootId"]) for e in mine if e.name == "ClaimRootAdded"]
        indices = [int(e.args["index"]) for e in mine if e.name == "Claimed"]
        claim_programs[client.address] = ClaimRecords(
            address=client.address,
            info=client.info(),
            balance=system.balance(client.address),
            roots={r: client.root(r) for r in root_ids},
            claimed={i: client.is_claimed(i) for i in indices},
        )
    step("reading roles")
    named = roles or {}
    accounts = {e.args["account"] for e in events if e.name in ("RoleGranted", "RoleRevoked")}
    accounts.update(a for holders in named.values() for a in holders)
    has_role = {(r.name, a): system.has_role(r, a) for r in Role for a in sorted(accounts)}
    return Records(
        chain_id=system.chain.chain_id,
        block_number=block_number,
        block_hash="0x" + bytes(head["hash"]).hex(),
        book=system.book,
        book_roles=named,
        code=code,
        events=events,
        fund_state=fund_state,
        fund_ledger_balance=system.balance(system.funds.address),
        total_supply=int(system.token.call("totalSupply")),
        balances=balances,
        round_winners=winners,
        claim_programs=claim_programs,
        claim_program_view=system.claims.addresses(),
        has_role=has_role,
        consent_views=consent_views,
    )
