"""The provider registry and restricted aid: admitting and suspending providers, programs' rules, marked
accounts, and the euro token refusing restricted money anywhere but an admitted provider of the right
category. Every function, every revert and the role denials (a stranger, another NGO, a funder)."""

from __future__ import annotations

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak

from ledger.providers import ProviderStatus, category_mask, category_names
from ledger.revert_errors import (
    AccessControlUnauthorizedAccount,
    EuroTokenTransferRulesAlreadySet,
    FundLedgerUnknownProgram,
    ProviderRegistryAccountIsContract,
    ProviderRegistryAccountIsProvider,
    ProviderRegistryAccountNotFresh,
    ProviderRegistryNoCategories,
    ProviderRegistryNotAdmitted,
    ProviderRegistryNotClaimProgram,
    ProviderRegistryNotProgramNgo,
    ProviderRegistryNotProviderNgo,
    ProviderRegistryRestrictedTransfer,
    ProviderRegistryZeroAccount,
)
from ledger.roles import Role
from ledger.system import Allmende
from tests.claims_support import ClaimSetup, make_clients, open_claims, released_program
from tests.conftest import EUR, Actors

FOOD, SCHOOL, SPORTS, CULTURE = 1, 2, 4, 8
ZERO = "0x" + "00" * 20


def _gas_money(system: Allmende, a: Actors, *accounts: LocalAccount) -> None:
    for account in accounts:
        system.chain.web3.eth.send_transaction(
            {"from": a.admin.address, "to": account.address, "value": 10**18}
        )


def _shop(system: Allmende, a: Actors, categories: int = FOOD, ngo: LocalAccount | None = None) -> str:
    shop = Account.create().address
    system.providers.admit(ngo or a.ngo, shop, categories, keccak(text="shop"))
    return shop


def _restricted_client(
    system: Allmende, a: Actors, categories: int = FOOD, amount: int = 10 * EUR
) -> tuple[LocalAccount, int]:
    """A client account holding `amount` of a fund program restricted to `categories`, with gas money."""
    program = released_program(system, a)
    system.providers.set_program_rule(a.ngo, program, categories)
    client = Account.create()
    system.providers.restrict_accounts(a.ngo, program, [client.address])
    system.funds.disburse(a.ngo, program, [(client.address, amount)])
    _gas_money(system, a, client)
    return client, program


def _pay(system: Allmende, payer: LocalAccount, to: str, amount: int) -> None:
    system.token.transact(payer, "transfer", to, amount)


# --- admitting and suspending providers -------------------------------------------------------


def test_ngo_admits_a_provider_with_its_categories(system: Allmende, actors: Actors) -> None:
    a = actors
    shop = Account.create().address
    event = system.providers.admit(a.ngo, shop, FOOD | SPORTS, b"\x05" * 32).event("ProviderAdmitted")
    assert event.args == {
        "provider": shop,
        "ngo": a.ngo.address,
        "categories": FOOD | SPORTS,
        "metadataHash": b"\x05" * 32,
    }
    record = system.providers.provider(shop)
    assert (record.ngo, record.categories, record.status) == (
        a.ngo.address,
        FOOD | SPORTS,
        ProviderStatus.ADMITTED,
    )


def test_admin_admits_a_provider(system: Allmende, actors: Actors) -> None:
    shop = _shop(system, actors, ngo=actors.admin)
    assert system.providers.provider(shop).ngo == actors.admin.address


@pytest.mark.parametrize("who", ["outsider", "funder", "approver"])
def test_only_an_ngo_or_the_admin_admits(system: Allmende, actors: Actors, who: str) -> None:
    account = getattr(actors, who)
    with pytest.raises(AccessControlUnauthorizedAccount) as err:
        system.providers.admit(account, Account.create().address, FOOD)
    assert err.value.fields == {"account": account.address, "neededRole": Role.ADMIN.id}


def test_admit_refuses_a_zero_account_and_no_categories(system: Allmende, actors: Actors) -> None:
    with pytest.raises(ProviderRegistryZeroAccount):
        system.providers.admit(actors.ngo, ZERO, FOOD)
    with pytest.raises(ProviderRegistryNoCategories):
        system.providers.admit(actors.ngo, Account.create().address, 0)


