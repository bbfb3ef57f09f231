"""Many `balanceOf` reads in one `eth_call`: a contract creation whose code is never stored.

`eth_call` without a `to` runs creation code and answers what the code returns. The code below is
handed a token and a list of accounts (appended to it, as constructor arguments are), calls
`token.balanceOf(account)` for each with STATICCALL, and returns a zero word followed by the balances
in order. Nothing is deployed (a call changes no state) and nothing of the operator's is trusted: the
balances are the token contract's own answers on the chain, exactly as one `eth_call` each would get
them, at a fraction of the cost (one call's setup, one round trip). Any failed or odd answer (a call
that reverts, an answer not one word long) reverts the whole read.

The returned bytes are, for the EVM, the code of the contract created: they count against the
24,576-byte code size limit and cost code-deposit gas, hence at most `MAX_ACCOUNTS` accounts a call.
The leading zero word keeps the first byte clear of EIP-3541's reserved 0xEF.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

MAX_ACCOUNTS: Final = 500
"""Accounts per read: 500 answers are 16 KB of returned code, well within the EVM's 24,576-byte limit,
and the read needs some 5 million gas, within what a public endpoint grants a call (10 million)."""

# The program: (opcode bytes, or a label to define with ":name", or a PUSH1 of a label with "@name").
# Memory: [0, 32) the token, [32, n) the accounts (each answer overwrites its account), [n, n + 36) the
# balanceOf call's input. Stack comments list the top first.
_PROGRAM: Final[tuple[str, ...]] = (
    "@code_end",  # [L]                 L: the program's length, where the arguments start
    "80",  # DUP1                       [L, L]
    "38",  # CODESIZE                   [size, L, L]
    "03",  # SUB                        [n, L]             n = size - L: the arguments' length
    "80",  # DUP1                       [n, n, L]
    "91",  # SWAP2                      [L, n, n]
    "5f",  # PUSH0                      [0, L, n, n]
    "39",  # CODECOPY                   [n]                memory[0, n) = the arguments
    "6370a08231",  # PUSH4 balanceOf    [selector, n]
    "60e0",  # PUSH1 224
    "1b",  # SHL                        [selector << 224, n]
    "81",  # DUP2                       [n, word, n]
    "52",  # MSTORE                     [n]                memory[n, n + 4) = the selector
    "6020",  # PUSH1 32                 [p, n]             p: the account read next
    ":loop",
    "81",  # DUP2                       [n, p, n]
    "81",  # DUP2                       [p, n, p, n]
    "10",  # LT                         [p < n, p, n]
    "15",  # ISZERO                     [p >= n, p, n]
    "@done",
    "57",  # JUMPI                      [p, n]
    "80",  # DUP1                       [p, p, n]
    "51",  # MLOAD                      [account, p, n]
    "82",  # DUP3                       [n, account, p, n]
    "6004",  # PUSH1 4
    "01",  # ADD                        [n + 4, account, p, n]
    "52",  # MSTORE                     [p, n]             memory[n + 4, n + 36) = the account
    "6020",  # PUSH1 32                 [32, p, n]         retSize
    "81",  # DUP2                       [p, 32, p, n]      retOffset: the answer replaces the account
    "6024",  # PUSH1 36                 [36, ...]          argsSize
    "84",  # DUP5                       [n, 36, ...]       argsOffset
    "5f",  # PUSH0
    "51",  # MLOAD                      [token, n, ...]    address
    "5a",  # GAS                        [gas, token, ...]
    "fa",  # STATICCALL                 [ok, p, n]
    "3d",  # RETURNDATASIZE             [size, ok, p, n]
    "6020",  # PUSH1 32
    "14",  # EQ                         [size == 32, ok, p, n]
    "16",  # AND                        [fine, p, n]
    "@next",
    "57",  # JUMPI                      [p, n]
    "5f",  # PUSH0
    "5f",  # PUSH0
    "fd",  # REVERT                     a failed or odd answer fails the whole read
    ":next",
    "6020",  # PUSH1 32
    "01",  # ADD                        [p + 32, n]
    "@loop",
    "56",  # JUMP
    ":done",  # [p, n]
    "5f",  # PUSH0
    "5f",  # PUSH0
    "52",  # MSTORE                     memory[0, 32) = 0: the answer starts with a zero word
    "81",  # DUP2                       [n, p, n]
    "5f",  # PUSH0                      [0, n, p, n]
    "f3",  # RETURN                     memory[0, n)
    ":code_end",
)


def _assemble(program: Sequence[str]) -> bytes:
    """The bytes of `program`: labels become JUMPDESTs (`:name`) or PUSH1 of their offset (`@name`)."""
    offsets: dict[str, int] = {}
    at = 0
    for part in program:
        if part.startswith(":"):
            offsets[part[1:]] = at
            at += 0 if part == ":code_end" else 1
        elif part.startswith("@"):
            at += 2
        else:
            at += len(part) // 2
    out = bytearray()
    for part in program:
        if part.startswith(":"):
            if part != ":code_end":
                out += b"\x5b"  # JUMPDEST
        elif part.startswith("@"):
            out += bytes([0x60, offsets[part[1:]]])  # PUSH1: the whole program is under 256 bytes
        else:
            out += bytes.fromhex(part)
    assert len(out) == offsets["code_end"] < 256
    return bytes(out)


CODE: Final = _assemble(_PROGRAM)


def read_call_data(token: str, accounts: Sequence[str]) -> bytes:
    """The creation code that reads `accounts`' balances of `token` (at most `MAX_ACCOUNTS`)."""
    if not 1 <= len(accounts) <= MAX_ACCOUNTS:
        raise ValueError(f"one read takes 1 to {MAX_ACCOUNTS} accounts, not {len(accounts)}")
    words = [bytes.fromhex(a[2:].lower()).rjust(32, b"\0") for a in (token, *accounts)]
    return CODE + b"".join(words)


def decode_answer(answer: bytes, count: int) -> list[int]:
    """The balances in the answer to a read of `count` accounts; ValueError for any other answer."""
    if len(answer) != 32 * (count + 1) or any(answer[:32]):
        raise ValueError(f"a balance read of {count} accounts answered {len(answer)} bytes")
    return [int.from_bytes(answer[32 * i : 32 * i + 32], "big") for i in range(1, count + 1)]
