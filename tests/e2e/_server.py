"""The real gateway in a child process (`python -m api.cli serve`), for end-to-end tests.

Waits for `/health` by polling with a deadline, never by sleeping a fixed time. Output goes to a log
file in the data directory's parent (a pipe nobody reads would stall the server). `kill()` is SIGKILL,
as a crash would be; `stop()` is a clean SIGTERM shutdown. Either way the process is reaped.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 30.0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_until_healthy(url: str, process: subprocess.Popen[bytes] | None, log: Path | None) -> None:
    """Poll `url`/health until it answers 200; fail early if the process exits."""
    deadline = time.monotonic() + START_TIMEOUT_S
    delay = 0.05
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            tail = log.read_text(errors="replace")[-4000:] if log and log.exists() else ""
            raise RuntimeError(f"the server exited with {process.returncode}:\n{tail}")
        try:
            if httpx.get(f"{url}/health", timeout=2.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(delay)  # polling interval, bounded by the deadline above
        delay = min(delay * 1.5, 0.5)
    raise TimeoutError(f"{url} did not become healthy within {START_TIMEOUT_S} s")


class ServerProcess:
    """`allmende serve` on a data directory, startable again on the same directory after a crash."""

    def __init__(self, data_dir: Path, admin_key_file: Path, *, chain_process: bool | None = None) -> None:
        self.data_dir = data_dir
        self.chain_process = chain_process  # None: the gateway's default arrangement
        self.admin_key_file = admin_key_file
        self.log = data_dir.parent / "server.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, attempts: int = 3) -> ServerProcess:
        """Start and wait until healthy; a port taken in the meantime is retried with another."""
        for attempt in range(attempts):
            self.port = free_port()
            env = {**os.environ, "ALLMENDE_ENVIRONMENT": "test", "PYTHONUNBUFFERED": "1"}
            env["PYTHONPATH"] = str(ROOT)  # this checkout, whatever is installed in the environment
            if self.chain_process is not None:
                env["ALLMENDE_CHAIN_PROCESS"] = "true" if self.chain_process else "false"
            command = [sys.executable, "-m", "api.cli", "serve", "--data-dir", str(self.data_dir)]
            command += ["--port", str(self.port), "--admin-key-file", str(self.admin_key_file)]
            with self.log.open("ab") as log:
                log.write(f"--- start on port {self.port}\n".encode())
                self.process = subprocess.Popen(
                    command,
                    cwd=ROOT,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            try:
                wait_until_healthy(self.url, self.process, self.log)
                return self
            except RuntimeError:
                if attempt == attempts - 1 or "address already in use" not in self._log_tail():
                    raise
        raise AssertionError("unreachable")

    def kill(self) -> None:
        """SIGKILL to the server's whole process group (the gateway and its chain process, if it runs
        one), like a crash: no shutdown code runs anywhere. Returns when every member is gone."""
        process, self.process = self.process, None
        if process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=STOP_TIMEOUT_S)
        _wait_for_group(process.pid)

    def stop(self) -> None:
        """A clean shutdown (SIGTERM), SIGKILL if it does not finish in time."""
        self._signal(signal.SIGTERM)

    def _signal(self, sig: signal.Signals) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(sig)
        try:
            process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=STOP_TIMEOUT_S)
        _wait_for_group(process.pid)

    def _log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:] if self.log.exists() else ""

    @property
    def admin_key(self) -> str:
        return self.admin_key_file.read_text().strip()


def _wait_for_group(pgid: int) -> None:
    """Wait until no process of the server's group is left (its chain process lets go of the data
    dir after the gateway); SIGKILL what is left after STOP_TIMEOUT_S."""
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while True:
        try:
            os.killpg(pgid, signal.SIGKILL if time.monotonic() > deadline else 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
