"""The devnet's demo chain (fund ledger, claim program, budget round) served by a real gateway."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from api.devnet import BOOK_FILE, DemoCast, play_all
from api.gateway import Gateway
from ledger.embedded import EmbeddedChain
from ledger.system import Allmende
from tests.api.conftest import make_settings
from tests.e2e.test_gateway_http import ThreadedServer


@dataclass(frozen=True)
class ServedDemo:
    """A gateway holding the demo chain, and where to reach it."""

    url: str
    data_dir: Path
    book: Path
    gateway: Gateway

    @property
    def rpc(self) -> str:
        return f"{self.url}/rpc"


def play_demo_chain(data_dir: Path) -> None:
    """Deploy and play every demo scenario on a durable chain under `data_dir`, then close it."""
    with EmbeddedChain.open(data_dir / "chain") as chain:
        cast = DemoCast.from_chain(chain)
        play_all(Allmende.deploy(chain, cast.admin, data_dir / BOOK_FILE), cast)


@contextmanager
def served_demo(data_dir: Path) -> Iterator[ServedDemo]:
    """The demo chain under `data_dir`, held and served over HTTP by a gateway on 127.0.0.1."""
    play_demo_chain(data_dir)
    gateway = Gateway.open(make_settings(data_dir))
    server = ThreadedServer(gateway)
    try:
        server.start()
        yield ServedDemo(server.url, data_dir, data_dir / BOOK_FILE, gateway)
    finally:
        server.stop()
        gateway.close()