def test_another_ngo_cannot_change_or_suspend_a_provider(system: Allmende, actors: Actors) -> None:
    a = actors
    shop = _shop(system, a)
    with pytest.raises(ProviderRegistryNotProviderNgo) as err:
        system.providers.admit(a.ngo2, shop, CULTURE)
    assert err.value.fields == {"provider": shop, "account": a.ngo2.address}
    with pytest.raises(ProviderRegistryNotProviderNgo):
        system.providers.suspend(a.ngo2, shop)
    for stranger in (a.outsider, a.funder):
        with pytest.raises(ProviderRegistryNotProviderNgo):
            system.providers.suspend(stranger, shop)
    assert system.providers.provider(shop).status == ProviderStatus.ADMITTED


def test_ngo_suspends_and_readmits_its_provider(system: Allmende, actors: Actors) -> None:
    a = actors
    shop = _shop(system, a)
    event = system.providers.suspend(a.ngo, shop, b"\x09" * 32).event("ProviderSuspended")
    assert event.args == {"provider": shop, "by": a.ngo.address, "reasonHash": b"\x09" * 32}
    assert system.providers.provider(shop).status == ProviderStatus.SUSPENDED
    with pytest.raises(ProviderRegistryNotAdmitted):
        system.providers.suspend(a.ngo, shop)  # suspended already
    system.providers.admit(a.ngo, shop, SPORTS)
    record = system.providers.provider(shop)
    assert (record.status, record.categories) == (ProviderStatus.ADMITTED, SPORTS)


def test_admin_suspends_and_readmits_any_provider(system: Allmende, actors: Actors) -> None:
    a = actors
    shop = _shop(system, a)
    system.providers.suspend(a.admin, shop)
    system.providers.admit(a.admin, shop, FOOD)
    assert system.providers.provider(shop).ngo == a.ngo.address  # stays the admitting NGO's provider


def test_suspend_refuses_an_unknown_provider(system: Allmende, actors: Actors) -> None:
    unknown = Account.create().address
    with pytest.raises(ProviderRegistryNotAdmitted) as err:
        system.providers.suspend(actors.ngo, unknown)
    assert err.value.fields == {"provider": unknown}
    assert system.providers.provider(unknown).status == ProviderStatus.NONE


# --- programs' rules ----------------------------------------------------------------------------


def test_program_ngo_sets_and_loosens_the_rule(system: Allmende, actors: Actors) -> None:
    a = actors
    program = released_program(system, a)
    assert system.providers.program_rule(program) == 0  # cash until said otherwise
    event = system.providers.set_program_rule(a.ngo, program, FOOD | SCHOOL).event("ProgramRuleSet")
    assert event.args == {"fundProgramId": program, "categories": FOOD | SCHOOL}
    assert system.providers.program_rule(program) == FOOD | SCHOOL
    system.providers.set_program_rule(a.ngo, program, 0)
    assert system.providers.program_rule(program) == 0


@pytest.mark.parametrize("who", ["ngo2", "outsider", "funder", "admin"])
def test_only_the_program_ngo_sets_its_rule(system: Allmende, actors: Actors, who: str) -> None:
    a = actors
    program = released_program(system, a)
    account = getattr(a, who)
    with pytest.raises(ProviderRegistryNotProgramNgo) as err:
        system.providers.set_program_rule(account, program, FOOD)
    assert err.value.fields == {"fundProgramId": program, "account": account.address}


def test_rule_of_an_unknown_program_is_refused(system: Allmende, actors: Actors) -> None:
    with pytest.raises(FundLedgerUnknownProgram):
        system.providers.set_program_rule(actors.ngo, 999, FOOD)


# --- marking accounts before a disbursement ----------------------------------------------------------


def test_ngo_marks_fresh_accounts_before_disbursing(system: Allmende, actors: Actors) -> None:
    a = actors
    program = released_program(system, a)
    system.providers.set_program_rule(a.ngo, program, FOOD)
    accounts = [Account.create().address for _ in range(2)]
    result = system.providers.restrict_accounts(a.ngo, program, accounts)
    assert [e.args for e in result.events if e.name == "AccountRestricted"] == [
        {"token": system.token.address, "account": x, "fundProgramId": program} for x in accounts
    ]
    assert [system.providers.restriction_of(system.token.address, x) for x in accounts] == [program] * 2
    system.providers.restrict_accounts(a.ngo, program, accounts)  # again: nothing changes, no event


