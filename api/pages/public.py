"""Public transparency pages: where the money went, for anyone, with no sign-in and no JavaScript.

An overview and a page per funder, program and budget round. Each picture is a server-rendered SVG
(`api.pages._charts`) shown as an image, with the same numbers in an accessible table and as a CSV
download (`<page>/<picture>.svg`, `<page>/<picture>.csv`). The figures come from the chain's events
alone (`api.open_data.figures`, over the gateway's event index, the same events `/v1/public` and
`/v1/audit` read); names and descriptions are the public texts NGOs gave the gateway.

Security boundary: these pages read no session and no API key, set no cookie except the language
choice, and show organisations (funders, NGOs, auditors) and contracts only. A client appears only
in aggregate: never a client id, a pseudonymous account, a claim or voting address, or a voucher
code (tested over every page and download).
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import re
import traceback
import weakref
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any, Final
from urllib.parse import quote

from babel.dates import format_date, format_skeleton
from eth_utils import to_checksum_address
from fastapi import APIRouter, Depends, Path, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from sqlalchemy import select
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.block_times import block_time
from api.gateway import Gateway, GatewayError
from api.models import Organisation, ProgramInfo
from api.open_data.figures import Edge, Figures, WinnerProgress, figures, winner_progress
from api.pages import _charts
from api.pages._format import ZONE
from api.pages._web import LANG_COOKIE, LANG_COOKIE_AGE_S, STATIC, Page, problem_of
from api.pages.i18n import LANGUAGES, N_, choose, language_name
from api.schemas import IdPath, euros
from api.services.rounds import RoundState
from ledger.exceptions import ContractRevert, LedgerError
from ledger.participatory_budget import Phase, ProposalStatus

log = logging.getLogger("allmende.pages")

PREFIX: Final = "/public"
CSS: Final = (STATIC / "public.css").read_bytes()
PUBLIC_STYLESHEET: Final = f"{PREFIX}/static/public.css?v={hashlib.sha256(CSS).hexdigest()[:12]}"
ATTESTATIONS_SHOWN: Final = 5
ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
CHART_FILE = re.compile(r"^([a-z]{1,16})\.(svg|csv)$")
SVG_HEADERS: Final = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
}

OUTCOME_LABELS: Final = {
    "clients": N_("Paid to clients"),
    "claimed": N_("Claimed by clients"),
    "unclaimed": N_("Still to be claimed"),
    "unspent": N_("Not paid out yet"),
    "reserved": N_("Held for a vote"),
    "unallocated": N_("Not allocated yet"),
    "relotted": N_("Back in the funder's lot"),
    "refunded": N_("Returned to the funder"),
}
SERIES_LABELS: Final = {
    "deposited": N_("Deposited"),
    "allocated": N_("Allocated to programs"),
    "paid": N_("Paid out by programs"),
    "claimed": N_("Claimed by clients"),
    "refunded": N_("Returned to funders"),
}
PHASE_LABELS: Final = {
    Phase.NONE: N_("Unknown"),
    Phase.PROPOSALS: N_("Taking proposals"),
    Phase.VOTING: N_("Voting"),
    Phase.TALLY: N_("Voting closed"),
    Phase.FINALISED: N_("Decided"),
    Phase.ABANDONED: N_("Abandoned"),
}
STATUS_LABELS: Final = {
    ProposalStatus.NONE: N_("Unknown"),
    ProposalStatus.SUBMITTED: N_("Not chosen"),
    ProposalStatus.WITHDRAWN: N_("Withdrawn"),
    ProposalStatus.SELECTED: N_("Chosen"),
}

PROPOSED: Final = N_("Proposed")
"""A proposal's status while its round is not decided yet."""

# --- the page context -----------------------------------------------------------------------------


def public_path(target: str | None) -> str:
    """`target` when it is a public page, else the overview (no open redirects)."""
    if not target or not target.startswith(f"{PREFIX}/") or "//" in target or "\\" in target:
        return f"{PREFIX}/"
    if any(ch in target for ch in "?#@:") or not target.isascii() or not target.isprintable():
        return f"{PREFIX}/"
    return target


