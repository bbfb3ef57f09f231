"""Shared fixtures: one deployed system per test session, rewound around every test."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from eth_account.signers.local import LocalAccount
from hypothesis import HealthCheck, settings

from ledger.embedded import EmbeddedChain
from ledger.roles import Role
from ledger.system import Allmende

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
    for role, who in [
        (Role.TREASURER, a.treasurer),
        (Role.FUNDER, a.funder),
        (Role.FUNDER, a.funder2),
        (Role.NGO, a.ngo),
        (Role.NGO, a.ngo2),
        (Role.APPROVER, a.approver),
        (Role.ALLOCATOR, a.allocator),
        (Role.RELAYER, a.relayer),
    ]:
        system.grant(a.admin, role, who.address)
    for funder in (a.funder, a.funder2):
        system.mint(a.treasurer, funder.address, 1_000_000 * EUR)
        system.approve(funder, system.funds.address, 2**256 - 1)
    return system


@pytest.fixture
def system(deployed: Allmende, chain: EmbeddedChain) -> Iterator[Allmende]:
    """The deployed system, rewound to its deployed state after the test."""
    snap = chain.snapshot()
    yield deployed
    chain.revert(snap)
    deployed.sender.forget_nonces()  # the rewound chain has the old nonces


@pytest.fixture(scope="session")
def voters(deployed: Allmende, actors: Actors) -> list[LocalAccount]:
    """Pseudonymous voters with gas money, created once per session (before any test's snapshot)."""
    from eth_account import Account

    people = [Account.create() for _ in range(10)]
    for person in people:
        deployed.sender.send(actors.admin, person.address, b"", value=10**18, gas=21_000)
    return people
