"""Turn a revert, from whichever chain backend, into the exception named after its Solidity error.

This is the one place where lower-level exceptions (eth-tester's `TransactionFailed`, web3's
`ContractLogicError` family) are converted; everything above sees `ContractRevert` subclasses.
"""

from __future__ import annotations

import ast

from eth_abi import decode as abi_decode
from eth_abi.exceptions import DecodingError
from web3.exceptions import ContractLogicError

from ledger._abi import normalise, signature_types
from ledger.exceptions import ContractRevert, Panic, RevertWithReason, UnknownRevert
from ledger.revert_errors import ERRORS

_BUILTIN: tuple[type[ContractRevert], ...] = (RevertWithReason, Panic)
_BY_SELECTOR: dict[bytes, type[ContractRevert]] = {cls.selector: cls for cls in ERRORS + _BUILTIN}
_TESTER_PREFIX = "execution reverted: "


def decode_revert(data: bytes) -> ContractRevert:
    """The exception for raw revert data (selector + ABI-encoded arguments)."""
    cls = _BY_SELECTOR.get(data[:4])
    if cls is None:
        return UnknownRevert("0x" + data.hex())
    try:
        values = abi_decode(signature_types(cls.signature), data[4:])
    except DecodingError:
        return UnknownRevert("0x" + data.hex())
    return cls(*(normalise(v) for v in values))


def revert_data(exc: BaseException) -> bytes | str | None:
    """Revert bytes carried by a backend exception; a plain string where only a reason survived."""
    if isinstance(exc, ContractLogicError):
        data = exc.data
        if isinstance(data, dict):
            data = data.get("data")
        if isinstance(data, str) and data.startswith("0x"):
            return bytes.fromhex(data[2:])
        return exc.message or None
    if type(exc).__name__ == "TransactionFailed":  # eth-tester, with the revert bytes in the text
        message = exc.args[0] if exc.args else ""
        if isinstance(message, Exception):
            message = message.args[0] if message.args else ""
        if isinstance(message, bytes):
            return message
        text = str(message).removeprefix(_TESTER_PREFIX)
        if text.startswith(("b'", 'b"')):
            try:
                raw = ast.literal_eval(text)
            except (ValueError, SyntaxError):
                return text
            return raw if isinstance(raw, bytes) else text
        return text
    return None


def as_contract_revert(exc: BaseException) -> ContractRevert | None:
    """The typed revert behind `exc`, or None when `exc` is not a revert."""
    data = revert_data(exc)
    if data is None:
        return None
    if isinstance(data, bytes):
        return decode_revert(data) if data else UnknownRevert("0x")
    return RevertWithReason(data.removeprefix(_TESTER_PREFIX))
