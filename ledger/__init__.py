"""Allmende's ledger layer: contracts, chains and typed clients. Knows nothing of HTTP or governance."""

import importlib.util
import os

# py-evm hashes every trie node and storage key through `eth_hash.auto`, which picks pycryptodome
# (about 7 µs a call here) unless told otherwise; safe-pysha3 (installed with eth-tester's py-evm
# extra) takes about 1.5 µs. The choice is made on the first hash, so setting it here is in time.
if importlib.util.find_spec("sha3") is not None:
    os.environ.setdefault("ETH_HASH_BACKEND", "pysha3")
