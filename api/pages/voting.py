"""The client pages of participatory budgeting: the rounds a client may vote in, the ballot form with
its "check" step, the results, and the public "check my vote" page.

Authority: `/client/rounds...` are for the signed-in client, and show only rounds of the client's NGO
in which the client is on the voter roll (others get "not found", so nobody learns more about a
round than its public results); the ballot is signed with the client's own voting key of the round
and relayed by `RoundsService.cast_ballot`, the same call as `PUT /v1/client/rounds/{id}/ballot`.
The results chart (`/client/rounds/{id}/results.svg`) and `/client/check` are open to anyone: results
are public, and a receipt code shows a ballot without its voter.

Without JavaScript the form is a loop: type votes, press "Check" (the server recomputes the cost,
n votes cost n x n credits, and shows credits used and left), then "Cast". An over-budget ballot is
refused with how many credits too many it uses. A cast ballot answers with a redirect (post/redirect/
get); the receipt code travels in a short-lived HttpOnly cookie read once by the next page, so it
never appears in an address or a log.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated

import pygal
from fastapi import APIRouter, Depends, Form, Response
from pygal.style import Style

from api.gateway import GatewayError, NotFound
from api.pages._web import (
    PREFIX,
    Page,
    PageRoute,
    is_secure,
    open_page,
    problem_of,
    signed_in_page,
)
from api.pages.i18n import N_
from api.schemas import IdPath
from api.services import client_proposals
from api.services.rounds import ClientView, RoundState
from api.services.vote_receipts import VoteReceipts
from governance import qv
from ledger.exceptions import ContractRevert, LedgerError
from ledger.participatory_budget import Phase, ProposalStatus

router = APIRouter(prefix=PREFIX, tags=["pages"], include_in_schema=False, route_class=PageRoute)

AnyPage = Annotated[Page, Depends(open_page)]
SignedIn = Annotated[Page, Depends(signed_in_page)]
Field = Annotated[str, Form()]
Fields = Annotated[list[str], Form()]

RECEIPT_COOKIE_AGE_S = 600
MAX_DIGITS = len(str(qv.MAX_VOTES))

PHASES = {
    Phase.PROPOSALS: N_("Proposals are being collected"),
    Phase.VOTING: N_("Voting is open"),
    Phase.TALLY: N_("Voting has closed"),
    Phase.FINALISED: N_("The results are final"),
    Phase.ABANDONED: N_("This round was called off"),
}

VOTING_PROBLEMS = {
    "ParticipatoryBudgetWrongPhase": N_("Voting is not open in this round at the moment."),
    "ParticipatoryBudgetNotEligible": N_("You are not on the list of voters of this round."),
    "ParticipatoryBudgetCreditsExceeded": N_("Your votes cost more credits than you have."),
    "ParticipatoryBudgetProposalNotActive": N_("One of the proposals is no longer open for votes."),
    "ClientProposalsClosed": N_("In this round, only the advice centre makes proposals."),
    "ParticipatoryBudgetTooManyProposals": N_("This round has as many proposals as it can take."),
}
AMOUNT = re.compile(r"^[0-9]{1,9}(?:[.,][0-9]{1,2})?$")
MAX_TITLE, MAX_DESCRIPTION = 200, 4000


def receipt_cookie(page: Page) -> str:
    """The one-time cookie that carries a new receipt code to the page after casting."""
    return "__Host-allmende-receipt" if is_secure(page.request) else "allmende-receipt"


@dataclass(frozen=True)
class Line:
    """One proposal on a round's page, with the votes in the form and what they cost."""

    proposal_id: int
    title: str
    description: str
    amount: int  # micro-euros the project costs
    votes: int  # on chain: the proposal's total; in the form: the client's
    typed: str  # what the form shows in the number field
    cost: int  # credits the client's votes on it cost
    selected: bool
    error: str | None = None


@dataclass(frozen=True)
class Tally:
    """A ballot's cost against the credits."""

    credits: int
    used: int

    @property
    def left(self) -> int:
        """Credits not used (0 when over)."""
        return max(0, self.credits - self.used)

    @property
    def over(self) -> int:
        """Credits used beyond the budget."""
        return max(0, self.used - self.credits)


