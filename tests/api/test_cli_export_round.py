"""`allmende export-round` writes a finished round from the chain's events as a pabulib file."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from api.cli import app
from governance.pabulib import parse_pb
from ledger.embedded import EmbeddedChain
from ledger.roles import Role
from ledger.system import Allmende
from scripts.demo_qv import play_qv_round
from scripts.devnet import BOOK_FILE, DemoCast


def test_export_round_writes_the_pb_file(tmp_path: Path) -> None:
    with EmbeddedChain.open(tmp_path / "chain") as chain:
        cast = DemoCast.from_chain(chain)
        system = Allmende.deploy(chain, cast.admin, tmp_path / BOOK_FILE)
        system.grant(cast.admin, Role.NGO, cast.ngo.address)
        program = system.funds.create_program(cast.ngo, system.token.address).event("ProgramCreated")
        play_qv_round(system, cast, [program.args["programId"]])
        winners = {str(w) for w in system.budget.winners(1)}
    out = tmp_path / "round1.pb"
    runner = CliRunner()
    result = runner.invoke(app, ["export-round", "1", "--out", str(out), "--data-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    pb = parse_pb(out.read_text(encoding="utf-8"))
    assert {pid for pid, row in pb.projects.items() if row["selected"] == "1"} == winners
    missing = runner.invoke(app, ["export-round", "2", "--out", str(out), "--data-dir", str(tmp_path)])
    assert missing.exit_code == 1
    assert "no round 2" in missing.output
