"""The lineage rebuilt from a real chain's events: a restricted disbursement spent at a shop and paid
out, a claim program's claims partly paid out and its unclaimed rest returned to its lot. The lineage
equals the token's balances, the auditor's section agrees, and an altered event is reported.

One scenario for the module on the session's chain, rewound at the end."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace

import pytest
from eth_account import Account
from eth_utils import keccak

from api.verification import Records, collect
from api.verification.checks import check_lineage
from governance.lineage import Lineage, build_lineage
from ledger.embedded import EmbeddedChain
from ledger.events import Event
from ledger.system import Allmende
from tests.claims_support import DAY, make_clients, open_claims, released_program
from tests.conftest import EUR, Actors

FOOD = 1


@dataclass(frozen=True)
class Scenario:
    records: Records
    lineage: Lineage
    direct_lot: int
    claim_lot: int
    shop: str
    client: str
    claimant: str
    claim_program: str


def _lot_of(system: Allmende, program: int) -> int:
    return max(
        int(e.args["lotId"])
        for e in system.events()
        if e.name == "Allocated" and e.args["programId"] == program
    )


@pytest.fixture(scope="module")
def scenario(deployed: Allmende, chain: EmbeddedChain, actors: Actors) -> Iterator[Scenario]:
    system, a = deployed, actors
    snap = chain.snapshot()
    try:
        shop = Account.create()
        system.providers.admit(a.ngo, shop.address, FOOD, keccak(text="shop"))
        direct = released_program(system, a, 100 * EUR)
        system.providers.set_program_rule(a.ngo, direct, FOOD)
        client = Account.create()
        system.providers.restrict_accounts(a.ngo, direct, [client.address])
        system.funds.disburse(a.ngo, direct, [(client.address, 30 * EUR)])
        claimant = Account.create()
        for account in (client, shop, claimant):
            system.chain.web3.eth.send_transaction(
                {"from": a.admin.address, "to": account.address, "value": 10**18}
            )
        system.token.transact(client, "transfer", shop.address, 20 * EUR)
        system.token.transact(shop, "redeem", 15 * EUR, keccak(text="payout 1"))

        claims = open_claims(system, a, fund=50 * EUR, expiry_in=2 * DAY)
        claims.publish(a.ngo, make_clients([20 * EUR, 25 * EUR]))
        claims.claim(a.relayer, 0, claimant.address)
        system.token.transact(claimant, "redeem", 8 * EUR, keccak(text="payout 2"))
        system.chain.advance_time(3 * DAY)
        claims.program.return_unclaimed(a.ngo)

        records = collect(system)
        book = system.book
        lineage = build_lineage(
            records.events,
            book.address("EuroToken"),
            book.address("FundLedger"),
            book.address("ProviderRegistry"),
        )
        yield Scenario(
            records,
            lineage,
            _lot_of(system, direct),
            _lot_of(system, claims.fund_program),
            shop.address,
            client.address,
            claimant.address,
            claims.program.address,
        )
    finally:
        chain.revert(snap)
        system.sender.forget_nonces()


def test_a_restricted_disbursement_is_traced_to_the_shop_and_its_payout(scenario: Scenario) -> None:
    lot = scenario.lineage.lot(scenario.direct_lot)
    assert (lot.deposited, lot.in_fund_ledger) == (100 * EUR, 70 * EUR)
    assert lot.spent == {(scenario.shop, FOOD): 20 * EUR}
    assert lot.paid_out == {scenario.shop: 15 * EUR}
    assert (lot.held, lot.held_by_providers, lot.paid_out_by_providers) == (10 * EUR, 5 * EUR, 15 * EUR)
    assert scenario.lineage.model.slices(scenario.client) == [(scenario.direct_lot, 10 * EUR)]


def test_a_claim_is_traced_to_its_payout_and_the_unclaimed_rest_back_to_its_lot(scenario: Scenario) -> None:
    lot = scenario.lineage.lot(scenario.claim_lot)
    assert lot.paid_out == {scenario.claimant: 8 * EUR}
    assert (lot.held, lot.in_claim_programs, lot.paid_out_to_others) == (12 * EUR, 0, 8 * EUR)
    assert lot.in_fund_ledger == lot.deposited - 20 * EUR  # 50 paid to the program, 30 came back
    assert scenario.lineage.model.balance(scenario.claim_program) == 0


def test_the_lineage_equals_the_balances_and_the_auditors_section_agrees(scenario: Scenario) -> None:
    r = scenario.records
    assert scenario.lineage.differences(r.balances, r.fund_ledger_balance) == []
    assert scenario.lineage.model.conserved()
    section = check_lineage(r)
    assert section.ok, [c for c in section.checks if not c.ok]
    assert section.figures["paid out by providers from lots"] >= 15 * EUR


def _altered(events: list[Event], name: str, match: dict[str, object], **args: object) -> list[Event]:
    out, done = [], False
    for e in events:
        if not done and e.name == name and all(e.args.get(k) == v for k, v in match.items()):
            e, done = replace(e, args={**e.args, **args}), True
        out.append(e)
    assert done
    return out


def test_an_altered_payment_at_the_shop_is_reported(scenario: Scenario) -> None:
    r = scenario.records
    events = _altered(r.events, "Transfer", {"to": scenario.shop}, value=19 * EUR)
    section = check_lineage(replace(r, events=events))
    assert not section.ok
    assert scenario.shop in section.checks[0].detail


def test_an_altered_disbursement_is_reported(scenario: Scenario) -> None:
    r = scenario.records
    events = _altered(r.events, "Disbursed", {"recipient": scenario.client}, amount=31 * EUR)
    section = check_lineage(replace(r, events=events))
    assert not section.ok
