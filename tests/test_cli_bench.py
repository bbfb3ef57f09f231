"""`allmende bench` outside a source checkout says where the benchmarks run instead of failing."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import app


def test_bench_outside_a_checkout_explains_and_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["bench"])
    assert result.exit_code == 2
    assert "make bench" in " ".join(result.output.split())
