"""ERC-2771 meta-transactions: a user signs a request with their own key, a relayer submits it.

The on-chain sender of a forwarded call is the user's address, never the relayer's. OpenZeppelin's
forwarder reports a failed inner call only as `FailedCall`, so a request is first simulated with the
Allmende forwarder's `simulate` (the same call from the forwarder, always reverting) to raise the
typed error of the inner call.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_account.messages import encode_typed_data
from eth_account.signers.local import LocalAccount

from ledger.contracts import ContractClient
from ledger.exceptions import TransactionError
from ledger.revert_errors import AllmendeForwarderSimulated
from ledger.transactions import TxResult

DEFAULT_REQUEST_GAS = 1_000_000
DEFAULT_VALIDITY_S = 3600
_TYPES = {
    "ForwardRequest": [
        {"name": "from", "type": "address"},
        {"name": "to", "type": "address"},
        {"name": "value", "type": "uint256"},
        {"name": "gas", "type": "uint256"},
        {"name": "nonce", "type": "uint256"},
        {"name": "deadline", "type": "uint48"},
        {"name": "data", "type": "bytes"},
    ]
}


@dataclass(frozen=True)
class ForwardRequest:
    """A request signed by `sender` for the forwarder to execute."""

    sender: str
    to: str
    value: int
    gas: int
    nonce: int
    deadline: int
    data: bytes
    signature: bytes

    def as_tuple(self) -> tuple[Any, ...]:
        """The `ForwardRequestData` struct as the ABI encodes it."""
        return (self.sender, self.to, self.value, self.gas, self.deadline, self.data, self.signature)


class Forwarder:
    """Signs, simulates and executes forwarded requests through the Allmende forwarder."""

    def __init__(self, client: ContractClient) -> None:
        self.client = client
        self.sender = client.sender
        self._domain = {
            "name": "AllmendeForwarder",
            "version": "1",
            "chainId": client.sender.chain.chain_id,
            "verifyingContract": client.address,
        }

    def nonce(self, account: str) -> int:
        """The next request nonce of `account`."""
        return int(self.client.call("nonces", account))

    def sign(
        self,
        account: LocalAccount,
        to: str,
        data: bytes,
        *,
        gas: int = DEFAULT_REQUEST_GAS,
        deadline: int | None = None,
        nonce: int | None = None,
    ) -> ForwardRequest:
        """A request by `account` to call `to` with `data`, signed with `account`'s key."""
        if nonce is None:
            nonce = self.nonce(account.address)
        if deadline is None:
            deadline = self.sender.chain.now() + DEFAULT_VALIDITY_S
        message = {
            "from": account.address,
            "to": to,
            "value": 0,
            "gas": gas,
            "nonce": nonce,
            "deadline": deadline,
            "data": data,
        }
        signable = encode_typed_data(
            full_message={
                "types": {
                    "EIP712Domain": [
                        {"name": "name", "type": "string"},
                        {"name": "version", "type": "string"},
                        {"name": "chainId", "type": "uint256"},
                        {"name": "verifyingContract", "type": "address"},
                    ],
                    **_TYPES,
                },
                "primaryType": "ForwardRequest",
                "domain": self._domain,
                "message": message,
            }
        )
        signature = bytes(account.sign_message(signable).signature)
        return ForwardRequest(account.address, to, 0, gas, nonce, deadline, data, signature)

    def simulate(self, request: ForwardRequest) -> bytes:
        """Run the inner call as the forwarder would; returns its result or raises its typed revert."""
        data = self.client.encode("simulate", request.sender, request.to, request.gas, request.data)
        try:
            self.sender.call({"to": self.client.address, "data": data})
        except AllmendeForwarderSimulated as done:
            return bytes(done.fields["returnData"])
        raise TransactionError("the forwarder's simulate returned instead of reverting")

    def execute(self, relayer: LocalAccount, request: ForwardRequest, *, gas: int | None = None) -> TxResult:
        """Simulate, then have `relayer` submit the request; returns the mined result."""
        self.simulate(request)
        return self.client.transact(relayer, "execute", request.as_tuple(), gas=gas)

    def call_as(
        self,
        relayer: LocalAccount,
        account: LocalAccount,
        target: ContractClient,
        function: str,
        *args: Any,
    ) -> TxResult:
        """`account` calls `target.function(*args)` through the forwarder, `relayer` pays the gas."""
        request = self.sign(account, target.address, target.encode(function, *args))
        return self.execute(relayer, request)