@pytest.mark.parametrize("who", ["ngo2", "outsider", "funder"])
def test_only_the_program_ngo_marks_accounts(system: Allmende, actors: Actors, who: str) -> None:
    program = released_program(system, actors)
    with pytest.raises(ProviderRegistryNotProgramNgo):
        system.providers.restrict_accounts(getattr(actors, who), program, [Account.create().address])


def test_marking_refuses_accounts_it_would_lock(system: Allmende, actors: Actors) -> None:
    a = actors
    program = released_program(system, a)
    other = released_program(system, a)
    with pytest.raises(ProviderRegistryZeroAccount):
        system.providers.restrict_accounts(a.ngo, program, [ZERO])
    shop = _shop(system, a)
    with pytest.raises(ProviderRegistryAccountIsProvider):
        system.providers.restrict_accounts(a.ngo, program, [shop])
    with pytest.raises(ProviderRegistryAccountIsContract):
        system.providers.restrict_accounts(a.ngo, program, [system.funds.address])
    with pytest.raises(ProviderRegistryAccountNotFresh) as err:
        system.providers.restrict_accounts(a.ngo, program, [a.funder.address])  # holds cash
    assert err.value.fields["balance"] == system.balance(a.funder.address)
    marked = Account.create().address
    system.providers.restrict_accounts(a.ngo, other, [marked])
    with pytest.raises(ProviderRegistryAccountNotFresh) as err:
        system.providers.restrict_accounts(a.ngo, program, [marked])
    assert err.value.fields == {"account": marked, "fundProgramId": program, "current": other, "balance": 0}


def test_only_claim_programs_mark_recipients(system: Allmende, actors: Actors) -> None:
    with pytest.raises(ProviderRegistryNotClaimProgram) as err:
        system.providers.transact(actors.outsider, "markRecipient", Account.create().address)
    assert err.value.fields == {"caller": actors.outsider.address}


# --- the rule holds on chain ----------------------------------------------------------------------


def test_restricted_account_pays_an_admitted_provider_of_its_category(
    system: Allmende, actors: Actors
) -> None:
    a = actors
    client, _ = _restricted_client(system, a, FOOD | SPORTS)
    grocer, club = _shop(system, a, FOOD), _shop(system, a, SPORTS | CULTURE)
    _pay(system, client, grocer, 3 * EUR)
    _pay(system, client, club, 2 * EUR)
    assert (system.balance(grocer), system.balance(club), system.balance(client.address)) == (
        3 * EUR,
        2 * EUR,
        5 * EUR,
    )


def test_provider_is_free_with_what_it_was_paid(system: Allmende, actors: Actors) -> None:
    a = actors
    client, _ = _restricted_client(system, a, FOOD)
    grocer = Account.create()
    system.providers.admit(a.ngo, grocer.address, FOOD)
    _pay(system, client, grocer.address, 4 * EUR)
    _gas_money(system, a, grocer)
    assert system.providers.restriction_of(system.token.address, grocer.address) == 0
    _pay(system, grocer, a.outsider.address, EUR)
    system.token.transact(grocer, "redeem", EUR, bytes(32))  # its pay-out to a bank
    assert system.balance(grocer.address) == 2 * EUR


def test_direct_transfer_to_anyone_else_reverts(system: Allmende, actors: Actors) -> None:
    a = actors
    client, program = _restricted_client(system, a, FOOD)
    with pytest.raises(ProviderRegistryRestrictedTransfer) as err:
        _pay(system, client, a.outsider.address, EUR)
    assert err.value.fields == {
        "account": client.address,
        "to": a.outsider.address,
        "fundProgramId": program,
        "categories": FOOD,
    }
    other_client = Account.create().address
    with pytest.raises(ProviderRegistryRestrictedTransfer):
        _pay(system, client, other_client, EUR)
    assert system.balance(client.address) == 10 * EUR


