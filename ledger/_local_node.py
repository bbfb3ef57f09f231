"""A throw-away JSON-RPC node in a child process on a loopback port (the base of `HardhatNode` and
`AnvilNode`).

The node's executable is started directly, never through ``npx`` or a shell, so the PID held here is
the server's own and stopping the node stops exactly that process. Its output goes to a log file in
a temporary folder that is deleted on stop. Both nodes derive their funded accounts from the same
public test mnemonic, so a test sees the same addresses on either.
"""

from __future__ import annotations

import json
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import IO, ClassVar, Final, Self

from eth_account import Account

from ledger.exceptions import LedgerError
from ledger.rpc import RpcChain

PROJECT_ROOT: Final = Path(__file__).resolve().parent.parent

DEFAULT_MNEMONIC: Final = "test test test test test test test test test test test junk"
"""The test mnemonic of hardhat and anvil: its funded accounts' keys are public, never use them elsewhere."""

HD_PATH: Final = "m/44'/60'/0'/0/{index}"
ACCOUNT_COUNT: Final = 20
"""Funded accounts each node creates (10,000 ether each)."""

CHAIN_ID: Final = 31337
HARDFORK: Final = "cancun"  # the contracts' evmVersion; OpenZeppelin 5.7 needs mcopy

_POLL_INTERVAL_S: Final = 0.05
_PORT_ATTEMPTS: Final = 3


class LocalNodeError(LedgerError):
    """A local test node could not be started (or is not installed)."""


def derive_private_keys(count: int = ACCOUNT_COUNT, mnemonic: str = DEFAULT_MNEMONIC) -> list[str]:
    """0x-hex private keys of the first `count` accounts of `mnemonic` (the nodes' wallet path)."""
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


class LocalNode:
    """A node in a child process; use it as a context manager or call start()/stop().

    `url` is the JSON-RPC endpoint and `private_keys` the keys of the node's funded accounts.
    Subclasses say how to start their executable (`_command`) and may prepare files in the
    node's temporary folder first (`_prepare`).
    """

    kind: ClassVar[str] = "node"
    error: ClassVar[type[LocalNodeError]] = LocalNodeError

    def __init__(
        self,
        *,
        project_root: Path = PROJECT_ROOT,
        host: str = "127.0.0.1",
        port: int | None = None,
        chain_id: int = CHAIN_ID,
        hardfork: str = HARDFORK,
        startup_timeout: float = 60.0,
        stop_timeout: float = 10.0,
    ) -> None:
        self.project_root = Path(project_root)
        self.host = host
        self.chain_id = chain_id
        self.hardfork = hardfork
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
            raise self.error(f"the {self.kind} node is not running")
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
        """Where the node's output goes while it runs."""
        return Path(self._tmp.name) / f"{self.kind}.log" if self._tmp is not None else None

    def log_tail(self, max_chars: int = 4000) -> str:
        """The end of the node's output, for error messages."""
        path = self.log_path
        if path is None or not path.exists():
            return ""
        with path.open("rb") as log:  # nodes may log every RPC call: read the end only
            log.seek(max(0, path.stat().st_size - 4 * max_chars))
            return log.read().decode("utf-8", errors="replace")[-max_chars:]

    def chain(self, *, timeout: float = 30.0) -> RpcChain:
        """An `RpcChain` on this node that signs with all its funded accounts."""
        return RpcChain(self.url, self.private_keys, timeout=timeout)

    def start(self) -> Self:
        """Start the node and return once it answers `eth_chainId`; raises `error`."""
        if self._process is not None:
            raise self.error(f"the {self.kind} node is already started")
        self._tmp = tempfile.TemporaryDirectory(prefix=f"allmende-{self.kind}-")
        attempts = 1 if self._requested_port is not None else _PORT_ATTEMPTS
        try:
            prepared = self._prepare(Path(self._tmp.name))
            for attempt in range(1, attempts + 1):
                port = self._requested_port or free_port(self.host)
                self._spawn(self._command(prepared, port), prepared)
                if self._wait_until_ready(port):
                    self.port = port
                    return self
                # Exited early, most likely because another process took the port first.
                self._reap()
                if attempt == attempts:
                    raise self.error(f"{self.kind} node exited during startup:\n{self.log_tail()}")
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

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # --- for subclasses ------------------------------------------------------------------

    def _prepare(self, folder: Path) -> Path:
        """Write what the node needs into its temporary `folder`; returns the working directory."""
        return self.project_root

    def _command(self, workdir: Path, port: int) -> list[str]:
        """The node's command line, listening on `self.host`:`port`."""
        raise NotImplementedError

    def _env(self) -> dict[str, str] | None:
        """The node's environment (None: this process's)."""
        return None

    # --- internals -----------------------------------------------------------------------

    def _spawn(self, command: list[str], workdir: Path) -> None:
        assert self._tmp is not None
        if self._log is not None:
            self._log.close()
        self._log = open(Path(self._tmp.name) / f"{self.kind}.log", "ab")  # noqa: SIM115 - closed in _reap
        self._process = subprocess.Popen(
            command,
            cwd=workdir,
            env=self._env(),
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
                    raise self.error(
                        f"{url} answers with chain id {chain_id}, not {self.chain_id}: "
                        "is another node on that port?"
                    )
                return True
            time.sleep(_POLL_INTERVAL_S)
        raise self.error(
            f"{self.kind} node did not answer on {url} within {self.startup_timeout:.0f} s:\n"
            + self.log_tail()
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
