"""The verification benchmark measures what it names, on a short chain (the full run holds 100,000 events)."""

from __future__ import annotations

import pytest

from scripts import bench, bench_verify

pytestmark = pytest.mark.slow


def test_verify_benchmark_reads_and_checks_a_long_chain_through_the_gateways_rpc() -> None:
    results = bench_verify.verify_speed(3_000)
    assert results["time.verify.chain_events"] >= 3_000
    # what the auditor read through /rpc: the chain built, and the gateway's own role grants on top
    assert (
        results["time.verify.chain_events"]
        <= results["time.verify.events"]
        <= results["time.verify.chain_events"] + 10
    )
    assert results["time.verify.events_per_s"] > 0
    assert results["time.verify.read_s"] > 0
    assert bench.verification in bench.SUITES
