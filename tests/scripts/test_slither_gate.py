"""The Slither gate: which findings fail `make slither`, and the committed triage file's shape.

Slither itself runs in `make slither` (its own virtual environment); these tests feed the gate
Slither-shaped JSON, so they run anywhere and fast.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from scripts.slither_gate import (
    TRIAGE_FILE,
    GateError,
    findings_from,
    judge,
    load_triage,
    main,
    subject_of,
)

UNINITIALIZED = (
    "FundLedger.disburse(uint48,address[],uint128[],bytes32).sum (contracts/FundLedger.sol#221) "
    "is a local variable never initialized\n"
)
STRICT_EQUALITY = (
    "EuroToken.drain(address) (contracts/EuroToken.sol#55-57) uses a dangerous strict equality:\n"
    "\t- address(this).balance == 1000000000000000000 (contracts/EuroToken.sol#56)\n"
)
TIMESTAMP = "FundLedger.refund(uint48) (contracts/FundLedger.sol#140-160) uses timestamp for comparisons\n"


def slither_output(*results: tuple[str, str, str]) -> dict[str, Any]:
    detectors = [{"check": c, "impact": i, "description": d, "elements": []} for c, i, d in results]
    return {"success": True, "error": None, "results": {"detectors": detectors}}


def triage_file(tmp_path: Path, *entries: dict[str, str]) -> Path:
    path = tmp_path / "triage.json"
    path.write_text(json.dumps({"findings": list(entries)}), encoding="utf-8")
    return path


SUM_ENTRY = {
    "check": "uninitialized-local",
    "subject": (
        "FundLedger.disburse(uint48,address[],uint128[],bytes32).sum is a local variable never initialized"
    ),
    "reason": "a sum starting at zero",
}


def test_subject_drops_source_locations_so_moved_lines_keep_the_triage() -> None:
    moved = UNINITIALIZED.replace("#221", "#240")
    assert subject_of(UNINITIALIZED) == subject_of(moved) == SUM_ENTRY["subject"]


def test_untriaged_medium_finding_fails_the_gate(tmp_path: Path) -> None:
    findings = findings_from(
        slither_output(
            ("uninitialized-local", "Medium", UNINITIALIZED),
            ("incorrect-equality", "Medium", STRICT_EQUALITY),
        )
    )
    verdict = judge(findings, load_triage(triage_file(tmp_path, SUM_ENTRY)))
    assert not verdict.passed
    assert [(f.check, f.subject) for f in verdict.untriaged] == [
        ("incorrect-equality", "EuroToken.drain(address) uses a dangerous strict equality:")
    ]
    assert verdict.triaged == 1


def test_triaged_and_low_findings_pass_the_gate(tmp_path: Path) -> None:
    findings = findings_from(
        slither_output(("uninitialized-local", "Medium", UNINITIALIZED), ("timestamp", "Low", TIMESTAMP))
    )
    verdict = judge(findings, load_triage(triage_file(tmp_path, SUM_ENTRY)))
    assert verdict.passed
    assert verdict.stale == []


def test_triage_entry_matching_nothing_is_reported_stale(tmp_path: Path) -> None:
    verdict = judge([], load_triage(triage_file(tmp_path, SUM_ENTRY)))
    assert verdict.passed
    assert verdict.stale == [(SUM_ENTRY["check"], SUM_ENTRY["subject"])]


def test_triage_of_another_check_does_not_cover_a_finding(tmp_path: Path) -> None:
    entry = dict(SUM_ENTRY, check="unused-return")
    findings = findings_from(slither_output(("uninitialized-local", "Medium", UNINITIALIZED)))
    assert not judge(findings, load_triage(triage_file(tmp_path, entry))).passed


@pytest.mark.parametrize("reason", ["", "   ", None])
def test_triage_entry_without_a_reason_is_refused(tmp_path: Path, reason: str | None) -> None:
    entry: dict[str, Any] = dict(SUM_ENTRY, reason=reason)
    with pytest.raises(GateError, match="reason"):
        load_triage(triage_file(tmp_path, entry))


def test_failed_slither_run_is_an_error() -> None:
    with pytest.raises(GateError, match="Slither failed"):
        findings_from({"success": False, "error": "Invalid solc compilation", "results": {}})


def test_main_exits_1_on_an_untriaged_finding_and_0_once_triaged(tmp_path: Path) -> None:
    out = tmp_path / "slither.json"
    out.write_text(
        json.dumps(slither_output(("uninitialized-local", "Medium", UNINITIALIZED))), encoding="utf-8"
    )
    assert main(["--json", str(out), "--triage", str(triage_file(tmp_path))]) == 1
    assert main(["--json", str(out), "--triage", str(triage_file(tmp_path, SUM_ENTRY))]) == 0


def test_committed_triage_file_gives_a_reason_for_every_entry() -> None:
    triage = load_triage(TRIAGE_FILE)
    assert triage
    assert all(len(reason) > 40 for reason in triage.values())