@dataclass
class PublicPage(Page):
    """A request to a public page: a client page's context with no session, and its own language switch."""

    def path_for_switch(self) -> str:
        return public_path(self.request.url.path)

    def languages(self) -> list[dict[str, str | bool]]:
        back = quote(self.path_for_switch(), safe="/")
        return [
            {
                "code": code,
                "name": language_name(code),
                "href": f"{PREFIX}/language/{code}?next={back}",
                "current": code == self.lang,
            }
            for code in LANGUAGES
        ]

    def render(self, template: str, status: int = 200, **context: Any) -> Response:
        return super().render(
            f"public/{template}", status, public=PREFIX, public_stylesheet=PUBLIC_STYLESHEET, **context
        )

    def short_day(self, timestamp: int) -> str:
        """A date in a chart's axis or a table's cell: `05.12.2026`, `Dec 5, 2026`."""
        moment = datetime.fromtimestamp(timestamp, UTC).astimezone(ZONE)
        return format_date(moment.date(), format="medium", locale=self.lang)

    def month(self, timestamp: int) -> str:
        """A month as an axis label: `Dez. 2026`, `Dec 2026`."""
        moment = datetime.fromtimestamp(timestamp, UTC).astimezone(ZONE)
        return format_skeleton("yMMM", moment, locale=self.lang)


def public_page(request: Request) -> PublicPage:
    """The page context of a public request: the language only; sessions are never read here."""
    gateway: Gateway = request.app.state.gateway
    return PublicPage(
        request, gateway, choose(request.cookies.get(LANG_COOKIE), request.headers.get("accept-language"))
    )


AnyPublicPage = Annotated[PublicPage, Depends(public_page)]


class _NotAPublicPage(Exception):
    """Nothing public lives at this address."""


def _error_page(request: Request, exc: Exception) -> Response:
    page = public_page(request)
    if isinstance(exc, _NotAPublicPage | RequestValidationError | StarletteHTTPException):
        return page.render("not_found.html", 404)
    if isinstance(exc, GatewayError | ContractRevert | LedgerError):
        status, code = problem_of(exc)
        if status == 404 or code.endswith("UnknownRound"):
            return page.render("not_found.html", 404)
        return page.render("error.html", status, message=page.problem_text(code))
    frames = "".join(traceback.format_tb(exc.__traceback__))
    log.error("page %s failed with %s at\n%s", request.url.path, type(exc).__name__, frames)
    return page.render("error.html", 500, message=page.problem_text("Other"))


class PublicRoute(APIRoute):
    """A route whose errors become public HTML pages."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def page_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except Exception as exc:
                return _error_page(request, exc)

        return page_handler


router = APIRouter(prefix=PREFIX, tags=["public pages"], include_in_schema=False, route_class=PublicRoute)


# --- what the pages read --------------------------------------------------------------------------


_computed: weakref.WeakKeyDictionary[Gateway, tuple[tuple[int, int, int], Figures]] = (
    weakref.WeakKeyDictionary()
)


def _figures(gateway: Gateway, events: Sequence[Any]) -> Figures:
    """The figures of `events`, computed once per new event: a page view on a long chain costs one
    pass over its events only when the chain has moved (anyone may ask, without signing in)."""
    last = events[-1] if events else None
    key = (len(events), last.block_number if last else 0, last.log_index if last else 0)
    known = _computed.get(gateway)
    if known is not None and known[0] == key:
        return known[1]
    figs = figures(events)
    _computed[gateway] = (key, figs)
    return figs


@dataclass
class Ledger:
    """One request's view of the public record: figures from events, and the public names."""

    gateway: Gateway
    figures: Figures
    events: Sequence[Any]
    program_names: dict[int, str]
    program_texts: dict[int, tuple[str, str, str]]  # program -> (name, description, NGO id)
    org_names: dict[str, str]  # address -> organisation name
    claim_ids: dict[str, int] = field(default_factory=dict)

    @classmethod
    def read(cls, gateway: Gateway) -> Ledger:
        events = gateway.index.events()
        with gateway.db.session() as s:
            programs = list(s.scalars(select(ProgramInfo)))
            orgs = list(s.scalars(select(Organisation).where(Organisation.kind != "admin")))
        figs = _figures(gateway, events)
        return cls(
            gateway,
            figs,
            events,
            {p.program_id: p.name for p in programs},
            {p.program_id: (p.name, p.description, p.ngo_id) for p in programs},
            {o.address: o.name for o in orgs},
            {address: c.claim_program_id for address, c in figs.claim_programs.items()},
        )

    def block_time(self, number: int) -> int:
        """A block's timestamp."""
        return block_time(self.gateway, number)

    def org(self, address: str) -> str:
        """An organisation's name, else its address shortened."""
        return self.org_names.get(address) or f"{address[:6]}…{address[-4:]}"


