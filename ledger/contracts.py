"""A thin client per deployed contract: encode calls, read views, send transactions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_abi import encode as abi_encode
from eth_account.signers.local import LocalAccount
from eth_utils import keccak, to_checksum_address
from hexbytes import HexBytes

from ledger._abi import abi_type, normalise
from ledger.artifacts import load_artifact
from ledger.calls import Call
from ledger.transactions import TransactionSender, TxResult


class ContractClient:
    """Calls one deployed contract by function name, with typed reverts."""

    def __init__(self, sender: TransactionSender, name: str, address: str) -> None:
        self.sender = sender
        self.name = name
        self.address = to_checksum_address(address)
        self.artifact = load_artifact(name)
        self.contract = sender.web3.eth.contract(address=self.address, abi=self.artifact.abi)
        self._functions: dict[str, _Function | None] = {}

    def encode(self, function: str, *args: Any) -> bytes:
        """ABI-encoded calldata of `function(*args)`."""
        fn = self._function(function)
        if fn is not None:
            try:
                return fn.selector + abi_encode(fn.inputs, args)
            except Exception:
                pass  # web3 below accepts more spellings, or explains what is wrong
        return bytes(HexBytes(self.contract.encode_abi(function, args=list(args))))

    def build(self, function: str, *args: Any, gas: int) -> Call:
        """`function(*args)` as a `Call` allowed `gas` (the clients' call builders use this)."""
        return Call(self.address, self.encode(function, *args), gas, f"{self.name}.{function}")

    def _function(self, name: str) -> _Function | None:
        """Selector and types of `name`, looked up once; None when overloaded (web3 picks then)."""
        if name not in self._functions:
            found = [e for e in self.artifact.abi if e.get("type") == "function" and e["name"] == name]
            fn = None
            if len(found) == 1:
                inputs = tuple(abi_type(i) for i in found[0]["inputs"])
                outputs = tuple(abi_type(o) for o in found[0]["outputs"])
                fn = _Function(keccak(text=f"{name}({','.join(inputs)})")[:4], inputs, outputs)
            self._functions[name] = fn
        return self._functions[name]

    def call(self, function: str, *args: Any, sender: str | None = None) -> Any:
        """Result of a view (or a simulated state change) of `function(*args)`; structs as tuples."""
        fn = self._function(function)
        if fn is not None:
            outputs = list(fn.outputs)
        else:
            outputs = [abi_type(o) for o in self.contract.get_function_by_name(function).abi["outputs"]]
        tx: dict[str, Any] = {"to": self.address, "data": self.encode(function, *args)}
        if sender is not None:
            tx["from"] = sender
        raw = self.sender.call(tx)
        decoded = self.sender.web3.codec.decode(outputs, raw)
        values = tuple(normalise(v) for v in decoded)
        return values[0] if len(values) == 1 else values

    def transact(self, account: LocalAccount, function: str, *args: Any, gas: int | None = None) -> TxResult:
        """Send `function(*args)` signed by `account`; returns the mined result."""
        return self.sender.send(account, self.address, self.encode(function, *args), gas=gas)


@dataclass(frozen=True)
class _Function:
    selector: bytes
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
