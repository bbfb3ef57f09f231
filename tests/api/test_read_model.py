"""The read model: indexed tables that equal the chain's events, through restarts, bounded steps and
reorganisations, and reads that go through an index whatever the chain's length."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import event, select

from api import read_model
from api.db import Database, migrate
from api.models import IndexedBlock
from api.read_model import ReadModel, chain_view
from ledger.embedded import EmbeddedChain
from ledger.system import Allmende
from tests.conftest import EUR, Actors

RECIPIENTS = ["0x" + f"{i:040x}" for i in range(0xB0, 0xB8)]


@pytest.fixture
def db(database_url: str) -> Database:
    """The gateway database, on SQLite and on PostgreSQL."""
    database = Database(database_url)
    migrate(database.engine)
    return database


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Database:
    database = Database(f"sqlite:///{tmp_path / 'read.db'}")
    migrate(database.engine)
    return database


def _pay(system: Allmende, a: Actors, payments: int) -> int:
    """A funded program paying `payments` single disbursements (one block each); its id."""
    funds = system.funds
    token = system.token.address
    lot = funds.deposit(a.funder, token, 1_000 * EUR).event("LotDeposited").args["lotId"]
    pid = funds.create_program(a.ngo, token).event("ProgramCreated").args["programId"]
    funds.allocate(a.funder, lot, pid, 500 * EUR)
    funds.set_program_approver(a.funder, pid, a.approver.address)  # the funder's checker
    tranche = funds.request_tranche(a.ngo, pid, 500 * EUR).event("TrancheRequested").args["trancheId"]
    funds.approve_tranche(a.approver, tranche)
    for i in range(payments):
        funds.disburse(a.ngo, pid, [(RECIPIENTS[i % len(RECIPIENTS)], EUR)])
    return int(pid)


def _first_block(system: Allmende) -> int:
    return min(d.deploy_block for d in system.book.contracts.values())


def test_the_tables_hold_exactly_the_chains_events_and_a_rebuild_gives_the_same(
    system: Allmende, actors: Actors, db: Database
) -> None:
    _pay(system, actors, 5)
    model = ReadModel(db, chain_view(system))
    model.catch_up()
    names = {e.name for e in system.events()}
    assert model.named(names) == system.events()
    before = model.named(names)
    model.rebuild()
    assert model.named(names) == before


def test_catching_up_goes_in_bounded_steps_and_resumes_where_a_new_model_left_off(
    system: Allmende, actors: Actors, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(read_model, "STEP_BLOCKS", 3)
    seen: list[tuple[int, int]] = []
    view = chain_view(system)
    counting = read_model.ChainView(
        view.head, view.block_hash, lambda s, e: seen.append((s, e)) or view.events(s, e), view.first_block
    )
    pid = _pay(system, actors, 4)
    ReadModel(db, counting).catch_up()
    assert seen and all(end - start < 3 for start, end in seen)
    assert seen[0][0] == _first_block(system)
    seen.clear()
    system.funds.disburse(actors.ngo, pid, [(RECIPIENTS[0], EUR)])
    again = ReadModel(db, counting)  # as after a restart: it goes on from the stored block
    again.catch_up()
    head = system.chain.web3.eth.block_number
    assert seen == [(head, head)]
    assert len(again.for_program(pid, ["Disbursed"])) == 5


def test_a_reorganisation_drops_what_was_indexed_past_the_fork(
    system: Allmende, chain: EmbeddedChain, actors: Actors, db: Database
) -> None:
    pid = _pay(system, actors, 1)
    model = ReadModel(db, chain_view(system))
    model.catch_up()
    fork = chain.snapshot()
    system.funds.disburse(actors.ngo, pid, [(RECIPIENTS[1], 2 * EUR)])
    system.funds.disburse(actors.ngo, pid, [(RECIPIENTS[1], 3 * EUR)])
    model.catch_up()
    assert [e.args["amount"] for e in model.for_accounts([RECIPIENTS[1]], ["Disbursed"])] == [
        2 * EUR,
        3 * EUR,
    ]

    chain.revert(fork)  # the other branch: different blocks at the same heights, and one more
    system.sender.forget_nonces()
    for amount in (5, 6, 7):
        system.funds.disburse(actors.ngo, pid, [(RECIPIENTS[2], amount * EUR)])
    model.catch_up()
    assert model.for_accounts([RECIPIENTS[1]], ["Disbursed"]) == []
    assert len(model.for_accounts([RECIPIENTS[2]], ["Disbursed"])) == 3
    names = {e.name for e in system.events()}
    assert model.named(names) == system.events()
    with db.session() as s:
        newest = s.scalar(select(IndexedBlock).order_by(IndexedBlock.number.desc()).limit(1))
    assert newest is not None and newest.number == system.chain.web3.eth.block_number


def test_event_arguments_come_back_equal_bytes_tuples_and_big_numbers_included(
    system: Allmende, actors: Actors, db: Database
) -> None:
    system.approve(actors.funder, system.funds.address, 2**256 - 1)  # an Approval with a 256-bit value
    _pay(system, actors, 1)
    model = ReadModel(db, chain_view(system))
    names = {e.name for e in system.events()}
    assert model.named(names) == system.events()
    assert any(isinstance(v, bytes) for e in system.events() for v in e.args.values())


@pytest.mark.parametrize(
    "read",
    [
        lambda m: m.for_accounts([RECIPIENTS[0]], ["Disbursed", "Claimed"]),
        lambda m: m.for_round(1, ["BallotCast"]),
        lambda m: m.for_program(1, ["Disbursed"]),
        lambda m: m.for_transaction("0x" + "00" * 32),
    ],
    ids=["account", "round", "program", "transaction"],
)
def test_every_targeted_read_searches_an_index_instead_of_scanning(
    system: Allmende, actors: Actors, sqlite_db: Database, read: object
) -> None:
    db = sqlite_db
    _pay(system, actors, 2)
    model = ReadModel(db, chain_view(system))
    model.catch_up()
    statements: list[tuple[str, object]] = []

    def remember(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith("SELECT") and "chain_events" in statement:
            statements.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", remember)
    try:
        read(model)  # type: ignore[operator]
    finally:
        event.remove(db.engine, "before_cursor_execute", remember)
    assert statements
    with db.engine.connect() as conn:
        for statement, parameters in statements:
            plan = " ".join(
                str(row[-1]) for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
            )
            assert "USING INDEX" in plan or "USING COVERING INDEX" in plan, plan
            assert "SCAN chain_events" not in plan, plan
