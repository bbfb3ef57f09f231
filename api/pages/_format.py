"""Money and dates as people read them in their language, by Babel's locale data: `1.234,50 €` in
German, `€1,234.50` in English, `€40,00` in Turkish, `1 Ocak 2026` for a day in Turkish."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.dates import format_date
from babel.numbers import format_currency

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
    if micro_euros % CENT == 0:
        return format_currency(value, "EUR", locale=lang)
    return format_currency(value.normalize(), "EUR", locale=lang, decimal_quantization=False)


def day(timestamp: int, lang: str) -> str:
    """The calendar day of a chain timestamp where the programs run (Germany), spelled out per language."""
    moment = datetime.fromtimestamp(timestamp, UTC).astimezone(ZONE)
    return format_date(moment.date(), format="long", locale=lang)
