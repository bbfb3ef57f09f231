"""Typed access to claim programs, and the EIP-712 claims that claim keys sign.

A claim program (`ClaimProgram.sol`) is a contract of its own, opened through the `ClaimPrograms`
registry. A claim is `Claim(uint256 program, uint256 index, address recipient, uint256 deadline)`
signed by the client's claim key in the domain of that one program's contract on this chain, sent
as an ERC-2098 short signature `(r, vs)`. Anyone may submit it; the signature binds the recipient.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address

from ledger.calls import Call
from ledger.contracts import ContractClient
from ledger.transactions import TransactionSender, TxResult

DOMAIN_NAME = "AllmendeClaimProgram"
DOMAIN_VERSION = "1"
LEAF_TYPES = ("uint256", "address", "uint256")
"""ABI types of a leaf `(index, claim key address, amount)` in OpenZeppelin's standard tree."""

_CLAIM_TYPES = {
    "EIP712Domain": [
        {"name": "name", "type": "string"},
        {"name": "version", "type": "string"},
        {"name": "chainId", "type": "uint256"},
        {"name": "verifyingContract", "type": "address"},
    ],
    "Claim": [
        {"name": "program", "type": "uint256"},
        {"name": "index", "type": "uint256"},
        {"name": "recipient", "type": "address"},
        {"name": "deadline", "type": "uint256"},
    ],
}
_TOP_BIT = 1 << 255


@dataclass(frozen=True)
class ClaimDomain:
    """What a claim signature is bound to: one claim program's contract on one chain."""

    chain_id: int
    contract: str
    program_id: int


@dataclass(frozen=True)
class SignedClaim:
    """A claim signed by a claim key, ready for anyone to submit."""

    index: int
    recipient: str
    deadline: int
    r: bytes
    vs: bytes


def claim_typed_data(domain: ClaimDomain, index: int, recipient: str, deadline: int) -> dict[str, Any]:
    """The EIP-712 message a claim key signs."""
    return {
        "types": _CLAIM_TYPES,
        "primaryType": "Claim",
        "domain": {
            "name": DOMAIN_NAME,
            "version": DOMAIN_VERSION,
            "chainId": domain.chain_id,
            "verifyingContract": domain.contract,
        },
        "message": {
            "program": domain.program_id,
            "index": index,
            "recipient": to_checksum_address(recipient),
            "deadline": deadline,
        },
    }


def sign_claim(
    key: bytes | LocalAccount, domain: ClaimDomain, index: int, recipient: str, deadline: int
) -> SignedClaim:
    """Sign `Claim(program, index, recipient, deadline)` with the claim key."""
    account = key if isinstance(key, LocalAccount) else Account.from_key(key)
    typed = claim_typed_data(domain, index, recipient, deadline)
    signed = account.sign_message(encode_typed_data(full_message=typed))
    vs = signed.s | (_TOP_BIT if signed.v == 28 else 0)
    return SignedClaim(
        index=index,
        recipient=to_checksum_address(recipient),
        deadline=deadline,
        r=signed.r.to_bytes(32, "big"),
        vs=vs.to_bytes(32, "big"),
    )


def claim_signer(domain: ClaimDomain, claim: SignedClaim) -> str:
    """The address that signed `claim` in `domain` (what the contract will look for in the tree)."""
    vs = int.from_bytes(claim.vs, "big")
    signature = claim.r + (vs & (_TOP_BIT - 1)).to_bytes(32, "big") + bytes([27 + (vs >> 255)])
    typed = claim_typed_data(domain, claim.index, claim.recipient, claim.deadline)
    return str(Account.recover_message(encode_typed_data(full_message=typed), signature=signature))


# Bit widths of the numbers a claim packs into one calldata word (see `IClaimProgram.claim`), high to low.
CLAIM_FIELDS: tuple[tuple[str, int], ...] = (
    ("root id", 24),
    ("position", 16),
    ("index", 48),
    ("amount", 120),
    ("deadline", 48),
)


