"""The claim benchmark measures what it names, on a small tree (the full run takes half a minute)."""

from __future__ import annotations

import pytest

from scripts import bench_claims


def test_claim_benchmark_reports_gas_growth(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bench_claims, "SIZES", (1_000,))
    monkeypatch.setattr(bench_claims, "DERIVE_KEYS", 100)
    rows: list[dict[str, float]] = []
    results = bench_claims.claims_gas(rows)
    assert set(results) >= {
        "gas.claim.leaves1000",
        "gas.claim.leaves1000.warm",
        "gas.claim.leaves1000.nocap",
        "gas.claim.return_unclaimed",
        "time.vouchers.derive_10k_s",  # (of 100 keys here)
    }
    first, warm = results["gas.claim.leaves1000"], results["gas.claim.leaves1000.warm"]
    assert abs(first - warm - 17_100) < 100  # only the bitmap word's first write differs
    assert warm < results["gas.claim.leaves1000.nocap"] - 17_100  # the cap saves proof levels
    (row,) = rows
    assert (row["leaves"], row["depth"], row["cap_depth"], row["proof"]) == (1_000, 10, 3, 7)
    page = bench_claims.growth_report(rows, 1.0)
    assert "| 1,000 | 10 | 3 | 7 |" in page
