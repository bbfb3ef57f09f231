"""Many `balanceOf` reads in one `eth_call`: `contracts/BalanceReader.sol` run as creation code, never stored.

`eth_call` without a `to` runs creation code and answers what the code returns. The call's data is
the compiled `BalanceReader`'s creation bytecode (the committed artifact, which
`tests/ledger/test_compiler.py` holds equal to what the pinned compiler builds from the source)
followed by its ABI-encoded constructor arguments, a token and a list of accounts. Its constructor
calls `token.balanceOf(account)` for each with STATICCALL and returns `abi.encode(balances)`. Nothing
is deployed (a call changes no state) and nothing of the operator's is trusted: the balances are the
token contract's own answers on the chain, exactly as one `eth_call` each would get them, at a
fraction of the cost (one call's setup, one round trip). Any failed or odd answer (a call that
reverts, an answer not exactly one word long) reverts the whole read with `BalanceReaderBadAnswer`.

The returned bytes are, for the EVM, the code of the contract created: they count against the
24,576-byte code size limit and cost code-deposit gas, hence at most `MAX_ACCOUNTS` accounts a call.
They start with the ABI offset word 0x20, so their first byte is 0x00, clear of EIP-3541's reserved 0xEF.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Final

from eth_abi import decode, encode
from eth_abi.exceptions import DecodingError
from hexbytes import HexBytes

from ledger.artifacts import load_artifact

MAX_ACCOUNTS: Final = 500
"""Accounts per read: 500 answers are 16,064 bytes of returned code (offset, length, one word each),
well within the EVM's 24,576-byte limit, and a read of 500 needs 5.3 million gas (measured on the
embedded chain, `tests/ledger/test_balance_reader.py` keeps it under 70% of the cap), within what a
public endpoint grants a call (10 million, `ledger.json_rpc.CALL_GAS_CAP`)."""

_ARGUMENTS: Final = ("address", "address[]")
_ANSWER: Final = ("uint256[]",)


@cache
def creation_code() -> bytes:
    """`BalanceReader`'s creation bytecode, as compiled into the committed artifact."""
    return bytes(HexBytes(load_artifact("BalanceReader").bytecode))


def read_call_data(token: str, accounts: Sequence[str]) -> bytes:
    """The creation code that reads `accounts`' balances of `token` (at most `MAX_ACCOUNTS`)."""
    if not 1 <= len(accounts) <= MAX_ACCOUNTS:
        raise ValueError(f"one read takes 1 to {MAX_ACCOUNTS} accounts, not {len(accounts)}")
    return creation_code() + encode(_ARGUMENTS, [token, list(accounts)])


def decode_answer(answer: bytes, count: int) -> list[int]:
    """The balances in the answer to a read of `count` accounts; ValueError for any other answer.

    Only the canonical encoding of `count` balances is taken (`abi.encode(uint256[])`: the offset
    0x20, the length, one word each), byte for byte: no trailing bytes, no other offset or length.
    """
    if len(answer) == 32 * (count + 2):
        try:
            (values,) = decode(_ANSWER, answer)
        except DecodingError:
            values = None
        if values is not None and len(values) == count and encode(_ANSWER, [values]) == answer:
            return [int(v) for v in values]
    raise ValueError(f"a balance read of {count} accounts answered {len(answer)} bytes")
