"""Deploy the Allmende contracts idempotently and hand out typed clients for them."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount
from hexbytes import HexBytes

from ledger._balance_reader import MAX_ACCOUNTS, decode_answer, read_call_data
from ledger.address_book import AddressBook, Deployment
from ledger.artifacts import load_artifact
from ledger.attestations import AttestationsClient
from ledger.chain import Chain
from ledger.chain_reading import get_logs
from ledger.claims import ClaimProgramsClient
from ledger.contracts import ContractClient
from ledger.events import Event, EventDecoder
from ledger.exceptions import DeploymentError, LedgerError
from ledger.forwarding import Forwarder
from ledger.fund_ledger import FundLedgerClient
from ledger.participatory_budget import (
    MAX_VOTING_LENGTH,
    MIN_PROPOSAL_COST,
    PROPOSALS_LIMIT,
    ParticipatoryBudgetClient,
)
from ledger.payouts import PayoutsClient
from ledger.providers import ProviderRegistryClient
from ledger.roles import Role
from ledger.token import EuroTokenClient
from ledger.transactions import TransactionSender, TxResult


def _roles_and_forwarder(book: AddressBook, admin: str) -> list[Any]:
    return [book.address("AllmendeRoles"), book.address("AllmendeForwarder")]


CONSTRUCTOR_ARGS: dict[str, Callable[[AddressBook, str], list[Any]]] = {
    "AllmendeRoles": lambda book, admin: [admin],
    "AllmendeForwarder": lambda book, admin: [book.address("AllmendeRoles")],
    "EuroToken": _roles_and_forwarder,
    "FundLedger": _roles_and_forwarder,
    "ClaimPrograms": lambda book, admin: [*_roles_and_forwarder(book, admin), book.address("FundLedger")],
    "ParticipatoryBudget": lambda book, admin: [
        *_roles_and_forwarder(book, admin),
        book.address("FundLedger"),
        PROPOSALS_LIMIT,
        MAX_VOTING_LENGTH,
        MIN_PROPOSAL_COST,
    ],
    "AuditAttestations": _roles_and_forwarder,
    "ProviderRegistry": lambda book, admin: [
        *_roles_and_forwarder(book, admin),
        book.address("FundLedger"),
        book.address("ClaimPrograms"),
    ],
    "Payouts": lambda book, admin: [
        *_roles_and_forwarder(book, admin),
        book.address("EuroToken"),
        book.address("ProviderRegistry"),
    ],
}
"""Every contract of the system, in deploy order, with its constructor arguments."""

DEPLOY_ORDER = tuple(CONSTRUCTOR_ARGS)
MAX_BALANCE_READ = MAX_ACCOUNTS
"""Accounts whose balances one `eth_call` reads (`System.balances`)."""


def _deploy_data(sender: TransactionSender, name: str, args: list[Any]) -> bytes:
    artifact = load_artifact(name)
    ctor: dict[str, Any] = next((e for e in artifact.abi if e["type"] == "constructor"), {"inputs": []})
    encoded = sender.web3.codec.encode([i["type"] for i in ctor["inputs"]], args)
    return bytes(HexBytes(artifact.bytecode)) + encoded


def _code_sha256(chain: Chain, address: str) -> str:
    return hashlib.sha256(bytes(chain.web3.eth.get_code(address))).hexdigest()  # type: ignore[arg-type]


def deploy(chain: Chain, admin: LocalAccount, book_path: Path | None = None) -> AddressBook:
    """Deploy whatever is missing, keep what is already there, and write the address book.

    Running it again against the same chain and book deploys nothing. A book for another
    chain, or contracts whose code differs from the book, is an error, never overwritten.
    """
    book = AddressBook(chain_id=chain.chain_id)
    if book_path is not None and book_path.exists():
        book = AddressBook.load(book_path)
        if book.chain_id != chain.chain_id:
            raise DeploymentError(f"{book_path} is for chain {book.chain_id}, not {chain.chain_id}")
    sender = TransactionSender(chain)
    for name in DEPLOY_ORDER:
        artifact_hash = load_artifact(name).code_hash
        existing = book.contracts.get(name)
        if existing is not None:
            if existing.artifact_sha256 != artifact_hash:
                raise DeploymentError(f"{name} in the address book was built from other sources")
            if _code_sha256(chain, existing.address) != existing.code_sha256:
                raise DeploymentError(f"{name} at {existing.address} is not the code the book records")
            continue
        args = CONSTRUCTOR_ARGS[name](book, admin.address)
        result = sender.send(admin, None, _deploy_data(sender, name, args))
        assert result.contract_address is not None
        book.contracts[name] = Deployment(
            address=result.contract_address,
            deploy_block=result.block_number,
            transaction_hash=result.transaction_hash,
            artifact_sha256=artifact_hash,
            code_sha256=_code_sha256(chain, result.contract_address),
        )
        if book_path is not None:
            book.save(book_path)
    _configure(Allmende(chain, book), admin)
    if book_path is not None:
        book.save(book_path)
    return book


def _configure(system: Allmende, admin: LocalAccount) -> None:
    """Wire the contracts together; each step is skipped when already done."""
    if not system.funds.call("isTokenAllowed", system.token.address):
        system.funds.set_token_allowed(admin, system.token.address, True)
    # Budget rounds reserve lot money and allocate it to the winners.
    system.grant(admin, Role.ALLOCATOR, system.budget.address)
    # The euro token asks the provider registry before moving restricted aid (bound once).
    if int(system.token.call("transferRules"), 16) == 0:
        system.token.transact(admin, "setTransferRules", system.providers.address)


class Allmende:
    """The deployed system on one chain: typed clients over one transaction sender."""

    def __init__(self, chain: Chain, book: AddressBook) -> None:
        self.chain = chain
        self.book = book
        self.decoder = EventDecoder(book.by_address())
        self.sender = TransactionSender(chain, self.decoder)
        self.roles = ContractClient(self.sender, "AllmendeRoles", book.address("AllmendeRoles"))
        self.forwarder = ContractClient(self.sender, "AllmendeForwarder", book.address("AllmendeForwarder"))
        self.token = EuroTokenClient(self.sender, book.address("EuroToken"))
        self.funds = FundLedgerClient(self.sender, book.address("FundLedger"))
        self.forwarding = Forwarder(self.forwarder)
        self.claims = ClaimProgramsClient(self.sender, book.address("ClaimPrograms"))
        self.budget = ParticipatoryBudgetClient(
            self.sender, book.address("ParticipatoryBudget"), self.forwarding
        )
        self.attestations: AttestationsClient | None = None  # a book from before attestations has none
        if "AuditAttestations" in book.contracts:
            self.attestations = AttestationsClient(self.sender, book.address("AuditAttestations"))
        self.providers = ProviderRegistryClient(self.sender, book.address("ProviderRegistry"))
        self.payouts = PayoutsClient(self.sender, book.address("Payouts"))

    @classmethod
    def deploy(cls, chain: Chain, admin: LocalAccount, book_path: Path | None = None) -> Allmende:
        """Deploy (idempotently) and connect."""
        return cls(chain, deploy(chain, admin, book_path))

    @classmethod
    def connect(cls, chain: Chain, book_path: Path) -> Allmende:
        """Connect to a system deployed earlier, as its address book records it."""
        book = AddressBook.load(book_path)
        if book.chain_id != chain.chain_id:
            raise DeploymentError(f"{book_path} is for chain {book.chain_id}, not {chain.chain_id}")
        return cls(chain, book)

    def grant(self, admin: LocalAccount, role: Role, account: str) -> TxResult | None:
        """Grant `role` to `account` unless it already has it."""
        if self.has_role(role, account):
            return None
        return self.roles.transact(admin, "grantRole", role.id, account)

    def has_role(self, role: Role, account: str) -> bool:
        """Whether `account` holds `role`."""
        return bool(self.roles.call("hasRole", role.id, account))

    def mint(
        self, treasurer: LocalAccount, to: str, amount: int, fiat_reference: bytes = bytes(32)
    ) -> TxResult:
        """Mint euro tokens against received fiat."""
        return self.token.transact(treasurer, "mint", to, amount, fiat_reference)

    def approve(self, owner: LocalAccount, spender: str, amount: int) -> TxResult:
        """Let `spender` move `amount` of `owner`'s euro tokens."""
        return self.token.transact(owner, "approve", spender, amount)

    def balance(self, account: str) -> int:
        """Euro token balance of `account` (micro-euros)."""
        return int(self.token.call("balanceOf", account))

    def balances(self, accounts: Sequence[str], block: int | str = "latest") -> dict[str, int]:
        """Euro token balances of `accounts` (micro-euros) at `block`: the token's own `balanceOf`,
        `MAX_BALANCE_READ` accounts to one `eth_call` running `contracts/BalanceReader.sol` as creation
        code (see `ledger._balance_reader`) instead of one call and round trip each: an auditor reads
        100,000 holders. A `balanceOf` that fails or answers other than one word raises
        `BalanceReaderBadAnswer` naming the account; an answer of the wrong shape, `LedgerError`."""
        token = self.token.address
        out: dict[str, int] = {}
        for start in range(0, len(accounts), MAX_BALANCE_READ):
            part = accounts[start : start + MAX_BALANCE_READ]
            answer = self.sender.call({"data": "0x" + read_call_data(token, part).hex()}, block)
            try:
                values = decode_answer(answer, len(part))
            except ValueError as exc:
                raise LedgerError(f"reading the balances of {len(part)} accounts failed: {exc}") from exc
            out.update(zip(part, values, strict=True))
        return out

    def events(self, from_block: int | None = None, to_block: int | str = "latest") -> list[Event]:
        """Every event of every Allmende contract, claim programs included, in chain order."""
        self.claims.programs()  # registers every claim program's contract with the decoder
        start = (
            from_block
            if from_block is not None
            else min(d.deploy_block for d in self.book.contracts.values())
        )
        end = int(self.chain.web3.eth.block_number) if isinstance(to_block, str) else to_block
        logs = get_logs(self.chain.web3, self.decoder.addresses(), start, end)
        events = self.decoder.decode_all(logs)
        events.sort(key=lambda e: (e.block_number, e.log_index))
        return events
