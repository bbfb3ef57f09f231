"""Expiry of restricted aid: after a claim program's expiry anyone may take back what the accounts it
paid and marked restricted have not spent (`ClaimProgram.reclaimExpired`); the money goes back through the
fund ledger to the lots it came from, with the unclaimed rest. Every new function and every revert:
before expiry, an account another program (or the NGO) marked, a cash account, a program loosened to
cash, too many accounts, a token without rules; a stranger triggers it; nothing moves twice."""

from __future__ import annotations

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from ledger.claims import MAX_RECLAIM_ACCOUNTS
from ledger.revert_errors import (
    ClaimProgramNotExpired,
    ClaimProgramNothingToReturn,
    ClaimProgramNotRestricted,
    ClaimProgramTooManyAccounts,
    EuroTokenNoTransferRules,
    ProviderRegistryAccountNotFresh,
    ProviderRegistryNotExpired,
    ProviderRegistryNotMarkedBy,
    ProviderRegistryProgramIsCash,
)
from ledger.system import Allmende, _deploy_data
from ledger.token import EuroTokenClient
from tests.claims_support import DAY, ClaimSetup, make_clients, open_claims, released_program
from tests.conftest import EUR, Actors

FOOD = 1
ZERO = "0x" + "00" * 20


def _gas_money(system: Allmende, a: Actors, account: LocalAccount) -> None:
    system.chain.web3.eth.send_transaction({"from": a.admin.address, "to": account.address, "value": 10**18})


def _restricted(system: Allmende, a: Actors) -> ClaimSetup:
    """A claim program of a FOOD-restricted fund program holding 20 EUR, three clients of 5 EUR."""
    program = released_program(system, a, amount=100 * EUR)
    system.providers.set_program_rule(a.ngo, program, FOOD)
    setup = open_claims(system, a, fund=20 * EUR, fund_program=program)
    setup.publish(a.ngo, make_clients([5 * EUR, 5 * EUR, 5 * EUR]))
    return setup


def _claimed(system: Allmende, a: Actors, setup: ClaimSetup, index: int) -> LocalAccount:
    recipient = Account.create()
    setup.claim(a.relayer, index, recipient.address)
    return recipient


def _program_figures(system: Allmende, fund_program: int) -> tuple[int, int, int]:
    p = system.funds.program(fund_program)
    return p.allocated, p.released, p.disbursed


def test_stranger_reclaims_unspent_aid_back_to_the_lots(system: Allmende, actors: Actors) -> None:
    a = actors
    setup = _restricted(system, a)
    spender, keeper = _claimed(system, a, setup, 0), _claimed(system, a, setup, 1)
    assert system.providers.marked_by(system.token.address, spender.address) == setup.program.address
    shop = Account.create().address
    system.providers.admit(a.ngo, shop, FOOD)
    _gas_money(system, a, spender)
    system.token.transact(spender, "transfer", shop, 2 * EUR)
    allocated, released, disbursed = _program_figures(system, setup.fund_program)
    system.chain.advance_time(31 * DAY)

    result = setup.program.reclaim_expired(a.outsider, [spender.address, keeper.address])

    reclaimed = {
        e.args["account"]: e.args["amount"] for e in result.events if e.name == "ExpiredAidReclaimed"
    }
    assert reclaimed == {spender.address: 3 * EUR, keeper.address: 5 * EUR}
    returned = [e for e in result.events if e.name == "FundsReturned"]
    # 3 + 5 unspent and 5 never claimed (plus the 5 never granted) go back: 18 of the 20 paid in.
    assert sum(e.args["amount"] for e in returned) == 18 * EUR
    assert len({e.args["lotId"] for e in returned}) == 1  # the one lot the program was given
    assert all(not e.args["toFunder"] for e in returned)
    assert (system.balance(spender.address), system.balance(keeper.address)) == (0, 0)
    assert system.balance(setup.program.address) == 0
    assert system.balance(shop) == 2 * EUR  # what was spent stays spent
    assert _program_figures(system, setup.fund_program) == (
        allocated + 18 * EUR,
        released + 18 * EUR,
        disbursed,
    )
    info = setup.program.info()
    assert (info.funded, info.returned) == (20 * EUR, 18 * EUR)

    # Nothing twice: the accounts are empty and the program holds nothing.
    with pytest.raises(ClaimProgramNothingToReturn):
        setup.program.reclaim_expired(a.outsider, [spender.address, keeper.address])
    with pytest.raises(ClaimProgramNothingToReturn):
        setup.program.return_unclaimed(a.outsider)
    # The account stays restricted: money refunded to it later cannot leave except to a provider.
    assert system.providers.restriction_of(system.token.address, keeper.address) == setup.fund_program


def test_reclaim_before_expiry_is_refused(system: Allmende, actors: Actors) -> None:
    a = actors
    setup = _restricted(system, a)
    client = _claimed(system, a, setup, 0)
    with pytest.raises(ClaimProgramNotExpired):
        setup.program.reclaim_expired(a.outsider, [client.address])
    # Nor may the program take it through the token early: the registry checks the expiry itself.
    with pytest.raises(ProviderRegistryNotExpired) as err:
        system.providers.call(
            "checkReclaim", setup.program.address, [client.address], sender=system.token.address
        )
    assert err.value.fields == {"program": setup.program.address, "expiry": setup.program.info().expiry}
    assert system.balance(client.address) == 5 * EUR


