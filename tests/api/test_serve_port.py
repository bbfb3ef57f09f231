"""`allmende serve` with its port taken says so at once, before opening the chain or seeding a demo."""

from __future__ import annotations

import socket
from pathlib import Path

from typer.testing import CliRunner

from api.cli import app


def test_serve_refuses_a_taken_port_before_opening_anything(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        data_dir = tmp_path / "data"
        result = CliRunner().invoke(
            app, ["serve", "--demo", "--port", str(port), "--data-dir", str(data_dir)]
        )
    assert result.exit_code == 1
    assert f"cannot listen on 127.0.0.1:{port}" in " ".join(result.output.split())
    assert "--port" in result.output
    assert not data_dir.exists()  # no chain opened, no demo seeded