def _active(state: RoundState) -> dict[int, Line]:
    """The proposals open for votes, in the order they were made, with no votes typed in."""
    out = {}
    for pid, p in sorted(state.proposals.items()):
        if p.status is ProposalStatus.WITHDRAWN:
            continue
        text = state.texts.get(pid)
        out[pid] = Line(
            proposal_id=pid,
            title=text.title if text is not None else f"#{pid}",
            description=text.description if text is not None else "",
            amount=p.amount,
            votes=p.votes,
            typed="",
            cost=0,
            selected=p.status is ProposalStatus.SELECTED,
        )
    return out


def _view(page: Page, round_id: int) -> ClientView:
    """The round as the signed-in client sees it; "not found" unless the client may vote in it."""
    assert page.session is not None
    view = page.gateway.rounds.client_view(page.session, round_id)
    if not view.eligible or view.state.info is None or view.state.info.ngo_id != page.session.ngo_id:
        raise NotFound("UnknownRound", "not a round of this client")
    return view


def _lines_of_ballot(state: RoundState, ballot: dict[int, int]) -> list[Line]:
    lines = _active(state)
    return [
        Line(
            **{
                **line.__dict__,
                "typed": str(ballot[pid]) if ballot.get(pid) else "",
                "cost": ballot.get(pid, 0) ** 2,
            }
        )
        for pid, line in lines.items()
    ]


def _round_page(
    page: Page,
    view: ClientView,
    status: int = 200,
    *,
    lines: list[Line] | None = None,
    tally: Tally | None = None,
    checked: bool = False,
    problem: str | None = None,
    notice: str | None = None,
    receipt: str | None = None,
    proposal: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
) -> Response:
    state = view.state
    assert state.info is not None
    if lines is None:
        lines = _lines_of_ballot(state, view.ballot)
    if tally is None:
        tally = Tally(state.info.credits, view.credits_used)
    results = sorted(_active(state).values(), key=lambda line: (-line.votes, line.proposal_id))
    return page.render(
        "round.html",
        status,
        view=view,
        state=state,
        phase=state.phase,
        Phase=Phase,
        phase_text=page.t(PHASES.get(state.phase, PHASES[Phase.PROPOSALS])),
        lines=lines,
        tally=tally,
        checked=checked,
        has_ballot=bool(view.ballot),
        results=results,
        problem=problem,
        notice=notice,
        receipt=receipt,
        max_votes=qv.MAX_VOTES,
        proposal=proposal or {"title": "", "description": "", "amount": ""},
        errors=errors or {},
        clients_propose=state.info.client_program_id is not None,
    )


@router.get("/rounds")
def rounds(page: SignedIn) -> Response:
    """The budget rounds the client may take part in, newest first."""
    assert page.session is not None
    views = page.gateway.rounds.client_rounds(page.session)
    shown = [
        (v, page.t(PHASES.get(v.state.phase, PHASES[Phase.PROPOSALS])))
        for v in reversed(views)
        if v.state.info is not None
    ]
    return page.render("rounds.html", rounds=shown, Phase=Phase)


@router.get("/rounds/{round_id}")
def round_page(page: SignedIn, round_id: IdPath) -> Response:
    """One round: its proposals, the client's ballot while voting is open, the results afterwards."""
    view = _view(page, round_id)
    receipt = None
    name = receipt_cookie(page)
    if name in page.request.cookies:
        typed = page.request.cookies[name]
        receipt = typed if len(typed) == 19 and typed.replace("-", "").isalnum() else None
        page.delete_cookie(name)
    notice = page.t("Your ballot has been counted.") if receipt else None
    if page.request.query_params.get("proposed") == "1":
        notice = page.t("Thank you. Your proposal is now on the list.")
    return _round_page(page, view, notice=notice, receipt=receipt)


def _parse(
    page: Page, view: ClientView, proposals: list[str], votes: list[str]
) -> tuple[list[Line], dict[int, int]] | None:
    """The typed votes per active proposal, each line with its cost or its error; None for a form no
    page of ours sends (unknown proposals, lists of different lengths)."""
    active = _active(view.state)
    if len(proposals) != len(votes) or len(proposals) > len(active):
        return None
    typed: dict[int, str] = {}
    for pid_text, vote in zip(proposals, votes, strict=True):
        if not pid_text.isascii() or not pid_text.isdigit() or len(pid_text) > 6:
            return None
        pid = int(pid_text)
        if pid not in active or pid in typed:
            return None
        typed[pid] = vote.strip()[: MAX_DIGITS + 2]
    lines, ballot = [], {}
    for pid, line in active.items():
        text = typed.get(pid, "")
        error = None
        n = 0
        if text:
            if text.isascii() and text.isdigit() and int(text) <= qv.MAX_VOTES:
                n = int(text)
            else:
                error = page.t("Please enter a whole number of votes, 0 or more.")
        if n:
            ballot[pid] = n
        lines.append(Line(**{**line.__dict__, "typed": text, "cost": n * n, "error": error}))
    return lines, ballot


