"""Static analysis gate: run Slither on the contracts and fail on any finding of medium or higher
impact that `contracts/slither-triage.json` does not explain.

Slither lives in a virtual environment of its own (`.venv-slither`, from
`scripts/slither/requirements.lock`), never in the project's: it brings solc-select, whose `solc`
downloads compilers. Slither compiles through crytic-compile's standard-JSON route with
`scripts/solc`, which answers like native solc and compiles with the pinned solc-js, and the
environment it runs in has no `.venv-slither/bin` on its PATH, so solc-select's `solc` is never
the one found.

A triage entry names a finding by its detector (`check`) and its `subject`: the first line of
Slither's description with source locations removed, so that edits elsewhere in a file (which move
line numbers) keep the triage valid, while a finding in another function or variable is new. An
entry covers every finding with that check and subject, and gives the `reason` it is not a defect.

    python -m scripts.slither_gate            # run Slither, then check its findings
    python -m scripts.slither_gate --json F   # check the findings in an existing Slither JSON file
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

PROJECT_ROOT: Final = Path(__file__).resolve().parent.parent
SLITHER: Final = PROJECT_ROOT / ".venv-slither" / "bin" / "slither"
SOLC: Final = PROJECT_ROOT / "scripts" / "solc"
TRIAGE_FILE: Final = PROJECT_ROOT / "contracts" / "slither-triage.json"

GATED_IMPACTS: Final = frozenset({"Medium", "High"})
SLITHER_TIMEOUT_S: Final = 600

# The compiler settings of `allmende compile` (ledger/compiler.py), in solc's command-line form.
SLITHER_ARGS: Final = (
    "contracts",
    "--compile-force-framework",
    "solc",
    "--solc-standard-json",
    "--solc-remaps",
    "@openzeppelin/=node_modules/@openzeppelin/",
    "--solc-args=--optimize --optimize-runs 1000 --evm-version cancun",
    "--filter-paths",
    "node_modules",
    "--exclude-dependencies",
)

_LOCATION = re.compile(r"\s*\([^()\s]+\.sol#[\d-]+\)|#[\d-]+")


class GateError(RuntimeError):
    """Slither could not run, or its output or the triage file is malformed."""


@dataclass(frozen=True)
class Finding:
    """One Slither result, keyed by what it is about rather than by line numbers."""

    check: str
    impact: str
    subject: str
    description: str

    @property
    def gated(self) -> bool:
        """Whether the finding's impact is high enough to fail the gate."""
        return self.impact in GATED_IMPACTS


@dataclass(frozen=True)
class Verdict:
    """The gate's outcome: findings nobody has triaged, and triage entries nothing matches any more."""

    untriaged: list[Finding]
    stale: list[tuple[str, str]]
    triaged: int

    @property
    def passed(self) -> bool:
        """Whether every medium or higher finding is triaged."""
        return not self.untriaged


def subject_of(description: str) -> str:
    """The first line of a Slither description without its source locations."""
    first = description.strip().splitlines()[0] if description.strip() else ""
    return _LOCATION.sub("", first).strip()


def findings_from(slither_output: dict[str, Any]) -> list[Finding]:
    """The detector results of a Slither `--json` output; raises GateError when Slither failed."""
    if not slither_output.get("success", False):
        raise GateError(f"Slither failed: {slither_output.get('error')}")
    results = slither_output.get("results") or {}
    return [
        Finding(
            check=str(r["check"]),
            impact=str(r["impact"]),
            subject=subject_of(str(r["description"])),
            description=str(r["description"]).strip(),
        )
        for r in results.get("detectors", [])
    ]


def load_triage(path: Path = TRIAGE_FILE) -> dict[tuple[str, str], str]:
    """(check, subject) -> reason, from the committed triage file; every entry needs a reason."""
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))["findings"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise GateError(f"cannot read the triage file {path}: {exc}") from exc
    triage: dict[tuple[str, str], str] = {}
    for entry in entries:
        check, subject, reason = entry.get("check"), entry.get("subject"), entry.get("reason")
        if not (
            isinstance(check, str) and isinstance(subject, str) and isinstance(reason, str) and reason.strip()
        ):
            raise GateError(f"triage entry without check, subject or reason: {entry}")
        if (check, subject) in triage:
            raise GateError(f"triage entry listed twice: {check}: {subject}")
        triage[(check, subject)] = reason
    return triage


def judge(findings: Iterable[Finding], triage: dict[tuple[str, str], str]) -> Verdict:
    """Which gated findings have no triage entry, and which entries match no finding."""
    gated = [f for f in findings if f.gated]
    untriaged = [f for f in gated if (f.check, f.subject) not in triage]
    seen = {(f.check, f.subject) for f in gated}
    stale = sorted(key for key in triage if key not in seen)
    return Verdict(untriaged=untriaged, stale=stale, triaged=len(gated) - len(untriaged))


def _slither_env() -> dict[str, str]:
    """This environment with `.venv-slither/bin` (and so solc-select's `solc`) off the PATH."""
    hidden = str(SLITHER.parent)
    path = os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep) if p and p != hidden)
    env = dict(os.environ, PATH=path)
    env.pop("VIRTUAL_ENV", None)
    return env


def run_slither(root: Path = PROJECT_ROOT) -> dict[str, Any]:
    """Slither's JSON output for the contracts under `root`."""
    if not SLITHER.exists():
        raise GateError(f"{SLITHER} is missing: run `make slither`, which installs it")
    with tempfile.TemporaryDirectory(prefix="allmende-slither-") as tmp:
        out = Path(tmp) / "slither.json"
        command = [str(SLITHER), *SLITHER_ARGS, "--solc", str(SOLC), "--json", str(out)]
        proc = subprocess.run(
            command, cwd=root, env=_slither_env(), capture_output=True, text=True, timeout=SLITHER_TIMEOUT_S
        )
        if not out.exists():  # Slither exits 255 whenever it reports anything: judge by its JSON
            raise GateError(f"Slither wrote no results (exit {proc.returncode}):\n{proc.stderr[-4000:]}")
        result: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
        return result


def report(verdict: Verdict, findings: Sequence[Finding]) -> str:
    """A human-readable summary of the verdict."""
    lines = [
        f"slither: {len(findings)} findings, {verdict.triaged} of medium or higher impact triaged "
        f"in {TRIAGE_FILE.relative_to(PROJECT_ROOT)}, {len(verdict.untriaged)} untriaged"
    ]
    for f in verdict.untriaged:
        lines.append(f"\nUNTRIAGED {f.impact} {f.check}: {f.subject}\n{f.description}")
    for check, subject in verdict.stale:
        lines.append(f"note: triage entry matches no finding any more: {check}: {subject}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--json", type=Path, help="check this Slither JSON output instead of running Slither")
    parser.add_argument("--triage", type=Path, default=TRIAGE_FILE, help="the triage file")
    args = parser.parse_args(argv)
    try:
        output = json.loads(args.json.read_text(encoding="utf-8")) if args.json else run_slither()
        findings = findings_from(output)
        verdict = judge(findings, load_triage(args.triage))
    except (GateError, OSError, ValueError, subprocess.TimeoutExpired) as exc:
        print(f"slither gate: {exc}", file=sys.stderr)
        return 2
    print(report(verdict, findings), file=sys.stdout if verdict.passed else sys.stderr)
    return 0 if verdict.passed else 1


if __name__ == "__main__":
    sys.exit(main())
