"""The wheel an operator installs holds everything the gateway reads at run time: every module of
every subpackage, the compiled contract artifacts, the page templates, styles and message catalogs,
and the database migrations. Built from the tracked files only, the way a release is built."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("ledger", "governance", "api")


def _tracked() -> list[str]:
    if not (ROOT / ".git").exists() or shutil.which("git") is None:
        pytest.skip("needs a git checkout to know which files are part of the release")
    out = subprocess.run(
        ["git", "ls-files", "pyproject.toml", "README.md", *PACKAGES, "scripts"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return [line for line in out.splitlines() if line]


@pytest.mark.slow
def test_the_wheel_holds_every_tracked_file_the_packages_need(tmp_path: Path) -> None:
    source = tmp_path / "src"
    tracked = _tracked()
    for name in tracked:
        target = source / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target)
    pip_wheel = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation"]
    built = subprocess.run(
        [*pip_wheel, "--disable-pip-version-check", "--wheel-dir", str(tmp_path / "dist"), str(source)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = (tmp_path / "dist").glob("allmende-*.whl")
    inside = set(zipfile.ZipFile(wheel).namelist())
    needed = {name for name in tracked if name.split("/", 1)[0] in PACKAGES}
    missing = sorted(needed - inside)
    assert not missing, f"add these to [tool.setuptools.package-data] in pyproject.toml: {missing}"
    assert "api/pages/templates/sign_in.html" in inside and "api/migrations/env.py" in inside
