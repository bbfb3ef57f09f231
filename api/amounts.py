"""Money amounts as the gateway takes them: ASCII digits only, at most six decimals, in euros.

Python's `Decimal` reads any Unicode decimal digit (Arabic-Indic, full-width and mathematical digits
alike), so a text that shows one figure to a person could move another. Every amount a request
carries goes through `parse_euros` (the `Euros` type of the schemas) before it becomes a Decimal.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BeforeValidator, Field

MAX_EUROS = Decimal("1e12")
_EUROS = re.compile(r"[0-9]{1,13}(?:\.[0-9]{1,6})?", re.ASCII)


def parse_euros(value: Any) -> Decimal:
    """An amount from a JSON string (`"125.50"`) or integer; anything but ASCII digits is refused."""
    if isinstance(value, Decimal):
        text = format(value, "f")
    elif isinstance(value, int) and not isinstance(value, bool):
        text = str(value)
    elif isinstance(value, str):
        text = value
    else:
        raise ValueError('an amount is a decimal string in euros, e.g. "125.50"')
    if _EUROS.fullmatch(text) is None:
        raise ValueError("an amount has ASCII digits 0-9 and at most six decimals after a '.'")
    return Decimal(text)


Euros = Annotated[
    Decimal,
    BeforeValidator(parse_euros),
    Field(gt=0, le=MAX_EUROS, decimal_places=6, examples=["125.50"]),
]
"""A positive amount in euros, up to 10^12, with up to six decimals, written in ASCII digits."""
