"""Load the committed contract artifacts (ABI and bytecode), so the Python side runs without Node."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from ledger.exceptions import ArtifactError

ARTIFACTS_DIR = Path(__file__).resolve().parent / "artifacts"


@dataclass(frozen=True)
class Artifact:
    """A compiled contract as committed under `ledger/artifacts/`."""

    name: str
    abi: list[dict[str, Any]]
    bytecode: str
    deployed_bytecode: str
    userdoc: dict[str, Any]

    @property
    def code_hash(self) -> str:
        """sha256 of the runtime bytecode: what the address book records per deployment."""
        return hashlib.sha256(bytes.fromhex(self.deployed_bytecode.removeprefix("0x"))).hexdigest()


@cache
def load_artifact(name: str) -> Artifact:
    """The artifact of contract `name`."""
    path = ARTIFACTS_DIR / f"{name}.json"
    if not path.is_file():
        raise ArtifactError(f"no artifact for {name!r}; run `allmende compile`")
    data = json.loads(path.read_text(encoding="utf-8"))
    return Artifact(
        name=data["contractName"],
        abi=data["abi"],
        bytecode=data["bytecode"],
        deployed_bytecode=data["deployedBytecode"],
        userdoc=data.get("userdoc", {}),
    )


def artifact_names() -> list[str]:
    """Names of every committed contract artifact."""
    return sorted(p.stem for p in ARTIFACTS_DIR.glob("*.json") if p.stem != "build-info")
