"""Batched relaying: many users' requests in one transaction, each caller with its own outcome."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from eth_account import Account

from ledger.exceptions import TransactionError
from ledger.relayer import ForwardedCallFailed, Relayed, Relayer, RequestNotExecuted
from ledger.roles import Role
from ledger.system import Allmende
from tests.conftest import EUR, Actors


@pytest.fixture
def relayer(system: Allmende, actors: Actors) -> Iterator[Relayer]:
    r = Relayer(system, [actors.relayer], max_batch=16, max_wait_s=0.05)
    yield r
    r.close()


def test_batch_gives_each_caller_its_own_outcome(system: Allmende, actors: Actors, relayer: Relayer) -> None:
    users = [Account.create() for _ in range(4)]
    for u in users:
        system.grant(actors.admin, Role.FUNDER, u.address)
        system.mint(actors.treasurer, u.address, 10 * EUR)
    fwd = system.forwarding
    token, funds = system.token, system.funds
    futures = []
    for u in users:  # two requests per user, nonces in order, all in one batch
        approve = fwd.sign(
            u, token.address, token.encode("approve", funds.address, 10 * EUR), nonce=0, gas=100_000
        )
        amount = 0 if u is users[1] else 4 * EUR  # users[1]'s deposit reverts (zero amount)
        deposit = fwd.sign(
            u, funds.address, funds.encode("deposit", token.address, amount, 0, 0), nonce=1, gas=300_000
        )
        futures += [relayer.submit(approve), relayer.submit(deposit)]
    forged = fwd.sign(users[0], token.address, token.encode("approve", actors.ngo.address, 1), nonce=7)
    futures.append(relayer.submit(forged))

    outcomes = []
    for f in futures:
        try:
            outcomes.append(f.result(timeout=60))
        except Exception as exc:
            outcomes.append(exc)
    assert isinstance(outcomes[3], ForwardedCallFailed)
    assert isinstance(outcomes[-1], RequestNotExecuted)
    good = [o for i, o in enumerate(outcomes[:-1]) if i != 3]
    assert len({o.transaction_hash for o in good}) == 1  # one transaction for all of them
    deposits = [outcomes[1], outcomes[5], outcomes[7]]  # users 0, 2 and 3
    lots = [next(e for e in o.events if e.name == "LotDeposited") for o in deposits]  # type: ignore[union-attr]
    assert [e.args["funder"] for e in lots] == [users[0].address, users[2].address, users[3].address]
    assert all(e.name != "LotDeposited" for e in outcomes[0].events)  # type: ignore[union-attr]
    for u in (users[0], users[2], users[3]):
        assert system.balance(u.address) == 6 * EUR
    assert system.balance(users[1].address) == 10 * EUR  # nothing paid for the failed request


def test_requests_beyond_the_gas_budget_go_into_the_next_batch(system: Allmende, actors: Actors) -> None:
    relayer = Relayer(system, [actors.relayer], max_batch=64, max_wait_s=0.05, max_batch_gas=400_000)
    try:
        fwd, token = system.forwarding, system.token
        users = [Account.create() for _ in range(3)]
        futures = [
            relayer.submit(
                fwd.sign(u, token.address, token.encode("approve", actors.ngo.address, 1), gas=150_000)
            )
            for u in users
        ]
        blocks = {f.result(timeout=60).block_number for f in futures}
        assert len(blocks) >= 2
        for u in users:
            assert system.token.call("allowance", u.address, actors.ngo.address) == 1
    finally:
        relayer.close()


class _Journal:
    """Records what the relayer shows it, and the chain's height at each moment."""

    def __init__(self, system: Allmende, fail_before: bool = False) -> None:
        self.system = system
        self.fail_before = fail_before
        self.seen: list[tuple[str, int, list[Relayed]]] = []

    def before_send(self, batch: Sequence[Relayed]) -> None:
        self.seen.append(("before", self.system.chain.web3.eth.block_number, list(batch)))
        if self.fail_before:
            raise OSError("disk full")

    def after_mined(self, batch: Sequence[Relayed]) -> None:
        self.seen.append(("after", self.system.chain.web3.eth.block_number, list(batch)))


