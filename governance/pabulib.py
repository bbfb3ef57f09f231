"""Read and write the pabulib `.pb` format, and export a finished round as open data.

A `.pb` file has three `;`-separated sections: META (key;value), PROJECTS (one row per project,
`project_id` first) and VOTES (one row per voter, `voter_id` first). A round is written as a
`cumulative` election: each voter's row lists the proposals voted on (`vote`) and the votes on each
(`points`); the quadratic cost of points and the voice credits are recorded in META. Costs are
written in whole currency units with up to `decimals` decimals (micro-euros on-chain: 6).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from governance.errors import GovernanceError, PabulibFormatError
from governance.qv import Candidate, SelectionRule, tally
from governance.qv_verify import EventLike, RoundAudit, verify_rounds

SECTIONS = ("META", "PROJECTS", "VOTES")
RULE_NAMES = {SelectionRule.GREEDY_SKIP: "greedy", SelectionRule.GREEDY_STOP: "greedy-no-skip"}


@dataclass
class PbFile:
    """The three sections of a .pb file, as text; rows keyed by their first column."""

    meta: dict[str, str] = field(default_factory=dict)
    projects: dict[str, dict[str, str]] = field(default_factory=dict)
    votes: dict[str, dict[str, str]] = field(default_factory=dict)


def parse_pb(text: str) -> PbFile:
    """Parse .pb text (a leading byte-order mark is ignored)."""
    pb = PbFile()
    section: str | None = None
    header: list[str] = []
    seen: list[str] = []
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff")), delimiter=";")
    for row in reader:
        line = reader.line_num
        if not row or (len(row) == 1 and not row[0].strip()):
            continue
        name = row[0].strip().upper()
        if len(row) == 1 and name in SECTIONS:
            if name in seen:
                raise PabulibFormatError(f"line {line}: section {name} appears twice")
            section, header = name, [h.strip() for h in next(reader, [])]
            seen.append(name)
            _check_header(section, header, reader.line_num)
            continue
        if section is None:
            raise PabulibFormatError(f"line {line}: data before the META section")
        if len(row) != len(header):
            raise PabulibFormatError(f"line {line}: {len(row)} fields where the header has {len(header)}")
        _add_row(pb, section, header, [v.strip() for v in row], line)
    _check_complete(pb, seen)
    return pb


def _check_complete(pb: PbFile, seen: list[str]) -> None:
    if tuple(seen) != SECTIONS:
        raise PabulibFormatError(f"sections {seen}, expected META, PROJECTS, VOTES in that order")
    for key in ("budget", "vote_type"):
        if key not in pb.meta:
            raise PabulibFormatError(f"META lacks {key}")


def _add_row(pb: PbFile, section: str, header: list[str], values: list[str], line: int) -> None:
    if section == "META":
        pb.meta[values[0]] = values[1]
        return
    rows = pb.projects if section == "PROJECTS" else pb.votes
    if values[0] in rows:
        raise PabulibFormatError(f"line {line}: {header[0]} {values[0]} appears twice")
    rows[values[0]] = dict(zip(header[1:], values[1:], strict=True))


def _check_header(section: str, header: list[str], line: int) -> None:
    first = {"META": "key", "PROJECTS": "project_id", "VOTES": "voter_id"}[section]
    if not header or header[0] != first:
        raise PabulibFormatError(f"line {line}: the {section} header must start with {first}")
    if section == "META" and header != ["key", "value"]:
        raise PabulibFormatError(f"line {line}: the META header must be key;value")


def format_pb(pb: PbFile) -> str:
    """The .pb text of `pb` (columns in the order they first appear in the rows)."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\n")
    writer.writerow(["META"])
    writer.writerow(["key", "value"])
    writer.writerows(pb.meta.items())
    for title, key, rows in (("PROJECTS", "project_id", pb.projects), ("VOTES", "voter_id", pb.votes)):
        columns = list(dict.fromkeys(c for row in rows.values() for c in row))
        writer.writerow([title])
        writer.writerow([key, *columns])
        for rid, row in rows.items():
            writer.writerow([rid, *(row.get(c, "None") for c in columns)])
    return out.getvalue()


def to_units(text: str, decimals: int) -> int:
    """`12.5` with 6 decimals -> 12500000; PabulibFormatError when it is not a whole number of units."""
    try:
        value = Decimal(text.replace(",", ".")).scaleb(decimals)
    except InvalidOperation as exc:
        raise PabulibFormatError(f"not a number: {text!r}") from exc
    if value != value.to_integral_value() or value < 0:
        raise PabulibFormatError(f"{text} is not a whole number of 10^-{decimals} units")
    return int(value)


def from_units(amount: int, decimals: int) -> str:
    """12500000 with 6 decimals -> `12.5`."""
    whole, frac = divmod(amount, 10**decimals)
    return str(whole) if frac == 0 else f"{whole}.{frac:0{decimals}d}".rstrip("0")


@dataclass(frozen=True)
class Election:
    """A .pb election in integer units: budget, project costs and each voter's points."""

    budget: int
    costs: dict[int, int]
    points: dict[str, dict[int, int]]

    def candidates(self) -> list[Candidate]:
        """Projects with their summed points, as selection takes them."""
        totals = tally(self.points.values(), self.costs)
        return [Candidate(pid, cost, totals[pid]) for pid, cost in self.costs.items()]


