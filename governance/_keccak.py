"""keccak256 through the fastest backend installed.

`eth_hash.auto` picks pycryptodome (about 8 µs a call here); safe-pysha3, which eth-tester's py-evm
extra installs, takes about 2 µs. Trees of 100,000 leaves and more hash several hundred thousand
times, so that difference is seconds.
"""

from __future__ import annotations

from collections.abc import Callable

from eth_hash.auto import keccak as _auto_keccak


def _fastest() -> Callable[[bytes], bytes]:
    try:
        from eth_hash.backends.pysha3 import keccak256
    except ImportError:  # pragma: no cover - without safe-pysha3
        return _auto_keccak
    return keccak256


keccak = _fastest()
