"""The embedded chain in a process of its own, reached over Ethereum JSON-RPC on a Unix socket.

py-evm holds the GIL while it executes a transaction, so in one process the chain and the gateway's
request handling (HTTP parsing, argon2, signing, JSON) take turns on one core. `ProcessChain.open`
starts ``python -m ledger.chain_process DATA_DIR`` as a child that opens `EmbeddedChain` on that data
dir and answers JSON-RPC on ``DATA_DIR/chain.ipc``; the parent talks to it with web3's IPC provider,
like to any external node, and signs with the operator keys it reads from the same data dir.

Invariants and security boundary:

- Durability is the embedded chain's own: the child commits SQLite after every mined block, before
  the answer to ``eth_sendRawTransaction`` is written to the socket, so a receipt the parent can see
  survives ``kill -9`` of either process (tests/ledger/test_embedded_chain.py runs the kill test in
  both arrangements).
- The socket lives inside the data dir (mode 0700) and is itself mode 0600: the boundary stays the
  data dir, as for the in-process chain. It is never a TCP port.
- The child answers the read methods of `ledger.json_rpc`, ``eth_sendRawTransaction`` (transactions
  signed by the caller) and three test/devnet methods (``evm_snapshot``, ``evm_revert``,
  ``allmende_advanceTime``); ``eth_sendTransaction`` and every other method are refused, so the child
  never signs anything for anyone.
- The child dies with its parent: it watches its stdin (a pipe from the parent) and closes the chain
  cleanly when the pipe closes or on SIGTERM. Only one process holds the data dir's lock, as before.
"""

from __future__ import annotations

import json
import os
import signal
import socketserver
import subprocess
import sys
import threading
import time
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any, Final, cast

from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import IPCProvider, Web3
from web3.providers.ipc import PersistentSocket
from web3.types import RPCResponse

from ledger.chain import Chain, lean_web3
from ledger.exceptions import LedgerError
from ledger.json_rpc import (
    INVALID_PARAMS,
    MAX_BATCH,
    METHOD_NOT_FOUND,
    READ_METHODS,
    ReadOnlyRpc,
    RpcError,
    quantity,
    to_wire,
)

SOCKET_FILE: Final = "chain.ipc"
READY: Final = "ready"
START_TIMEOUT_S: Final = 60.0
STOP_TIMEOUT_S: Final = 30.0
LOCK_WAIT_S: Final = 5.0  # how long a new chain process waits for the previous one to let go

WRITE_METHODS: Final = frozenset({"eth_sendRawTransaction"})
CONTROL_METHODS: Final = frozenset({"evm_snapshot", "evm_revert", "allmende_advanceTime"})
_MAX_MESSAGE: Final = 16 * 1024 * 1024
_READ_BYTES: Final = 1024 * 1024  # one read of an answer from the chain process


class ChainProcessError(LedgerError, RuntimeError):
    """The chain process did not start, or stopped answering."""


class ChainRpc(ReadOnlyRpc):
    """JSON-RPC over the embedded chain for its one trusted client: reads, raw transactions, control.
    The gateway's own calls run as asked: the bounds on running code are for the public endpoint,
    which the gateway applies before it forwards a reader's call here."""

    max_calls_per_batch = MAX_BATCH

    def bounded_call(self, params: list[Any]) -> list[Any]:
        return params

    def execution_slot(self) -> AbstractContextManager[Any]:
        return nullcontext()

    def call(self, method: str, params: list[Any]) -> Any:
        from ledger.embedded import EmbeddedChain

        chain = self.chain
        assert isinstance(chain, EmbeddedChain)
        if method == "evm_snapshot":
            return to_wire(chain.snapshot())
        if method == "evm_revert":
            chain.revert(_quantity(params, 0))
            return True
        if method == "allmende_advanceTime":
            chain.advance_time(_quantity(params, 0))
            return hex(chain.now())
        if method in WRITE_METHODS:
            try:
                result = chain.web3.manager.request_blocking(method, params)  # type: ignore[arg-type]
            except Exception as exc:  # a refused or reverted transaction: the caller decodes it
                from ledger.json_rpc import _mapped

                raise _mapped(exc) from exc
            return to_wire(result)
        if method not in READ_METHODS:
            raise RpcError(METHOD_NOT_FOUND, f"{method} is not available on the chain process")
        if method == "eth_accounts":
            return []
        return super().call(method, params)

    def max_log_results(self) -> int | None:
        """The gateway's own indexer reads what it asks for."""
        return None

    def _check_log_range(self, params: list[Any]) -> None:
        """The gateway's own indexer reads in ranges it chooses; only the shape is checked."""
        if len(params) != 1 or not isinstance(params[0], dict):
            raise RpcError(INVALID_PARAMS, "eth_getLogs takes one filter object")