def _label(page: PublicPage, ledger: Ledger, rounds: dict[int, str | None]) -> Callable[[str], str]:
    def label(node: str) -> str:
        kind, _, rest = node.partition(":")
        if kind == "funder":
            return ledger.org(rest)
        if kind == "round":
            return rounds.get(int(rest)) or page.t("Round %(id)s", id=rest)
        if kind == "program":
            return ledger.program_names.get(int(rest)) or page.t("Program %(id)s", id=rest)
        if kind == "claims":
            return page.t("Claim program %(id)s", id=ledger.claim_ids.get(rest, "?"))
        return page.t(OUTCOME_LABELS[kind])

    return label


def _node_href(node: str) -> str | None:
    kind, _, rest = node.partition(":")
    if kind in ("funder", "round", "program"):
        return f"{PREFIX}/{kind}s/{rest}"
    return None


# --- charts as a picture, a table and a CSV file ------------------------------------------------------


@dataclass
class Chart:
    """One picture with its table: `header` names the columns, `rows` hold the cells as shown,
    `csv_header` and `csv_rows` the same numbers for machines (euros with six decimals)."""

    key: str
    title: str
    caption: str
    header: list[str]
    rows: list[list[dict[str, Any]]]
    csv_header: list[str]
    csv_rows: list[list[str]]
    svg: Callable[[], str]
    base: str  # the page's path, e.g. /public/programs/3

    @property
    def svg_href(self) -> str:
        return f"{self.base.rstrip('/')}/{self.key}.svg"

    @property
    def csv_href(self) -> str:
        return f"{self.base.rstrip('/')}/{self.key}.csv"

    def csv_text(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(self.csv_header)
        writer.writerows(self.csv_rows)
        return out.getvalue()


def _cell(text: str, href: str | None = None, money: bool = False) -> dict[str, Any]:
    return {"text": text, "href": href, "money": money}


def flow_chart(
    page: PublicPage,
    ledger: Ledger,
    base: str,
    edges: Sequence[Edge],
    rounds: dict[int, str | None],
    title: str,
) -> Chart:
    label = _label(page, ledger, rounds)
    rows = [
        [
            _cell(label(e.source), _node_href(e.source)),
            _cell(label(e.target), _node_href(e.target)),
            _cell(page.money(e.amount), money=True),
        ]
        for e in edges
    ]
    return Chart(
        "flows",
        title,
        page.t("Each band is as wide as the money it carries. The table below has the same numbers."),
        [page.t("From"), page.t("To"), page.t("Amount")],
        rows,
        ["from", "to", "from_id", "to_id", "amount_eur"],
        [[label(e.source), label(e.target), e.source, e.target, euros(e.amount)] for e in edges],
        lambda: _charts.flow_svg(title, edges, label, page.money, rtl=page.direction == "rtl"),
        base,
    )


def time_chart(
    page: PublicPage,
    ledger: Ledger,
    base: str,
    names: Sequence[str],
    points: list[tuple[int, dict[str, int]]],
) -> Chart:
    """Cumulative amounts per day (per month when they span more than 60 days)."""
    title = page.t("Amounts over time")
    stamped = [(ledger.block_time(block), values) for block, values in points]
    by_month = bool(stamped) and stamped[-1][0] - stamped[0][0] > 60 * 86_400
    period = page.month if by_month else page.short_day
    buckets: dict[str, tuple[int, dict[str, int]]] = {}
    for stamp, values in stamped:
        buckets[period(stamp)] = (stamp, values)  # the last value of each period
    labels = list(buckets)
    series = {page.t(SERIES_LABELS[n]): [buckets[x][1][n] for x in labels] for n in names}
    header = [page.t("Up to"), *series]
    rows = [[_cell(x), *(_cell(page.money(buckets[x][1][n]), money=True) for n in names)] for x in labels]
    csv_rows = [
        [datetime.fromtimestamp(buckets[x][0], UTC).astimezone(ZONE).date().isoformat()]
        + [euros(buckets[x][1][n]) for n in names]
        for x in labels
    ]
    return Chart(
        "time",
        title,
        page.t("Running totals: each point shows how much had been moved up to that date."),
        header,
        rows,
        ["date", *(f"{n}_eur" for n in names)],
        csv_rows,
        lambda: _charts.line_svg(title, labels, series, "€"),
        base,
    )


# --- the pages ----------------------------------------------------------------------------------


def _round_titles(states: Sequence[RoundState]) -> dict[int, str | None]:
    return {s.round_id: s.title for s in states}


def _winners(state: RoundState) -> list[int]:
    chosen = [pid for pid, p in state.proposals.items() if p.status is ProposalStatus.SELECTED]
    return sorted(chosen, key=lambda pid: (-state.proposals[pid].votes, pid))  # the finalisation order


def _overview(page: PublicPage) -> tuple[dict[str, Any], dict[str, Chart]]:
    ledger = Ledger.read(page.gateway)
    figs = ledger.figures
    states = page.gateway.rounds.states()
    rounds = _round_titles(states)
    base = f"{PREFIX}/"
    charts = {
        "flows": flow_chart(page, ledger, base, figs.flows(), rounds, page.t("Where the money went")),
        "time": time_chart(
            page,
            ledger,
            base,
            ("deposited", "allocated", "paid", "claimed", "refunded"),
            figs.series(("deposited", "allocated", "paid", "claimed", "refunded")),
        ),
    }
    totals = [
        (page.t("Deposited by funders"), sum(figs.deposits.values())),
        (page.t("Allocated to programs"), sum(p.allocated for p in figs.programs.values())),
        (page.t("Paid out by programs"), sum(p.disbursed for p in figs.programs.values())),
        (page.t("Claimed by clients"), sum(c.claimed for c in figs.claim_programs.values())),
        (page.t("Returned to funders"), figs.total("refunded")),
    ]
    attestations = []
    if page.gateway.system.attestations is not None:
        for a in page.gateway.system.attestations.latest(ATTESTATIONS_SHOWN):
            attestations.append(
                {
                    "id": a.attestation_id,
                    "auditor": ledger.org(a.auditor),
                    "block": a.block_number,
                    "report": "0x" + a.report_hash.hex(),
                    "day": page.short_day(a.attested_at),
                }
            )
    context = {
        "totals": totals,
        "programs": [
            {
                "figures": p,
                "name": ledger.program_names.get(pid) or page.t("Program %(id)s", id=pid),
                "ngo": ledger.org(p.ngo),
            }
            for pid, p in figs.programs.items()
        ],
        "rounds": [
            {
                "state": s,
                "title": s.title or page.t("Round %(id)s", id=s.round_id),
                "phase": page.t(PHASE_LABELS[s.phase]),
            }
            for s in states
        ],
        "funders": [
            {"address": f, "name": ledger.org(f), "lots": figs.lots[f], "deposited": figs.deposits[f]}
            for f in figs.funders()
        ],
        "attestations": attestations,
    }
    return context, charts


def _funder(page: PublicPage, address: str) -> tuple[dict[str, Any], dict[str, Chart]]:
    if not ADDRESS.fullmatch(address):
        raise _NotAPublicPage(address)
    funder = to_checksum_address(address)
    ledger = Ledger.read(page.gateway)
    figs = ledger.figures
    if funder not in figs.deposits:
        raise _NotAPublicPage(address)
    rounds = _round_titles(page.gateway.rounds.states())
    base = f"{PREFIX}/funders/{funder}"
    names = ("deposited", "allocated", "paid", "refunded")
    edges = figs.flows(funder=funder)
    charts = {
        "flows": flow_chart(
            page,
            ledger,
            base,
            edges,
            rounds,
            page.t("Where the money of %(name)s went", name=ledger.org(funder)),
        ),
        "time": time_chart(page, ledger, base, names, figs.series(names, funder=funder)),
    }
    context = {
        "name": ledger.org(funder),
        "address": funder,
        "lots": figs.lots[funder],
        "deposited": figs.deposits[funder],
        "paid": figs.total("paid", funder=funder),
        "refunded": figs.total("refunded", funder=funder),
        **_lineage_totals(page.gateway, funder),
    }
    return context, charts


def _lineage_totals(gateway: Gateway, funder: str) -> dict[str, int]:
    """What the funder's lots paid at accepted providers and what was paid out to bank accounts, by
    following every euro first in, first out from the lot that paid it (`governance.lineage`)."""
    lots = [lot for lot in gateway.funds.lineage().every_lot().values() if lot.funder == funder]
    return {
        "spent_at_providers": sum(lot.spent_total for lot in lots),
        "paid_to_banks": sum(lot.paid_out_by_providers + lot.paid_out_to_others for lot in lots),
    }


def _program(page: PublicPage, program_id: int) -> tuple[dict[str, Any], dict[str, Chart]]:
    ledger = Ledger.read(page.gateway)
    figs = ledger.figures
    program = figs.programs.get(program_id)
    if program is None:
        raise _NotAPublicPage(str(program_id))
    rounds = _round_titles(page.gateway.rounds.states())
    base = f"{PREFIX}/programs/{program_id}"
    name = ledger.program_names.get(program_id) or page.t("Program %(id)s", id=program_id)
    names = ("allocated", "paid", "claimed")
    charts = {
        "flows": flow_chart(
            page,
            ledger,
            base,
            figs.flows(program=program_id),
            rounds,
            page.t("Where the money of %(name)s went", name=name),
        ),
        "time": time_chart(page, ledger, base, names, figs.series(names, program=program_id)),
    }
    claims = [c for c in figs.claim_programs.values() if c.fund_program_id == program_id]
    to_claims = sum(c.funded for c in claims)
    text = ledger.program_texts.get(program_id)
    context = {
        "name": name,
        "description": text[1] if text else "",
        "ngo": ledger.org(program.ngo),
        "figures": program,
        "claims": claims,
        "direct": program.disbursed - to_claims,  # paid straight to clients' accounts
        "to_claims": to_claims,
        "claimed": sum(c.claimed for c in claims),
        "returned": sum(c.returned for c in claims),
        "held": sum(c.held for c in claims),
    }
    return context, charts


@dataclass(frozen=True)
class _Proposal:
    """A proposal as a round's page shows it."""

    id: int
    title: str
    program: int
    program_name: str
    amount: int
    votes: int
    status: str
    winner: bool


def _votes_chart(page: PublicPage, base: str, proposals: list[_Proposal]) -> Chart:
    title = page.t("Votes per proposal")
    labels = [p.title for p in proposals]
    series = {page.t("Votes"): [float(p.votes) for p in proposals]}
    return Chart(
        "votes",
        title,
        page.t("Proposals with the most votes are chosen first, as long as the budget lasts."),
        [page.t("Proposal"), page.t("Program"), page.t("Amount asked"), page.t("Votes"), page.t("Result")],
        [
            [
                _cell(p.title),
                _cell(p.program_name, f"{PREFIX}/programs/{p.program}"),
                _cell(page.money(p.amount), money=True),
                _cell(str(p.votes)),
                _cell(p.status),
            ]
            for p in proposals
        ],
        ["proposal_id", "title", "program_id", "amount_eur", "votes", "chosen"],
        [
            [str(p.id), p.title, str(p.program), euros(p.amount), str(p.votes), "yes" if p.winner else "no"]
            for p in proposals
        ],
        lambda: _charts.bar_svg(title, labels, series),
        base,
    )


def _progress_chart(
    page: PublicPage, ledger: Ledger, base: str, progress: list[WinnerProgress], titles: dict[int, str]
) -> Chart:
    title = page.t("Progress of the chosen projects")
    programs = ledger.figures.programs
    rows: list[list[dict[str, Any]]] = []
    csv_rows: list[list[str]] = []
    for w in progress:
        pf = programs.get(w.program_id)
        approved, requested = (pf.tranches_approved, pf.tranches_requested) if pf else (0, 0)
        name = titles.get(w.proposal_id, "")
        tranches = page.t(
            "%(approved)s of %(requested)s requested",
            approved=page.money(approved),
            requested=page.money(requested),
        )
        rows.append(
            [
                _cell(name),
                _cell(page.money(w.awarded), money=True),
                _cell(page.money(w.paid_out), money=True),
                _cell(tranches),
            ]
        )
        csv_rows.append(
            [
                str(w.proposal_id),
                name,
                str(w.program_id),
                euros(w.awarded),
                euros(w.paid_out),
                euros(approved),
                euros(requested),
            ]
        )
    series = {
        page.t("Awarded"): [round(w.awarded / _charts.MICRO, 2) for w in progress],
        page.t("Paid out"): [round(w.paid_out / _charts.MICRO, 2) for w in progress],
    }
    labels = [titles.get(w.proposal_id, "") for w in progress]
    return Chart(
        "progress",
        title,
        page.t(
            "What each chosen project received from the round, and how much of it its program has paid "
            "out so far. Programs receive their money in tranches, each approved by a funder."
        ),
        [
            page.t("Project"),
            page.t("Awarded"),
            page.t("Paid out"),
            page.t("Tranches approved for the program"),
        ],
        rows,
        [
            "proposal_id",
            "title",
            "program_id",
            "awarded_eur",
            "paid_out_eur",
            "program_tranches_approved_eur",
            "program_tranches_requested_eur",
        ],
        csv_rows,
        lambda: _charts.bar_svg(title, labels, series),
        base,
    )


def _round(page: PublicPage, round_id: int) -> tuple[dict[str, Any], dict[str, Chart]]:
    if round_id > page.gateway.rounds.budget.round_count():
        raise _NotAPublicPage(str(round_id))
    ledger = Ledger.read(page.gateway)
    state = page.gateway.rounds.state(round_id, ledger.events)
    base = f"{PREFIX}/rounds/{round_id}"
    title = state.title or page.t("Round %(id)s", id=round_id)
    winners = _winners(state)
    decided = state.phase in (Phase.FINALISED, Phase.ABANDONED)
    proposals = []
    for pid, p in sorted(state.proposals.items(), key=lambda kv: (-kv[1].votes, kv[0])):
        text = state.texts.get(pid)
        program_name = ledger.program_names.get(p.program_id) or page.t("Program %(id)s", id=p.program_id)
        proposals.append(
            _Proposal(
                pid,
                text.title if text else page.t("Proposal %(id)s", id=pid),
                p.program_id,
                program_name,
                p.amount,
                p.votes,
                page.t(
                    STATUS_LABELS[p.status] if decided or p.status != ProposalStatus.SUBMITTED else PROPOSED
                ),
                pid in winners,
            )
        )
    charts = {"votes": _votes_chart(page, base, proposals)}
    progress = winner_progress(ledger.events, round_id, winners)
    if progress:
        titles = {p.id: p.title for p in proposals}
        charts["progress"] = _progress_chart(page, ledger, base, progress, titles)
    charts["flows"] = flow_chart(
        page,
        ledger,
        base,
        ledger.figures.flows(round_id=round_id),
        {round_id: state.title},
        page.t("Where the money of %(name)s went", name=title),
    )
    r = state.round
    context = {
        "title": title,
        "description": state.info.description if state.info else "",
        "phase": page.t(PHASE_LABELS[state.phase]),
        "round": r,
        "state": state,
        "voting_start": page.short_day(r.voting_start),
        "voting_end": page.short_day(r.voting_end),
        "decided": decided,
    }
    return context, charts


def _chart_response(page: PublicPage, charts: dict[str, Chart], chart_file: str, name: str) -> Response:
    match = CHART_FILE.fullmatch(chart_file)
    chart = charts.get(match.group(1)) if match else None
    if match is None or chart is None:
        raise _NotAPublicPage(chart_file)
    if match.group(2) == "svg":
        return Response(chart.svg(), media_type="image/svg+xml; charset=utf-8", headers=SVG_HEADERS)
    filename = f"{name}-{chart.key}.csv"
    return Response(
        chart.csv_text(),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-cache",
            "Content-Language": page.lang,
        },
    )


