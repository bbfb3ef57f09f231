"""The devnet's participatory budget round runs end to end, verifies and exports as open data."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from typer.testing import CliRunner

from api.cli import app
from api.devnet import BOOK_FILE, DemoCast, play_demo, summary
from api.devnet.qv import play_qv_round, qv_summary
from governance.pabulib import election_of, parse_pb
from governance.qv_verify import verify_rounds
from ledger.embedded import EmbeddedChain
from ledger.system import Allmende

EUR = 1_000_000


def test_demo_round_moves_the_money_verifies_and_exports(tmp_path: Path) -> None:
    with EmbeddedChain.open(tmp_path / "chain") as chain:  # durable, as the devnet runs it
        cast = DemoCast.from_chain(chain)
        system = Allmende.deploy(chain, cast.admin, tmp_path / BOOK_FILE)
        play_demo(system, cast)  # the fund ledger's month first, as the devnet plays it
        second = system.funds.create_program(cast.ngo, system.token.address).event("ProgramCreated")
        programs = [1, second.args["programId"]]
        before = {p: system.funds.program(p).allocated for p in programs}
        pb_path = tmp_path / "round.pb"

        play_qv_round(system, cast, programs, pb_path)

        rnd = system.budget.round(1)
        assert rnd.settled and rnd.awarded > 0
        moved = sum(system.funds.program(p).allocated - before[p] for p in programs)
        assert moved == rnd.awarded <= 10_000 * EUR
        audit = verify_rounds(system.events()).rounds[1]
        assert audit.ballots_cast == 11  # ten clients, one of them twice
        winners = system.budget.winners(1)
        assert list(audit.winners) == winners
        election = election_of(parse_pb(pb_path.read_text(encoding="utf-8")), decimals=6)
        assert election.budget == 10_000 * EUR and len(election.points) == 10
        console = Console(record=True, width=120)
        assert summary(system, console)  # the fund ledger still rebuilds from its events
        assert qv_summary(system, console)
        assert "all agree" in console.export_text()

    # `allmende export-round` reads the stored chain and writes the same round
    out = tmp_path / "round1.pb"
    runner = CliRunner()
    result = runner.invoke(app, ["export-round", "1", "--out", str(out), "--data-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    pb = parse_pb(out.read_text(encoding="utf-8"))
    assert [int(pid) for pid, row in pb.projects.items() if row["selected"] == "1"] == sorted(winners)
    missing = runner.invoke(app, ["export-round", "2", "--out", str(out), "--data-dir", str(tmp_path)])
    assert missing.exit_code == 1
    assert "no round 2" in missing.output