def _quantity(params: list[Any], index: int) -> int:
    try:
        return quantity(params[index])
    except (IndexError, TypeError, ValueError) as exc:
        raise RpcError(INVALID_PARAMS, f"parameter {index} is a quantity") from exc


class _Handler(socketserver.BaseRequestHandler):
    """One connection: a stream of JSON requests, each answered in order."""

    server: _Server

    def handle(self) -> None:
        decoder = json.JSONDecoder()
        buffer = ""
        raw = b""
        while True:
            chunk = self.request.recv(65536)
            if not chunk:
                return
            raw += chunk
            try:
                buffer += raw.decode()
                raw = b""
            except UnicodeDecodeError:  # a multi-byte character split across reads
                if len(raw) > _MAX_MESSAGE:
                    return
                continue
            while buffer:
                stripped = buffer.lstrip()
                try:
                    payload, end = decoder.raw_decode(stripped)
                except ValueError:
                    if len(stripped) > _MAX_MESSAGE:
                        return
                    buffer = stripped
                    break
                buffer = stripped[end:]
                answer = self.server.rpc.answer(payload)
                self.request.sendall(json.dumps(answer).encode() + b"\n")


class _Server(socketserver.ThreadingUnixStreamServer):
    daemon_threads = True

    def __init__(self, path: Path, rpc: ChainRpc) -> None:
        self.rpc = rpc
        super().__init__(str(path), _Handler)


def serve(data_dir: Path) -> None:
    """Open the chain in `data_dir`, answer on its socket until stdin closes or SIGTERM arrives."""
    from ledger.embedded import EmbeddedChain
    from ledger.exceptions import ChainInUse

    deadline = time.monotonic() + LOCK_WAIT_S
    while True:
        try:
            chain = EmbeddedChain.open(data_dir)
            break
        except ChainInUse:  # a chain process whose gateway just stopped may still be closing
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    path = data_dir / SOCKET_FILE
    path.unlink(missing_ok=True)  # a socket left by a killed process; we hold the data dir's lock
    old_umask = os.umask(0o177)
    try:
        server = _Server(path, ChainRpc(chain))
    finally:
        os.umask(old_umask)
    stop = threading.Event()

    def _watch_stdin() -> None:
        sys.stdin.buffer.read()  # returns when the parent closes the pipe or dies
        stop.set()

    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    threading.Thread(target=_watch_stdin, daemon=True).start()
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True).start()
    print(READY, flush=True)
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    server.shutdown()
    server.server_close()
    path.unlink(missing_ok=True)
    chain.close()