@router.post("/rounds/{round_id}/ballot")
def cast(
    page: SignedIn,
    round_id: IdPath,
    proposal: Fields = [],  # noqa: B006 (FastAPI copies the default)
    votes: Fields = [],  # noqa: B006
    action: Field = "check",
    csrf: Field = "",
) -> Response:
    """Check a ballot's cost (`action=check`) or cast it, replacing any earlier one (`action=cast`)."""
    assert page.session is not None
    view = _view(page, round_id)
    if not page.csrf_ok(csrf):
        return _round_page(
            page, view, 403, problem=page.t("The page was open for too long. Please try again.")
        )
    parsed = _parse(page, view, proposal, votes)
    if parsed is None:
        return page.problem(400, "Other")
    lines, ballot = parsed
    assert view.state.info is not None
    tally = Tally(view.state.info.credits, qv.ballot_cost(ballot))
    if any(line.error for line in lines):
        problem = page.t("Please correct the marked numbers.")
        return _round_page(page, view, 400, lines=lines, tally=tally, checked=True, problem=problem)
    if tally.over:
        problem = page.tn(
            "Your votes cost %(used)s credits: %(num)d credit more than the %(credits)s you have. "
            "Please take away some votes.",
            "Your votes cost %(used)s credits: %(num)d credits more than the %(credits)s you have. "
            "Please take away some votes.",
            tally.over,
            used=tally.used,
            credits=tally.credits,
        )
        return _round_page(
            page,
            view,
            400 if action == "cast" else 200,
            lines=lines,
            tally=tally,
            checked=True,
            problem=problem,
        )
    if action != "cast":
        return _round_page(page, view, lines=lines, tally=tally, checked=True)
    try:
        done = page.gateway.rounds.cast_ballot(page.session, round_id, ballot)
    except (GatewayError, ContractRevert, LedgerError) as exc:
        status, code = problem_of(exc)
        text = page.t(VOTING_PROBLEMS[code]) if code in VOTING_PROBLEMS else page.problem_text(code)
        return _round_page(page, view, status, lines=lines, tally=tally, checked=True, problem=text)
    if done.ballot:
        code = VoteReceipts(page.gateway, page.gateway.rounds).issue(
            round_id, done.operation.transaction_hash
        )
        page.set_cookie(receipt_cookie(page), code, max_age=RECEIPT_COOKIE_AGE_S)
    return page.redirect(f"{PREFIX}/rounds/{round_id}")


def _euros(text: str) -> int | None:
    """Micro-euros of an amount typed as people write it (`120`, `120,50`, `120.50`), or None."""
    clean = text.strip().replace("\u00a0", "").replace(" ", "").removesuffix("€")
    if not AMOUNT.fullmatch(clean):
        return None
    whole, _, cents = clean.replace(",", ".").partition(".")
    return int(whole) * 1_000_000 + int((cents or "0").ljust(2, "0")) * 10_000


