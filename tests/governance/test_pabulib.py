"""Reading and writing pabulib .pb files, interchange with pabutools, and exporting a round."""

from __future__ import annotations

import pytest
from pabutools.election import CumulativeBallot, CumulativeProfile, Instance, Project
from pabutools.election.pabulib import election_as_pabulib_string, parse_pabulib_from_string

from governance.errors import GovernanceError, PabulibFormatError
from governance.pabulib import (
    Election,
    PbFile,
    election_of,
    election_pb,
    export_round,
    format_pb,
    from_units,
    parse_pb,
    to_units,
)
from tests.governance._events import sample_round

HAND_MADE = """\ufeffMETA
key;value
description;"Bürgerhaushalt Nord; mit Semikolon"
country;Germany
unit;Nord
instance;2025
num_projects;3
num_votes;2
budget;1000
vote_type;cumulative
rule;greedy
PROJECTS
project_id;cost;name
1;600;Spielplatz
2;500;"Bänke; viele"
3;300;None
VOTES
voter_id;vote;points
v1;1,2;9,4
v2;2,3;5,2
"""


def test_parse_a_hand_made_file() -> None:
    pb = parse_pb(HAND_MADE)
    assert pb.meta["description"] == "Bürgerhaushalt Nord; mit Semikolon"
    assert pb.meta["budget"] == "1000"
    assert pb.projects["2"] == {"cost": "500", "name": "Bänke; viele"}
    assert pb.votes["v2"] == {"vote": "2,3", "points": "5,2"}
    e = election_of(pb)
    assert e == Election(1000, {1: 600, 2: 500, 3: 300}, {"v1": {1: 9, 2: 4}, "v2": {2: 5, 3: 2}})
    assert parse_pb(format_pb(pb)) == pb  # writing and reading back changes nothing


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("PROJECTS\nproject_id;cost\n", "sections"),
        (
            "META\nkey;value\nbudget;1\nvote_type;cumulative\nPROJECTS\nid;cost\n",
            "must start with project_id",
        ),
        ("META\nkey;value;x\n", "key;value"),
        ("x;y\n", "before the META section"),
        ("META\nkey;value\nbudget;1;2\n", "3 fields where the header has 2"),
        (
            "META\nkey;value\nvote_type;cumulative\nPROJECTS\nproject_id;cost\nVOTES\nvoter_id;vote\n",
            "lacks budget",
        ),
        ("META\nkey;value\nMETA\nkey;value\n", "appears twice"),
        (
            "META\nkey;value\nbudget;5\nvote_type;cumulative\nPROJECTS\nproject_id;cost\n1;2\n1;3\nVOTES\nvoter_id\n",
            "project_id 1 appears twice",
        ),
    ],
)
def test_malformed_files_are_refused(text: str, problem: str) -> None:
    with pytest.raises(PabulibFormatError, match=problem):
        parse_pb(text)


def test_election_checks_ids_points_and_units() -> None:
    base = parse_pb(HAND_MADE)
    bad_points = PbFile(base.meta, base.projects, {"v": {"vote": "1,2", "points": "3"}})
    with pytest.raises(PabulibFormatError, match="2 projects but 1 points"):
        election_of(bad_points)
    with pytest.raises(PabulibFormatError, match="unknown projects"):
        election_of(PbFile(base.meta, base.projects, {"v": {"vote": "9", "points": "1"}}))
    with pytest.raises(PabulibFormatError, match="not a number"):
        election_of(PbFile(base.meta, {"park": {"cost": "1"}}, {}))
    with pytest.raises(PabulibFormatError, match="carries no points"):
        election_of(PbFile({**base.meta, "vote_type": "approval"}, base.projects, {}))
    assert election_of(base, decimals=6).costs[1] == 600_000_000


def test_units_convert_exactly() -> None:
    assert to_units("12.5", 6) == 12_500_000
    assert to_units("12,000001", 6) == 12_000_001
    assert from_units(12_500_000, 6) == "12.5"
    assert from_units(12_000_001, 6) == "12.000001"
    assert from_units(7, 0) == "7"
    for text in ("0.0000001", "-1", "abc"):
        with pytest.raises(PabulibFormatError):
            to_units(text, 6)