class LineIPCProvider(IPCProvider):
    """web3's IPC provider, reading each answer as one newline-ended line in large reads.

    web3's own reader appends 4 KiB at a time to a bytes object and tries to decode the whole of it
    whenever it ends like JSON, so an answer of n bytes costs time quadratic in n (a 20 MB log query
    took longer than the timeout). The chain process ends every answer with a newline, which JSON
    text never holds unescaped, so one decode of the finished line is enough.
    """

    def _make_request(self, request: bytes) -> RPCResponse:
        with self._lock, cast(PersistentSocket, self._socket) as sock:
            sock.sendall(request + b"\n")
            answer = bytearray()
            deadline = time.monotonic() + self.timeout
            while not answer.endswith(b"\n"):
                if time.monotonic() > deadline:
                    raise ChainProcessError(f"the chain process did not answer within {self.timeout} s")
                try:
                    chunk = sock.recv(_READ_BYTES)
                except TimeoutError:
                    continue
                if not chunk:
                    raise ChainProcessError("the chain process closed the connection")
                answer += chunk
            return self.decode_rpc_response(bytes(answer))


class ProcessChain(Chain):
    """The embedded chain of `data_dir`, run by a child process; same durability, its own core."""

    def __init__(self, process: subprocess.Popen[bytes], data_dir: Path, timeout: int) -> None:
        from ledger.embedded import KEYS_FILE, _load_keys

        self.process = process
        self.data_dir = data_dir
        self.socket_path = data_dir / SOCKET_FILE
        self.web3 = lean_web3(Web3(LineIPCProvider(str(self.socket_path), timeout=int(timeout))))
        self._accounts: list[LocalAccount] = [Account.from_key(k) for k in _load_keys(data_dir / KEYS_FILE)]

    @classmethod
    def open(cls, data_dir: Path, *, timeout: int = 30) -> ProcessChain:
        """Start the chain process on `data_dir` and wait until it answers."""
        # Absolute: the process runs in the package's directory, not in ours, so a relative path
        # (`allmende serve --data-dir data`) would name another directory there.
        data_dir = Path(data_dir).absolute()
        data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        process = subprocess.Popen(
            [sys.executable, "-m", "ledger.chain_process", str(data_dir)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=Path(__file__).resolve().parent.parent,
        )
        assert process.stdout is not None and process.stderr is not None
        deadline = time.monotonic() + START_TIMEOUT_S
        line = b""
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if line.strip() == READY.encode() or not line:
                break
        if line.strip() != READY.encode():
            process.kill()
            process.wait()
            error = process.stderr.read().decode(errors="replace").strip().splitlines()
            last = error[-1] if error else "no output"
            if "ChainInUse" in last:
                from ledger.exceptions import ChainInUse

                raise ChainInUse(last.split(":", 1)[-1].strip())
            raise ChainProcessError(f"the chain process for {data_dir} did not start: {last}")
        process.stdout.close()
        threading.Thread(target=_drain, args=(process.stderr,), daemon=True).start()
        return cls(process, data_dir, timeout)

    @property
    def accounts(self) -> list[LocalAccount]:
        return list(self._accounts)

    @property
    def is_embedded(self) -> bool:
        """The clock and snapshots are ours, as in process."""
        return True

    def _request(self, method: str, params: list[Any]) -> Any:
        response = self.web3.provider.make_request(method, params)  # type: ignore[arg-type]
        if "error" in response:
            raise ChainProcessError(f"{method}: {response['error']}")
        return response["result"]

    def advance_time(self, seconds: int) -> None:
        if seconds < 0:
            raise ValueError("time only moves forward")
        self._request("allmende_advanceTime", [seconds])

    def snapshot(self) -> Any:
        return self._request("evm_snapshot", [])

    def revert(self, snapshot: Any) -> None:
        self._request("evm_revert", [snapshot])

    def close(self) -> None:
        """Ask the chain process to commit and stop (close its stdin), and wait for it. Idempotent."""
        if self.process.stdin is not None and not self.process.stdin.closed:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.terminate()
            self.process.wait(timeout=STOP_TIMEOUT_S)


def _drain(stream: Any) -> None:
    """Pass the child's stderr through, so its failures show in the gateway's log."""
    for line in stream:
        sys.stderr.write(line.decode(errors="replace"))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m ledger.chain_process DATA_DIR")
    serve(Path(sys.argv[1]))
