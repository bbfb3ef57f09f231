"""Expiry of restricted aid paid by a plain disbursement: a fund program's NGO sets its end
(`FundLedger.setProgramEnd`), its disbursements then record their draws, and after the end anyone may
sweep what the accounts the NGO marked still hold back to the lots (`sweepExpired`), last drawn first,
a refunded or expired lot's part straight to its funder. Every new function and revert; the chain
against the Python model (`governance.fund_model`) and the auditor's replay (`ledger.fund_events`);
nothing twice."""

from __future__ import annotations

import dataclasses

import pytest
from eth_account import Account

from governance import fund_model as fm
from governance import provider_model as pm
from governance.lineage import build_lineage, sweep_pool
from ledger import fund_ledger as fl
from ledger.fund_events import rebuild_fund_state
from ledger.revert_errors import (
    FundLedgerEndAfterPayment,
    FundLedgerEndEarlier,
    FundLedgerExpiryInPast,
    FundLedgerNothingToSweep,
    FundLedgerNotProgramNgo,
    FundLedgerProgramEnded,
    FundLedgerProgramNotEnded,
    FundLedgerRecipientNotMarked,
    FundLedgerTooManyAccounts,
    ProviderRegistryAccountBound,
    ProviderRegistryNotFundLedger,
    ProviderRegistryNotSweepable,
    ProviderRegistryProgramIsCash,
)
from ledger.system import Allmende
from tests.claims_support import DAY, fund_model_of, released_program
from tests.conftest import EUR, Actors

FOOD = 1
ZERO = "0x" + "00" * 20


def _gas_money(system: Allmende, a: Actors, account: str) -> None:
    system.chain.web3.eth.send_transaction({"from": a.admin.address, "to": account, "value": 10**18})


def _program(system: Allmende, a: Actors, lots: list[tuple[int, int]]) -> tuple[int, list[int]]:
    """A FOOD-restricted program of `a.ngo` ending in 30 days, funded by one lot per (amount, expiry
    in days, 0: never), all released; returns the program and its lots."""
    token = system.token.address
    program = int(system.funds.create_program(a.ngo, token).event("ProgramCreated").args["programId"])
    now = system.chain.now()
    lot_ids = []
    for amount, days in lots:
        expiry = now + days * DAY if days else 0
        lot = system.funds.deposit(a.funder, token, amount, expiry=expiry).event("LotDeposited").args["lotId"]
        system.funds.allocate(a.funder, lot, program, amount)
        lot_ids.append(int(lot))
    system.funds.set_program_approver(a.funder, program, a.approver.address)
    total = sum(amount for amount, _ in lots)
    tranche = system.funds.request_tranche(a.ngo, program, total).event("TrancheRequested").args["trancheId"]
    system.funds.approve_tranche(a.approver, tranche)
    system.providers.set_program_rule(a.ngo, program, FOOD)
    system.funds.set_program_end(a.ngo, program, now + 30 * DAY)
    return program, lot_ids


def _same_programs_and_allocations(system: Allmende, model: fm.FundModel) -> None:
    state = system.funds.read_state([system.token.address])
    assert {i: dataclasses.asdict(p) for i, p in state.programs.items()} == {
        i: dataclasses.asdict(p) for i, p in model.programs.items()
    }
    assert {i: dataclasses.asdict(x) for i, x in state.allocations.items()} == {
        i: dataclasses.asdict(x) for i, x in model.allocations.items()
    }
    assert state.program_allocations == model.program_allocations
    for account, held in model.balances[system.token.address].items():
        assert system.balance(account) == held, account
    # The auditor's replay of the events alone agrees with the views.
    replayed = rebuild_fund_state(system.events())
    assert replayed.programs == state.programs
    assert replayed.allocations == state.allocations


