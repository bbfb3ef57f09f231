"""A budget round of the scenario's NGO that the scenario's client may vote in, set up through the
gateway's own JSON API (in process or over HTTP)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from tests.pages._scenario import Scenario, auth

DAY = 86_400
ROUND_TITLE = "Bürgerhaushalt Nordhafen"
PROPOSALS = (("Spielplatz am Hafen", "300"), ("Lastenrad für alle", "120"), ("Sprachcafé", "80"))


@dataclass(frozen=True)
class RoundSetUp:
    """The round and when its voting starts and ends (chain time)."""

    round_id: int
    voting_start: int
    voting_end: int
    proposal_ids: list[int]


def _ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code < 300, response.text
    body: dict[str, Any] = response.json()
    return body


def _iso(moment: int) -> str:
    return datetime.fromtimestamp(moment, UTC).isoformat()


def open_round(
    http: httpx.Client,
    s: Scenario,
    now: int,
    *,
    credits: int = 100,
    clients_propose: bool = False,
    budget: str = "400",
) -> RoundSetUp:
    """A round over a new lot of `budget` euros, proposals until a day from `now`, then a week of voting; the
    NGO proposes three projects of the scenario's program; with `clients_propose` the voters may
    propose for that program too."""
    lot = _ok(http.post("/v1/funder/lots", json={"amount": budget}, headers=auth(s.funder_key)))["lotId"]
    ngo = _ok(http.get("/v1/me", headers=auth(s.ngo_key)))["address"]  # the funder lets the NGO use it
    _ok(http.post(f"/v1/funder/lots/{lot}/allocators", json={"address": ngo}, headers=auth(s.funder_key)))
    start, end = now + DAY, now + 8 * DAY
    body = {
        "title": ROUND_TITLE,
        "description": "Was soll 2027 im Quartier passieren?",
        "funding": [{"lotId": lot, "amount": budget}],
        "credits": credits,
        "votingStart": _iso(start),
        "votingEnd": _iso(end),
        "minCost": "50",
        "maxCost": str(min(300, int(budget))),
    }
    if clients_propose:
        body["clientProgramId"] = s.program_id
    rid = int(_ok(http.post("/v1/ngo/rounds", json=body, headers=auth(s.ngo_key)))["roundId"])
    ids = []
    for title, amount in PROPOSALS if int(budget) >= 300 else PROPOSALS[1:]:
        proposal = {
            "programId": s.program_id,
            "amount": amount,
            "title": title,
            "description": f"{title}, bitte",
        }
        r = http.post(f"/v1/ngo/rounds/{rid}/proposals", json=proposal, headers=auth(s.ngo_key))
        ids.append(int(_ok(r)["proposalId"]))
    return RoundSetUp(rid, start, end, ids)
