"""Money and dates as people read them: `1.234,50 €` in German, `€1,234.50` in English."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

MICRO = 10**6
CENT = 10**4  # micro-euros per cent


def _zone() -> tzinfo:
    try:
        return ZoneInfo("Europe/Berlin")
    except ZoneInfoNotFoundError:  # a system without time-zone data: dates in UTC
        return UTC


ZONE = _zone()


def money(micro_euros: int, lang: str) -> str:
    """An amount in euros with cents, and with finer digits only where the amount has them."""
    value = Decimal(micro_euros) / MICRO
    places = 2 if micro_euros % CENT == 0 else 6
    text = f"{value:,.{places}f}"
    if places == 6:
        text = text.rstrip("0")
    if lang == "de":
        text = text.replace(",", "\0").replace(".", ",").replace("\0", ".")
        return f"{text}\u00a0€"
    return f"€{text}"


def day(timestamp: int, lang: str) -> str:
    """The calendar day of a chain timestamp where the programs run (Germany)."""
    moment = datetime.fromtimestamp(timestamp, UTC).astimezone(ZONE)
    return moment.strftime("%d.%m.%Y") if lang == "de" else moment.strftime("%Y-%m-%d")
