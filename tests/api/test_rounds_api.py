"""Participatory budget rounds over HTTP: an NGO opens a round for its clients, clients vote
quadratically with voucher + PIN, the NGO finalises, the public sees results, the auditor verifies."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import inspect

from api.gateway import Gateway
from api.models import RoundVoter
from tests.api.conftest import Keys, auth, consent

DAY = 86_400
PIN = "2468"


def ok(response: Any, status: int = 201) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


def problem(response: Any, status: int, code: str) -> dict[str, Any]:
    assert (response.status_code, response.json().get("code")) == (status, code), response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    return body


def at(gateway: Gateway, seconds_from_now: int) -> str:
    return datetime.fromtimestamp(gateway.chain.now() + seconds_from_now, UTC).isoformat()


def register(client: TestClient, key: str, name: str) -> dict[str, Any]:
    return ok(
        client.post("/v1/ngo/clients", json={"personal": {"name": name}, "pin": PIN}, headers=auth(key))
    )


def sign_in(client: TestClient, reg: dict[str, Any]) -> dict[str, str]:
    body = ok(client.post("/v1/client/session", json={"voucherCode": reg["voucherCode"], "pin": PIN}))
    return auth(body["token"])


def open_round(
    client: TestClient,
    gateway: Gateway,
    keys: Keys,
    lot: int,
    *,
    voters: list[str] | None = None,
    budget: str = "600",
    voting_in: int = DAY,
    voting_for: int = 7 * DAY,
    **extra: Any,
) -> dict[str, Any]:
    """A round over `budget` of `lot`, proposals until `voting_in` from now, then voting."""
    body: dict[str, Any] = {
        "title": "Bürgerhaushalt Nord",
        "description": "Was soll 2027 im Quartier passieren?",
        "funding": [{"lotId": lot, "amount": budget}],
        "credits": 100,
        "votingStart": at(gateway, voting_in),
        "votingEnd": at(gateway, voting_in + voting_for),
        "minCost": "50",
        "maxCost": "400",
        **extra,
    }
    if voters is not None:
        body["voters"] = voters
    return ok(client.post("/v1/ngo/rounds", json=body, headers=auth(keys.ngo)))


def propose(client: TestClient, key: str, round_id: int, program: int, amount: str, title: str) -> int:
    body = {"programId": program, "amount": amount, "title": title, "description": f"{title}, bitte"}
    r = client.post(f"/v1/ngo/rounds/{round_id}/proposals", json=body, headers=auth(key))
    return int(ok(r)["proposalId"])


def program_and_lot(client: TestClient, keys: Keys, amount: str = "1000") -> tuple[int, int]:
    program = ok(client.post("/v1/ngo/programs", json={"name": "Quartier"}, headers=auth(keys.ngo)))[
        "programId"
    ]
    lot = ok(client.post("/v1/funder/lots", json={"amount": amount}, headers=auth(keys.funder)))["lotId"]
    consent(client, keys.funder, lot, keys.ngo)  # the funder lets the NGO put it into its rounds
    return int(program), int(lot)


def ballot(client: TestClient, who: dict[str, str], round_id: int, votes: dict[int, int]) -> Any:
    body = {"votes": [{"proposalId": pid, "votes": v} for pid, v in votes.items()]}
    return client.put(f"/v1/client/rounds/{round_id}/ballot", json=body, headers=who)


def to(gateway: Gateway, moment: int) -> None:
    """Move the chain's clock to `moment` (a round's votingStart or votingEnd)."""
    gateway.advance_time(moment - gateway.chain.now())


def test_a_round_from_creation_to_audited_results(client: TestClient, gateway: Gateway, keys: Keys) -> None:
    program, lot = program_and_lot(client, keys)
    regs = [register(client, keys.ngo, f"Person {i}") for i in range(3)]
    created = open_round(client, gateway, keys, lot, voters=[regs[0]["clientId"], regs[1]["clientId"]])
    rid = created["roundId"]
    assert created["voters"] == 2 and created["transactionHash"].startswith("0x")
    assert any(e["event"] == "RoundFunded" for e in created["events"])
    # Finding 3: any NGO could propose for any program (and fill its queue with dust); now an NGO
    # proposes for a program it runs.
    problem(
        client.post(
            f"/v1/ngo/rounds/{rid}/proposals",
            json={"programId": program, "amount": "250", "title": "Sprachcafé"},
            headers=auth(keys.ngo2),
        ),
        403,
        "ParticipatoryBudgetProgramNotAllowed",
    )
    program2 = ok(client.post("/v1/ngo/programs", json={"name": "Sprachen"}, headers=auth(keys.ngo2)))[
        "programId"
    ]
    ids = [
        propose(client, keys.ngo, rid, program, "300", "Spielplatz"),
        propose(client, keys.ngo, rid, program, "200", "Lastenrad"),
        propose(client, keys.ngo2, rid, program2, "250", "Sprachcafé"),  # another NGO, for its own program
    ]
    assert ids == [1, 2, 3]
    alice, bob, carol = (sign_in(client, reg) for reg in regs)

    # the proposal phase: no ballots yet
    problem(ballot(client, alice, rid, {1: 1}), 409, "ParticipatoryBudgetWrongPhase")
    mine = ok(client.get(f"/v1/client/rounds/{rid}", headers=alice), 200)
    assert (mine["phase"], mine["eligible"], mine["creditsUsed"], mine["creditsLeft"]) == (
        "proposals",
        True,
        0,
        100,
    )
    assert [p["title"] for p in mine["proposals"]] == ["Spielplatz", "Lastenrad", "Sprachcafé"]

    to(gateway, ok(client.get(f"/v1/public/rounds/{rid}"), 200)["votingStart"])
    problem(
        client.post(
            f"/v1/ngo/rounds/{rid}/proposals",
            json={"programId": program, "amount": "60", "title": "Zu spät"},
            headers=auth(keys.ngo),
        ),
        409,
        "ParticipatoryBudgetWrongPhase",
    )

    # a ballot costs the sum of squared votes; the answer says what is used and left
    cast = ok(ballot(client, alice, rid, {1: 6, 2: 8}), 200)
    assert (cast["creditsUsed"], cast["creditsLeft"], cast["credits"]) == (100, 0, 100)
    assert cast["ballot"] == [{"proposalId": 1, "votes": 6}, {"proposalId": 2, "votes": 8}]
    assert cast["transactionHash"].startswith("0x") and cast["blockNumber"] > 0
    [event] = [e for e in cast["events"] if e["event"] == "BallotCast"]
    assert event["args"]["voter"] == cast["voter"] and event["args"]["creditsSpent"] == 100
    assert cast["voter"] not in (regs[0]["account"],)  # a pseudonym of its own for this round

    over = problem(ballot(client, alice, rid, {1: 11}), 409, "ParticipatoryBudgetCreditsExceeded")
    assert over["args"] == {"cost": 121, "credits": 100}

    # re-voting replaces the ballot (its gas sized by the replaced ballot, known from the records)
    assert gateway.rounds._entries_of_last_ballot(rid, cast["voter"]) == 2
    again = ok(ballot(client, alice, rid, {3: 5}), 200)
    assert gateway.rounds._entries_of_last_ballot(rid, cast["voter"]) == 1
    assert (again["creditsUsed"], again["creditsLeft"], again["voter"]) == (25, 75, cast["voter"])
    mine = ok(client.get(f"/v1/client/rounds/{rid}", headers=alice), 200)
    assert mine["ballot"] == [{"proposalId": 3, "votes": 5}] and mine["creditsLeft"] == 75
    assert [p["votes"] for p in mine["proposals"]] == [0, 0, 5]
    ok(ballot(client, bob, rid, {1: 7, 2: 0}), 200)  # zero votes are left out

    # who may not vote, and ballots the contract refuses
    refused = problem(ballot(client, carol, rid, {1: 1}), 403, "ParticipatoryBudgetNotEligible")
    assert refused["args"]["roundId"] == rid
    assert ok(client.get(f"/v1/client/rounds/{rid}", headers=carol), 200)["eligible"] is False
    assert ok(client.get("/v1/client/rounds", headers=carol), 200) == []
    assert [r["roundId"] for r in ok(client.get("/v1/client/rounds", headers=alice), 200)] == [rid]
    problem(ballot(client, bob, rid, {9: 1}), 404, "ParticipatoryBudgetUnknownProposal")
    body = {"votes": [{"proposalId": 1, "votes": 1}, {"proposalId": 1, "votes": 2}]}
    problem(client.put(f"/v1/client/rounds/{rid}/ballot", json=body, headers=bob), 422, "DuplicateProposal")
    problem(
        client.post(f"/v1/ngo/rounds/{rid}/finalise", headers=auth(keys.ngo)),
        409,
        "ParticipatoryBudgetWrongPhase",
    )
    problem(client.post(f"/v1/ngo/rounds/{rid}/finalise", headers=auth(keys.ngo2)), 403, "NotYourRound")

    # the public sees aggregates during the vote, never who voted
    live = client.get(f"/v1/public/rounds/{rid}")
    assert ok(live, 200)["ballots"] == 2 and live.json()["eligibleVoters"] == 2
    assert cast["voter"] not in live.text and regs[0]["clientId"] not in live.text

    # after the vote the NGO finalises: most votes first, within the budget
    to(gateway, live.json()["votingEnd"])
    done = ok(client.post(f"/v1/ngo/rounds/{rid}/finalise", headers=auth(keys.ngo)))
    assert (done["winners"], done["awarded"], done["settled"]) == ([1, 3], "550.000000", True)
    assert {e["event"] for e in done["events"]} >= {"ProposalTallied", "RoundFinalised", "RoundSettled"}
    problem(
        client.post(f"/v1/ngo/rounds/{rid}/finalise", headers=auth(keys.ngo)),
        409,
        "ParticipatoryBudgetAlreadySettled",
    )
    problem(ballot(client, bob, rid, {1: 1}), 409, "ParticipatoryBudgetWrongPhase")

    results = ok(client.get(f"/v1/public/rounds/{rid}"), 200)
    assert (results["phase"], results["winners"], results["awarded"], results["released"]) == (
        "finalised",
        [1, 3],
        "550.000000",
        "50.000000",
    )
    assert [(p["votes"], p["status"]) for p in results["proposals"]] == [
        (7, "selected"),
        (0, "submitted"),
        (5, "selected"),
    ]
    listed = ok(client.get("/v1/public/rounds"), 200)
    assert [(r["roundId"], r["title"], r["settled"]) for r in listed] == [(rid, "Bürgerhaushalt Nord", True)]
    assert ok(client.get("/v1/ngo/rounds", headers=auth(keys.ngo)), 200) == listed
    assert ok(client.get("/v1/ngo/rounds", headers=auth(keys.ngo2)), 200) == []
    # the winners' money is allocated to their programs
    allocated = {p["programId"]: p["allocated"] for p in ok(client.get("/v1/public/programs"), 200)}
    assert (allocated[program], allocated[program2]) == ("300.000000", "250.000000")

    # the auditor recomputes everything from events and exports it
    audit = ok(client.get(f"/v1/audit/rounds/{rid}", headers=auth(keys.auditor)), 200)
    assert (audit["matches"], audit["mismatches"]) == (True, [])
    assert audit["tallies"] == {"1": 7, "2": 0, "3": 5} and audit["recomputedWinners"] == [1, 3]
    assert audit["ballotsCast"] == 3 and audit["ballots"] == 2 and len(audit["voters"]) == 2
    assert cast["voter"] in audit["voters"] and audit["allocated"] == "550.000000"
    rows = ok(client.get(f"/v1/audit/rounds/{rid}/ballots", headers=auth(keys.auditor)), 200)
    assert [(r["voter"] == cast["voter"], r["ballot"], r["current"]) for r in rows] == [
        (True, "1:6 2:8", False),
        (True, "3:5", True),
        (False, "1:7", True),
    ]
    as_csv = client.get(f"/v1/audit/rounds/{rid}/ballots?format=csv", headers=auth(keys.auditor))
    assert as_csv.headers["content-type"].startswith("text/csv")
    assert [{k: str(v) for k, v in row.items()} for row in rows] == list(
        csv.DictReader(io.StringIO(as_csv.text))
    )
    pb = client.get(f"/v1/audit/rounds/{rid}/pabulib", headers=auth(keys.auditor))
    assert pb.status_code == 200 and pb.text.startswith("META") and "Bürgerhaushalt Nord" in pb.text
    assert ok(client.get("/v1/audit/verify", headers=auth(keys.auditor)), 200)["matches"] is True


def test_rounds_refuse_what_does_not_fit(client: TestClient, gateway: Gateway, keys: Keys) -> None:
    program, lot = program_and_lot(client, keys)
    problem(
        client.post(
            "/v1/ngo/rounds",
            json={
                "title": "Ohne Wähler",
                "funding": [{"lotId": lot, "amount": "100"}],
                "credits": 9,
                "votingStart": at(gateway, DAY),
                "votingEnd": at(gateway, 2 * DAY),
                "minCost": "1",
                "maxCost": "100",
            },
            headers=auth(keys.ngo),
        ),
        422,
        "NoVoters",
    )
    reg = register(client, keys.ngo, "Einzige")
    other = register(client, keys.ngo2, "Fremde")
    r = client.post(
        "/v1/ngo/rounds",
        json={
            "title": "Fremde Wähler",
            "funding": [{"lotId": lot, "amount": "100"}],
            "credits": 9,
            "votingStart": at(gateway, DAY),
            "votingEnd": at(gateway, 2 * DAY),
            "minCost": "1",
            "maxCost": "100",
            "voters": [other["clientId"]],
        },
        headers=auth(keys.ngo),
    )
    problem(r, 404, "UnknownClient")
    problem(
        client.post(
            "/v1/ngo/rounds",
            json={
                "title": "Rückwärts",
                "funding": [{"lotId": lot, "amount": "100"}],
                "credits": 9,
                "votingStart": at(gateway, 2 * DAY),
                "votingEnd": at(gateway, DAY),
                "minCost": "1",
                "maxCost": "100",
            },
            headers=auth(keys.ngo),
        ),
        422,
        "ParticipatoryBudgetBadSchedule",
    )
    # the default roll: every client of the NGO; the same Idempotency-Key creates one round only
    body = {
        "title": "Einmal",
        "funding": [{"lotId": lot, "amount": "100"}],
        "credits": 9,
        "votingStart": at(gateway, DAY),
        "votingEnd": at(gateway, 2 * DAY),
        "minCost": "1",
        "maxCost": "100",
        "rule": "greedy-stop",
    }
    headers = {**auth(keys.ngo), "Idempotency-Key": uuid.uuid4().hex}
    first = ok(client.post("/v1/ngo/rounds", json=body, headers=headers))
    replay = client.post("/v1/ngo/rounds", json=body, headers=headers)
    assert replay.headers.get("idempotent-replayed") == "true" and ok(replay)["roundId"] == first["roundId"]
    assert first["voters"] == 1 and gateway.system.budget.round_count() == first["roundId"]
    rid = first["roundId"]
    assert ok(client.get(f"/v1/public/rounds/{rid}"), 200)["rule"] == "greedy-stop"
    problem(
        client.post(
            f"/v1/ngo/rounds/{rid}/proposals",
            json={"programId": program, "amount": "101", "title": "Zu teuer"},
            headers=auth(keys.ngo),
        ),
        422,
        "ParticipatoryBudgetCostOutOfBounds",
    )
    pid = propose(client, keys.ngo, rid, program, "100", "Passt")
    problem(
        client.post(f"/v1/ngo/rounds/{rid}/proposals/{pid}/withdraw", headers=auth(keys.ngo2)),
        403,
        "ParticipatoryBudgetNotProposer",
    )
    ok(client.post(f"/v1/ngo/rounds/{rid}/proposals/{pid}/withdraw", headers=auth(keys.ngo)))
    assert ok(client.get(f"/v1/public/rounds/{rid}"), 200)["proposals"][0]["status"] == "withdrawn"
    problem(
        client.post(
            "/v1/ngo/rounds/999/proposals",
            json={"programId": program, "amount": "1", "title": "X"},
            headers=auth(keys.ngo),
        ),
        404,
        "UnknownRound",
    )
    problem(client.get("/v1/public/rounds/999"), 404, "ParticipatoryBudgetUnknownRound")
    # a client of another NGO sees the round but is not on its roll
    view = ok(client.get(f"/v1/client/rounds/{rid}", headers=sign_in(client, other)), 200)
    assert (view["eligible"], view["voter"], view["creditsLeft"]) == (False, None, 0)
    assert ok(client.get(f"/v1/client/rounds/{rid}", headers=sign_in(client, reg)), 200)["eligible"] is True


def test_the_roll_keeps_pseudonyms_only_and_erasure_leaves_the_vote_counted(
    client: TestClient, gateway: Gateway, keys: Keys
) -> None:
    assert {c["name"] for c in inspect(gateway.db.engine).get_columns(RoundVoter.__tablename__)} == {
        "round_id",
        "leaf_index",
        "address",
    }
    program, lot = program_and_lot(client, keys)
    reg = register(client, keys.ngo, "Bald gelöscht")
    rid = open_round(client, gateway, keys, lot)["roundId"]
    propose(client, keys.ngo, rid, program, "100", "Bank")
    to(gateway, gateway.system.budget.round(rid).voting_start)
    ok(ballot(client, sign_in(client, reg), rid, {1: 3}), 200)
    assert client.delete(f"/v1/ngo/clients/{reg['clientId']}", headers=auth(keys.ngo)).status_code == 204
    to(gateway, gateway.system.budget.round(rid).voting_end)
    assert ok(client.post(f"/v1/ngo/rounds/{rid}/finalise", headers=auth(keys.ngo)))["winners"] == [1]
    audit = ok(client.get(f"/v1/audit/rounds/{rid}", headers=auth(keys.auditor)), 200)
    assert audit["matches"] is True and audit["tallies"] == {"1": 3}


def test_a_round_whose_lot_expires_before_finalising_is_abandoned(
    client: TestClient, gateway: Gateway, keys: Keys
) -> None:
    program, forever = program_and_lot(client, keys)
    reg = register(client, keys.ngo, "Wählerin")
    voting_end = gateway.chain.now() + 8 * DAY

    def expiring_lot(seconds_after_voting: int) -> int:
        body = {
            "amount": "500",
            "expiresAt": at(gateway, voting_end - gateway.chain.now() + seconds_after_voting),
        }
        lot = int(ok(client.post("/v1/funder/lots", json=body, headers=auth(keys.funder)))["lotId"])
        consent(client, keys.funder, lot, keys.ngo)
        return lot

    # a lot expiring before voting ends could never pay: the round is refused
    too_soon = expiring_lot(0)
    refused = client.post(
        "/v1/ngo/rounds",
        json={
            "title": "Zu knapp",
            "funding": [{"lotId": forever, "amount": "300"}, {"lotId": too_soon, "amount": "300"}],
            "credits": 100,
            "votingStart": at(gateway, DAY),
            "votingEnd": at(gateway, voting_end - gateway.chain.now()),
            "minCost": "50",
            "maxCost": "400",
        },
        headers=auth(keys.ngo),
    )
    args = problem(refused, 422, "ParticipatoryBudgetFundingExpiresTooSoon")["args"]
    assert (args["lotId"], args["expiry"], args["votingEnd"]) == (
        too_soon,
        args["votingEnd"],
        args["votingEnd"],
    )

    expiring = expiring_lot(DAY)
    body = {
        "title": "Knapp",
        "funding": [{"lotId": forever, "amount": "300"}, {"lotId": expiring, "amount": "300"}],
        "credits": 100,
        "votingStart": at(gateway, DAY),
        "votingEnd": at(gateway, voting_end - gateway.chain.now()),
        "minCost": "50",
        "maxCost": "400",
        "voters": [reg["clientId"]],
    }
    rid = ok(client.post("/v1/ngo/rounds", json=body, headers=auth(keys.ngo)))["roundId"]
    public = ok(client.get(f"/v1/public/rounds/{rid}"), 200)
    assert public["fundingExpiry"] == public["votingEnd"] + DAY  # finalise before it
    propose(client, keys.ngo, rid, program, "400", "Brücke")  # needs money of both lots
    to(gateway, public["votingStart"])
    ok(ballot(client, sign_in(client, reg), rid, {1: 3}), 200)
    to(gateway, public["votingEnd"])
    problem(
        client.post(f"/v1/ngo/rounds/{rid}/abandon", headers=auth(keys.ngo)),
        409,
        "ParticipatoryBudgetFundingNotExpired",
    )

    to(gateway, public["fundingExpiry"])  # nobody finalised in time
    problem(
        client.post(f"/v1/ngo/rounds/{rid}/finalise", headers=auth(keys.ngo)), 409, "FundLedgerLotExpired"
    )
    problem(client.post(f"/v1/ngo/rounds/{rid}/abandon", headers=auth(keys.ngo2)), 403, "NotYourRound")
    done = ok(client.post(f"/v1/ngo/rounds/{rid}/abandon", headers=auth(keys.ngo)))
    assert (done["expiredLot"], done["awarded"], done["released"]) == (expiring, "0.000000", "600.000000")
    assert [e["event"] for e in done["events"]].count("ReservationReleased") == 2

    results = ok(client.get(f"/v1/public/rounds/{rid}"), 200)
    assert (results["phase"], results["settled"], results["awarded"], results["released"]) == (
        "abandoned",
        False,
        "0.000000",
        "600.000000",
    )
    assert (results["winners"], results["paidWinners"]) == ([], [])
    for again in ("finalise", "abandon"):
        problem(
            client.post(f"/v1/ngo/rounds/{rid}/{again}", headers=auth(keys.ngo)),
            409,
            "ParticipatoryBudgetRoundAbandoned",
        )
    problem(ballot(client, sign_in(client, reg), rid, {1: 1}), 409, "ParticipatoryBudgetRoundAbandoned")
    lots = {lot["lotId"]: lot for lot in ok(client.get("/v1/funder/lots", headers=auth(keys.funder)), 200)}
    assert lots[forever]["unallocated"] == "1000.000000" and lots[expiring]["unallocated"] == "500.000000"
    ok(client.post(f"/v1/funder/lots/{expiring}/refund", headers=auth(keys.funder)))  # all 500 back

    audit = ok(client.get(f"/v1/audit/rounds/{rid}", headers=auth(keys.auditor)), 200)
    assert (audit["phase"], audit["matches"], audit["mismatches"]) == ("abandoned", True, [])
    assert ok(client.get("/v1/audit/verify", headers=auth(keys.auditor)), 200)["matches"] is True
    pb = client.get(f"/v1/audit/rounds/{rid}/pabulib", headers=auth(keys.auditor))
    assert pb.status_code == 200 and "abandoned;" in pb.text
