"""One interface over the chains Allmende runs on: the embedded py-evm chain and any JSON-RPC node."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from eth_account.signers.local import LocalAccount
from web3 import Web3


class Chain(ABC):
    """A connected EVM chain with the accounts the operator may sign with."""

    web3: Web3

    @property
    def chain_id(self) -> int:
        """The chain id, as the chain reports it."""
        return int(self.web3.eth.chain_id)

    @property
    @abstractmethod
    def accounts(self) -> list[LocalAccount]:
        """Funded accounts whose keys the operator holds (deployer first)."""

    @property
    def is_embedded(self) -> bool:
        """True for the in-process chain, whose clock and snapshots we control."""
        return False

    def now(self) -> int:
        """Timestamp of the latest block."""
        return int(self.web3.eth.get_block("latest")["timestamp"])

    @abstractmethod
    def advance_time(self, seconds: int) -> None:
        """Move the chain's clock forward and mine a block (test and devnet chains only)."""

    @abstractmethod
    def snapshot(self) -> Any:
        """Remember the current state; `revert` returns to it."""

    @abstractmethod
    def revert(self, snapshot: Any) -> None:
        """Return to a state taken with `snapshot`."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release files and connections."""