@router.post("/rounds/{round_id}/proposals")
def propose(
    page: SignedIn,
    round_id: IdPath,
    title: Field = "",
    description: Field = "",
    amount: Field = "",
    csrf: Field = "",
) -> Response:
    """Propose a project for the round's client program, while proposals are open (signed with the
    client's voting key of the round and relayed)."""
    assert page.session is not None
    view = _view(page, round_id)
    typed = {
        "title": title.strip()[:MAX_TITLE],
        "description": description.strip()[:MAX_DESCRIPTION],
        "amount": amount.strip()[:20],
    }
    if not page.csrf_ok(csrf):
        problem = page.t("The page was open for too long. Please try again.")
        return _round_page(page, view, 403, proposal=typed, problem=problem)
    r = view.state.round
    errors = {}
    if not typed["title"] or "\x00" in title:
        errors["title"] = page.t("Please give your proposal a short title.")
    elif len(title.strip()) > MAX_TITLE:
        errors["title"] = page.t("Please keep the title under %(num)s characters.", num=MAX_TITLE)
    if len(description.strip()) > MAX_DESCRIPTION or "\x00" in description:
        errors["description"] = page.t(
            "Please keep the description under %(num)s characters.", num=MAX_DESCRIPTION
        )
    micro = _euros(amount)
    if micro is None or not r.min_cost <= micro <= r.max_cost:
        errors["amount"] = page.t(
            "Please enter an amount in euros from %(min)s to %(max)s.",
            min=page.money(r.min_cost),
            max=page.money(r.max_cost),
        )
    if errors:
        return _round_page(
            page,
            view,
            400,
            proposal=typed,
            errors=errors,
            problem=page.t("Please correct the marked fields."),
        )
    assert micro is not None
    try:
        client_proposals.submit(
            page.gateway,
            page.gateway.rounds,
            page.session,
            round_id,
            micro,
            typed["title"],
            typed["description"],
        )
    except (GatewayError, ContractRevert, LedgerError) as exc:
        status, code = problem_of(exc)
        text = page.t(VOTING_PROBLEMS[code]) if code in VOTING_PROBLEMS else page.problem_text(code)
        if code == "ParticipatoryBudgetWrongPhase":
            text = page.t("This round takes no more proposals.")
        return _round_page(page, view, status, proposal=typed, problem=text)
    return page.redirect(f"{PREFIX}/rounds/{round_id}?proposed=1")


_CHART_STYLE = Style(
    background="white",
    plot_background="white",
    foreground="#111",
    foreground_strong="#111",
    foreground_subtle="#555",
    colors=("#0f7a3a",),
    font_family="sans-serif",
)
_CHART_CSP = "default-src 'none'; style-src 'unsafe-inline'"
_SCRIPT = re.compile(r"<script\b.*?</script>", re.DOTALL)


@router.get("/rounds/{round_id}/results.svg")
def results_chart(page: AnyPage, round_id: IdPath) -> Response:
    """The votes per proposal as a bar chart (public, like the results; the page has them as a table)."""
    state = page.gateway.rounds.state(round_id)
    if state.info is None or state.phase not in (Phase.TALLY, Phase.FINALISED, Phase.ABANDONED):
        return page.render("not_found.html", 404)
    lines = sorted(_active(state).values(), key=lambda line: (-line.votes, line.proposal_id))
    chart = pygal.HorizontalBar(
        style=_CHART_STYLE,
        js=[],
        disable_xml_declaration=True,
        show_legend=False,
        height=80 + 40 * len(lines),
        width=640,
        print_values=True,
    )
    chart.title = page.t("Votes per proposal")
    chart.x_labels = [line.title[:40] for line in lines]
    chart.add(page.t("Votes"), [line.votes for line in lines])
    svg = _SCRIPT.sub("", chart.render(is_unicode=True))  # pygal's tooltip config; no script needed
    return Response(
        svg,
        media_type="image/svg+xml; charset=utf-8",
        headers={
            "Cache-Control": "no-store",
            "Content-Security-Policy": _CHART_CSP,
            "X-Content-Type-Options": "nosniff",
            "Content-Language": page.lang,
        },
    )


@router.get("/check")
def check_form(page: AnyPage) -> Response:
    """The public "check my vote" form: no sign-in needed, only the receipt code."""
    return page.render("check.html", code="", result=None, lines=[], problem=None, notice=None)


@router.post("/check")
def check(page: AnyPage, code: Field = "") -> Response:
    """Show the ballot a receipt code stands for and whether the tally holds it. No CSRF token: the
    answer is read-only (a receipt is counted as checked once, whoever asks)."""
    typed = code.strip()[:40]
    try:
        result = VoteReceipts(page.gateway, page.gateway.rounds).check(typed)
    except GatewayError:
        problem = page.t(
            "We found no ballot with this code. Please compare each character with the code you wrote down."
        )
        return page.render("check.html", 404, code=typed, result=None, lines=[], problem=problem, notice=None)
    state = page.gateway.rounds.state(result.round_id)
    active = _active(state)
    lines = [
        Line(
            proposal_id=pid,
            title=active[pid].title if pid in active else f"#{pid}",
            description="",
            amount=active[pid].amount if pid in active else 0,
            votes=n,
            typed=str(n),
            cost=n * n,
            selected=False,
        )
        for pid, n in sorted(result.ballot.items())
    ]
    return page.render(
        "check.html", code=typed, result=result, state=state, lines=lines, problem=None, notice=None
    )