def test_stranger_sweeps_unspent_aid_back_to_the_lots(system: Allmende, actors: Actors) -> None:
    a = actors
    token = system.token.address
    # Lot A never expires; lot B expires after 10 days, before the program's end: its part goes to its funder.
    program, (lot_a, lot_b) = _program(system, a, [(30 * EUR, 0), (20 * EUR, 10)])
    spender, keeper, late = (Account.create() for _ in range(3))
    system.providers.restrict_accounts(a.ngo, program, [spender.address, keeper.address, late.address])
    model = fund_model_of(system, [a.funder.address])
    now = system.chain.now()
    for payments in ([(spender.address, 30 * EUR)], [(keeper.address, 15 * EUR), (late.address, 5 * EUR)]):
        batch = system.funds.disburse(a.ngo, program, payments)
        drawn = model.disburse(
            a.ngo.address,
            program,
            [r for r, _ in payments],
            [x for _, x in payments],
            now=now,
            restriction_of=lambda _: program,  # all three are marked for it
        )
        assert [(e.args["lotId"], e.args["amount"]) for e in batch.events if e.name == "AllocationDrawn"] == [
            (d.lot_id, d.amount) for d in drawn.draws
        ]
    assert system.funds.sweepable(program) == model.sweepable[program] == 50 * EUR
    shop = Account.create().address
    system.providers.admit(a.ngo, shop, FOOD)
    _gas_money(system, a, spender.address)
    system.token.transact(spender, "transfer", shop, 4 * EUR)
    model.balances[token][spender.address] -= 4 * EUR
    model.balances[token][shop] = 4 * EUR
    system.chain.advance_time(31 * DAY)
    _same_programs_and_allocations(system, model)

    result = system.funds.sweep_expired(a.outsider, program, [spender.address, keeper.address])
    taken, parts = model.sweep_expired(program, [spender.address, keeper.address], now=system.chain.now())

    swept = {e.args["account"]: e.args["amount"] for e in result.events if e.name == "ExpiredAidSwept"}
    assert swept == taken == {spender.address: 26 * EUR, keeper.address: 15 * EUR}
    returned = [
        (e.args["allocationId"], e.args["lotId"], e.args["amount"], e.args["toFunder"])
        for e in result.events
        if e.name == "FundsReturned"
    ]
    # Last drawn first: the second batch's 20 (lot B, expired: to its funder), then 21 of lot A's 30.
    assert returned == [(p.allocation_id, p.lot_id, p.amount, p.to_funder) for p in parts]
    assert [(lot, amount, to_funder) for _, lot, amount, to_funder in returned] == [
        (lot_b, 20 * EUR, True),
        (lot_a, 21 * EUR, False),
    ]
    assert system.funds.sweepable(program) == model.sweepable[program] == 9 * EUR
    assert (
        system.balance(spender.address),
        system.balance(keeper.address),
        system.balance(late.address),
    ) == (
        0,
        0,
        5 * EUR,
    )
    assert system.balance(shop) == 4 * EUR  # what was spent stays spent
    _same_programs_and_allocations(system, model)

    # Nothing twice: the swept accounts hold nothing; the last one's 5 comes back on its own.
    with pytest.raises(FundLedgerNothingToSweep) as err:
        system.funds.sweep_expired(a.outsider, program, [spender.address, keeper.address])
    assert err.value.fields == {"programId": program}
    with pytest.raises(fm.FundLedgerNothingToSweep) as modelled:
        model.sweep_expired(program, [spender.address, keeper.address], now=system.chain.now())
    assert modelled.value.fields == err.value.fields
    result = system.funds.sweep_expired(a.funder, program, [late.address, keeper.address])
    model.sweep_expired(program, [late.address, keeper.address], now=system.chain.now())
    assert [(e.args["lotId"], e.args["amount"]) for e in result.events if e.name == "FundsReturned"] == [
        (lot_a, 5 * EUR)
    ]
    assert system.funds.sweepable(program) == 4 * EUR  # what was spent at the shop
    _same_programs_and_allocations(system, model)
    # The accounts stay restricted to the program.
    assert system.providers.restriction_of(token, keeper.address) == program

    # The lineage follows the swept money into the program's pool and back to the lots it names.
    lineage = build_lineage(
        system.events(), token, system.funds.address, system.book.address("ProviderRegistry")
    )
    accounts = [x for x in lineage.model.queues if not x.startswith("swept:")]
    balances = {x: system.balance(x) for x in accounts}
    assert lineage.differences(balances, system.balance(system.funds.address)) == []
    assert lineage.model.conserved()
    assert lineage.model.balance(sweep_pool(program)) == 0
    assert lineage.lot(lot_a).held == 0 and lineage.lot(lot_b).refunded == 20 * EUR


