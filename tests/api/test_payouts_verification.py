"""The auditor's payouts section (api/verification/checks.py `check_payouts`) on a chain where a batch
was reopened and another sent: it agrees with the untampered events and catches a batch sent twice or
a burn that did not happen."""

from __future__ import annotations

from dataclasses import replace

from eth_utils import keccak

from api.verification.checks import check_payouts
from api.verification.records import collect
from ledger.system import Allmende
from tests.conftest import EUR, Actors
from tests.contracts.test_payouts import _holder, _request


def test_payouts_are_rebuilt_from_events_and_tampering_is_caught(system: Allmende, actors: Actors) -> None:
    a = actors
    shop = _holder(system, a, 10 * EUR)
    ids = [_request(system, shop, 4 * EUR, "v1"), _request(system, shop, 6 * EUR, "v2")]
    system.payouts.create_batch(a.treasurer, ids)
    system.payouts.reopen(a.treasurer, 1)
    system.payouts.create_batch(a.treasurer, ids[:1])
    system.payouts.mark_sent(a.treasurer, 2, keccak(text="bank"))
    records = collect(system)
    section = check_payouts(records)
    assert section.ok, section.checks
    assert section.figures == {
        "asked to be paid out": 10 * EUR,
        "paid out (burned)": 4 * EUR,
        "held for payouts": 6 * EUR,
    }
    [sent] = [e for e in records.events if e.name == "BatchSent"]
    twice = check_payouts(replace(records, events=[*records.events, sent]))
    assert [c.name for c in twice.checks if not c.ok] == [
        "each batch sent burned its total once, under the bank's reference",
        "no batch was sent twice",
    ]
    [burn] = [e for e in records.events if e.name == "Redeemed" and e.args["holder"] == sent.address]
    unburned = check_payouts(replace(records, events=[e for e in records.events if e is not burn]))
    assert [c.name for c in unburned.checks if not c.ok] == [
        "each batch sent burned its total once, under the bank's reference"
    ]
