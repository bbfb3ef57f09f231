"""Our selection agrees with pabutools' greedy rule on the same .pb instances.

pabutools' greedy (additive satisfaction) orders projects by total satisfaction per unit of cost and
skips what no longer fits. With each voter's satisfaction from a project set to points x cost, that
is total points, so it is our GREEDY_SKIP; ties go to the lower project id on both sides. A
`min_votes` threshold is the same rule on the instance without the projects below it.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pabutools.election import AdditiveSatisfaction
from pabutools.election.pabulib import parse_pabulib_from_string
from pabutools.rules import greedy_utilitarian_welfare
from pabutools.tiebreaking import TieBreakingRule

from governance.pabulib import Election, PbFile, election_of, election_pb, format_pb, parse_pb
from governance.qv import SelectionRule, select

BY_LOWER_ID = TieBreakingRule(lambda instance, profile, project: int(project.name))


class PointsTimesCost(AdditiveSatisfaction):  # type: ignore[misc]
    """A voter's satisfaction from a project: the points they gave it times its cost."""

    def __init__(self, instance, profile, ballot):  # type: ignore[no-untyped-def]
        super().__init__(
            instance, profile, ballot, lambda i, p, b, project, pre: b.get(project, 0) * project.cost
        )


def pabutools_winners(text: str) -> set[int]:
    instance, profile = parse_pabulib_from_string(text)
    chosen = greedy_utilitarian_welfare(
        instance, profile, sat_class=PointsTimesCost, tie_breaking=BY_LOWER_ID
    )
    return {int(p.name) for p in chosen}


def our_winners(text: str, min_votes: int = 0) -> set[int]:
    e = election_of(parse_pb(text))
    return set(select(e.candidates(), e.budget, SelectionRule.GREEDY_SKIP, min_votes).winners)


HAND_MADE = {
    "skips what no longer fits": (
        1000,
        {1: 600, 2: 500, 3: 300, 4: 200},
        {"a": {1: 9, 2: 4}, "b": {2: 5, 3: 2}, "c": {3: 3}},
        {1, 3},
    ),
    "ties go to the lower id": (100, {3: 60, 1: 60, 2: 60}, {"a": {1: 2, 3: 2}, "b": {2: 1}}, {1}),
    "everything fits": (1000, {1: 100, 2: 200}, {"a": {1: 1}}, {1, 2}),
    "nothing fits": (50, {1: 100, 2: 200}, {"a": {1: 1, 2: 3}}, set()),
    "no votes at all": (300, {1: 200, 2: 100, 3: 150}, {}, {1, 2}),
    "cheap unpopular project fills the rest": (
        100,
        {1: 90, 2: 20, 3: 10},
        {"a": {1: 5}, "b": {2: 1}},
        {1, 3},
    ),
}


@pytest.mark.parametrize("case", HAND_MADE, ids=list(HAND_MADE))
def test_hand_made_instances(case: str) -> None:
    budget, costs, points, expected = HAND_MADE[case]
    text = format_pb(election_pb(Election(budget, costs, points)))
    assert our_winners(text) == expected
    assert pabutools_winners(text) == expected


@st.composite
def elections(draw: st.DrawFn) -> Election:
    n = draw(st.integers(1, 12))
    costs = {pid: draw(st.integers(1, 50)) for pid in draw(st.permutations(range(1, n + 1)))}
    budget = draw(st.integers(0, sum(costs.values())))
    points = {}
    for v in range(draw(st.integers(0, 8))):
        chosen = draw(st.lists(st.sampled_from(sorted(costs)), unique=True, max_size=n))
        ballot = {pid: draw(st.integers(1, 6)) for pid in chosen}
        if ballot:
            points[f"voter{v}"] = ballot
    return Election(budget, costs, points)


@settings(max_examples=400)
@given(elections())
def test_random_instances_agree_with_pabutools(election: Election) -> None:
    text = format_pb(election_pb(election))
    assert our_winners(text) == pabutools_winners(text)


@settings(max_examples=200)
@given(elections(), st.integers(1, 8))
def test_min_votes_agrees_with_pabutools_on_the_projects_above_it(election: Election, min_votes: int) -> None:
    totals = {c.id: c.votes for c in election.candidates()}
    kept = {pid: cost for pid, cost in election.costs.items() if totals[pid] >= min_votes}
    restricted = Election(
        election.budget,
        kept,
        {v: {p: n for p, n in b.items() if p in kept} for v, b in election.points.items()},
    )
    restricted_text = format_pb(_without_empty_ballots(election_pb(restricted)))
    expected = pabutools_winners(restricted_text) if kept else set()
    assert our_winners(format_pb(election_pb(election)), min_votes) == expected


def _without_empty_ballots(pb: PbFile) -> PbFile:
    pb.votes = {v: row for v, row in pb.votes.items() if row["vote"]}
    pb.meta["num_votes"] = str(len(pb.votes))
    return pb
