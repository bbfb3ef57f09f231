"""Payouts in euros: an account with cash money asks to be paid out, the treasurer batches, marks a batch
sent (burning its total exactly once) or reopens a batch the bank rejected. Every function, every revert,
restricted aid refused, and the role denials (a stranger, an NGO, another NGO, a funder)."""

from __future__ import annotations

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak

from ledger.payouts import MAX_BATCH, BatchStatus, PayoutStatus
from ledger.revert_errors import (
    AccessControlUnauthorizedAccount,
    ERC20InsufficientAllowance,
    PayoutsBadBatchSize,
    PayoutsBatchNotOpen,
    PayoutsNotPending,
    PayoutsReferenceUsed,
    PayoutsRestrictedMoney,
    PayoutsZeroAmount,
    PayoutsZeroReference,
)
from ledger.roles import Role
from ledger.system import Allmende
from tests.conftest import EUR, Actors
from tests.contracts.test_provider_registry import FOOD, _gas_money, _restricted_client

BANK = keccak(text="bank statement 2026-12-06")


def _holder(system: Allmende, a: Actors, amount: int) -> LocalAccount:
    """A plain account (a shop, say) holding `amount` of cash money, with gas, the contract approved."""
    holder = Account.create()
    _gas_money(system, a, holder)
    system.mint(a.treasurer, holder.address, amount)
    system.approve(holder, system.payouts.address, amount)
    return holder


def _request(system: Allmende, holder: LocalAccount, amount: int, tag: str) -> int:
    result = system.payouts.request(holder, amount, keccak(text=tag))
    return int(result.event("PayoutRequested").args["payoutId"])


def _supply(system: Allmende) -> int:
    return int(system.token.call("totalSupply"))


def test_request_moves_the_tokens_into_the_contract(system: Allmende, actors: Actors) -> None:
    shop = _holder(system, actors, 30 * EUR)
    supply = _supply(system)
    event = system.payouts.request(shop, 20 * EUR, keccak(text="p1")).event("PayoutRequested")
    assert event.args == {
        "payoutId": 1,
        "account": shop.address,
        "amount": 20 * EUR,
        "payoutReference": keccak(text="p1"),
    }
    assert system.balance(shop.address) == 10 * EUR
    assert system.balance(system.payouts.address) == 20 * EUR
    assert _supply(system) == supply  # held, not burned
    record = system.payouts.payout(1)
    assert (record.account, record.amount, record.batch_id, record.status) == (
        shop.address,
        20 * EUR,
        0,
        PayoutStatus.PENDING,
    )
    assert system.payouts.by_reference(keccak(text="p1")) == 1
    totals = system.payouts.totals()
    assert (totals.payouts, totals.batches, totals.held, totals.settled) == (1, 0, 20 * EUR, 0)


def test_request_refuses_zero_amount_zero_reference_and_a_used_reference(
    system: Allmende, actors: Actors
) -> None:
    shop = _holder(system, actors, 10 * EUR)
    with pytest.raises(PayoutsZeroAmount):
        system.payouts.request(shop, 0, keccak(text="x"))
    with pytest.raises(PayoutsZeroReference):
        system.payouts.request(shop, EUR, bytes(32))
    _request(system, shop, EUR, "retry")
    with pytest.raises(PayoutsReferenceUsed) as err:  # a retry never pays twice
        system.payouts.request(shop, EUR, keccak(text="retry"))
    assert err.value.fields == {"payoutReference": keccak(text="retry"), "payoutId": 1}
    assert system.balance(system.payouts.address) == EUR


def test_request_without_allowance_reverts_in_the_token(system: Allmende, actors: Actors) -> None:
    shop = _holder(system, actors, 10 * EUR)
    with pytest.raises(ERC20InsufficientAllowance):
        system.payouts.request(shop, 11 * EUR, keccak(text="too much"))
    assert system.payouts.totals().payouts == 0


def test_restricted_aid_is_not_paid_out_until_the_program_is_cash(system: Allmende, actors: Actors) -> None:
    client, program = _restricted_client(system, actors, FOOD, 10 * EUR)
    system.approve(client, system.payouts.address, 10 * EUR)
    with pytest.raises(PayoutsRestrictedMoney) as err:
        system.payouts.request(client, 10 * EUR, keccak(text="client"))
    assert err.value.fields == {"account": client.address, "fundProgramId": program}
    system.providers.set_program_rule(actors.ngo, program, 0)  # the program becomes cash
    _request(system, client, 10 * EUR, "client")
    assert system.balance(system.payouts.address) == 10 * EUR


