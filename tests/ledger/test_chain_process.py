"""The embedded chain in a process of its own: what its socket answers, who may reach it, and that it
neither outlives its gateway nor shares its data dir."""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ledger.chain_process import SOCKET_FILE, ProcessChain
from ledger.embedded import EmbeddedChain
from ledger.exceptions import ChainInUse
from ledger.json_rpc import METHOD_NOT_FOUND
from ledger.revert_errors import AccessControlUnauthorizedAccount
from ledger.roles import Role
from ledger.system import Allmende

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def chain(tmp_path: Path) -> Iterator[ProcessChain]:
    c = ProcessChain.open(tmp_path / "chain")
    try:
        yield c
    finally:
        c.close()


def _raw(path: Path, request: dict[str, Any]) -> dict[str, Any]:
    """One request over a fresh connection to the chain process's socket."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.connect(str(path))
        s.sendall(json.dumps(request).encode())
        buffer = b""
        while True:
            buffer += s.recv(65536)
            try:
                answer: dict[str, Any] = json.loads(buffer)
                return answer
            except ValueError:
                continue


def _gone(pid: int, timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


def test_socket_is_private_to_the_owner(chain: ProcessChain) -> None:
    mode = stat.S_IMODE(chain.socket_path.stat().st_mode)
    assert mode & 0o077 == 0
    assert stat.S_IMODE(chain.data_dir.stat().st_mode) == 0o700


@pytest.mark.parametrize(
    "method",
    ["eth_sendTransaction", "eth_sign", "personal_unlockAccount", "evm_mine", "debug_traceTransaction"],
)
def test_process_refuses_to_sign_or_to_run_unknown_methods(chain: ProcessChain, method: str) -> None:
    answer = _raw(chain.socket_path, {"jsonrpc": "2.0", "id": 7, "method": method, "params": []})
    assert answer["id"] == 7 and answer["error"]["code"] == METHOD_NOT_FOUND


def test_process_does_not_give_out_the_operator_accounts(chain: ProcessChain) -> None:
    answer = _raw(chain.socket_path, {"jsonrpc": "2.0", "id": 1, "method": "eth_accounts", "params": []})
    assert answer["result"] == []


def test_bad_control_parameters_are_an_rpc_error(chain: ProcessChain) -> None:
    answer = _raw(
        chain.socket_path, {"jsonrpc": "2.0", "id": 1, "method": "allmende_advanceTime", "params": ["x"]}
    )
    assert answer["error"]["code"] == -32602


def test_reverts_decode_to_the_typed_error(chain: ProcessChain) -> None:
    admin, outsider = chain.accounts[:2]
    system = Allmende.deploy(chain, admin)
    with pytest.raises(AccessControlUnauthorizedAccount) as caught:
        system.grant(outsider, Role.FUNDER, outsider.address)
    assert caught.value.account == outsider.address


def test_clock_and_snapshots_work_across_the_process(chain: ProcessChain) -> None:
    before = chain.now()
    snap = chain.snapshot()
    chain.advance_time(3_600)
    assert chain.now() - before >= 3_600
    chain.revert(snap)
    assert chain.now() == before
    with pytest.raises(ValueError):
        chain.advance_time(-1)


def test_close_releases_the_data_dir_and_keeps_the_chain(tmp_path: Path) -> None:
    c = ProcessChain.open(tmp_path / "chain")
    admin = c.accounts[0]
    Allmende.deploy(c, admin)
    height = c.web3.eth.block_number
    c.close()
    assert c.process.returncode == 0
    assert not (tmp_path / "chain" / SOCKET_FILE).exists()
    with EmbeddedChain.open(tmp_path / "chain") as again:
        assert again.web3.eth.block_number == height
        assert [a.address for a in again.accounts] == [a.address for a in c.accounts]


def test_a_data_dir_relative_to_the_callers_directory_is_the_one_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The process starts in the package's directory: the path it gets must not be relative.
    monkeypatch.chdir(tmp_path)
    c = ProcessChain.open(Path("data") / "chain")
    try:
        assert c.data_dir == tmp_path / "data" / "chain"
        assert (tmp_path / "data" / "chain" / "operator-keys.json").is_file()
        assert c.web3.eth.block_number >= 0 and c.accounts
    finally:
        c.close()


def test_second_process_on_the_same_data_dir_is_refused(chain: ProcessChain) -> None:
    with pytest.raises(ChainInUse):
        ProcessChain.open(chain.data_dir)


def test_chain_process_stops_when_its_gateway_is_killed(tmp_path: Path) -> None:
    code = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from ledger.chain_process import ProcessChain\n"
        "c = ProcessChain.open(Path(sys.argv[1]))\n"
        "print(c.process.pid, flush=True)\n"
        "time.sleep(600)\n"
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", code, str(tmp_path / "chain")], stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    try:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(30)
        assert _gone(child), "the chain process outlived its gateway"
    finally:
        parent.kill()
        parent.wait(30)
        if parent.stdout is not None:
            parent.stdout.close()
    with EmbeddedChain.open(tmp_path / "chain") as again:  # the lock went with it
        assert again.web3.eth.block_number == 0