def test_provider_of_another_category_is_refused(system: Allmende, actors: Actors) -> None:
    client, _ = _restricted_client(system, actors, FOOD)
    club = _shop(system, actors, SPORTS)
    with pytest.raises(ProviderRegistryRestrictedTransfer):
        _pay(system, client, club, EUR)
    assert not system.providers.may_pay(system.token.address, client.address, club)


def test_suspended_provider_is_refused_and_readmitted_one_accepted(system: Allmende, actors: Actors) -> None:
    a = actors
    client, _ = _restricted_client(system, a, FOOD)
    grocer = _shop(system, a, FOOD)
    system.providers.suspend(a.ngo, grocer)
    with pytest.raises(ProviderRegistryRestrictedTransfer):
        _pay(system, client, grocer, EUR)
    system.providers.admit(a.ngo, grocer, FOOD)
    _pay(system, client, grocer, EUR)
    assert system.balance(grocer) == EUR


def test_restricted_money_is_not_paid_out_to_a_bank(system: Allmende, actors: Actors) -> None:
    client, _ = _restricted_client(system, actors, FOOD)
    with pytest.raises(ProviderRegistryRestrictedTransfer) as err:
        system.token.transact(client, "redeem", EUR, bytes(32))
    assert err.value.fields["to"] == ZERO


def test_a_spender_cannot_move_restricted_money_either(system: Allmende, actors: Actors) -> None:
    a = actors
    client, _ = _restricted_client(system, a, FOOD)
    system.token.transact(client, "approve", a.outsider.address, EUR)
    with pytest.raises(ProviderRegistryRestrictedTransfer):
        system.token.transact(a.outsider, "transferFrom", client.address, a.outsider.address, EUR)


def test_restricted_account_pays_through_the_forwarder(system: Allmende, actors: Actors) -> None:
    """Clients never hold gas: their payment is relayed, and the rule holds for the signer all the same."""
    a = actors
    client, _ = _restricted_client(system, a, FOOD)
    grocer = _shop(system, a, FOOD)
    system.forwarding.call_as(a.relayer, client, system.token, "transfer", grocer, 2 * EUR)
    assert system.balance(grocer) == 2 * EUR
    with pytest.raises(ProviderRegistryRestrictedTransfer):
        system.forwarding.call_as(a.relayer, client, system.token, "transfer", a.outsider.address, EUR)


def test_cash_account_is_free(system: Allmende, actors: Actors) -> None:
    a = actors
    program = released_program(system, a)  # rule 0: cash
    client = Account.create()
    system.funds.disburse(a.ngo, program, [(client.address, 5 * EUR)])
    _gas_money(system, a, client)
    assert system.providers.restriction_of(system.token.address, client.address) == 0
    _pay(system, client, a.outsider.address, 2 * EUR)
    system.token.transact(client, "redeem", EUR, bytes(32))
    assert system.balance(client.address) == 2 * EUR


def test_loosening_the_rule_to_cash_frees_marked_accounts(system: Allmende, actors: Actors) -> None:
    a = actors
    client, program = _restricted_client(system, a, FOOD)
    assert not system.providers.may_pay(system.token.address, client.address, a.outsider.address)
    system.providers.set_program_rule(a.ngo, program, 0)
    assert system.providers.may_pay(system.token.address, client.address, a.outsider.address)
    _pay(system, client, a.outsider.address, EUR)


# --- claims into restricted accounts ---------------------------------------------------------------


def _restricted_claims(system: Allmende, a: Actors, categories: int = FOOD) -> ClaimSetup:
    program = released_program(system, a)
    system.providers.set_program_rule(a.ngo, program, categories)
    setup = open_claims(system, a, fund=20 * EUR, fund_program=program)
    setup.publish(a.ngo, make_clients([5 * EUR, 5 * EUR, 5 * EUR]))
    return setup


