"""A throw-away anvil node (Foundry's Rust EVM node) on a loopback port: the second, independent
EVM implementation the JSON-RPC tests run on, next to hardhat.

The binary comes from the npm package ``@foundry-rs/anvil`` (pinned in ``package-lock.json``),
which installs it as ``node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil``. It is started
directly, so the PID held here is the server's own. Unlike hardhat, anvil answers
`eth_sendRawTransaction` of a failing transaction with its hash and mines it with status 0, like
Besu and geth.

    with AnvilNode() as node:
        chain = node.chain()
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Final

from ledger._local_node import ACCOUNT_COUNT, DEFAULT_MNEMONIC, PROJECT_ROOT, LocalNode, LocalNodeError

ANVIL_BINARY: Final = Path("node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil")


class AnvilNodeError(LocalNodeError):
    """The anvil node could not be started (or is not installed)."""


def anvil_binary(project_root: Path = PROJECT_ROOT) -> Path:
    """Where `npm ci` puts the anvil executable (it may be missing)."""
    return project_root / ANVIL_BINARY


class AnvilNode(LocalNode):
    """An anvil node in a child process; use it as a context manager or call start()/stop().

    By default anvil mines each transaction as it arrives. With `block_time` (seconds, fractions
    allowed) it mines a block on that timer instead, whether or not transactions wait, as a QBFT
    network does with its block period: transactions then sit in the pool until the next block.
    With `free_gas` every block's base fee is 0 and zero-fee transactions are accepted, as on a
    Besu network with `zeroBaseFee` and `--min-gas-price=0`.
    """

    kind: ClassVar[str] = "anvil"
    error: ClassVar[type[LocalNodeError]] = AnvilNodeError

    def __init__(self, *, block_time: float | None = None, free_gas: bool = False, **kwargs: Any) -> None:
        if block_time is not None and block_time <= 0:
            raise ValueError("block_time must be positive")
        super().__init__(**kwargs)
        self.block_time = block_time
        self.free_gas = free_gas

    def _command(self, workdir: Path, port: int) -> list[str]:
        binary = anvil_binary(self.project_root)
        if not binary.exists():
            raise AnvilNodeError(f"{binary} is missing; run `npm ci` in {self.project_root}")
        return [
            str(binary),
            "--host",
            self.host,
            "--port",
            str(port),
            "--chain-id",
            str(self.chain_id),
            "--hardfork",
            self.hardfork,
            "--mnemonic",
            DEFAULT_MNEMONIC,
            "--accounts",
            str(ACCOUNT_COUNT),
            "--quiet",
            *(["--block-time", str(self.block_time)] if self.block_time is not None else []),
            *(["--block-base-fee-per-gas", "0", "--disable-min-priority-fee"] if self.free_gas else []),
        ]

    def _prepare(self, folder: Path) -> Path:
        return folder  # anvil writes nothing, but keep its working directory out of the project
