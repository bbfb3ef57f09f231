"""Where a program's aid may be used: its rule (cash, or restricted to categories) and its accepted
providers with their public name, address and categories.

Authority: anyone, signed in or not (the same page for everybody, no personal data: providers publish
what is shown here). Reads the provider service only; an unknown program is the "not found" page.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response

from api.errors import GatewayError
from api.pages._web import PREFIX, Page, PageRoute, open_page, problem_of
from api.pages.i18n import N_
from api.schemas import IdPath
from ledger.exceptions import ContractRevert, LedgerError

router = APIRouter(prefix=PREFIX, tags=["pages"], include_in_schema=False, route_class=PageRoute)

AnyPage = Annotated[Page, Depends(open_page)]

CATEGORY_LABELS: dict[str, str] = {
    "food": N_("Food"),
    "school_supplies": N_("School supplies"),
    "sports": N_("Sports"),
    "culture": N_("Culture"),
    "clothing": N_("Clothing"),
    "household": N_("Household"),
    "health": N_("Health"),
    "transport": N_("Transport"),
    "tutoring": N_("Tutoring"),
}
"""Labels of the default categories; a category an operator adds is shown by its key."""


def category_label(page: Page, key: str) -> str:
    """A category's name in the page's language (its key when it has no label)."""
    label = CATEGORY_LABELS.get(key)
    return page.t(label) if label is not None else key


@router.get("/programs/{program_id}/providers")
def accepted_providers(page: AnyPage, program_id: IdPath) -> Response:
    """The program's rule and the places that accept its aid."""
    try:
        rule, providers = page.gateway.providers.accepted(program_id)
    except (GatewayError, ContractRevert, LedgerError) as exc:
        status, _ = problem_of(exc)
        return page.render("not_found.html", 404 if status == 404 else status)
    labels = [category_label(page, key) for key in rule.categories]
    return page.render(
        "providers.html",
        rule=rule,
        labels=labels,
        providers=providers,
        label=lambda key: category_label(page, key),
    )