def test_program_end_is_set_before_paying_and_only_moves_later(system: Allmende, actors: Actors) -> None:
    a = actors
    program, _ = _program(system, a, [(10 * EUR, 0)])
    ends = system.funds.program(program).ends_at
    with pytest.raises(FundLedgerNotProgramNgo):
        system.funds.set_program_end(a.outsider, program, ends + DAY)
    with pytest.raises(FundLedgerEndEarlier) as earlier:
        system.funds.set_program_end(a.ngo, program, ends - DAY)
    assert earlier.value.fields == {"programId": program, "current": ends, "endsAt": ends - DAY}
    model = fund_model_of(system, [a.funder.address])
    with pytest.raises(fm.FundLedgerEndEarlier) as modelled:
        model.set_program_end(a.ngo.address, program, ends - DAY, now=system.chain.now() + 1)
    assert modelled.value.fields == earlier.value.fields
    with pytest.raises(FundLedgerExpiryInPast):
        system.funds.set_program_end(a.ngo, program, system.chain.now() - 1)
    later = system.funds.set_program_end(a.ngo, program, ends + DAY).event("ProgramEndSet")
    assert (later.args["programId"], later.args["endsAt"]) == (program, ends + DAY)

    # A program that has paid without an end gets none: its earlier payments were not recorded.
    plain = released_program(system, a, amount=10 * EUR)
    system.funds.disburse(a.ngo, plain, [(Account.create().address, EUR)])
    with pytest.raises(FundLedgerEndAfterPayment) as paid:
        system.funds.set_program_end(a.ngo, plain, system.chain.now() + DAY)
    assert paid.value.fields == {"programId": plain, "disbursed": EUR}
    model = fund_model_of(system, [a.funder.address])
    with pytest.raises(fm.FundLedgerEndAfterPayment) as modelled:
        model.set_program_end(a.ngo.address, plain, system.chain.now() + DAY, now=system.chain.now() + 1)
    assert modelled.value.fields == paid.value.fields

    # Once ended, it pays no more, until its NGO sets a later end: a next period, recorded again.
    system.chain.advance_time(32 * DAY)
    with pytest.raises(FundLedgerProgramEnded) as ended:
        system.funds.disburse(a.ngo, program, [(Account.create().address, EUR)])
    assert ended.value.fields == {"programId": program, "endsAt": ends + DAY}
    system.funds.set_program_end(a.ngo, program, system.chain.now() + 30 * DAY)
    client = Account.create().address
    system.providers.restrict_accounts(a.ngo, program, [client])
    system.funds.disburse(a.ngo, program, [(client, EUR)])
    assert system.funds.sweepable(program) == EUR


