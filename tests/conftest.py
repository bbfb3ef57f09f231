"""Shared fixtures: one deployed system per test session, rewound around every test."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from eth_account.signers.local import LocalAccount
from hypothesis import HealthCheck, settings

from ledger.compiler import CACHE_ENV
from ledger.embedded import EmbeddedChain
from ledger.roles import Role
from ledger.system import Allmende
from tests._postgres import NO_PG_REASON, PG_BIN, PostgresCluster
from tests._system import grant_and_fund

settings.register_profile(
    "ci",
    derandomize=True,
    max_examples=60,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.register_profile(
    "dev",
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.load_profile("dev")

EUR = 1_000_000  # micro-euros per euro


@dataclass(frozen=True)
class Actors:
    """The people of the test scenarios, each with their own key and role."""

    admin: LocalAccount
    treasurer: LocalAccount
    funder: LocalAccount
    funder2: LocalAccount
    ngo: LocalAccount
    ngo2: LocalAccount
    approver: LocalAccount
    allocator: LocalAccount
    relayer: LocalAccount
    outsider: LocalAccount


@pytest.fixture(scope="session", autouse=True)
def compiler_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One compiler output per input for the whole run (its workers and their subprocesses):
    each `allmende verify` compiles the sources, and solc-js takes about ten seconds."""
    base = tmp_path_factory.getbasetemp()
    path = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "compiler-cache"
    patch = pytest.MonkeyPatch()
    patch.setenv(CACHE_ENV, str(path))
    yield path
    patch.undo()


@pytest.fixture(scope="session")
def chain() -> Iterator[EmbeddedChain]:
    c = EmbeddedChain.open(None, num_accounts=12)
    yield c
    c.close()


@pytest.fixture(scope="session")
def actors(chain: EmbeddedChain) -> Actors:
    return Actors(*chain.accounts[:10])


@pytest.fixture(scope="session")
def deployed(chain: EmbeddedChain, actors: Actors) -> Allmende:
    system = Allmende.deploy(chain, actors.admin)
    a = actors
    grant_and_fund(
        system,
        a.admin,
        [
            (Role.TREASURER, a.treasurer),
            (Role.FUNDER, a.funder),
            (Role.FUNDER, a.funder2),
            (Role.NGO, a.ngo),
            (Role.NGO, a.ngo2),
            (Role.APPROVER, a.approver),
            (Role.ALLOCATOR, a.allocator),
            (Role.RELAYER, a.relayer),
        ],
        treasurer=a.treasurer,
        funders=(a.funder, a.funder2),
        amount=1_000_000 * EUR,
        allowance=2**256 - 1,
    )
    return system


@pytest.fixture
def system(deployed: Allmende, chain: EmbeddedChain) -> Iterator[Allmende]:
    """The deployed system, rewound to its deployed state after the test."""
    snap = chain.snapshot()
    yield deployed
    chain.revert(snap)
    deployed.sender.forget_nonces()  # the rewound chain has the old nonces


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresCluster]:
    """A throw-away PostgreSQL cluster for this test session (one per xdist worker)."""
    if PG_BIN is None:
        pytest.skip(NO_PG_REASON)
    cluster = PostgresCluster(PG_BIN)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param(
        "postgresql",
        id="postgresql",
        marks=[pytest.mark.postgresql, pytest.mark.skipif(PG_BIN is None, reason=NO_PG_REASON)],
    ),
]


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database: a SQLite file, or a fresh database in the session's PostgreSQL cluster."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'gateway.sqlite3'}"
        return
    cluster: PostgresCluster = request.getfixturevalue("postgres")
    with cluster.database() as url:
        yield url


@pytest.fixture(scope="session")
def voters(deployed: Allmende, actors: Actors) -> list[LocalAccount]:
    """Pseudonymous voters with gas money, created once per session (before any test's snapshot)."""
    from eth_account import Account

    people = [Account.create() for _ in range(10)]
    for person in people:
        deployed.sender.send(actors.admin, person.address, b"", value=10**18, gas=21_000)
    return people