def test_reclaim_refuses_accounts_it_did_not_mark(system: Allmende, actors: Actors) -> None:
    a = actors
    setup = _restricted(system, a)
    mine = _claimed(system, a, setup, 0)
    other = open_claims(system, a, fund=10 * EUR, fund_program=setup.fund_program)
    other.publish(a.ngo, make_clients([5 * EUR]))
    theirs = _claimed(system, a, other, 0)
    ngo_marked = Account.create().address
    system.providers.restrict_accounts(a.ngo, setup.fund_program, [ngo_marked])
    system.funds.disburse(a.ngo, setup.fund_program, [(ngo_marked, EUR)])
    system.chain.advance_time(31 * DAY)
    for account, marked_by in (
        (theirs.address, other.program.address),  # another claim program of the same fund program
        (ngo_marked, ZERO),  # marked by the NGO: it expires with its fund program (sweepExpired)
        (a.funder.address, ZERO),  # a cash account
    ):
        with pytest.raises(ProviderRegistryNotMarkedBy) as err:
            setup.program.reclaim_expired(a.outsider, [mine.address, account])
        assert err.value.fields == {
            "account": account,
            "program": setup.program.address,
            "markedBy": marked_by,
        }
    assert system.balance(mine.address) == 5 * EUR
    assert system.balance(ngo_marked) == EUR


def test_another_claim_program_cannot_mark_a_marked_account(system: Allmende, actors: Actors) -> None:
    """An account is marked by one claim program only, so one program's expiry never takes another's money."""
    a = actors
    setup = _restricted(system, a)
    client = _claimed(system, a, setup, 0)
    _gas_money(system, a, client)
    shop = Account.create().address
    system.providers.admit(a.ngo, shop, FOOD)
    system.token.transact(client, "transfer", shop, 5 * EUR)  # spent: balance zero again
    other = open_claims(system, a, fund=10 * EUR, fund_program=setup.fund_program)
    other.publish(a.ngo, make_clients([5 * EUR]))
    with pytest.raises(ProviderRegistryAccountNotFresh) as err:
        other.claim(a.relayer, 0, client.address)
    assert err.value.fields["current"] == setup.fund_program


def test_cash_claim_program_reclaims_nothing(system: Allmende, actors: Actors) -> None:
    a = actors
    setup = open_claims(system, a, fund=10 * EUR)
    setup.publish(a.ngo, make_clients([5 * EUR]))
    client = _claimed(system, a, setup, 0)
    system.chain.advance_time(31 * DAY)
    with pytest.raises(ClaimProgramNotRestricted):
        setup.program.reclaim_expired(a.outsider, [client.address])
    assert system.balance(client.address) == 5 * EUR


def test_program_loosened_to_cash_keeps_its_clients_money(system: Allmende, actors: Actors) -> None:
    a = actors
    setup = _restricted(system, a)
    client = _claimed(system, a, setup, 0)
    system.providers.set_program_rule(a.ngo, setup.fund_program, 0)
    system.chain.advance_time(31 * DAY)
    with pytest.raises(ProviderRegistryProgramIsCash) as err:
        setup.program.reclaim_expired(a.outsider, [client.address])
    assert err.value.fields == {"fundProgramId": setup.fund_program}
    assert system.balance(client.address) == 5 * EUR
    # The unclaimed rest still goes back; with no accounts the call is returnUnclaimed.
    result = setup.program.reclaim_expired(a.outsider, [])
    assert sum(e.args["amount"] for e in result.events if e.name == "UnclaimedReturned") == 15 * EUR


def test_reclaim_is_bounded(system: Allmende, actors: Actors) -> None:
    a = actors
    setup = _restricted(system, a)
    system.chain.advance_time(31 * DAY)
    accounts = [Account.create().address for _ in range(MAX_RECLAIM_ACCOUNTS + 1)]
    with pytest.raises(ClaimProgramTooManyAccounts) as err:
        setup.program.reclaim_expired(a.outsider, accounts)
    assert err.value.fields == {"count": MAX_RECLAIM_ACCOUNTS + 1, "max": MAX_RECLAIM_ACCOUNTS}
    assert int(setup.program.call("MAX_RECLAIM_ACCOUNTS")) == MAX_RECLAIM_ACCOUNTS


def test_only_the_marking_program_reclaims_through_the_token(system: Allmende, actors: Actors) -> None:
    """`EuroToken.reclaimRestricted` moves money only to the claim program that marked the accounts:
    a stranger (or an NGO) calling it directly is refused by the registry."""
    a = actors
    setup = _restricted(system, a)
    client = _claimed(system, a, setup, 0)
    system.chain.advance_time(31 * DAY)
    for stranger in (a.outsider, a.ngo):
        with pytest.raises(ProviderRegistryNotMarkedBy) as err:
            system.token.transact(stranger, "reclaimRestricted", [client.address])
        assert err.value.fields["program"] == stranger.address
    assert system.balance(client.address) == 5 * EUR


def test_token_without_rules_reclaims_nothing(system: Allmende, actors: Actors) -> None:
    """A token never bound to transfer rules restricts nothing, so nothing expires."""
    a = actors
    data = _deploy_data(system.sender, "EuroToken", [system.book.address("AllmendeRoles"), ZERO])
    token = system.sender.send(a.admin, None, data).contract_address
    assert token is not None
    system.sender.decoder.register(token, "EuroToken")
    with pytest.raises(EuroTokenNoTransferRules):
        EuroTokenClient(system.sender, token).transact(a.outsider, "reclaimRestricted", [a.funder.address])
