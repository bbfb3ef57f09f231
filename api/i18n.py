"""The languages the client pages and voucher cards speak, from gettext catalogs, and the choice of one.

The messages are English text in the code and the templates (`t('Sign in')`, `tn(...)` for plurals,
`translate_plural(lang, ...)` in Python,
`N_(...)` to mark a text that is translated later). `babel.cfg` tells Babel where to find them;
`make messages` extracts them into `api/pages/locale/messages.pot` and updates every
`locale/<lang>/LC_MESSAGES/messages.po`. The catalogs are compiled from the `.po` files when this
module is first imported, so no compiled `.mo` file is kept in the repository. A test fails when a
message is missing from the template, untranslated or fuzzy in a catalog, or when its placeholders
differ.

Texts are written for people under stress, often reading in a second language: short sentences,
everyday words, no blame, formal address where a language has one, and always what to do next.
Problem messages are keyed by the JSON API's stable problem `code`, so a page says what the API
says, in plain words.

To add a language: add its BCP 47 tag to `LANGUAGES`, run `make messages`, translate its `.po` file.
Its writing direction and its name come from Babel's locale data.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping
from functools import cache
from gettext import GNUTranslations
from pathlib import Path
from typing import Final

from babel import Locale
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LOCALE_DIR: Final = Path(__file__).parent / "pages" / "locale"
DOMAIN: Final = "messages"
DEFAULT_LANGUAGE: Final = "de"
LANGUAGES: Final = ("de", "en", "ar", "fa", "ru", "tr", "uk")
"""Every language the pages speak, by its BCP 47 primary tag, in the order of the switch."""


def N_(message: str) -> str:
    """Marks `message` for extraction; it is translated where it is shown."""
    return message


PROBLEMS: Final[Mapping[str, str]] = {
    "InvalidVoucherOrPin": N_(
        "The code or the PIN is not right. Please check both and try again. "
        "After several wrong tries, signing in is blocked for a while to protect you."
    ),
    "SessionExpired": N_("You were signed out after some time. Please sign in again."),
    "NoEntitlement": N_("This aid is not available to you. Please ask your advice centre."),
    "ClaimProgramAlreadyClaimed": N_("You have received this aid already. It is listed under “Receipts”."),
    "ClaimProgramExpired": N_("The time to claim this aid is over. Please ask your advice centre."),
    "Unavailable": N_(
        "That did not work just now. Please try again in a few minutes. "
        "If it did work, you will see it under “Receipts”."
    ),
    "NotEnoughBalance": N_(
        "Your aid that may be used at this place does not cover this amount. "
        "Please ask the cashier for a smaller amount."
    ),
    "AidExpired": N_("The aid that could pay this has expired. Please ask your advice centre."),
    "ProviderSuspended": N_("This place cannot take payments with aid at the moment."),
    "PaymentAlreadyPaid": N_("This payment has been paid already."),
    "Other": N_("Sorry, that did not work. Please try again later, or ask your advice centre."),
}
"""The kind words for a problem `code` of the JSON API; any other code gets `Other`'s."""


@cache
def catalog(lang: str) -> GNUTranslations:
    """The compiled catalog of `lang`, built from its `.po` file once per process."""
    if lang not in LANGUAGES:
        raise KeyError(lang)
    path = LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"
    with path.open("rb") as f:
        po = read_po(f, locale=lang, domain=DOMAIN)
    buffer = io.BytesIO()
    write_mo(buffer, po)
    buffer.seek(0)
    return GNUTranslations(buffer)


def translate(lang: str, message: str, **params: object) -> str:
    """`message` in `lang`, with its `%(placeholders)s` filled in."""
    text = catalog(lang).gettext(message)
    return text % params if params else text


def translate_plural(lang: str, singular: str, plural: str, num: int, **params: object) -> str:
    """The form of a message that fits the number `num` in `lang` (`%(num)d` is filled in)."""
    return catalog(lang).ngettext(singular, plural, num) % {"num": num, **params}


def locked_text(lang: str, minutes: int) -> str:
    """Sign-in is locked for `minutes`: what happened and when to try again."""
    return translate_plural(
        lang,
        "There were too many wrong tries. To protect you, signing in is blocked now. "
        "Please try again in %(num)d minute, or ask your advice centre.",
        "There were too many wrong tries. To protect you, signing in is blocked now. "
        "Please try again in %(num)d minutes, or ask your advice centre.",
        minutes,
    )


def wrong_pin_text(lang: str, attempts_left: int) -> str:
    """A wrong code or PIN, and how many tries are left before the lockout."""
    return translate_plural(
        lang,
        "The code or the PIN is not right. Please check both and try again. "
        "You have %(num)d more try before signing in is blocked for a while to protect you.",
        "The code or the PIN is not right. Please check both and try again. "
        "You have %(num)d more tries before signing in is blocked for a while to protect you.",
        attempts_left,
    )


def direction(lang: str) -> str:
    """`rtl` for a language written right to left (Arabic, Persian), else `ltr`."""
    return "rtl" if Locale.parse(lang).character_order == "right-to-left" else "ltr"


def language_name(lang: str) -> str:
    """The language's name in itself, as the switch shows it: `Deutsch`, `العربية`, `Українська`."""
    name = Locale.parse(lang).get_display_name(lang) or lang
    return name[:1].upper() + name[1:]


_RANGE = re.compile(r"^\s*([A-Za-z]{1,8}|\*)(?:-[A-Za-z0-9]{1,8})*\s*(?:;\s*q\s*=\s*([0-9.]{1,5}))?\s*$")


def from_accept_language(header: str | None) -> str | None:
    """The supported language the browser prefers most (RFC 9110 §12.5.4), or None."""
    if not header:
        return None
    best: tuple[float, int, str] | None = None
    for position, part in enumerate(header[:1000].split(",")[:30]):
        match = _RANGE.match(part)
        if match is None:
            continue
        tag, q = match.group(1).lower(), match.group(2)
        try:
            weight = float(q) if q is not None else 1.0
        except ValueError:
            continue
        if tag not in LANGUAGES or not 0 < weight <= 1:
            continue
        if best is None or (weight, -position) > (best[0], -best[1]):
            best = (weight, position, tag)
    return best[2] if best else None


def choose(cookie: str | None, accept_language: str | None) -> str:
    """The page language: the visible switch's choice, else the browser's, else German."""
    if cookie is not None and cookie in LANGUAGES:
        return cookie
    return from_accept_language(accept_language) or DEFAULT_LANGUAGE