# --- routes -----------------------------------------------------------------------------------

AddressPath = Annotated[str, Path(min_length=1, max_length=64, description="A funder's address")]
ChartFile = Annotated[str, Path(min_length=1, max_length=32)]


@router.get("")
def public_root(page: AnyPublicPage) -> Response:
    """`/public` without its slash."""
    return page.redirect(f"{PREFIX}/")


@router.get("/")
def overview(page: AnyPublicPage) -> Response:
    """Where all the money went: flows, amounts over time, programs, rounds, funders, attestations."""
    context, charts = _overview(page)
    return page.render("overview.html", charts=charts, **context)


@router.get("/funders/{address}")
def funder(page: AnyPublicPage, address: AddressPath) -> Response:
    """Where one funder's money went."""
    context, charts = _funder(page, address)
    return page.render("funder.html", charts=charts, **context)


@router.get("/funders/{address}/{chart_file}")
def funder_chart(page: AnyPublicPage, address: AddressPath, chart_file: ChartFile) -> Response:
    """A picture of a funder's page as SVG, or its numbers as CSV."""
    _, charts = _funder(page, address)
    return _chart_response(page, charts, chart_file, f"funder-{address}")


@router.get("/programs/{program_id}")
def program(page: AnyPublicPage, program_id: IdPath) -> Response:
    """A program: its money, what its disbursed figure consists of, its claim programs."""
    context, charts = _program(page, program_id)
    return page.render("program.html", charts=charts, **context)


