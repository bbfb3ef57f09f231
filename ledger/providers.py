"""Typed access to the provider registry: accepted providers, programs' spending rules, restricted accounts.

A provider's categories are a bitmask on chain: bit i is the i-th entry of the gateway's published,
append-only category list (`category_mask` / `category_names` convert). A program's rule of zero is
cash; any other mask restricts the accounts its claim programs pay (and the accounts its NGO marks
before disbursing) to paying admitted providers of one of those categories. The euro token asks the
registry before every balance change, so the rule holds on chain whatever the gateway does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum

from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address

from ledger.calls import Call
from ledger.contracts import ContractClient
from ledger.transactions import TransactionSender, TxResult

MAX_CATEGORIES = 64
"""The registry keeps categories as a `uint64` bitmask."""


class ProviderStatus(IntEnum):
    """A provider's state in the registry."""

    NONE = 0
    ADMITTED = 1
    SUSPENDED = 2


@dataclass(frozen=True)
class ProviderRecord:
    """One provider as the registry holds it."""

    account: str
    ngo: str
    categories: int
    status: ProviderStatus


def category_mask(chosen: Sequence[str], published: Sequence[str]) -> int:
    """The bitmask of `chosen` category keys over the `published` list (unknown keys raise ValueError)."""
    if len(published) > MAX_CATEGORIES:
        raise ValueError(f"at most {MAX_CATEGORIES} categories fit the registry")
    mask = 0
    for key in chosen:
        mask |= 1 << published.index(key)
    return mask


def category_names(mask: int, published: Sequence[str]) -> list[str]:
    """The category keys of `mask`, in published order (bits beyond the list are left out)."""
    return [key for i, key in enumerate(published) if mask >> i & 1]


GAS_ADMIT = 150_000
GAS_SUSPEND = 100_000
GAS_RULE = 100_000
GAS_RESTRICT_BASE = 60_000
GAS_RESTRICT_PER_ACCOUNT = (
    70_000  # marking one fresh account, in the registry and the token (54,883 measured)
)


class ProviderRegistryClient(ContractClient):
    """`ProviderRegistry`: admit and suspend providers, set programs' rules, read restrictions."""

    def __init__(self, sender: TransactionSender, address: str) -> None:
        super().__init__(sender, "ProviderRegistry", address)

    def admit_call(self, provider: str, categories: int, metadata_hash: bytes) -> Call:
        """An NGO or the admin admits (or re-admits) `provider` for the `categories` bitmask."""
        return self.build("admitProvider", provider, categories, metadata_hash, gas=GAS_ADMIT)

    def suspend_call(self, provider: str, reason_hash: bytes) -> Call:
        """The NGO that admitted `provider`, or the admin, suspends it."""
        return self.build("suspendProvider", provider, reason_hash, gas=GAS_SUSPEND)

    def set_program_rule_call(self, fund_program_id: int, categories: int) -> Call:
        """The program's NGO sets its rule (0: cash)."""
        return self.build("setProgramRule", fund_program_id, categories, gas=GAS_RULE)

    def restrict_accounts_call(self, fund_program_id: int, accounts: Sequence[str]) -> Call:
        """The program's NGO marks fresh `accounts` restricted before paying them."""
        gas = GAS_RESTRICT_BASE + GAS_RESTRICT_PER_ACCOUNT * len(accounts)
        return self.build("restrictAccounts", fund_program_id, list(accounts), gas=gas)

    def admit(
        self, account: LocalAccount, provider: str, categories: int, metadata_hash: bytes = bytes(32)
    ) -> TxResult:
        """Admit (or re-admit) `provider` for the `categories` bitmask. An NGO or the admin."""
        return self.transact(account, "admitProvider", provider, categories, metadata_hash)

    def suspend(self, account: LocalAccount, provider: str, reason_hash: bytes = bytes(32)) -> TxResult:
        """Suspend `provider`. The NGO that admitted it or the admin."""
        return self.transact(account, "suspendProvider", provider, reason_hash)

    def set_program_rule(self, ngo: LocalAccount, fund_program_id: int, categories: int) -> TxResult:
        """Set fund program `fund_program_id`'s rule (0: cash). Its NGO only."""
        return self.transact(ngo, "setProgramRule", fund_program_id, categories)

    def register_claim_program(self, ngo: LocalAccount, claim_program_id: int) -> TxResult:
        """Make claim program `claim_program_id` restrict the accounts it pays. Its NGO only."""
        return self.transact(ngo, "registerClaimProgram", claim_program_id)

    def restrict_accounts(self, ngo: LocalAccount, fund_program_id: int, accounts: Sequence[str]) -> TxResult:
        """Mark fresh `accounts` restricted by fund program `fund_program_id` before disbursing to them."""
        return self.transact(ngo, "restrictAccounts", fund_program_id, list(accounts))

    def provider(self, account: str) -> ProviderRecord:
        """The registry's record of `account` (status NONE when unknown)."""
        ngo, categories, status = self.call("provider", account)
        return ProviderRecord(
            to_checksum_address(account), to_checksum_address(ngo), int(categories), ProviderStatus(status)
        )

    def program_rule(self, fund_program_id: int) -> int:
        """Fund program `fund_program_id`'s categories bitmask (0: cash)."""
        return int(self.call("programRule", fund_program_id))

    def restriction_of(self, token: str, account: str) -> int:
        """The fund program restricting `account`'s money in `token` (0: none)."""
        return int(self.call("restrictionOf", token, account))

    def marked_by(self, token: str, account: str) -> str:
        """The claim program that marked `account` in `token` (zero address: its NGO marked it, or nobody)."""
        return self.restriction(token, account)[1]

    def restriction(self, token: str, account: str) -> tuple[int, str]:
        """(fund program restricting `account` in `token`, claim program that marked it), in one read:
        (0, zero address) for an account nobody marked; a zero claim program when its NGO marked it."""
        fund_program_id, marked_by = self.call("restriction", token, account)
        return int(fund_program_id), to_checksum_address(marked_by)

    def source_of(self, program: str) -> tuple[int, str]:
        """(fund program id, token) of a registered claim program; (0, zero address) when not registered."""
        fund_program_id, token = self.call("sourceOf", program)
        return int(fund_program_id), to_checksum_address(token)

    def may_pay(self, token: str, sender: str, to: str) -> bool:
        """Whether `sender` may send money in `token` to `to` under the rules now."""
        return bool(self.call("mayPay", token, sender, to))