def test_sweep_refusals(system: Allmende, actors: Actors) -> None:
    a = actors
    program, _ = _program(system, a, [(20 * EUR, 0)])
    other, _ = _program(system, a, [(10 * EUR, 0)])
    mine, theirs = Account.create().address, Account.create().address
    system.providers.restrict_accounts(a.ngo, program, [mine])
    system.providers.restrict_accounts(a.ngo, other, [theirs])
    system.funds.disburse(a.ngo, program, [(mine, 5 * EUR)])
    system.funds.disburse(a.ngo, other, [(theirs, 5 * EUR)])
    cash = Account.create().address
    system.token.transact(a.funder, "transfer", cash, EUR)

    with pytest.raises(FundLedgerProgramNotEnded) as early:
        system.funds.sweep_expired(a.outsider, program, [mine])
    assert early.value.fields == {"programId": program, "endsAt": system.funds.program(program).ends_at}
    without_end = released_program(system, a, amount=10 * EUR)
    with pytest.raises(FundLedgerProgramNotEnded):
        system.funds.sweep_expired(a.outsider, without_end, [mine])
    system.chain.advance_time(31 * DAY)

    for accounts in ([], [Account.create().address for _ in range(fm.MAX_SWEEP_ACCOUNTS + 1)]):
        with pytest.raises(FundLedgerTooManyAccounts) as many:
            system.funds.sweep_expired(a.outsider, program, accounts)
        assert many.value.fields == {"count": len(accounts), "max": fm.MAX_SWEEP_ACCOUNTS}
    assert int(system.funds.call("MAX_SWEEP_ACCOUNTS")) == fl.MAX_SWEEP_ACCOUNTS == fm.MAX_SWEEP_ACCOUNTS
    registry = pm.ProviderModel(rules={program: FOOD, other: FOOD}, restricted={mine: program, theirs: other})
    ledger = system.funds.address
    for account, restricted_by in ((theirs, other), (cash, 0)):
        with pytest.raises(ProviderRegistryNotSweepable) as err:
            system.funds.sweep_expired(a.outsider, program, [mine, account])
        assert err.value.fields == {
            "account": account,
            "fundProgramId": program,
            "restrictedBy": restricted_by,
            "markedBy": ZERO,
        }
        with pytest.raises(pm.ProviderRegistryNotSweepable) as modelled:
            registry.check_sweep(ledger, ledger, program, [mine, account])
        assert modelled.value.fields == err.value.fields
    registry.check_sweep(ledger, ledger, program, [mine])  # the model agrees the program's own account passes
    with pytest.raises(pm.ProviderRegistryNotFundLedger):
        registry.check_sweep(a.outsider.address, ledger, program, [mine])
    # Only the fund ledger may move the money through the token.
    with pytest.raises(ProviderRegistryNotFundLedger) as stranger:
        system.token.transact(a.outsider, "sweepRestricted", program, [mine], [5 * EUR])
    assert stranger.value.fields == {"caller": a.outsider.address}
    # A program loosened to cash leaves its clients' money with them.
    system.providers.set_program_rule(a.ngo, program, 0)
    with pytest.raises(ProviderRegistryProgramIsCash):
        system.funds.sweep_expired(a.outsider, program, [mine])
    registry.rules[program] = 0
    with pytest.raises(pm.ProviderRegistryProgramIsCash):
        registry.check_sweep(ledger, ledger, program, [mine])
    assert (system.balance(mine), system.balance(theirs), system.balance(cash)) == (5 * EUR, 5 * EUR, EUR)


def test_a_disbursement_mined_at_the_end_with_explicit_gas_reports_the_end(
    system: Allmende, actors: Actors
) -> None:
    """With an explicit gas limit a refused disbursement is mined and replayed to learn why. Mined in
    the first block at the program's end, it passes on its parent block (still before the end): the
    replay must not call it out of gas but report the end, as the estimate would have."""
    a = actors
    program, _ = _program(system, a, [(10 * EUR, 0)])
    ends = system.funds.program(program).ends_at
    # An empty block stamped a second before the end: the parent of the disbursement's block, which
    # is stamped a second later (the chain's clock is a month ahead of the wall clock now).
    client = Account.create().address
    system.providers.restrict_accounts(a.ngo, program, [client])
    system.chain.advance_time(ends - 1 - system.chain.now())
    assert system.chain.now() == ends - 1
    with pytest.raises(FundLedgerProgramEnded) as ended:
        system.funds.disburse(a.ngo, program, [(client, EUR)], gas=1_000_000)
    assert ended.value.fields == {"programId": program, "endsAt": ends}
    tx_hash = ended.value.transaction_hash  # type: ignore[attr-defined]
    receipt = system.chain.web3.eth.get_transaction_receipt(tx_hash)
    assert receipt["status"] == 0
    assert system.chain.web3.eth.get_block(receipt["blockNumber"])["timestamp"] == ends