def test_claim_of_a_restricted_program_marks_its_recipient(system: Allmende, actors: Actors) -> None:
    a = actors
    setup = _restricted_claims(system, a)
    assert setup.program.call("restrictedBy") == system.providers.address
    recipient = Account.create()
    result = setup.claim(a.relayer, 0, recipient.address)
    recognised = result.event("ClaimProgramRecognised")
    assert recognised.args["program"] == setup.program.address
    assert recognised.args["fundProgramId"] == setup.fund_program
    marked = result.event("AccountRestricted").args
    assert marked == {
        "token": system.token.address,
        "account": recipient.address,
        "fundProgramId": setup.fund_program,
    }
    assert system.providers.source_of(setup.program.address) == (setup.fund_program, system.token.address)
    _gas_money(system, a, recipient)
    with pytest.raises(ProviderRegistryRestrictedTransfer):
        _pay(system, recipient, a.outsider.address, EUR)
    _pay(system, recipient, _shop(system, a, FOOD), 5 * EUR)


def test_claim_into_an_account_holding_money_is_refused(system: Allmende, actors: Actors) -> None:
    a = actors
    setup = _restricted_claims(system, a)
    with pytest.raises(ProviderRegistryAccountNotFresh):
        setup.claim(a.relayer, 0, a.funder.address)  # would lock the funder's own cash
    assert not setup.program.call("isClaimed", 0)


def test_claim_paid_straight_to_a_provider_leaves_it_unmarked(system: Allmende, actors: Actors) -> None:
    a = actors
    setup = _restricted_claims(system, a)
    grocer = _shop(system, a, FOOD)
    setup.claim(a.relayer, 1, grocer)
    assert system.providers.restriction_of(system.token.address, grocer) == 0
    assert system.balance(grocer) == 5 * EUR


def test_claim_program_of_a_cash_program_marks_nothing(system: Allmende, actors: Actors) -> None:
    a = actors
    setup = open_claims(system, a, fund=10 * EUR)
    setup.publish(a.ngo, make_clients([5 * EUR]))
    assert int(setup.program.call("restrictedBy"), 16) == 0
    recipient = Account.create().address
    result = setup.claim(a.relayer, 0, recipient)
    assert not [e for e in result.events if e.name == "AccountRestricted"]
    assert system.providers.restriction_of(system.token.address, recipient) == 0


def test_unclaimed_rest_of_a_restricted_program_returns_to_the_fund_ledger(
    system: Allmende, actors: Actors
) -> None:
    a = actors
    setup = _restricted_claims(system, a)
    setup.claim(a.relayer, 0)
    system.chain.advance_time(31 * 86_400)
    returned = setup.program.return_unclaimed(a.ngo)
    assert sum(e.args["amount"] for e in returned.events if e.name == "UnclaimedReturned") == 15 * EUR


# --- the token's binding --------------------------------------------------------------------------


def test_token_is_bound_once_to_the_registry(system: Allmende, actors: Actors) -> None:
    a = actors
    assert system.token.call("transferRules") == system.providers.address
    with pytest.raises(EuroTokenTransferRulesAlreadySet) as err:
        system.token.transact(a.admin, "setTransferRules", a.outsider.address)
    assert err.value.fields == {"rules": system.providers.address}
    for stranger in (a.outsider, a.ngo, a.funder):
        with pytest.raises(AccessControlUnauthorizedAccount):
            system.token.transact(stranger, "setTransferRules", a.outsider.address)


# --- categories in Python -------------------------------------------------------------------------


def test_category_masks_follow_the_published_order() -> None:
    published = ["food", "school_supplies", "sports", "culture"]
    assert category_mask(["sports", "food"], published) == FOOD | SPORTS
    assert category_names(FOOD | SPORTS | 1 << 40, published) == ["food", "sports"]
    with pytest.raises(ValueError):
        category_mask(["tobacco"], published)


def test_check_transfer_answers_for_the_calling_token_only(system: Allmende, actors: Actors) -> None:
    """`checkTransfer` reads the restrictions of its caller: asked by the euro token it refuses, asked by
    anyone else it finds nothing restricted (so no other contract can learn or use another's rules)."""
    a = actors
    client, program = _restricted_client(system, a, FOOD)
    token = system.token.address
    with pytest.raises(ProviderRegistryRestrictedTransfer) as err:
        system.providers.call("checkTransfer", client.address, a.outsider.address, EUR, sender=token)
    assert err.value.fields["fundProgramId"] == program
    system.providers.call("checkTransfer", client.address, a.outsider.address, EUR, sender=a.outsider.address)
    assert system.providers.restriction_of(a.outsider.address, client.address) == 0
