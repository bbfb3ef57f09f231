"""The reference model: quadratic cost, tallies, the finalisation order, greedy selection and payouts."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from governance.errors import InvalidBallot, InvalidProposal
from governance.qv import (
    MAX_VOTES,
    Candidate,
    Payout,
    RoundModel,
    SelectionRule,
    ballot_cost,
    check_ballot,
    finalisation_order,
    normalise_ballot,
    payout_plan,
    select,
    tally,
)

SKIP, STOP = SelectionRule.GREEDY_SKIP, SelectionRule.GREEDY_STOP

candidates_st = st.lists(st.tuples(st.integers(1, 100), st.integers(0, 30)), min_size=0, max_size=25).map(
    lambda rows: [Candidate(i + 1, cost, votes) for i, (cost, votes) in enumerate(rows)]
)


def test_ballot_cost_is_the_sum_of_squared_votes() -> None:
    assert ballot_cost({1: 3, 2: 4}) == 25
    assert ballot_cost({}) == 0
    assert ballot_cost({7: 0, 8: 1}) == 1


def test_negative_zero_and_oversized_votes() -> None:
    with pytest.raises(InvalidBallot, match="negative"):
        normalise_ballot({1: -1})
    with pytest.raises(InvalidBallot, match="exceed"):
        normalise_ballot({1: MAX_VOTES + 1})
    assert normalise_ballot({3: 1, 1: 0, 2: 2}) == {2: 2, 3: 1}
    assert list(normalise_ballot({3: 1, 2: 2})) == [2, 3]  # ids ascending, as the contract stores them


def test_check_ballot_against_credits_and_active_proposals() -> None:
    assert check_ballot({1: 6, 2: 8}, 100, {1, 2}) == 100  # exactly every credit
    with pytest.raises(InvalidBallot, match="101 credits"):
        check_ballot({1: 10, 2: 1}, 100, {1, 2})
    with pytest.raises(InvalidBallot, match="proposal 3"):
        check_ballot({3: 1}, 100, {1, 2})


def test_tally_lists_proposals_without_votes() -> None:
    assert tally([{1: 2}, {1: 1, 3: 4}], [1, 2, 3]) == {1: 3, 2: 0, 3: 4}


def test_finalisation_order_breaks_ties_by_lower_id() -> None:
    assert finalisation_order({4: 5, 2: 9, 3: 9, 1: 0}) == [2, 3, 4, 1]


def test_greedy_skip_takes_what_still_fits() -> None:
    cands = [Candidate(1, 600, 9), Candidate(2, 500, 9), Candidate(3, 300, 5), Candidate(4, 200, 0)]
    s = select(cands, 1_000)
    assert (s.order, s.winners, s.awarded, s.remaining) == ((1, 2, 3, 4), (1, 3), 900, 100)


def test_greedy_stop_ends_at_the_first_misfit() -> None:
    cands = [Candidate(1, 600, 9), Candidate(2, 500, 9), Candidate(3, 300, 5)]
    assert select(cands, 1_000, STOP).winners == (1,)


def test_min_votes_keeps_unpopular_proposals_out() -> None:
    cands = [Candidate(1, 100, 3), Candidate(2, 100, 2), Candidate(3, 100, 0)]
    assert select(cands, 1_000, min_votes=0).winners == (1, 2, 3)
    assert select(cands, 1_000, min_votes=1).winners == (1, 2)
    assert select(cands, 1_000, min_votes=3).winners == (1,)


def test_exact_fit_and_nothing_fits() -> None:
    assert select([Candidate(1, 1_000, 1)], 1_000).winners == (1,)
    assert select([Candidate(1, 1_001, 1)], 1_000).winners == ()
    assert select([], 1_000).awarded == 0


@given(candidates_st, st.integers(0, 1_000), st.sampled_from([SKIP, STOP]), st.integers(0, 10))
def test_selection_stays_within_budget_and_follows_the_order(
    cands: list[Candidate], budget: int, rule: SelectionRule, min_votes: int
) -> None:
    s = select(cands, budget, rule, min_votes)
    by_id = {c.id: c for c in cands}
    assert s.awarded == sum(by_id[w].cost for w in s.winners) <= budget
    assert s.remaining == budget - s.awarded
    assert [w for w in s.order if w in s.winners] == list(s.winners)  # winners keep the order
    assert all(by_id[w].votes >= min_votes for w in s.winners)
    eligible = [p for p in s.order if by_id[p].votes >= min_votes]
    if rule is SKIP:  # nothing eligible left out would still fit
        assert all(by_id[p].cost > s.remaining for p in eligible if p not in s.winners)
    else:  # the winners are the eligible prefix up to the first misfit
        assert list(s.winners) == eligible[: len(s.winners)]


def test_payout_plan_draws_first_in_first_out() -> None:
    payouts, released = payout_plan([(11, 300), (12, 350)], [(1, 400), (2, 400)])
    assert payouts == [Payout(1, 11, 300), Payout(1, 12, 100), Payout(2, 12, 250)]
    assert released == [(2, 150)]
    with pytest.raises(ValueError, match="more than the fundings"):
        payout_plan([(11, 900)], [(1, 400), (2, 400)])


@given(
    st.lists(st.integers(1, 50), min_size=1, max_size=5),
    st.lists(st.tuples(st.integers(1, 9), st.integers(1, 60)), max_size=8),
)
def test_payouts_conserve_money(fundings: list[int], winners: list[tuple[int, int]]) -> None:
    funded = [(i + 1, amount) for i, amount in enumerate(fundings)]
    affordable, total = [], 0
    for program, amount in winners:
        if total + amount <= sum(fundings):
            affordable.append((program, amount))
            total += amount
    payouts, released = payout_plan(affordable, funded)
    assert sum(p.amount for p in payouts) + sum(r for _, r in released) == sum(fundings)
    for program in {p for p, _ in affordable}:
        assert sum(p.amount for p in payouts if p.program_id == program) == sum(
            a for p, a in affordable if p == program
        )
    assert all(p.amount > 0 for p in payouts)


def test_round_model_replaces_ballots_and_keeps_withdrawn_proposals_out() -> None:
    m = RoundModel(budget=1_000, credits=100, min_cost=10, max_cost=800, fundings=[(1, 1_000)])
    with pytest.raises(InvalidProposal):
        m.submit("a", 1, 9)
    with pytest.raises(InvalidProposal):
        m.submit("a", 1, 801)
    p1, p2, p3 = m.submit("a", 1, 800), m.submit("b", 2, 300), m.submit("c", 3, 100)
    m.withdraw(p3)
    with pytest.raises(InvalidProposal):
        m.withdraw(p3)
    assert m.cast("v1", {p1: 5, p2: 5}) == 50
    assert m.cast("v1", {p2: 7}) == 49  # replaces
    with pytest.raises(InvalidBallot):
        m.cast("v2", {p3: 1})
    assert m.tallies() == {p1: 0, p2: 7}
    assert m.spent("v1") == 49 and m.spent("v2") == 0
    m.cast("v2", {p1: 1})
    assert m.selection().winners == (p2,)  # 7 votes first; 800 then no longer fits
    m.cast("v1", {})
    assert "v1" not in m.ballots
    assert m.payouts() == ([Payout(1, 1, 800)], [(1, 200)])


def test_an_abandonment_pays_the_first_winners_and_releases_the_rest() -> None:
    m = RoundModel(budget=1_000, credits=100, min_cost=10, max_cost=800, fundings=[(1, 500), (2, 500)])
    p1, p2 = m.submit("a", 1, 400), m.submit("b", 2, 300)
    m.cast("v", {p1: 2, p2: 1})
    assert m.payouts() == ([Payout(1, 1, 400), Payout(1, 2, 100), Payout(2, 2, 200)], [(2, 300)])
    assert m.payouts(1) == ([Payout(1, 1, 400)], [(1, 100), (2, 500)])  # after the first winner
    assert m.payouts(0) == ([], [(1, 500), (2, 500)])  # abandoned before finalisation: everything back
