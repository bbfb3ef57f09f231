"""The address book: where the system is deployed on one chain, and from which artifacts."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Deployment:
    """One deployed contract."""

    address: str
    deploy_block: int
    transaction_hash: str
    artifact_sha256: str  # runtime bytecode of the artifact, immutables unset
    code_sha256: str  # runtime bytecode on chain, immutables set


@dataclass
class AddressBook:
    """Deployments of the Allmende contracts on one chain."""

    chain_id: int
    contracts: dict[str, Deployment] = field(default_factory=dict)

    def address(self, name: str) -> str:
        """Address of contract `name`."""
        return self.contracts[name].address

    def by_address(self) -> dict[str, str]:
        """Address -> contract name."""
        return {d.address: name for name, d in self.contracts.items()}

    def to_json(self) -> dict[str, Any]:
        """The JSON form written to disk."""
        return {
            "chainId": self.chain_id,
            "contracts": {name: asdict(d) for name, d in sorted(self.contracts.items())},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AddressBook:
        """Parse the JSON form."""
        return cls(
            chain_id=int(data["chainId"]),
            contracts={name: Deployment(**d) for name, d in data["contracts"].items()},
        )

    def save(self, path: Path) -> None:
        """Write atomically (a crash leaves the old or the new book, never half of one)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(json.dumps(self.to_json(), indent=2) + "\n", encoding="utf-8")
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> AddressBook:
        """Read a book written by `save`."""
        return cls.from_json(json.loads(path.read_text(encoding="utf-8")))
