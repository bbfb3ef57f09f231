"""Every word the client pages show, one table per language, and the choice of language.

German is the default; English can be chosen with the switch on every page or by the browser's
`Accept-Language`. To add a language, copy `EN`, translate the values (never the keys or the
`{placeholders}`), add it to `TABLES`, and set `dir` to `rtl` for Arabic, Persian or Hebrew; a test
checks that every table has the same keys and placeholders.

Texts are written for people under stress, often reading in a second language: short sentences,
everyday words, no blame, and always what to do next. Messages for a problem are keyed by the JSON
API's stable problem `code` (`problem.<code>`), so a page says what the API says, in plain words.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final

DEFAULT_LANGUAGE: Final = "de"

DE: Final[Mapping[str, str]] = {
    "dir": "ltr",
    "lang.name": "Deutsch",
    "lang.switch": "Sprache",
    "site.name": "Allmende",
    "site.tagline": "Ihre Hilfe, ohne App und ohne E-Mail",
    "skip": "Zum Inhalt springen",
    "nav.label": "Hauptmenü",
    "nav.home": "Übersicht",
    "nav.receipts": "Belege",
    "nav.sign_out": "Abmelden",
    "footer.privacy": (
        "Ihr Name steht nicht im öffentlichen Register. Dort stehen nur Nummern, "
        "die niemand Ihnen zuordnen kann."
    ),
    "footer.shared": "An einem Computer, den auch andere nutzen? Bitte melden Sie sich am Ende ab.",
    "sign_in.title": "Anmelden",
    "sign_in.intro": "Melden Sie sich mit dem Code von Ihrem Gutschein und Ihrer PIN an.",
    "sign_in.code": "Gutschein-Code",
    "sign_in.code_hint": (
        "16 Zeichen, zum Beispiel ABCD-EFGH-JKMN-PQRS. Groß- und Kleinschreibung und Bindestriche sind egal."
    ),
    "sign_in.pin": "PIN",
    "sign_in.pin_hint": "4 bis 8 Ziffern",
    "sign_in.submit": "Anmelden",
    "sign_in.help": (
        "Code oder PIN vergessen? Ihre Beratungsstelle hilft Ihnen gern. "
        "Sie brauchen keine E-Mail-Adresse und kein Handy."
    ),
    "sign_in.signed_out": "Sie sind abgemeldet. Sie können den Computer jetzt weitergeben.",
    "sign_in.insecure": (
        "Diese Verbindung ist nicht verschlüsselt. So ist Anmelden nicht möglich. "
        "Bitte sagen Sie Ihrer Beratungsstelle Bescheid."
    ),
    "form.error_heading": "Bitte prüfen Sie Ihre Eingabe",
    "form.code_missing": "Bitte geben Sie den Code von Ihrem Gutschein ein.",
    "form.code_typo": (
        "Der Code scheint einen Tippfehler zu haben. Bitte vergleichen Sie jedes Zeichen mit Ihrem Gutschein."
    ),
    "form.pin_format": "Die PIN hat 4 bis 8 Ziffern. Bitte geben Sie nur Ziffern ein.",
    "form.expired": "Die Seite war zu lange offen. Bitte versuchen Sie es noch einmal.",
    "problem.InvalidVoucherOrPin": (
        "Der Code oder die PIN stimmt nicht. Bitte prüfen Sie beides und versuchen Sie es noch einmal. "
        "Nach mehreren falschen Versuchen wird die Anmeldung zu Ihrem Schutz eine Zeit lang gesperrt."
    ),
    "problem.SignInLocked": (
        "Es gab zu viele falsche Versuche. Zu Ihrem Schutz ist die Anmeldung jetzt gesperrt. "
        "Bitte versuchen Sie es in {minutes} Minuten noch einmal, oder fragen Sie Ihre Beratungsstelle."
    ),
    "problem.SessionExpired": (
        "Sie wurden nach einiger Zeit automatisch abgemeldet. Bitte melden Sie sich neu an."
    ),
    "problem.NoEntitlement": "Diese Hilfe gibt es für Sie nicht. Bitte fragen Sie Ihre Beratungsstelle.",
    "problem.ClaimProgramAlreadyClaimed": "Diese Hilfe haben Sie schon erhalten. Sie steht unter „Belege“.",
    "problem.ClaimProgramExpired": (
        "Die Frist für diese Hilfe ist abgelaufen. Bitte fragen Sie Ihre Beratungsstelle."
    ),
    "problem.Unavailable": (
        "Das hat gerade nicht geklappt. Bitte versuchen Sie es in ein paar Minuten noch einmal. "
        "Wenn es doch geklappt hat, sehen Sie es unter „Belege“."
    ),
    "problem.Other": (
        "Das hat leider nicht geklappt. Bitte versuchen Sie es später noch einmal, "
        "oder fragen Sie Ihre Beratungsstelle."
    ),
    "home.title": "Übersicht",
    "home.intro": "Hier sehen Sie, welche Hilfe für Sie bereitliegt.",
    "home.none": "Im Moment liegt nichts für Sie bereit.",
    "home.program": "Programm {number}",
    "home.amount": "Betrag",
    "home.until": "Abholen bis {date}",
    "home.claim": "{amount} jetzt abholen",
    "home.expired": "Frist abgelaufen",
    "home.claimed_note": "Sie haben {amount} erhalten.",
    "home.done": "Geschafft: {amount} wurden Ihnen gutgeschrieben.",
    "home.assisted": "Eine Mitarbeiterin oder ein Mitarbeiter Ihrer Beratungsstelle hilft Ihnen gerade.",
    "receipts.title": "Belege",
    "receipts.intro": (
        "Das haben Sie erhalten. Mit der Transaktionsnummer kann eine Prüfstelle jede Zahlung "
        "im öffentlichen Register nachprüfen, ohne Ihren Namen zu kennen."
    ),
    "receipts.none": "Sie haben noch nichts erhalten.",
    "receipts.what": "Wofür",
    "receipts.amount": "Betrag",
    "receipts.transaction": "Transaktionsnummer",
    "receipts.block": "Block",
    "receipts.claim": "Hilfe: {program}",
    "receipts.payment": "Zahlung: {program}",
    "receipts.total": "Zusammen erhalten: {amount}",
    "not_found.title": "Seite nicht gefunden",
    "not_found.text": "Diese Seite gibt es nicht.",
    "error.title": "Das hat nicht geklappt",
    "back_home": "Zur Übersicht",
    "back_sign_in": "Zur Anmeldung",
}

EN: Final[Mapping[str, str]] = {
    "dir": "ltr",
    "lang.name": "English",
    "lang.switch": "Language",
    "site.name": "Allmende",
    "site.tagline": "Your aid, with no app and no e-mail",
    "skip": "Skip to content",
    "nav.label": "Main menu",
    "nav.home": "Overview",
    "nav.receipts": "Receipts",
    "nav.sign_out": "Sign out",
    "footer.privacy": (
        "Your name is not in the public register. It only holds numbers that nobody can link to you."
    ),
    "footer.shared": "On a computer that others use too? Please sign out when you are done.",
    "sign_in.title": "Sign in",
    "sign_in.intro": "Sign in with the code on your voucher and your PIN.",
    "sign_in.code": "Voucher code",
    "sign_in.code_hint": (
        "16 characters, for example ABCD-EFGH-JKMN-PQRS. Capital or small letters and dashes do not matter."
    ),
    "sign_in.pin": "PIN",
    "sign_in.pin_hint": "4 to 8 digits",
    "sign_in.submit": "Sign in",
    "sign_in.help": (
        "Forgot your code or PIN? Your advice centre will gladly help. "
        "You do not need an e-mail address or a mobile phone."
    ),
    "sign_in.signed_out": "You are signed out. You can hand over the computer now.",
    "sign_in.insecure": (
        "This connection is not encrypted, so signing in is not possible. Please tell your advice centre."
    ),
    "form.error_heading": "Please check what you entered",
    "form.code_missing": "Please enter the code from your voucher.",
    "form.code_typo": (
        "The code seems to have a typing mistake. Please compare each character with your voucher."
    ),
    "form.pin_format": "The PIN has 4 to 8 digits. Please enter digits only.",
    "form.expired": "The page was open for too long. Please try again.",
    "problem.InvalidVoucherOrPin": (
        "The code or the PIN is not right. Please check both and try again. "
        "After several wrong tries, signing in is blocked for a while to protect you."
    ),
    "problem.SignInLocked": (
        "There were too many wrong tries. To protect you, signing in is blocked now. "
        "Please try again in {minutes} minutes, or ask your advice centre."
    ),
    "problem.SessionExpired": "You were signed out after some time. Please sign in again.",
    "problem.NoEntitlement": "This aid is not available to you. Please ask your advice centre.",
    "problem.ClaimProgramAlreadyClaimed": (
        "You have received this aid already. It is listed under “Receipts”."
    ),
    "problem.ClaimProgramExpired": "The time to claim this aid is over. Please ask your advice centre.",
    "problem.Unavailable": (
        "That did not work just now. Please try again in a few minutes. "
        "If it did work, you will see it under “Receipts”."
    ),
    "problem.Other": "Sorry, that did not work. Please try again later, or ask your advice centre.",
    "home.title": "Overview",
    "home.intro": "Here you see which aid is ready for you.",
    "home.none": "There is nothing ready for you at the moment.",
    "home.program": "Programme {number}",
    "home.amount": "Amount",
    "home.until": "Claim by {date}",
    "home.claim": "Claim {amount} now",
    "home.expired": "Time is over",
    "home.claimed_note": "You received {amount}.",
    "home.done": "Done: {amount} has been credited to you.",
    "home.assisted": "A member of staff of your advice centre is helping you right now.",
    "receipts.title": "Receipts",
    "receipts.intro": (
        "This is what you received. With the transaction number, an auditor can check every payment "
        "in the public register without knowing your name."
    ),
    "receipts.none": "You have not received anything yet.",
    "receipts.what": "What for",
    "receipts.amount": "Amount",
    "receipts.transaction": "Transaction number",
    "receipts.block": "Block",
    "receipts.claim": "Aid: {program}",
    "receipts.payment": "Payment: {program}",
    "receipts.total": "Received in all: {amount}",
    "not_found.title": "Page not found",
    "not_found.text": "This page does not exist.",
    "error.title": "That did not work",
    "back_home": "Go to the overview",
    "back_sign_in": "Go to sign-in",
}

TABLES: Final[Mapping[str, Mapping[str, str]]] = {"de": DE, "en": EN}
"""Every language the pages speak, by its BCP 47 primary tag."""

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
        if tag not in TABLES or not 0 < weight <= 1:
            continue
        if best is None or (weight, -position) > (best[0], -best[1]):
            best = (weight, position, tag)
    return best[2] if best else None


def choose(cookie: str | None, accept_language: str | None) -> str:
    """The page language: the visible switch's choice, else the browser's, else German."""
    if cookie is not None and cookie in TABLES:
        return cookie
    return from_accept_language(accept_language) or DEFAULT_LANGUAGE


def translate(lang: str, key: str, **params: object) -> str:
    """The text for `key` in `lang`, with `{placeholders}` filled in."""
    text = TABLES[lang][key]
    return text.format(**params) if params else text


PLACEHOLDER = re.compile(r"\{(\w+)\}")


def placeholders(text: str) -> set[str]:
    """The `{names}` a text expects."""
    return set(PLACEHOLDER.findall(text))
