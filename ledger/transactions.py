"""Sign and send transactions with locally held keys, and report their outcome.

Nonces are tracked per account here (one lock per account), so many accounts can send
concurrently without asking the node for a nonce each time. A revert comes back as the typed
`ContractRevert` named after the Solidity error: before sending when gas is estimated, after
mining (by replaying the call on its own block, then on the parent block) when an explicit gas
limit was given.

On a chain with `confirmations` > 0 an outcome is reported only once that many blocks are built on
the transaction's block, judged by the receipt read again then: a transaction that a reorganisation
moved into another block counts where it ended up, and waits for its confirmations there.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

import requests
from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address
from hexbytes import HexBytes
from web3.exceptions import TimeExhausted, TransactionNotFound
from web3.types import RPCEndpoint

from ledger.chain import Chain
from ledger.events import Event, EventDecoder
from ledger.exceptions import TransactionError, TransactionNotSent, UnknownRevert
from ledger.reverts import as_contract_revert

GAS_HEADROOM = 1.25
_FEE_REFRESH_EVERY = 200
_RECEIPT_POLL_S = 0.05


@dataclass(frozen=True)
class TxResult:
    """A mined, successful transaction and the events it emitted."""

    transaction_hash: str
    block_number: int
    gas_used: int
    contract_address: str | None
    events: list[Event] = field(default_factory=list)

    def event(self, name: str) -> Event:
        """The first event called `name` (raises KeyError when there is none)."""
        for e in self.events:
            if e.name == name:
                return e
        raise KeyError(name)

    def events_named(self, name: str) -> list[Event]:
        """All events called `name`, in log order."""
        return [e for e in self.events if e.name == name]


class TransactionSender:
    """Sends signed transactions to one chain; thread-safe per account."""

    def __init__(self, chain: Chain, decoder: EventDecoder | None = None, *, receipt_timeout: float = 120.0):
        self.chain = chain
        self.web3 = chain.web3
        self.decoder = decoder or EventDecoder({})
        self.receipt_timeout = receipt_timeout
        self._chain_id = chain.chain_id
        # The `from` of calls that name none (views do not care who asks; eth-tester wants it funded).
        self._caller = chain.accounts[0].address if chain.accounts else "0x" + "00" * 20
        self._nonces: dict[str, int] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()
        self._fees: dict[str, int] | None = None
        self._sent_since_fees = 0

    def _lock(self, address: str) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault(address, threading.Lock())

    def forget_nonces(self) -> None:
        """Re-read every account's nonce from the chain (after a chain revert, say)."""
        with self._locks_guard:
            self._nonces.clear()

    def fee_fields(self) -> dict[str, int]:
        """EIP-1559 fee fields that stay valid for a while (zero on free-gas networks)."""
        if self._fees is None or self._sent_since_fees >= _FEE_REFRESH_EVERY:
            base = self.web3.eth.get_block("latest").get("baseFeePerGas")
            if base is None:
                self._fees = {"gasPrice": int(self.web3.eth.gas_price)}
            elif base == 0:
                self._fees = {"maxFeePerGas": 0, "maxPriorityFeePerGas": 0}
            else:
                self._fees = {"maxFeePerGas": 2 * int(base) + 10**9, "maxPriorityFeePerGas": 10**9}
            self._sent_since_fees = 0
        return self._fees

    def call(self, tx: dict[str, Any], block: int | str = "latest") -> bytes:
        """eth_call with reverts mapped to typed errors."""
        if "from" not in tx:  # else web3 asks the node for its accounts to pick one, on every call
            tx = {**tx, "from": self._caller}
        try:
            return bytes(self.web3.eth.call(tx, block))  # type: ignore[arg-type]
        except Exception as exc:
            raise _mapped(exc) from exc

    def estimate_gas(self, tx: dict[str, Any]) -> int:
        """Gas estimate with reverts mapped to typed errors."""
        if "from" not in tx:
            tx = {**tx, "from": self._caller}
        try:
            return int(self.web3.eth.estimate_gas(tx))  # type: ignore[arg-type]
        except Exception as exc:
            raise _mapped(exc) from exc

    def send(
        self,
        account: LocalAccount,
        to: str | None,
        data: bytes | str,
        *,
        gas: int | None = None,
        value: int = 0,
    ) -> TxResult:
        """Sign and send; returns once mined, raises the typed revert when it failed."""
        tx: dict[str, Any] = {"from": account.address, "data": HexBytes(data), "value": value}
        if to is not None:
            tx["to"] = to
        if gas is None:
            gas = int(self.estimate_gas(tx) * GAS_HEADROOM) + 10_000
        tx.update(self.fee_fields(), gas=gas, chainId=self._chain_id)
        with self._lock(account.address):
            nonce = self._nonces.get(account.address)
            if nonce is None:
                nonce = int(self.web3.eth.get_transaction_count(account.address, "pending"))
            tx["nonce"] = nonce
            signed = account.sign_transaction(tx)
            try:
                tx_hash = self.web3.eth.send_raw_transaction(signed.raw_transaction)
            except Exception as exc:
                self._nonces.pop(account.address, None)  # re-read from the node next time
                revert = as_contract_revert(exc)
                if revert is not None:
                    raise revert from exc
                if _unreached(exc):
                    raise TransactionNotSent(f"the node could not be reached: {exc}") from exc
                raise TransactionError(f"sending failed: {exc}") from exc
            self._nonces[account.address] = nonce + 1
            self._sent_since_fees += 1
        try:
            return self._outcome(tx, tx_hash)
        except TransactionError:
            # Not mined (in time), or dropped when its block was replaced: the node's pending
            # count is the truth again, so a dropped nonce is reused instead of leaving a gap.
            with self._lock(account.address):
                self._nonces.pop(account.address, None)
            raise

    def _outcome(self, tx: dict[str, Any], tx_hash: bytes) -> TxResult:
        deadline = time.monotonic() + self.receipt_timeout
        receipt = self._receipt(tx_hash, deadline)
        if self.chain.confirmations > 0:
            receipt = self._confirmed(tx_hash, receipt, deadline)
        tx_hex = HexBytes(receipt["transactionHash"]).to_0x_hex()
        if receipt["status"] != 1:
            raise self._replay_revert(tx, int(receipt["blockNumber"]), tx_hex)
        contract = receipt.get("contractAddress")
        return TxResult(
            transaction_hash=tx_hex,
            block_number=int(receipt["blockNumber"]),
            gas_used=int(receipt["gasUsed"]),
            contract_address=str(contract) if contract else None,
            events=self.decoder.decode_all(receipt["logs"]),
        )

    def _receipt(self, tx_hash: bytes, deadline: float) -> Any:
        """The transaction's receipt once it is mined (TransactionError after `deadline`)."""
        if self.chain.speaks_json_rpc:
            while (receipt := self._raw_receipt(tx_hash)) is None:
                if time.monotonic() > deadline:
                    raise TransactionError(f"transaction {HexBytes(tx_hash).to_0x_hex()} not mined in time")
                time.sleep(_RECEIPT_POLL_S)
            return receipt
        try:
            return self.web3.eth.wait_for_transaction_receipt(
                HexBytes(tx_hash), timeout=max(0.0, deadline - time.monotonic()), poll_latency=_RECEIPT_POLL_S
            )
        except TimeExhausted as exc:
            raise TransactionError(f"transaction {HexBytes(tx_hash).to_0x_hex()} not mined in time") from exc

    def _confirmed(self, tx_hash: bytes, receipt: Any, deadline: float) -> Any:
        """The receipt, read again once `chain.confirmations` blocks are built on its block."""
        while True:
            target = int(receipt["blockNumber"]) + self.chain.confirmations
            while int(self.web3.eth.block_number) < target:
                if time.monotonic() > deadline:
                    raise TransactionError(
                        f"transaction {HexBytes(tx_hash).to_0x_hex()} not confirmed by block {target} in time"
                    )
                time.sleep(_RECEIPT_POLL_S)
            if self.chain.speaks_json_rpc:
                found = self._raw_receipt(tx_hash)
                # None: its block was replaced; wait for it to be mined again
                again = found if found is not None else self._receipt(tx_hash, deadline)
            else:
                try:
                    again = self.web3.eth.get_transaction_receipt(HexBytes(tx_hash))
                except TransactionNotFound:  # its block was replaced: wait for it to be mined again
                    again = self._receipt(tx_hash, deadline)
            if again["blockHash"] == receipt["blockHash"]:
                return again
            receipt = again

    def _raw_receipt(self, tx_hash: bytes) -> dict[str, Any] | None:
        """The receipt as the node sent it, with the fields `_outcome` reads as numbers, or None while
        the transaction is not mined. web3's result formatters walk every field of every log (a
        checksum address and a HexBytes per value) and cost the relayer more than decoding the
        events; `EventDecoder` reads the logs as sent."""
        response = self.web3.provider.make_request(
            RPCEndpoint("eth_getTransactionReceipt"), [HexBytes(tx_hash).to_0x_hex()]
        )
        if "error" in response:
            raise TransactionError(f"reading the receipt failed: {response['error']}")
        raw = response.get("result")
        if raw is None:
            return None
        contract = raw.get("contractAddress")
        return {
            **raw,
            "status": int(raw["status"], 16),
            "blockNumber": int(raw["blockNumber"], 16),
            "gasUsed": int(raw["gasUsed"], 16),
            "contractAddress": to_checksum_address(contract) if contract else None,
        }

    def _replay_revert(self, tx: dict[str, Any], block_number: int, tx_hash: str) -> Exception:
        """Re-run a failed transaction to learn the revert reason: on its own block, and when it passes
        there, on its parent. A call runs with its block's timestamp, so only its own block sees the
        time the transaction saw (a program's end or a lot's expiry reached in that block): on the parent
        a later check that does not depend on the time could be found first. Its own block's state holds
        only the failed transaction's nonce and fee beyond the parent's, and the block's other
        transactions: when one that came after it makes it pass there, the parent's state is the one
        it ran on."""
        replay = {k: tx[k] for k in ("from", "to", "data", "value", "gas") if k in tx}
        error: Exception = UnknownRevert("0x")  # both replays succeeded: out of gas, most likely
        for block in (block_number, block_number - 1):
            try:
                self.web3.eth.call(replay, block)  # type: ignore[arg-type]
            except Exception as exc:
                error = _mapped(exc)
                break
        error.transaction_hash = tx_hash  # type: ignore[attr-defined]
        return error


def _unreached(exc: BaseException) -> bool:
    """True when sending failed before the node could have seen the transaction (a refused or
    timed-out connection attempt); a read timeout is not that: the node may have taken it."""
    return isinstance(exc, ConnectionRefusedError | requests.exceptions.ConnectTimeout) or (
        isinstance(exc, requests.exceptions.ConnectionError)
        and not isinstance(exc, requests.exceptions.ReadTimeout)
        and "refused" in str(exc).lower()
    )


def _mapped(exc: BaseException) -> Exception:
    revert = as_contract_revert(exc)
    if revert is not None:
        return revert
    return TransactionError(str(exc))
