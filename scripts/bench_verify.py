"""How fast an auditor verifies a long chain: `allmende verify`'s reading and checking of a deployment
holding at least 100,000 events, through the gateway's read-only JSON-RPC endpoint as the CLI does it.

The chain is built at the ledger level on a durable embedded chain (not through the gateway, which
would relay every call): a funded program pays the same pool of recurring recipients in batches of
`BATCH` payments, each batch one transaction of about `2 * BATCH` events (a `Disbursed` and a token
`Transfer` per payment). Then a gateway serves that chain over HTTP on a loopback port, and the
auditor's path runs against it: `collect` over `RpcChain(<gateway>/rpc)` and every check of
`api.verification.verify`, the reproducible build of the sources made beforehand (it is the same
whatever the chain's length). `time.verify.events_per_s` is events divided by reading plus checking.
"""

from __future__ import annotations

import base64
import os
import tempfile
import threading
import time
from pathlib import Path

import uvicorn
from eth_utils import to_checksum_address

from api.app import create_app
from api.gateway import Gateway
from api.settings import Settings
from api.verification import collect, verify
from ledger.compiler import reference_build
from ledger.embedded import EmbeddedChain
from ledger.roles import Role
from ledger.rpc import RpcChain
from ledger.system import Allmende

EVENTS = 100_000
BATCH = 800  # payments per disbursement (the first batch, to fresh accounts, costs some 24M gas)
POOL = 800  # recurring recipients: a district's households, paid again every batch
GAS_PER_BATCH = 29_000_000
EUR = 1_000_000
BOOK = "address-book.json"


def build_long_chain(data_dir: Path, events: int = EVENTS) -> int:
    """Deploy on a durable chain under `data_dir` and disburse until it holds `events` events or more;
    returns how many it holds."""
    with EmbeddedChain.open(data_dir / "chain") as chain:
        admin, treasurer, funder, ngo, approver = chain.accounts[:5]
        system = Allmende.deploy(chain, admin, data_dir / BOOK)
        for role, who in [
            (Role.TREASURER, treasurer),
            (Role.FUNDER, funder),
            (Role.NGO, ngo),
        ]:
            system.grant(admin, role, who.address)
        batches = -(-events // (2 * BATCH))
        total = batches * BATCH * EUR
        token = system.token.address
        system.mint(treasurer, funder.address, total)
        system.approve(funder, system.funds.address, total)
        program = system.funds.create_program(ngo, token).event("ProgramCreated").args["programId"]
        lot = system.funds.deposit(funder, token, total).event("LotDeposited").args["lotId"]
        system.funds.allocate(funder, lot, program, total)
        system.funds.set_program_approver(funder, program, approver.address)  # the funder's checker
        tranche = (
            system.funds.request_tranche(ngo, program, total).event("TrancheRequested").args["trancheId"]
        )
        system.funds.approve_tranche(approver, tranche)
        pool: list[str] = [to_checksum_address((0xA11CE << 120 | i).to_bytes(20, "big")) for i in range(POOL)]
        for b in range(batches):
            payments = [(pool[(b * BATCH + i) % POOL], EUR) for i in range(BATCH)]
            system.funds.disburse(ngo, program, payments, gas=GAS_PER_BATCH)
        return len(system.events())


class _Served:
    """A gateway over the long chain, served by uvicorn in a thread on 127.0.0.1."""

    def __init__(self, data_dir: Path) -> None:
        key = base64.b64encode(os.urandom(32)).decode()
        settings = Settings(environment="test", data_dir=data_dir, master_key=key)  # type: ignore[arg-type]
        self.gateway = Gateway.open(settings)
        config = uvicorn.Config(
            create_app(settings, self.gateway), host="127.0.0.1", port=0, log_level="warning"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="bench-verify", daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.01)  # polling uvicorn's startup flag, bounded by the deadline
        if not self.server.started:
            raise RuntimeError("the gateway did not start")
        port = self.server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
        self.gateway.close()


def verify_speed(events: int = EVENTS) -> dict[str, float]:
    """Build a chain of `events` events or more, then verify it through the gateway's /rpc."""
    build = reference_build()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        start = time.perf_counter()
        built = build_long_chain(data, events)
        build_s = time.perf_counter() - start
        with _Served(data) as url:
            start = time.perf_counter()
            system = Allmende.connect(RpcChain(f"{url}/rpc", [], timeout=600.0), data / BOOK)
            records = collect(system)
            read_s = time.perf_counter() - start
            report = verify(records, build)
            total_s = time.perf_counter() - start
    if not report.ok:
        raise RuntimeError(f"the long chain does not verify: {report.mismatches[:5]}")
    return {
        "time.verify.events": report.events,
        "time.verify.events_per_s": round(report.events / total_s, 1),
        "time.verify.read_s": round(read_s, 1),
        "time.verify.check_s": round(total_s - read_s, 1),
        "time.verify.build_chain_s": round(build_s, 1),
        "time.verify.chain_events": built,
    }


if __name__ == "__main__":
    for name, value in verify_speed().items():
        print(f"{name:35} {value:>14,}")
