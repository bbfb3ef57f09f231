"""The scale benchmark runs end to end at a tiny size and writes its two files (no timing asserted)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ledger.anvil import anvil_binary
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


@pytest.mark.skipif(not anvil_binary().exists(), reason="node_modules/@foundry-rs/anvil is missing (npm ci)")
def test_scale_benchmark_on_anvil_pays_every_client_n_times_into_its_own_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bench_scale, "SAMPLES", 5)
    tiny = ["--clients", "30", "--baseline", "10", "--payments-per-client", "2", "--out", str(tmp_path)]
    bench_scale.main(["--node", "anvil", *tiny])
    assert not (tmp_path / "scale.json").exists()  # the embedded chain's recorded results stay
    results = json.loads((tmp_path / "scale-anvil.json").read_text())
    assert results["node"] == "anvil" and results["payments_per_client"] == 2
    assert results["scale"]["events.disbursed"] == 60 and results["baseline"]["events.disbursed"] == 20
    # each payment is a Disbursed and a Transfer event, plus those of the setup
    assert results["scale"]["verify.events"] - results["baseline"]["verify.events"] == 2 * (60 - 20)
    assert results["scale"]["node.rss_mib"] > 0
    page = (tmp_path / "benchmarks-scale-anvil.md").read_text()
    assert page.startswith("# Benchmarks at city scale on anvil")
    assert "- chain: anvil" in page and "60 `Disbursed` events" in page
    assert "| `events.disbursed` | 20 | 60 |" in page