def pack_claim(root_id: int, position: int, index: int, amount: int, deadline: int) -> int:
    """The claim's five small numbers in the one word `claim` takes; ValueError when one does not fit."""
    packed = 0
    for (name, bits), value in zip(CLAIM_FIELDS, (root_id, position, index, amount, deadline), strict=True):
        if not 0 <= value < 1 << bits:
            raise ValueError(f"a claim's {name} must fit {bits} bits, got {value}")
        packed = packed << bits | value
    return packed


@dataclass(frozen=True)
class ClaimProgramInfo:
    """A claim program's settings and totals."""

    claim_program_id: int
    fund_program_id: int
    ngo: str
    token: str
    expiry: int
    funded: int
    returned: int
    root_count: int


@dataclass(frozen=True)
class Funding:
    """One fund-ledger batch paid into a claim program."""

    batch_id: int
    amount: int
    returned: int


GAS_CREATE_CLAIM_PROGRAM = 4_000_000  # deploys the program's own contract
GAS_ADD_ROOT = 16_000_000  # stores the tree's cap: up to 2^9 nodes, ~12.3 million gas measured
GAS_CLAIM = 200_000
GAS_RECLAIM_BASE = 200_000  # the checks, approving the fund ledger (180,000 measured with one funding)
GAS_RETURN_PER_FUNDING = 40_000  # one fund-ledger batch given back (`returnFunds`), before its draws
GAS_RETURN_PER_DRAW = 90_000  # one draw credited back to its lot as a new allocation (~75,000 measured)
GAS_RECLAIM_PER_ACCOUNT = 15_000  # one account's balance moved back, its event (8,100 measured)
MAX_RECLAIM_ACCOUNTS = 100
"""As `ClaimProgram.MAX_RECLAIM_ACCOUNTS`: the most accounts one `reclaimExpired` takes back."""
GAS_FUND_CLAIM_PROGRAM = 520_000  # FundLedger.disburseTo into a claim program: its bookkeeping, before draws


class ClaimProgramClient(ContractClient):
    """One claim program's contract."""

    def __init__(self, sender: TransactionSender, address: str) -> None:
        super().__init__(sender, "ClaimProgram", address)

    @cached_property
    def program_id(self) -> int:
        """The claim program's id (fixed at creation)."""
        return self.info().claim_program_id

    @cached_property
    def domain(self) -> ClaimDomain:
        """The EIP-712 domain its claims are signed in."""
        return ClaimDomain(self.sender.chain.chain_id, self.address, self.program_id)

    def add_root(self, ngo: LocalAccount, cap: list[bytes]) -> TxResult:
        """Publish a tree by its cap (its 2^k nodes at depth k); `ClaimRootAdded` carries id and root."""
        return self.transact(ngo, "addRoot", cap)

    def add_root_call(self, cap: list[bytes]) -> Call:
        """The program's NGO publishes a tree by its cap."""
        return self.build("addRoot", cap, gas=GAS_ADD_ROOT)

    def claim_call(
        self, claim: SignedClaim, *, root_id: int, position: int, amount: int, proof: list[bytes]
    ) -> Call:
        """A signed claim, sent by anybody (the forwarder's relayer pays the gas)."""
        packed = pack_claim(root_id, position, claim.index, amount, claim.deadline)
        return self.build("claim", packed, claim.recipient, claim.r, claim.vs, proof, gas=GAS_CLAIM)

    def claim(
        self,
        relayer: LocalAccount,
        claim: SignedClaim,
        *,
        root_id: int,
        position: int,
        amount: int,
        proof: list[bytes],
        gas: int | None = None,
    ) -> TxResult:
        """Submit a signed claim from any account (the relayer pays the gas).

        `position` and `proof` lead from the leaf to a node of the root's cap (see `addRoot`).
        """
        call = self.claim_call(claim, root_id=root_id, position=position, amount=amount, proof=proof)
        return self.sender.send(relayer, call.target, call.data, gas=gas)

    def return_unclaimed(self, ngo: LocalAccount) -> TxResult:
        """After expiry, give the unclaimed rest back to the fund ledger."""
        return self.transact(ngo, "returnUnclaimed")

    def return_unclaimed_call(self, *, fundings: int, draws: int) -> Call:
        """After expiry, anybody returns the unclaimed rest to the lots it came from; `fundings` and
        `draws` (the fund ledger's `AllocationDrawn` of those batches) size the walk back."""
        gas = GAS_RECLAIM_BASE + GAS_RETURN_PER_FUNDING * fundings + GAS_RETURN_PER_DRAW * draws
        return self.build("returnUnclaimed", gas=gas)

    def restricted_by(self) -> str:
        """The provider registry that marks the accounts this program pays (zero address: it pays cash)."""
        return to_checksum_address(self.call("restrictedBy"))

    def reclaim_expired_call(self, accounts: list[str], *, fundings: int, draws: int) -> Call:
        """After expiry, anybody takes back what `accounts` (marked by this program) have not spent and
        returns it, with any unclaimed rest, to the lots it came from (sized as `return_unclaimed_call`)."""
        gas = (
            GAS_RECLAIM_BASE
            + GAS_RETURN_PER_FUNDING * fundings
            + GAS_RETURN_PER_DRAW * draws
            + GAS_RECLAIM_PER_ACCOUNT * len(accounts)
        )
        return self.build("reclaimExpired", list(accounts), gas=gas)

    def reclaim_expired(self, sender: LocalAccount, accounts: list[str]) -> TxResult:
        """Send `reclaimExpired(accounts)` from any account (gas estimated)."""
        return self.transact(sender, "reclaimExpired", list(accounts))

    def is_claimed(self, index: int) -> bool:
        """Whether the client at `index` has claimed."""
        return bool(self.call("isClaimed", index))

    def root(self, root_id: int) -> bytes:
        """Root `root_id` (zero bytes when there is none)."""
        return bytes(self.call("root", root_id))

    def cap_node(self, root_id: int, position: int) -> bytes:
        """Node `position` of root `root_id`'s cap (zero bytes when there is none)."""
        return bytes(self.call("capNode", root_id, position))

    def info(self) -> ClaimProgramInfo:
        """Settings and totals."""
        return ClaimProgramInfo(*self.call("info"))

    def fundings(self) -> list[Funding]:
        """Every funding, oldest first."""
        return [Funding(*f) for f in self.call("fundings")]

    def claim_digest(self, index: int, recipient: str, deadline: int) -> bytes:
        """The EIP-712 digest the contract computes for a claim."""
        return bytes(self.call("claimDigest", index, recipient, deadline))


