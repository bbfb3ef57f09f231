"""EuroToken, the role registry and the relayer-only forwarder."""

from __future__ import annotations

import pytest
from eth_account import Account

from ledger.exceptions import TransactionError
from ledger.revert_errors import (
    AccessControlUnauthorizedAccount,
    AllmendeForwarderUnauthorizedRelayer,
    ERC20InsufficientBalance,
    ERC2771ForwarderExpiredRequest,
    ERC2771ForwarderInvalidSigner,
    EuroTokenZeroAmount,
    FundLedgerZeroAmount,
)
from ledger.roles import Role
from ledger.system import Allmende
from tests.conftest import EUR, Actors


def test_token_has_six_decimals_and_a_name(system: Allmende) -> None:
    assert system.token.call("decimals") == 6
    assert system.token.call("symbol") == "EURA"


def test_treasurer_mints_against_fiat_reference(system: Allmende, actors: Actors) -> None:
    who = Account.create().address
    ref = b"\x55" * 32
    r = system.mint(actors.treasurer, who, 12 * EUR, ref)
    assert r.event("Minted").args == {"to": who, "amount": 12 * EUR, "fiatReference": ref}
    assert system.balance(who) == 12 * EUR


def test_mint_reverts_for_non_treasurer_and_zero(system: Allmende, actors: Actors) -> None:
    with pytest.raises(AccessControlUnauthorizedAccount) as err:
        system.mint(actors.admin, actors.admin.address, EUR)
    assert err.value.neededRole == Role.TREASURER.id
    with pytest.raises(EuroTokenZeroAmount):
        system.mint(actors.treasurer, actors.admin.address, 0)


def test_redeem_burns_for_payout(system: Allmende, actors: Actors) -> None:
    supply = system.token.call("totalSupply")
    ref = b"\x66" * 32
    r = system.token.transact(actors.funder, "redeem", 5 * EUR, ref)
    assert r.event("Redeemed").args == {
        "holder": actors.funder.address,
        "amount": 5 * EUR,
        "payoutReference": ref,
    }
    assert system.token.call("totalSupply") == supply - 5 * EUR
    with pytest.raises(EuroTokenZeroAmount):
        system.token.transact(actors.funder, "redeem", 0, ref)
    with pytest.raises(ERC20InsufficientBalance) as err:
        system.token.transact(actors.outsider, "redeem", 1, ref)
    assert err.value.needed == 1


def test_only_admin_grants_roles(system: Allmende, actors: Actors) -> None:
    with pytest.raises(AccessControlUnauthorizedAccount) as err:
        system.roles.transact(actors.funder, "grantRole", Role.FUNDER.id, actors.outsider.address)
    assert err.value.neededRole == Role.ADMIN.id
    system.grant(actors.admin, Role.AUDITOR, actors.outsider.address)
    assert system.has_role(Role.AUDITOR, actors.outsider.address)
    assert system.grant(actors.admin, Role.AUDITOR, actors.outsider.address) is None  # idempotent


def test_role_ids_match_the_contract(system: Allmende) -> None:
    for role in Role:
        if role is not Role.ADMIN:
            assert system.roles.call(role.value) == role.id
    assert system.roles.call("DEFAULT_ADMIN_ROLE") == Role.ADMIN.id


def test_forwarded_deposit_is_made_by_the_funder_not_the_relayer(system: Allmende, actors: Actors) -> None:
    funder = Account.create()
    system.grant(actors.admin, Role.FUNDER, funder.address)
    system.mint(actors.treasurer, funder.address, 10 * EUR)
    fwd = system.forwarding
    fwd.call_as(actors.relayer, funder, system.token, "approve", system.funds.address, 10 * EUR)
    r = fwd.call_as(actors.relayer, funder, system.funds, "deposit", system.token.address, 10 * EUR, 0, 0)
    assert r.event("LotDeposited").args["funder"] == funder.address
    assert r.event("ExecutedForwardRequest").args["signer"] == funder.address
    assert system.balance(funder.address) == 0
    assert system.chain.web3.eth.get_balance(funder.address) == 0  # the funder never paid gas


def test_forwarded_call_raises_the_inner_typed_error(system: Allmende, actors: Actors) -> None:
    with pytest.raises(FundLedgerZeroAmount):
        system.forwarding.call_as(
            actors.relayer, actors.funder, system.funds, "deposit", system.token.address, 0, 0, 0
        )


def test_forwarder_refuses_non_relayers(system: Allmende, actors: Actors) -> None:
    fwd = system.forwarding
    request = fwd.sign(
        actors.funder, system.token.address, system.token.encode("approve", actors.ngo.address, 1)
    )
    with pytest.raises(AllmendeForwarderUnauthorizedRelayer) as err:
        fwd.execute(actors.outsider, request)
    assert err.value.relayer == actors.outsider.address


def test_forwarder_refuses_forged_and_expired_requests(system: Allmende, actors: Actors) -> None:
    fwd = system.forwarding
    data = system.token.encode("approve", actors.ngo.address, 1)
    signed = fwd.sign(actors.outsider, system.token.address, data)
    forged = signed.__class__(**{**signed.__dict__, "sender": actors.funder.address})
    with pytest.raises(ERC2771ForwarderInvalidSigner) as err:
        system.forwarder.transact(actors.relayer, "execute", forged.as_tuple())
    assert err.value.fields["from"] == actors.funder.address
    assert err.value.signer not in (
        actors.funder.address,
        actors.outsider.address,
    )  # hash changed with `from`
    expired = fwd.sign(actors.funder, system.token.address, data, deadline=system.chain.now() - 1)
    with pytest.raises(ERC2771ForwarderExpiredRequest):
        system.forwarder.transact(actors.relayer, "execute", expired.as_tuple())


def test_a_request_executes_once(system: Allmende, actors: Actors) -> None:
    fwd = system.forwarding
    request = fwd.sign(
        actors.funder, system.token.address, system.token.encode("approve", actors.ngo.address, 7)
    )
    fwd.execute(actors.relayer, request)
    assert system.token.call("allowance", actors.funder.address, actors.ngo.address) == 7
    with pytest.raises((ERC2771ForwarderInvalidSigner, TransactionError)):
        system.forwarder.transact(actors.relayer, "execute", request.as_tuple())