def test_the_journal_sees_each_batch_before_sending_and_before_callers_learn_outcomes(
    system: Allmende, actors: Actors
) -> None:
    journal = _Journal(system)
    relayer = Relayer(system, [actors.relayer], max_batch=16, max_wait_s=0.2, journal=journal)
    try:
        fwd, token = system.forwarding, system.token
        good, forged = Account.create(), Account.create()
        start = system.chain.web3.eth.block_number
        futures = [
            relayer.submit(
                fwd.sign(good, token.address, token.encode("approve", actors.ngo.address, 1)), "a"
            ),
            relayer.submit(
                fwd.sign(forged, token.address, token.encode("approve", actors.ngo.address, 1), nonce=5), "b"
            ),
        ]
        outcome = futures[0].result(timeout=60)
        with pytest.raises(RequestNotExecuted):
            futures[1].result(timeout=60)
    finally:
        relayer.close()
    (when1, height1, sent), (when2, height2, mined) = journal.seen
    assert (when1, when2) == ("before", "after")
    assert height1 == start and height2 == outcome.block_number == start + 1
    assert [r.tag for r in sent] == ["a", "b"] and all(r.outcome is None for r in sent)
    assert mined[0].outcome == outcome and isinstance(mined[1].outcome, RequestNotExecuted)


def test_a_batch_the_journal_cannot_record_is_not_sent(system: Allmende, actors: Actors) -> None:
    relayer = Relayer(system, [actors.relayer], journal=_Journal(system, fail_before=True))
    user = Account.create()
    try:
        request = system.forwarding.sign(
            user, system.token.address, system.token.encode("approve", actors.ngo.address, 1)
        )
        with pytest.raises(TransactionError, match="not recorded"):
            relayer.relay(request, timeout=60)
    finally:
        relayer.close()
    assert system.forwarding.nonce(user.address) == 0
    assert system.token.call("allowance", user.address, actors.ngo.address) == 0


def test_a_batch_the_node_could_not_be_reached_for_is_sent_again(
    system: Allmende, actors: Actors, relayer: Relayer, monkeypatch: pytest.MonkeyPatch
) -> None:
    eth = system.chain.web3.eth
    send = eth.send_raw_transaction
    refusals = iter([ConnectionRefusedError("connection refused"), ConnectionRefusedError("refused")])

    def flaky(raw: bytes) -> Any:
        error = next(refusals, None)
        if error is not None:
            raise error
        return send(raw)

    monkeypatch.setattr(eth, "send_raw_transaction", flaky)
    user = Account.create()
    token = system.token
    request = system.forwarding.sign(user, token.address, token.encode("approve", actors.ngo.address, 3))
    outcome = relayer.relay(request, timeout=60)
    assert any(e.name == "Approval" for e in outcome.events)
    assert token.call("allowance", user.address, actors.ngo.address) == 3
    assert system.forwarding.nonce(user.address) == 1


def test_a_batch_that_failed_otherwise_is_not_sent_again(
    system: Allmende, actors: Actors, relayer: Relayer, monkeypatch: pytest.MonkeyPatch
) -> None:
    eth = system.chain.web3.eth
    calls = []

    def broken(raw: bytes) -> Any:
        calls.append(raw)
        raise ValueError("the node said no")

    monkeypatch.setattr(eth, "send_raw_transaction", broken)
    user = Account.create()
    request = system.forwarding.sign(
        user, system.token.address, system.token.encode("approve", actors.ngo.address, 3)
    )
    with pytest.raises(TransactionError, match="batch failed"):
        relayer.relay(request, timeout=60)
    assert len(calls) == 1
