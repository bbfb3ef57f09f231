"""A thin client per deployed contract: encode calls, read views, send transactions."""

from __future__ import annotations

from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address
from hexbytes import HexBytes

from ledger._abi import abi_type, normalise
from ledger.artifacts import load_artifact
from ledger.transactions import TransactionSender, TxResult


class ContractClient:
    """Calls one deployed contract by function name, with typed reverts."""

    def __init__(self, sender: TransactionSender, name: str, address: str) -> None:
        self.sender = sender
        self.name = name
        self.address = to_checksum_address(address)
        self.artifact = load_artifact(name)
        self.contract = sender.web3.eth.contract(address=self.address, abi=self.artifact.abi)

    def encode(self, function: str, *args: Any) -> bytes:
        """ABI-encoded calldata of `function(*args)`."""
        return bytes(HexBytes(self.contract.encode_abi(function, args=list(args))))

    def call(self, function: str, *args: Any, sender: str | None = None) -> Any:
        """Result of a view (or a simulated state change) of `function(*args)`; structs as tuples."""
        outputs = self.contract.get_function_by_name(function).abi["outputs"]
        tx: dict[str, Any] = {"to": self.address, "data": self.encode(function, *args)}
        if sender is not None:
            tx["from"] = sender
        raw = self.sender.call(tx)
        decoded = self.sender.web3.codec.decode([abi_type(o) for o in outputs], raw)
        values = tuple(normalise(v) for v in decoded)
        return values[0] if len(values) == 1 else values

    def transact(self, account: LocalAccount, function: str, *args: Any, gas: int | None = None) -> TxResult:
        """Send `function(*args)` signed by `account`; returns the mined result."""
        return self.sender.send(account, self.address, self.encode(function, *args), gas=gas)
