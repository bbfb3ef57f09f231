"""The scale benchmark runs end to end at a tiny size and writes its two files (no timing asserted)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scripts import bench_scale

pytestmark = pytest.mark.slow


def test_scale_benchmark_writes_report_and_results(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bench_scale, "SAMPLES", 5)
    bench_scale.main(["--clients", "12", "--baseline", "4", "--out", str(tmp_path)])
    results = json.loads((tmp_path / "scale.json").read_text())
    assert results["baseline"]["clients"] == 4 and results["scale"]["clients"] == 12
    assert results["scale"]["verify.events"] >= 12  # one payment event per client at least
    assert set(results["ratios"]) == {
        "client_me.ratio",
        "round_view.ratio",
        "lot_trace.ratio",
        "public_rounds.ratio",
        "public_round.ratio",
    }
    page = (tmp_path / "benchmarks-scale.md").read_text()
    assert "load average" in page and "| `start_s` |" in page
