"""One interface over the chains Allmende runs on: the embedded py-evm chain and any JSON-RPC node."""

from __future__ import annotations

from abc import ABC, abstractmethod
from functools import cached_property
from typing import Any

from eth_account.signers.local import LocalAccount
from web3 import Web3


class Chain(ABC):
    """A connected EVM chain with the accounts the operator may sign with."""

    web3: Web3

    confirmations: int = 0
    """Blocks to wait for on top of a transaction's block before its outcome counts. 0 on the
    embedded chain, which is the only writer of its blocks; an operator sets it for a JSON-RPC
    chain whose blocks may still be replaced (QBFT blocks are final once mined: 0 suffices)."""

    speaks_json_rpc: bool = True
    """True when `web3`'s provider answers in Ethereum JSON-RPC (hex quantities, camelCase keys), so a
    receipt can be read as sent, without web3's formatters (`TransactionSender`). The in-process
    chain's provider answers in eth-tester's own form and sets it False."""

    @cached_property
    def chain_id(self) -> int:
        """The chain id, as the chain reported it when first asked (it never changes)."""
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


def lean_web3(web3: Web3) -> Web3:
    """`web3` without the middleware Allmende does not need on any of its calls.

    `validation` asks the node for its chain id before every call, estimate and transaction (we set
    `chainId` ourselves) and rejects the long `extraData` of QBFT blocks; `ens_name_to_address` walks
    every parameter looking for ENS names, which a permissioned chain has none of.
    """
    for name in ("validation", "ens_name_to_address"):
        if name in web3.middleware_onion:
            web3.middleware_onion.remove(name)
    return web3
