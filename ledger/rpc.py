"""A chain reached over JSON-RPC: a hardhat node in tests, Besu/QBFT in production."""

from __future__ import annotations

from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import HTTPProvider, Web3

from ledger.chain import Chain, lean_web3


class RpcChain(Chain):
    """Any EVM JSON-RPC endpoint; the operator supplies the private keys it signs with."""

    def __init__(
        self, url: str, private_keys: list[str], *, timeout: float = 30.0, confirmations: int = 0
    ) -> None:
        if confirmations < 0:
            raise ValueError("confirmations cannot be negative")
        self.url = url
        self.confirmations = confirmations
        self.web3 = lean_web3(Web3(HTTPProvider(url, request_kwargs={"timeout": timeout})))
        self._accounts: list[LocalAccount] = [Account.from_key(k) for k in private_keys]

    @property
    def accounts(self) -> list[LocalAccount]:
        return self._accounts

    def advance_time(self, seconds: int) -> None:
        self.web3.provider.make_request("evm_increaseTime", [seconds])  # type: ignore[arg-type]
        self.web3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]

    def snapshot(self) -> Any:
        return self.web3.provider.make_request("evm_snapshot", [])["result"]  # type: ignore[arg-type]

    def revert(self, snapshot: Any) -> None:
        self.web3.provider.make_request("evm_revert", [snapshot])  # type: ignore[arg-type]