def test_batch_sent_burns_its_total_exactly_once(system: Allmende, actors: Actors) -> None:
    a = actors
    shop, club = _holder(system, a, 50 * EUR), _holder(system, a, 7 * EUR)
    ids = [_request(system, shop, 30 * EUR, "s1"), _request(system, club, 7 * EUR, "c1")]
    left = _request(system, shop, 20 * EUR, "s2")
    created = system.payouts.create_batch(a.treasurer, ids).event("BatchCreated")
    assert created.args == {"batchId": 1, "count": 2, "total": 37 * EUR}
    assert system.payouts.payout(ids[0]).status == PayoutStatus.BATCHED
    assert system.payouts.payout(ids[0]).batch_id == 1
    assert system.payouts.batch_payouts(1) == ids
    supply = _supply(system)
    result = system.payouts.mark_sent(a.treasurer, 1, BANK)
    assert result.event("BatchSent").args == {"batchId": 1, "bankReference": BANK, "total": 37 * EUR}
    assert result.event("Redeemed").args == {
        "holder": system.payouts.address,
        "amount": 37 * EUR,
        "payoutReference": BANK,
    }
    assert _supply(system) == supply - 37 * EUR
    assert system.balance(system.payouts.address) == 20 * EUR  # the unbatched payout stays held
    batch = system.payouts.batch(1)
    assert (batch.total, batch.count, batch.status, batch.bank_reference) == (
        37 * EUR,
        2,
        BatchStatus.SENT,
        BANK,
    )
    assert {system.payouts.payout(i).status for i in ids} == {PayoutStatus.SETTLED}
    assert system.payouts.payout(left).status == PayoutStatus.PENDING
    with pytest.raises(PayoutsBatchNotOpen):  # a second "sent" burns nothing more
        system.payouts.mark_sent(a.treasurer, 1, BANK)
    with pytest.raises(PayoutsBatchNotOpen):  # nor can a settled batch be reopened
        system.payouts.reopen(a.treasurer, 1)
    with pytest.raises(PayoutsNotPending):  # a settled payout is never batched again
        system.payouts.create_batch(a.treasurer, [ids[0]])
    totals = system.payouts.totals()
    assert (totals.batches, totals.held, totals.settled) == (1, 20 * EUR, 37 * EUR)


def test_reopened_batch_is_pending_again_and_burns_nothing(system: Allmende, actors: Actors) -> None:
    a = actors
    shop = _holder(system, a, 10 * EUR)
    ids = [_request(system, shop, 4 * EUR, "r1"), _request(system, shop, 6 * EUR, "r2")]
    system.payouts.create_batch(a.treasurer, ids)
    supply = _supply(system)
    reason = keccak(text="IBAN closed")
    event = system.payouts.reopen(a.treasurer, 1, reason).event("BatchReopened")
    assert event.args == {"batchId": 1, "reasonHash": reason}
    assert _supply(system) == supply
    assert system.payouts.batch(1).status == BatchStatus.REJECTED
    assert [(system.payouts.payout(i).status, system.payouts.payout(i).batch_id) for i in ids] == [
        (PayoutStatus.PENDING, 0),
        (PayoutStatus.PENDING, 0),
    ]
    with pytest.raises(PayoutsBatchNotOpen):
        system.payouts.mark_sent(a.treasurer, 1, BANK)
    with pytest.raises(PayoutsBatchNotOpen):
        system.payouts.reopen(a.treasurer, 1)
    system.payouts.create_batch(a.treasurer, ids)
    system.payouts.mark_sent(a.treasurer, 2, BANK)
    assert _supply(system) == supply - 10 * EUR
    assert system.payouts.totals().settled == 10 * EUR


def test_create_batch_refuses_bad_sizes_and_payouts_not_pending(system: Allmende, actors: Actors) -> None:
    a = actors
    shop = _holder(system, a, 10 * EUR)
    first = _request(system, shop, EUR, "b1")
    with pytest.raises(PayoutsBadBatchSize) as err:
        system.payouts.create_batch(a.treasurer, [])
    assert err.value.fields == {"count": 0, "max": MAX_BATCH}
    with pytest.raises(PayoutsBadBatchSize):
        system.payouts.create_batch(a.treasurer, [first] * (MAX_BATCH + 1))
    with pytest.raises(PayoutsNotPending) as unknown:
        system.payouts.create_batch(a.treasurer, [99])
    assert unknown.value.fields == {"payoutId": 99}
    with pytest.raises(PayoutsNotPending):  # the same payout twice in one batch
        system.payouts.create_batch(a.treasurer, [first, first])
    system.payouts.create_batch(a.treasurer, [first])
    with pytest.raises(PayoutsNotPending):
        system.payouts.create_batch(a.treasurer, [first])
    assert system.payouts.totals().batches == 1


def test_mark_sent_refuses_an_unknown_batch_and_a_zero_bank_reference(
    system: Allmende, actors: Actors
) -> None:
    a = actors
    shop = _holder(system, a, 10 * EUR)
    system.payouts.create_batch(a.treasurer, [_request(system, shop, EUR, "z")])
    with pytest.raises(PayoutsZeroReference):
        system.payouts.mark_sent(a.treasurer, 1, bytes(32))
    with pytest.raises(PayoutsBatchNotOpen) as err:
        system.payouts.mark_sent(a.treasurer, 2, BANK)
    assert err.value.fields == {"batchId": 2}
    with pytest.raises(PayoutsBatchNotOpen):
        system.payouts.reopen(a.treasurer, 2)


@pytest.mark.parametrize("who", ["outsider", "ngo", "ngo2", "funder"])
def test_only_the_treasurer_batches_settles_and_reopens(system: Allmende, actors: Actors, who: str) -> None:
    a = actors
    account = getattr(a, who)
    shop = _holder(system, a, 10 * EUR)
    payout_id = _request(system, shop, EUR, "role")
    denied = {"account": account.address, "neededRole": Role.TREASURER.id}
    with pytest.raises(AccessControlUnauthorizedAccount) as err:
        system.payouts.create_batch(account, [payout_id])
    assert err.value.fields == denied
    system.payouts.create_batch(a.treasurer, [payout_id])
    with pytest.raises(AccessControlUnauthorizedAccount) as err:
        system.payouts.mark_sent(account, 1, BANK)
    assert err.value.fields == denied
    with pytest.raises(AccessControlUnauthorizedAccount) as err:
        system.payouts.reopen(account, 1)
    assert err.value.fields == denied
    assert system.payouts.batch(1).status == BatchStatus.OPEN