def election_of(pb: PbFile, decimals: int = 0) -> Election:
    """The election in `pb`: integer project ids, costs scaled by 10^`decimals`, points per voter."""
    if pb.meta["vote_type"] not in ("cumulative", "scoring"):
        raise PabulibFormatError(f"vote_type {pb.meta['vote_type']} carries no points")
    costs = {_project_id(pid): to_units(row["cost"], decimals) for pid, row in pb.projects.items()}
    points: dict[str, dict[int, int]] = {}
    for voter, row in pb.votes.items():
        ids = [_project_id(p) for p in row.get("vote", "").split(",") if p.strip()]
        values = [to_units(p, 0) for p in row.get("points", "").split(",") if p.strip()]
        if len(ids) != len(values):
            raise PabulibFormatError(f"voter {voter}: {len(ids)} projects but {len(values)} points")
        unknown = set(ids) - set(costs)
        if unknown:
            raise PabulibFormatError(f"voter {voter} votes on unknown projects {sorted(unknown)}")
        points[voter] = dict(zip(ids, values, strict=True))
    return Election(to_units(pb.meta["budget"], decimals), costs, points)


def _project_id(text: str) -> int:
    try:
        return int(text.strip())
    except ValueError as exc:
        raise PabulibFormatError(f"project id {text!r} is not a number (ties break by number)") from exc


def election_pb(election: Election, meta: Mapping[str, str] | None = None) -> PbFile:
    """A cumulative .pb file of `election` (integer units as they are)."""
    pb = PbFile(
        meta={
            "description": "Allmende election",
            "country": "none",
            "unit": "none",
            "instance": "none",
            "num_projects": str(len(election.costs)),
            "num_votes": str(len(election.points)),
            "budget": str(election.budget),
            "vote_type": "cumulative",
            "rule": "greedy",
            **(meta or {}),
        }
    )
    pb.projects = {str(pid): {"cost": str(cost)} for pid, cost in election.costs.items()}
    pb.votes = {voter: _vote_row(b) for voter, b in election.points.items()}
    return pb


def _vote_row(ballot: Mapping[int, int]) -> dict[str, str]:
    ids = sorted(ballot)
    return {"vote": ",".join(map(str, ids)), "points": ",".join(str(ballot[p]) for p in ids)}


def _date(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%d.%m.%Y")


def round_pb(audit: RoundAudit, *, decimals: int = 6, currency: str = "EUR", **meta: str) -> PbFile:
    """The .pb file of an audited round: its proposals, the current ballots and, once finalised, the winners.

    `meta` adds or overrides META entries (pabulib's `description`, `country`, `unit`, `instance`...).
    """
    m = audit.model
    tallies = m.tallies()
    winners = set(audit.winners) if audit.finalised else set()
    supporters = tally({pid: 1 for pid in b} for b in m.ballots.values())
    pb = PbFile(
        meta={
            "description": f"Allmende participatory budget, round {audit.round_id}",
            "country": "none",
            "unit": "none",
            "instance": f"round {audit.round_id}",
            "num_projects": str(len(tallies)),
            "num_votes": str(len(m.ballots)),
            "budget": from_units(m.budget, decimals),
            "vote_type": "cumulative",
            "rule": RULE_NAMES[m.rule],
            "date_begin": _date(audit.voting_start),
            "date_end": _date(audit.voting_end),
            "currency": currency,
            "max_sum_points": str(m.credits),  # sum(v) <= sum(v * v) <= credits
            "voice_credits": str(m.credits),
            "points_cost": "quadratic: n points cost n*n voice credits",
            "min_votes": str(m.min_votes),
            "tie_breaking": "fewer votes last; equal votes: lower project_id first",
            "round_id": str(audit.round_id),
            "voter_root": "0x" + audit.voter_root.hex(),
            **meta,
        }
    )
    if audit.abandoned:  # the votes stand; only the winners paid before received their money
        pb.meta.setdefault("abandoned", f"lot {audit.abandoned_for} expired before the round was settled")
    for pid in sorted(tallies):
        p = m.proposals[pid]
        row = {
            "cost": from_units(p.amount, decimals),
            "votes": str(supporters.get(pid, 0)),
            "score": str(tallies[pid]),
            "program_id": str(p.program_id),
            "content_hash": "0x" + p.content_hash.hex(),
        }
        if audit.finalised:
            row["selected"] = "1" if pid in winners else "0"
        pb.projects[str(pid)] = row
    pb.votes = {voter: _vote_row(b) for voter, b in sorted(m.ballots.items())}
    return pb


def export_round(
    events: Iterable[EventLike | Mapping[str, Any]],
    round_id: int,
    *,
    decimals: int = 6,
    currency: str = "EUR",
    **meta: str,
) -> str:
    """The .pb text of round `round_id`, rebuilt and verified from `events`; refuses an inconsistent round."""
    report = verify_rounds(events)
    audit = report.rounds.get(round_id)
    if audit is None:
        raise GovernanceError(f"no round {round_id} in the events")
    if audit.mismatches:
        raise GovernanceError(f"round {round_id} does not verify: {audit.mismatches[0]}")
    return format_pb(round_pb(audit, decimals=decimals, currency=currency, **meta))
