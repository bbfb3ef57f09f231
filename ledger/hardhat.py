"""A throw-away hardhat node on a loopback port: the JSON-RPC chain of the tests and of
`allmende devnet --hardhat`.

The node runs the project's own hardhat (``node_modules/hardhat``, pinned in
``package-lock.json``) with a minimal config written to a temporary folder, so nothing is written
into the project. Node is started directly, not through ``npx``, so the PID held here is the
server's own, and stopping the node stops exactly that process.

    with HardhatNode() as node:
        chain = RpcChain(node.url, node.private_keys)
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import ClassVar

from ledger._local_node import (
    ACCOUNT_COUNT,
    CHAIN_ID,
    DEFAULT_MNEMONIC,
    HARDFORK,
    HD_PATH,
    PROJECT_ROOT,
    LocalNode,
    LocalNodeError,
    derive_private_keys,
    free_port,
)

__all__ = [
    "ACCOUNT_COUNT",
    "CHAIN_ID",
    "DEFAULT_MNEMONIC",
    "HARDFORK",
    "HD_PATH",
    "PROJECT_ROOT",
    "HardhatNode",
    "HardhatNodeError",
    "derive_private_keys",
    "free_port",
]


class HardhatNodeError(LocalNodeError):
    """The hardhat node could not be started (or is not installed)."""


def _config_text(chain_id: int, hardfork: str, throw_on_transaction_failures: bool) -> str:
    network: dict[str, object] = {"chainId": chain_id, "hardfork": hardfork}
    if not throw_on_transaction_failures:
        network["throwOnTransactionFailures"] = False
    return f"module.exports = {{networks: {json.dumps({'hardhat': network})}}};\n"


class HardhatNode(LocalNode):
    """A hardhat node in a child process; use it as a context manager or call start()/stop().

    Hardhat mines every transaction as it arrives and, by default, answers
    `eth_sendRawTransaction` of a failing transaction with an error (carrying the revert data
    and the mined transaction's hash) instead of the hash. With
    `throw_on_transaction_failures=False` it behaves like Besu or geth: it returns the hash
    and the receipt has status 0.
    """

    kind: ClassVar[str] = "hardhat"
    error: ClassVar[type[LocalNodeError]] = HardhatNodeError

    def __init__(
        self,
        *,
        project_root: Path = PROJECT_ROOT,
        host: str = "127.0.0.1",
        port: int | None = None,
        chain_id: int = CHAIN_ID,
        hardfork: str = HARDFORK,
        throw_on_transaction_failures: bool = True,
        startup_timeout: float = 60.0,
        stop_timeout: float = 10.0,
    ) -> None:
        super().__init__(
            project_root=project_root,
            host=host,
            port=port,
            chain_id=chain_id,
            hardfork=hardfork,
            startup_timeout=startup_timeout,
            stop_timeout=stop_timeout,
        )
        self.throw_on_transaction_failures = throw_on_transaction_failures
        self._config: Path | None = None

    def _prepare(self, folder: Path) -> Path:
        config = folder / "hardhat.config.js"
        config.write_text(
            _config_text(self.chain_id, self.hardfork, self.throw_on_transaction_failures), encoding="utf-8"
        )
        self._config = config
        # Hardhat refuses to run unless `require.resolve("hardhat")` from the working directory
        # finds the very package it was started from: so run it in the project root and point
        # it at the temporary config, whose folder then serves as hardhat's root (cache etc.).
        return self.project_root

    def _command(self, workdir: Path, port: int) -> list[str]:
        node = shutil.which("node")
        if node is None:
            raise HardhatNodeError("node is not installed; the hardhat node needs Node.js 20")
        script = self.project_root / "node_modules" / ".bin" / "hardhat"
        if not script.exists():
            raise HardhatNodeError(f"{script} is missing; run `npm ci` in {self.project_root}")
        assert self._config is not None
        return [
            node,
            str(script),
            "--config",
            str(self._config),
            "node",
            "--hostname",
            self.host,
            "--port",
            str(port),
        ]

    def _env(self) -> dict[str, str]:
        return dict(os.environ, HARDHAT_DISABLE_TELEMETRY_PROMPT="true")