class ClaimProgramsClient(ContractClient):
    """The registry that opens claim programs."""

    def __init__(self, sender: TransactionSender, address: str) -> None:
        super().__init__(sender, "ClaimPrograms", address)

    def create_program_call(self, fund_program_id: int, expiry: int, metadata_hash: bytes) -> Call:
        """An NGO opens a claim program on its fund program."""
        return self.build(
            "createProgram", fund_program_id, expiry, metadata_hash, gas=GAS_CREATE_CLAIM_PROGRAM
        )

    def create_program(
        self, ngo: LocalAccount, fund_program_id: int, expiry: int, metadata_hash: bytes = bytes(32)
    ) -> TxResult:
        """Open a claim program; its `ClaimProgramCreated` event names the id and contract."""
        return self.transact(ngo, "createProgram", fund_program_id, expiry, metadata_hash)

    def open_program(
        self, ngo: LocalAccount, fund_program_id: int, expiry: int, metadata_hash: bytes = bytes(32)
    ) -> ClaimProgramClient:
        """Open a claim program and return its client."""
        created = self.create_program(ngo, fund_program_id, expiry, metadata_hash)
        return self._client(created.event("ClaimProgramCreated").args["program"])

    def program(self, claim_program_id: int) -> ClaimProgramClient:
        """Claim program `claim_program_id`."""
        return self._client(self.call("programAt", claim_program_id))

    def programs(self) -> list[ClaimProgramClient]:
        """Every claim program, by id."""
        return [self._client(a) for a in self.addresses()]

    def addresses(self) -> list[str]:
        """Every claim program's contract address, by id."""
        return [to_checksum_address(a) for a in self.call("programs")]

    def program_count(self) -> int:
        """How many claim programs exist."""
        return int(self.call("programCount"))

    def _client(self, address: str) -> ClaimProgramClient:
        self.sender.decoder.register(address, "ClaimProgram")
        return ClaimProgramClient(self.sender, address)