@router.get("/programs/{program_id}/{chart_file}")
def program_chart(page: AnyPublicPage, program_id: IdPath, chart_file: ChartFile) -> Response:
    """A picture of a program's page as SVG, or its numbers as CSV."""
    _, charts = _program(page, program_id)
    return _chart_response(page, charts, chart_file, f"program-{program_id}")


@router.get("/rounds/{round_id}")
def budget_round(page: AnyPublicPage, round_id: IdPath) -> Response:
    """A budget round: votes, winners and each chosen project's progress."""
    context, charts = _round(page, round_id)
    return page.render("round.html", charts=charts, **context)


@router.get("/rounds/{round_id}/{chart_file}")
def round_chart(page: AnyPublicPage, round_id: IdPath, chart_file: ChartFile) -> Response:
    """A picture of a round's page as SVG, or its numbers as CSV."""
    _, charts = _round(page, round_id)
    return _chart_response(page, charts, chart_file, f"round-{round_id}")


@router.get("/language/{lang}")
def switch_language(page: AnyPublicPage, lang: str, next: str | None = None) -> Response:
    """The visible language switch: remember the choice and go back to the page."""
    if lang not in LANGUAGES:
        raise _NotAPublicPage(lang)
    page.lang = lang
    page.set_cookie(LANG_COOKIE, lang, max_age=LANG_COOKIE_AGE_S, samesite="lax")
    return page.redirect(public_path(next))


@router.get("/static/public.css")
def stylesheet() -> Response:
    """The public pages' own styles, on top of the client pages' stylesheet."""
    return Response(
        CSS,
        media_type="text/css; charset=utf-8",
        headers={"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"},
    )


@router.get("/{chart_file}")
def overview_chart(page: AnyPublicPage, chart_file: ChartFile) -> Response:
    """A picture of the overview as SVG, or its numbers as CSV."""
    if not CHART_FILE.fullmatch(chart_file):
        raise _NotAPublicPage(chart_file)
    _, charts = _overview(page)
    return _chart_response(page, charts, chart_file, "allmende")


@router.get("/{rest:path}")
def not_found(page: AnyPublicPage, rest: str) -> Response:
    """Any other address under the public pages."""
    raise _NotAPublicPage(rest)
