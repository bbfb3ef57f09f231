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
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import IO, Final

from eth_account import Account

from ledger.exceptions import LedgerError
from ledger.rpc import RpcChain

PROJECT_ROOT: Final = Path(__file__).resolve().parent.parent

DEFAULT_MNEMONIC: Final = "test test test test test test test test test test test junk"
"""Hardhat's built-in mnemonic: its funded accounts' keys are public, never use them elsewhere."""

HD_PATH: Final = "m/44'/60'/0'/0/{index}"
ACCOUNT_COUNT: Final = 20
"""Funded accounts the hardhat network creates by default (10,000 ether each)."""

CHAIN_ID: Final = 31337
HARDFORK: Final = "cancun"  # the contracts' evmVersion; OpenZeppelin 5.7 needs mcopy

_POLL_INTERVAL_S: Final = 0.05
_PORT_ATTEMPTS: Final = 3


class HardhatNodeError(LedgerError):
    """The hardhat node could not be started (or is not installed)."""


def derive_private_keys(count: int = ACCOUNT_COUNT, mnemonic: str = DEFAULT_MNEMONIC) -> list[str]:
    """0x-hex private keys of the first `count` accounts of `mnemonic` (hardhat's wallet path)."""
    Account.enable_unaudited_hdwallet_features()
    return [
        Account.from_mnemonic(mnemonic, account_path=HD_PATH.format(index=i)).key.to_0x_hex()
        for i in range(count)
    ]


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now (another process may still take it first)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def _config_text(chain_id: int, hardfork: str, throw_on_transaction_failures: bool) -> str:
    network: dict[str, object] = {"chainId": chain_id, "hardfork": hardfork}
    if not throw_on_transaction_failures:
        network["throwOnTransactionFailures"] = False
    return f"module.exports = {{networks: {json.dumps({'hardhat': network})}}};\n"