def _lineage_agrees(system: Allmende) -> object:
    lineage = build_lineage(
        system.events(), system.token.address, system.funds.address, system.book.address("ProviderRegistry")
    )
    accounts = [x for x in lineage.model.queues if not x.startswith("swept:")]
    balances = {x: system.balance(x) for x in accounts}
    assert lineage.differences(balances, system.balance(system.funds.address)) == []
    return lineage


def test_a_marked_account_takes_money_only_from_its_program(system: Allmende, actors: Actors) -> None:
    """design-expiry: "one program's end never takes another program's money". Program P (an end, lot A)
    marked its client: program Q cannot pay the client, nor a mint or another account; a provider can
    give a payment back. P's sweep then takes only P's money, and the lineage agrees."""
    a = actors
    program, (lot_a,) = _program(system, a, [(30 * EUR, 0)])
    other = released_program(system, a, amount=10 * EUR, ngo=a.ngo2)
    marked = Account.create()
    system.providers.restrict_accounts(a.ngo, program, [marked.address])
    assert system.token.call("restrictionOf", marked.address) == program
    system.funds.disburse(a.ngo, program, [(marked.address, 5 * EUR)])

    with pytest.raises(ProviderRegistryAccountBound) as bound:
        system.funds.disburse(a.ngo2, other, [(marked.address, 3 * EUR)])
    assert bound.value.fields == {
        "account": marked.address,
        "fundProgramId": program,
        "from": system.funds.address,
    }
    with pytest.raises(ProviderRegistryAccountBound) as minted:
        system.mint(a.treasurer, marked.address, EUR)
    assert minted.value.fields == {"account": marked.address, "fundProgramId": program, "from": ZERO}
    stranger = Account.create()
    system.funds.disburse(a.ngo2, other, [(stranger.address, 3 * EUR)])
    _gas_money(system, a, stranger.address)
    with pytest.raises(ProviderRegistryAccountBound):
        system.token.transact(stranger, "transfer", marked.address, EUR)
    # A provider gives back a payment at the counter.
    shop = Account.create()
    system.providers.admit(a.ngo, shop.address, FOOD)
    _gas_money(system, a, marked.address)
    _gas_money(system, a, shop.address)
    system.token.transact(marked, "transfer", shop.address, 2 * EUR)
    system.token.transact(shop, "transfer", marked.address, EUR)
    assert system.balance(marked.address) == 4 * EUR
    # The registry's model refuses the same moves.
    model = pm.ProviderModel(
        restricted={marked.address: program},
        providers={shop.address: pm.Provider(a.ngo.address, FOOD, pm.ProviderStatus.ADMITTED)},
    )
    with pytest.raises(pm.ProviderRegistryAccountBound) as modelled:
        model.check_receipt(system.funds.address, marked.address, paying=other)
    assert modelled.value.fields == bound.value.fields
    model.check_receipt(system.funds.address, marked.address, paying=program)
    model.check_receipt(shop.address, marked.address)

    system.chain.advance_time(31 * DAY)
    system.funds.sweep_expired(a.outsider, program, [marked.address])
    assert system.balance(marked.address) == 0
    assert system.balance(stranger.address) == 3 * EUR  # what Q paid stays with Q's client
    lineage = _lineage_agrees(system)
    lot = lineage.lot(lot_a)  # 2 spent at the shop, 1 of it given back and swept with the rest
    assert (lot.in_fund_ledger, lot.held, lot.held_by_providers, lot.refunded_by_providers) == (
        29 * EUR,
        0,
        EUR,
        EUR,
    )


