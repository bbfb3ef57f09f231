"""ERC-2771 meta-transactions: a user signs a request with their own key, a relayer submits it.

The on-chain sender of a forwarded call is the user's address, never the relayer's. OpenZeppelin's
forwarder reports a failed inner call only as `FailedCall`, so a request is first simulated with the
Allmende forwarder's `simulate` (the same call from the forwarder, always reverting) to raise the
typed error of the inner call.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_abi import encode as abi_encode
from eth_account.signers.local import LocalAccount
from eth_keys.datatypes import Signature
from eth_utils import keccak

from ledger.contracts import ContractClient
from ledger.exceptions import TransactionError
from ledger.revert_errors import AllmendeForwarderSimulated
from ledger.transactions import TxResult

DEFAULT_REQUEST_GAS = 1_000_000
DEFAULT_VALIDITY_S = 3600
_DOMAIN_TYPEHASH = keccak(
    text="EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
)
_REQUEST_TYPEHASH = keccak(
    text="ForwardRequest(address from,address to,uint256 value,uint256 gas,uint256 nonce,"
    "uint48 deadline,bytes data)"
)


def _recoverable(account: LocalAccount, digest: bytes) -> bytes:
    """A 65-byte r|s|v signature of `digest` with v as 27/28, as OpenZeppelin's ECDSA expects."""
    # the account's parsed key: unlike `unsafe_sign_hash`, no second derivation of its public key
    sig: Signature = account._key_obj.sign_msg_hash(digest)
    r, s, v = int(sig.r), int(sig.s), int(sig.v)
    return r.to_bytes(32, "big") + s.to_bytes(32, "big") + bytes([v + 27])


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
        self._domain_separator = keccak(
            abi_encode(
                ["bytes32", "bytes32", "bytes32", "uint256", "address"],
                [
                    _DOMAIN_TYPEHASH,
                    keccak(text="AllmendeForwarder"),
                    keccak(text="1"),
                    client.sender.chain.chain_id,
                    client.address,
                ],
            )
        )

    def _struct_hash(self, sender: str, to: str, gas: int, nonce: int, deadline: int, data: bytes) -> bytes:
        """EIP-712 `hashStruct` of a ForwardRequest with zero value."""
        return keccak(
            abi_encode(
                ["bytes32", "address", "address", "uint256", "uint256", "uint256", "uint48", "bytes32"],
                [_REQUEST_TYPEHASH, sender, to, 0, gas, nonce, deadline, keccak(data)],
            )
        )

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
        digest = keccak(
            b"\x19\x01"
            + self._domain_separator
            + self._struct_hash(account.address, to, gas, nonce, deadline, data)
        )
        signature = _recoverable(account, digest)
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
