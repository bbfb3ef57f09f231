"""Block timestamps, read once per gateway: a confirmed block's time never changes.

The public pages and the open-data exports date every movement by its block; a figure over many
events reads each block's header at most once per gateway process.
"""

from __future__ import annotations

import threading
import weakref
from datetime import UTC, date, datetime

from api.gateway import Gateway

_times: weakref.WeakKeyDictionary[Gateway, dict[int, int]] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def block_time(gateway: Gateway, number: int) -> int:
    """The timestamp of block `number` of the gateway's chain."""
    with _lock:
        times = _times.setdefault(gateway, {})
        known = times.get(number)
    if known is not None:
        return known
    stamp = int(gateway.chain.web3.eth.get_block(number)["timestamp"])
    with _lock:
        times[number] = stamp
    return stamp


def block_date(gateway: Gateway, number: int) -> date:
    """The UTC calendar day of block `number`."""
    return datetime.fromtimestamp(block_time(gateway, number), UTC).date()