def test_a_program_with_an_end_pays_only_accounts_marked_for_it(system: Allmende, actors: Actors) -> None:
    """A program with an end pays no unmarked account and no account of another program (its sweep would
    credit its lots with money they did not give, or take what another program paid), so after the end
    the marked client's 15 € go back to lot A, the lot they came from."""
    a = actors
    program, (lot_a, lot_b) = _program(system, a, [(15 * EUR, 10), (30 * EUR, 0)])
    other, _ = _program(system, a, [(5 * EUR, 0)])
    marked, unmarked, elsewhere = (Account.create().address for _ in range(3))
    system.providers.restrict_accounts(a.ngo, program, [marked])
    system.providers.restrict_accounts(a.ngo, other, [elsewhere])
    for account, restricted_by in ((unmarked, 0), (elsewhere, other)):
        with pytest.raises(FundLedgerRecipientNotMarked) as refused:
            system.funds.disburse(a.ngo, program, [(marked, EUR), (account, EUR)])
        assert refused.value.fields == {
            "programId": program,
            "account": account,
            "restrictedBy": restricted_by,
        }
        model = fund_model_of(system, [marked, account])
        with pytest.raises(fm.FundLedgerRecipientNotMarked) as modelled:
            model.disburse(
                a.ngo.address,
                program,
                [marked, account],
                [EUR, EUR],
                now=system.chain.now() + 1,
                restriction_of=lambda x: {marked: program, elsewhere: other}.get(x, 0),
            )
        assert modelled.value.fields == refused.value.fields
    system.funds.disburse(a.ngo, program, [(marked, 15 * EUR)])
    system.chain.advance_time(31 * DAY)

    result = system.funds.sweep_expired(a.outsider, program, [marked])

    returned = [
        (e.args["lotId"], e.args["amount"], e.args["toFunder"]) for e in result.events_named("FundsReturned")
    ]
    assert returned == [(lot_a, 15 * EUR, True)]
    lineage = _lineage_agrees(system)
    assert (lineage.lot(lot_b).in_fund_ledger, lineage.lot(lot_a).in_fund_ledger) == (30 * EUR, 0)
    assert lineage.lot(lot_a).refunded == 15 * EUR  # expired meanwhile: straight to its funder


def test_a_refund_into_a_marked_account_is_traced_through_its_sweep(system: Allmende, actors: Actors) -> None:
    """Q's client pays the shop first (lot B), then P's client (lot A); the shop gives P's client its
    payment back, and P's sweep after its end credits lot A with all of it: the lineage must agree."""
    a = actors
    program, (lot_a,) = _program(system, a, [(10 * EUR, 0)])
    other, (lot_b,) = _program(system, a, [(10 * EUR, 0)])
    mine, theirs, shop = Account.create(), Account.create(), Account.create()
    system.providers.restrict_accounts(a.ngo, program, [mine.address])
    system.providers.restrict_accounts(a.ngo, other, [theirs.address])
    system.funds.disburse(a.ngo, program, [(mine.address, 5 * EUR)])
    system.funds.disburse(a.ngo, other, [(theirs.address, 5 * EUR)])
    system.providers.admit(a.ngo, shop.address, FOOD)
    for account in (mine, theirs, shop):
        _gas_money(system, a, account.address)
    system.token.transact(theirs, "transfer", shop.address, 3 * EUR)
    system.token.transact(mine, "transfer", shop.address, 2 * EUR)
    system.token.transact(shop, "transfer", mine.address, 2 * EUR)
    system.chain.advance_time(31 * DAY)

    system.funds.sweep_expired(a.outsider, program, [mine.address])

    lineage = _lineage_agrees(system)
    assert lineage.problems == []  # type: ignore[attr-defined]
    assert lineage.lot(lot_a).in_fund_ledger == 10 * EUR  # type: ignore[attr-defined]
    assert lineage.model.slices(shop.address) == [(lot_b, 3 * EUR)]  # type: ignore[attr-defined]
