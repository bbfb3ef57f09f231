"""The verifier recomputes rounds from events alone and reports every mismatch."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest

from governance.qv import Payout
from governance.qv_verify import verify_rounds
from tests.governance._events import Ev, HonestChain, sample_round


def _tampered(events: list[Ev], name: str, change: Callable[[dict], dict], nth: int = 0) -> list[Ev]:  # type: ignore[type-arg]
    """`events` with the `nth` event called `name` changed."""
    out, seen = [], 0
    for e in events:
        if e.name == name:
            if seen == nth:
                e = dataclasses.replace(e, args=change(dict(e.args)))
            seen += 1
        out.append(e)
    assert seen > nth, f"no event {name} #{nth}"
    return out


def _mismatches(events: list[Ev]) -> list[str]:
    return verify_rounds(events).mismatches


def test_an_honest_round_verifies() -> None:
    chain = sample_round()
    report = verify_rounds(chain.events)
    assert report.ok, report.mismatches
    audit = report.rounds[1]
    assert audit.tallies == {1: 9, 2: 9, 3: 5, 4: 0}
    assert audit.winners == (1, 3)
    assert (audit.allocated, audit.released, audit.finalised, audit.settled) == (900, 100, True, True)
    assert audit.allocations == [Payout(1, 11, 600), Payout(2, 13, 300)]
    assert audit.ballots_cast == 4


def test_events_in_json_form_verify_too() -> None:
    events = [{"contract": e.contract, "event": e.name, "args": e.args} for e in sample_round().events]
    assert verify_rounds(events).ok


@pytest.mark.parametrize(
    ("name", "nth", "change", "expected"),
    [
        ("ProposalTallied", 2, lambda a: {**a, "votes": a["votes"] + 1}, "proposal 3 tallied 6 votes"),
        ("ProposalTallied", 1, lambda a: {**a, "selected": True}, "selected [1, 2, 3]"),
        ("ProposalTallied", 0, lambda a: {**a, "proposalId": 4}, "tallied in order [4, 2, 3, 4]"),
        ("RoundFinalised", 0, lambda a: {**a, "awarded": 1}, "finalised with 2 winners and 1 awarded"),
        ("BallotCast", 0, lambda a: {**a, "votes": (10, 4)}, "accepted though the ballot costs 116"),
        ("BallotCast", 1, lambda a: {**a, "creditsSpent": 1}, "the event says 1"),
        ("BallotCast", 2, lambda a: {**a, "proposalIds": (2, 1), "votes": (1, 1)}, "not canonical"),
        ("BallotCast", 2, lambda a: {**a, "proposalIds": (5,)}, "proposal 5 is not open for votes"),
        ("Allocated", 1, lambda a: {**a, "programId": 99}, "300 of reservation 2 to program 99"),
        ("Allocated", 0, lambda a: {**a, "amount": 599}, "599 of reservation 1"),
        (
            "ReservationReleased",
            0,
            lambda a: {**a, "amount": 99},
            "released [(2, 99)], the rest is [(2, 100)]",
        ),
        ("RoundSettled", 0, lambda a: {**a, "released": 0}, "settled as 900 awarded and 0 released"),
        ("RoundFunded", 1, lambda a: {**a, "amount": 300}, "reservations of 900 back a budget of 1000"),
        ("ProposalSubmitted", 4, lambda a: {**a, "amount": 5_000}, "proposal 5 asks 5000, outside 1..1000"),
        ("ProposalSubmitted", 1, lambda a: {**a, "proposalId": 7}, "proposal id 7 where 2 comes next"),
        ("ProposalWithdrawn", 0, lambda a: {**a, "proposalId": 9}, "withdrawal of proposal 9 accepted"),
    ],
)
def test_each_tampered_event_is_reported(
    name: str,
    nth: int,
    change: Callable[[dict], dict],
    expected: str,  # type: ignore[type-arg]
) -> None:
    found = _mismatches(_tampered(sample_round().events, name, change, nth))
    assert any(expected in m for m in found), found
    assert all(m.startswith("round 1: ") for m in found)


def test_missing_and_extra_events_are_reported() -> None:
    events = sample_round().events
    no_release = [e for e in events if e.name != "ReservationReleased"]
    assert any("released [], the rest is [(2, 100)]" in m for m in _mismatches(no_release))
    allocation = next(e for e in events if e.name == "Allocated")
    twice = [*events[:-1], allocation, events[-1]]  # one allocation more before settling
    assert any("allocated [600 of reservation 1 to program 11, 300" in m for m in _mismatches(twice))
    assert any("1500 allocated + 100 released != budget 1000" in m for m in _mismatches(twice))
    stray = [*events, Ev("ParticipatoryBudget", "BallotCast", {"roundId": 7, "voter": "x"})]
    assert _mismatches(stray) == ["BallotCast for round 7, which was never created"]


def test_ballots_and_allocations_out_of_turn_are_reported() -> None:
    chain = sample_round()
    events = chain.events
    finalised_at = next(i for i, e in enumerate(events) if e.name == "RoundFinalised")
    late_ballot = next(e for e in events if e.name == "BallotCast")
    assert any("cast after finalisation" in m for m in _mismatches([*events, late_ballot]))
    allocation = next(e for e in events if e.name == "Allocated")
    early = [*events[:finalised_at], allocation, *events[finalised_at:]]
    assert any("allocated before finalisation" in m for m in _mismatches(early))


def test_a_partly_paid_round_verifies_and_a_wrong_partial_payout_does_not() -> None:
    chain = HonestChain()
    chain.create([(1, 500)], max_cost=500)
    for amount in (100, 200):
        chain.submit("0xA", 7, amount)
    chain.cast("0xV", {1: 2, 2: 1})
    chain.finalise(pay=1)
    report = verify_rounds(chain.events)
    assert report.ok, report.mismatches
    assert not report.rounds[1].settled
    wrong = _tampered(chain.events, "Allocated", lambda a: {**a, "amount": 50})
    assert any("the winners need" in m for m in _mismatches(wrong))


def test_unrelated_events_are_ignored() -> None:
    events = [
        Ev("EuroToken", "Transfer", {}),
        Ev("FundLedger", "Allocated", {"reservationId": 9}),
        *sample_round().events,
    ]
    assert verify_rounds(events).ok


VOTING_END = 1_700_900_000  # HonestChain's rounds


def _abandonable(*, finalise: int | None = None) -> HonestChain:
    """A round over lot 1 (never expires) and lot 2 (expires a day after voting ends), optionally
    finalised with the first `finalise` winners paid (100 and 200 from lot 1; then 300 spans both)."""
    chain = HonestChain()
    chain.deposit(1)
    chain.deposit(2, VOTING_END + 86_400)
    chain.create([(1, 400), (2, 400)], max_cost=500)
    for amount in (100, 200, 300):
        chain.submit("0xA", 7, amount)
    chain.cast("0xV", {1: 3, 2: 2, 3: 1})
    if finalise is not None:
        chain.finalise(pay=finalise)
    return chain


@pytest.mark.parametrize("paid", [None, 0, 1, 2])
def test_an_abandoned_round_verifies(paid: int | None) -> None:
    chain = _abandonable(finalise=paid)
    chain.abandon(2, paid=paid or 0)
    report = verify_rounds(chain.events)
    assert report.ok, report.mismatches
    audit = report.rounds[1]
    assert (audit.abandoned, audit.abandoned_for, audit.settled) == (True, 2, False)
    assert audit.allocated == {None: 0, 0: 0, 1: 100, 2: 300}[paid]
    assert audit.allocated + audit.released == 800


@pytest.mark.parametrize(
    ("name", "change", "expected"),
    [
        ("RoundAbandoned", lambda a: {**a, "released": 600}, "abandoned as 100 awarded and 600 released"),
        ("RoundAbandoned", lambda a: {**a, "lotId": 1}, "abandoned for lot 1, which never expires"),
        ("RoundAbandoned", lambda a: {**a, "lotId": 9}, "abandoned for lot 9, which does not fund the round"),
        ("ReservationReleased", lambda a: {**a, "amount": 1}, "released [(1, 1), (2, 400)], the rest is"),
    ],
)
def test_a_tampered_abandonment_is_reported(
    name: str,
    change: Callable[[dict], dict],
    expected: str,  # type: ignore[type-arg]
) -> None:
    chain = _abandonable(finalise=1)
    chain.abandon(2, paid=1)
    found = _mismatches(_tampered(chain.events, name, change))
    assert any(expected in m for m in found), found


def test_an_abandonment_that_cuts_a_winners_payout_is_reported() -> None:
    chain = _abandonable(finalise=1)
    chain.abandon(2, paid=1)
    wrong = _tampered(chain.events, "Allocated", lambda a: {**a, "amount": 50})
    assert any(
        "allocated [50 of reservation 1 to program 7], the first 0 winners need []" in m
        for m in _mismatches(wrong)
    )


def test_nothing_may_happen_to_an_abandoned_round() -> None:
    chain = _abandonable()
    chain.abandon(2)
    ballot = next(e for e in chain.events if e.name == "BallotCast")
    assert any("cast after abandonment" in m for m in _mismatches([*chain.events, ballot]))
    late = HonestChain(events=list(chain.events), model=chain.model)
    late.finalise()
    found = _mismatches(late.events)
    assert any("finalised after abandonment" in m for m in found), found
    assert any("allocated after abandonment" in m for m in found), found
    assert any("settled after abandonment" in m for m in found), found
    again = [*chain.events, chain.events[-1]]
    assert any("abandoned after abandonment" in m for m in _mismatches(again))


def test_a_round_funded_from_a_lot_expiring_too_soon_is_reported() -> None:
    chain = HonestChain()
    chain.deposit(1, VOTING_END)
    chain.create([(1, 400)], max_cost=400)
    assert _mismatches(chain.events) == [
        f"round 1: funded from lot 1, which expires at {VOTING_END}, not after voting ends at {VOTING_END}"
    ]


# --- consent and cancelling (findings 1 and 3) -------------------------------------------------------


def test_a_round_funded_without_the_funders_consent_is_reported() -> None:
    chain = HonestChain()
    chain.deposit(1)
    chain.deposit(2, consent=False)
    chain.create([(1, 400), (2, 400)], max_cost=400)
    assert _mismatches(chain.events) == ["round 1: funded from lot 2 without its funder's consent"]
    revoked = HonestChain()
    revoked.deposit(1)
    revoked._emit("FundLedger", "LotAllocatorSet", lotId=1, funder="0xF0", allocator="0xC0", allowed=False)
    revoked.create([(1, 400)], max_cost=400)
    assert _mismatches(revoked.events) == ["round 1: funded from lot 1 without its funder's consent"]


def test_a_proposal_for_a_program_neither_proposer_nor_creator_runs_is_reported() -> None:
    chain = HonestChain()
    chain.deposit(1)
    for program_id, ngo in ((7, "0xA"), (8, "0xC0"), (9, "0xB")):
        chain._emit(
            "FundLedger", "ProgramCreated", programId=program_id, ngo=ngo, token="0x70", metadataHash=b""
        )
    chain.create([(1, 400)], max_cost=400)
    chain.submit("0xA", 7, 100)  # its own program
    chain.submit("0xD", 8, 100)  # a client, for the creator's program
    chain.submit("0xA", 9, 100)  # another NGO's program
    assert _mismatches(chain.events) == [
        "round 1: proposal 3 names program 9, not run by its proposer or the creator"
    ]


def test_a_cancelled_round_verifies_and_nothing_may_follow() -> None:
    chain = HonestChain()
    chain.deposit(1)
    chain.create([(1, 400)], max_cost=400)
    chain.submit("0xA", 7, 100)
    chain.cancel()
    assert _mismatches(chain.events) == []
    chain.cast("0xV", {1: 1})
    assert _mismatches(chain.events) == ["round 1: ballot of 0xV cast after cancellation"]


def test_a_cancellation_after_ballots_or_keeping_money_is_reported() -> None:
    chain = HonestChain()
    chain.deposit(1)
    chain.create([(1, 400)], max_cost=400)
    chain.submit("0xA", 7, 100)
    chain.cast("0xV", {1: 1})
    chain.cancel()
    assert _mismatches(chain.events) == ["round 1: cancelled after 1 ballots"]
    short = _tampered(_cancelled(), "ReservationReleased", lambda a: {**a, "amount": a["amount"] - 1})
    assert any("released" in m for m in _mismatches(short))


def _cancelled() -> list[Ev]:
    chain = HonestChain()
    chain.deposit(1)
    chain.create([(1, 400)], max_cost=400)
    chain.cancel()
    return chain.events