def test_pabutools_reads_what_we_write() -> None:
    election = Election(900, {1: 500, 2: 400, 3: 300}, {"a": {1: 2, 3: 1}, "b": {2: 3}})
    instance, profile = parse_pabulib_from_string(format_pb(election_pb(election)))
    assert instance.budget_limit == 900
    assert {(p.name, p.cost) for p in instance} == {("1", 500), ("2", 400), ("3", 300)}
    assert sorted(({p.name: int(b[p]) for p in b} for b in profile), key=str) == sorted(
        ({"1": 2, "3": 1}, {"2": 3}), key=str
    )


def test_we_read_what_pabutools_writes() -> None:
    projects = {name: Project(name, cost) for name, cost in (("1", 40), ("2", 25), ("10", 5))}
    instance = Instance(projects.values(), budget_limit=60)
    instance.meta.update({"vote_type": "cumulative"})
    ballots = [CumulativeBallot({projects["1"]: 3, projects["10"]: 1}), CumulativeBallot({projects["2"]: 2})]
    for i, ballot in enumerate(ballots):
        ballot.meta = {"voter_id": f"v{i}"}
    text = election_as_pabulib_string(instance, CumulativeProfile(ballots))
    e = election_of(parse_pb(text))  # pabutools writes points as floats ("3.0"): read them as whole points
    assert e == Election(60, {1: 40, 2: 25, 10: 5}, {"v0": {1: 3, 10: 1}, "v1": {2: 2}})


def test_export_a_verified_round_as_open_data() -> None:
    text = export_round(sample_round().events, 1, country="Germany", unit="Nord", decimals=0)
    pb = parse_pb(text)
    assert (pb.meta["country"], pb.meta["unit"], pb.meta["budget"], pb.meta["vote_type"]) == (
        "Germany",
        "Nord",
        "1000",
        "cumulative",
    )
    assert (pb.meta["voice_credits"], pb.meta["rule"], pb.meta["num_projects"], pb.meta["num_votes"]) == (
        "100",
        "greedy",
        "4",  # the withdrawn proposal is not part of the election
        "3",
    )
    assert pb.projects["1"] == {
        "cost": "600",
        "votes": "1",
        "score": "9",
        "program_id": "11",
        "content_hash": "0x" + "00" * 32,
        "selected": "1",
    }
    assert [pid for pid, row in pb.projects.items() if row["selected"] == "1"] == ["1", "3"]
    assert pb.votes["0xV3"] == {"vote": "3", "points": "3"}  # the re-vote, not the first ballot
    assert pb.meta["date_begin"] == "14.11.2023"
    instance, profile = parse_pabulib_from_string(text)  # and pabutools reads it
    assert len(instance) == 4 and profile.num_ballots() == 3


def test_export_refuses_rounds_that_do_not_verify() -> None:
    events = sample_round().events
    with pytest.raises(GovernanceError, match="no round 2"):
        export_round(events, 2)
    broken = [e for e in events if e.name != "ReservationReleased"]
    with pytest.raises(GovernanceError, match="does not verify"):
        export_round(broken, 1)


def test_an_abandoned_round_exports_its_votes_and_says_it_was_abandoned() -> None:
    chain = sample_round()
    chain.events = [e for e in chain.events if e.contract != "FundLedger" or e.name == "Reserved"]
    chain.events = chain.events[: next(i for i, e in enumerate(chain.events) if e.name == "ProposalTallied")]
    chain.abandon(2)
    pb = parse_pb(export_round(chain.events, 1, decimals=0))
    assert pb.meta["abandoned"] == "lot 2 expired before the round was settled"
    assert "selected" not in pb.projects["1"]  # never finalised: no winners
    assert pb.votes["0xV3"] == {"vote": "3", "points": "3"}
