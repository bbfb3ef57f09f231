"""Turn a revert, from whichever chain backend, into the exception named after its Solidity error.

This is the one place where lower-level exceptions (eth-tester's `TransactionFailed`, web3's
`ContractLogicError` family) are converted; everything above sees `ContractRevert` subclasses.
"""

from __future__ import annotations

import ast
from typing import Any

from eth_abi import decode as abi_decode
from eth_abi.exceptions import DecodingError
from web3.exceptions import ContractLogicError, Web3RPCError

from ledger._abi import normalise, signature_types
from ledger.exceptions import ContractRevert, Panic, RevertWithReason, UnknownRevert
from ledger.revert_errors import ERRORS

_BUILTIN: tuple[type[ContractRevert], ...] = (RevertWithReason, Panic)
_BY_SELECTOR: dict[bytes, type[ContractRevert]] = {cls.selector: cls for cls in ERRORS + _BUILTIN}
_TESTER_PREFIX = "execution reverted: "
_BARE_REVERT = "execution reverted"  # geth & co. for a revert without data
_NO_DATA = "no data"  # web3's stand-in when the node's error object has no `data`


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


def _hex_data(value: object) -> bytes | None:
    """Bytes of a node's revert data: `0x...`, or `Reverted 0x...` (OpenEthereum style)."""
    if not isinstance(value, str):
        return None
    text = value.removeprefix("Reverted ")
    if not text.startswith("0x"):
        return None
    try:
        return bytes.fromhex(text[2:])
    except ValueError:
        return None


def _rpc_error(exc: Web3RPCError) -> dict[str, Any] | None:
    response: Any = exc.rpc_response
    error: Any = response.get("error") if isinstance(response, dict) else None
    return error if isinstance(error, dict) else None


def revert_data(exc: BaseException) -> bytes | str | None:
    """Revert bytes carried by a backend exception; a plain string where only a reason survived."""
    if isinstance(exc, ContractLogicError):  # eth_call / eth_estimateGas over JSON-RPC
        return _logic_error_data(exc)
    if isinstance(exc, Web3RPCError):
        return _rpc_error_data(exc)
    if type(exc).__name__ == "TransactionFailed":  # eth-tester, with the revert bytes in the text
        return _tester_data(exc)
    return None


def _logic_error_data(exc: ContractLogicError) -> bytes | str | None:
    data = exc.data
    if isinstance(data, dict):  # hardhat: {"message": ..., "data": "0x..."}
        data = data.get("data")
    raw = _hex_data(data)
    if raw is not None:
        return raw
    if data in (None, _NO_DATA) and (exc.message or _BARE_REVERT) == _BARE_REVERT:
        return b""  # a revert without data, as geth and Besu report it
    return exc.message or None


def _rpc_error_data(exc: Web3RPCError) -> bytes | None:
    # A node that mines a transaction while answering eth_sendRawTransaction (hardhat's
    # automine) reports a revert as an RPC error, with the revert data (and the mined
    # transaction's hash) inside: {"code": -32603, "message": "...reverted...",
    # "data": {"message": ..., "txHash": "0x...", "data": "0x..."}}.
    error = _rpc_error(exc)
    if error is None or "revert" not in str(error.get("message", "")).lower():
        return None
    data = error.get("data")
    if isinstance(data, dict):
        data = data.get("data")
    return _hex_data(data)


def _tester_data(exc: BaseException) -> bytes | str:
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


def revert_transaction_hash(exc: BaseException) -> str | None:
    """Hash of the mined, failed transaction, when the node's error names it (hardhat does)."""
    if not isinstance(exc, Web3RPCError):
        return None
    error = _rpc_error(exc)
    data = error.get("data") if error is not None else None
    tx_hash = data.get("txHash") if isinstance(data, dict) else None
    return tx_hash if isinstance(tx_hash, str) and tx_hash.startswith("0x") else None


def as_contract_revert(exc: BaseException) -> ContractRevert | None:
    """The typed revert behind `exc`, or None when `exc` is not a revert."""
    data = revert_data(exc)
    if data is None:
        return None
    if isinstance(data, bytes):
        revert = decode_revert(data) if data else UnknownRevert("0x")
    else:
        revert = RevertWithReason(data.removeprefix(_TESTER_PREFIX))
    tx_hash = revert_transaction_hash(exc)
    if tx_hash is not None:  # the transaction was mined (and failed), like after a status-0 receipt
        revert.transaction_hash = tx_hash  # type: ignore[attr-defined]
    return revert