class HardhatNode:
    """A hardhat node in a child process; use it as a context manager or call start()/stop().

    `url` is the JSON-RPC endpoint and `private_keys` the keys of the node's funded accounts.
    Hardhat's output goes to `log_path` (in the node's temporary folder, deleted on stop).

    Hardhat mines every transaction as it arrives and, by default, answers
    `eth_sendRawTransaction` of a failing transaction with an error (carrying the revert data
    and the mined transaction's hash) instead of the hash. With
    `throw_on_transaction_failures=False` it behaves like Besu or geth: it returns the hash
    and the receipt has status 0.
    """

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
        self.project_root = Path(project_root)
        self.host = host
        self.chain_id = chain_id
        self.hardfork = hardfork
        self.throw_on_transaction_failures = throw_on_transaction_failures
        self.startup_timeout = startup_timeout
        self.stop_timeout = stop_timeout
        self._requested_port = port
        self.port: int | None = None
        self.private_keys: list[str] = derive_private_keys()
        self._process: subprocess.Popen[bytes] | None = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._log: IO[bytes] | None = None

    # --- public API ----------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The JSON-RPC endpoint (only once started)."""
        if self.port is None:
            raise HardhatNodeError("the hardhat node is not running")
        return f"http://{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        """PID of the node process while it runs."""
        return self._process.pid if self._process is not None else None

    @property
    def is_running(self) -> bool:
        """Whether the node process is alive."""
        return self._process is not None and self._process.poll() is None

    @property
    def log_path(self) -> Path | None:
        """Where hardhat's output goes while the node runs."""
        return Path(self._tmp.name) / "hardhat.log" if self._tmp is not None else None

    def log_tail(self, max_chars: int = 4000) -> str:
        """The end of hardhat's output, for error messages."""
        path = self.log_path
        if path is None or not path.exists():
            return ""
        with path.open("rb") as log:  # hardhat logs every RPC call: read the end only
            log.seek(max(0, path.stat().st_size - 4 * max_chars))
            return log.read().decode("utf-8", errors="replace")[-max_chars:]

    def chain(self, *, timeout: float = 30.0) -> RpcChain:
        """An `RpcChain` on this node that signs with all its funded accounts."""
        return RpcChain(self.url, self.private_keys, timeout=timeout)

    def start(self) -> HardhatNode:
        """Start the node and return once it answers `eth_chainId`; raises HardhatNodeError."""
        if self._process is not None:
            raise HardhatNodeError("the hardhat node is already started")
        node, script = self._executables()
        self._tmp = tempfile.TemporaryDirectory(prefix="allmende-hardhat-")
        config = Path(self._tmp.name) / "hardhat.config.js"
        config.write_text(
            _config_text(self.chain_id, self.hardfork, self.throw_on_transaction_failures), encoding="utf-8"
        )
        attempts = 1 if self._requested_port is not None else _PORT_ATTEMPTS
        try:
            for attempt in range(1, attempts + 1):
                port = self._requested_port or free_port(self.host)
                self._spawn(node, script, config, port)
                if self._wait_until_ready(port):
                    self.port = port
                    return self
                # Exited early, most likely because another process took the port first.
                self._reap()
                if attempt == attempts:
                    raise HardhatNodeError(f"hardhat node exited during startup:\n{self.log_tail()}")
        except BaseException:
            self.stop()
            raise
        raise AssertionError("unreachable")

    def stop(self) -> None:
        """Stop the node by its PID (terminate, then kill after `stop_timeout`). Idempotent."""
        self._reap()
        self.port = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> HardhatNode:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # --- internals -----------------------------------------------------------------------

    def _executables(self) -> tuple[str, Path]:
        node = shutil.which("node")
        if node is None:
            raise HardhatNodeError("node is not installed; the hardhat node needs Node.js 20")
        script = self.project_root / "node_modules" / ".bin" / "hardhat"
        if not script.exists():
            raise HardhatNodeError(f"{script} is missing; run `npm ci` in {self.project_root}")
        return node, script

    def _spawn(self, node: str, script: Path, config: Path, port: int) -> None:
        assert self._tmp is not None
        env = dict(os.environ, HARDHAT_DISABLE_TELEMETRY_PROMPT="true")
        # Hardhat refuses to run unless `require.resolve("hardhat")` from the working directory
        # finds the very package it was started from: so run it in the project root and point
        # it at the temporary config, whose folder then serves as hardhat's root (cache etc.).
        command = [
            node,
            str(script),
            "--config",
            str(config),
            "node",
            "--hostname",
            self.host,
            "--port",
            str(port),
        ]
        if self._log is not None:
            self._log.close()
        self._log = open(Path(self._tmp.name) / "hardhat.log", "ab")  # noqa: SIM115 - closed in _reap
        self._process = subprocess.Popen(
            command,
            cwd=self.project_root,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def _wait_until_ready(self, port: int) -> bool:
        """Poll `eth_chainId` until it answers; False when the process died first."""
        assert self._process is not None
        url = f"http://{self.host}:{port}"
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                return False
            chain_id = _rpc_chain_id(url)
            if chain_id is not None:
                if chain_id != self.chain_id:
                    raise HardhatNodeError(
                        f"{url} answers with chain id {chain_id}, not {self.chain_id}: "
                        "is another node on that port?"
                    )
                return True
            time.sleep(_POLL_INTERVAL_S)
        raise HardhatNodeError(
            f"hardhat node did not answer on {url} within {self.startup_timeout:.0f} s:\n{self.log_tail()}"
        )

    def _reap(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=self.stop_timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None


def _rpc_chain_id(url: str) -> int | None:
    """The chain id `url` reports, or None while nothing answers there."""
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}).encode()
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=1.0) as response:
            answer = json.loads(response.read())
    except (OSError, ValueError):  # connection refused/reset, timeouts, half-started server
        return None
    result = answer.get("result") if isinstance(answer, dict) else None
    return int(result, 16) if isinstance(result, str) else None
