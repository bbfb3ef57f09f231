"""A plain-Python reference model of the provider registry and restricted aid, for property tests.

`ProviderModel` keeps what `contracts/ProviderRegistry.sol` keeps (providers with categories, status
and admitting NGO; programs' rules; restricted accounts) plus the euro balances the token moves, and
accepts the same commands. A command the contract rejects raises the `ModelError` subclass named like
the Solidity error with the same arguments, found by the same checks in the same order; a rejected
command changes nothing.

Invariants the model keeps, and a property test checks against the chain:
- money is conserved: what was paid in (disbursed, claimed) is what accounts hold plus what was
  burned for bank pay-outs plus what expired and went back to the claim programs that paid it
  (`reclaimed`) or, after a fund program's end, to the fund ledger (`swept`);
- restricted money reaches only admitted providers of one of its program's categories (each such
  payment is recorded in `restricted_payments` with the provider's categories at that moment);
- a restricted account is never paid out to a bank, and an account is restricted by one program only
  (and marked by one claim program, or by its NGO, only);
- after a claim program's expiry, while its fund program is still restricted, what the accounts it marked
  hold goes back to it (`reclaim`), and nothing else: not another program's accounts, not the ones the
  NGO marked before a direct disbursement (those expire only with their fund program's end), not cash;
- after a fund program's end, what the accounts its NGO marked hold, up to what its recorded
  disbursements paid, goes back to the fund ledger (`sweep_expired`), and nothing else.

Disbursements and sweeps involve the fund ledger too: `disburse` and `sweep_expired` take a
`governance.fund_model.FundModel`, which keeps the programs' ends, what each may still sweep and the
draws a sweep credits back to the lots; this model keeps the registry's checks and the accounts.

Roles are plain names (`NGO_ROLE`, ...), as in `governance.fund_model`. Only plain accounts are
modelled (the contract refuses to restrict contracts).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import Final

from governance.fund_model import (
    ADMIN_ROLE,
    NGO_ROLE,
    ZERO_ADDRESS,
    AccessControlUnauthorizedAccount,
    ERC20InsufficientBalance,
    FundModel,
    FundsReturned,
    ModelError,
)

UINT64_MAX: Final = 2**64 - 1


class ProviderRegistryZeroAccount(ModelError):
    """A zero address was given for a provider or an account."""


class ProviderRegistryNoCategories(ModelError):
    """A provider needs at least one category."""


class ProviderRegistryNotProviderNgo(ModelError):
    """`account` is neither the NGO that admitted `provider` nor an admin."""

    field_names = ("provider", "account")


class ProviderRegistryNotAdmitted(ModelError):
    """`provider` is not admitted."""

    field_names = ("provider",)


class ProviderRegistryNotProgramNgo(ModelError):
    """`account` does not run fund program `fundProgramId`."""

    field_names = ("fundProgramId", "account")


class ProviderRegistryRestrictedTransfer(ModelError):
    """Restricted `account` may not pay `to` under program `fundProgramId`'s `categories`."""

    field_names = ("account", "to", "fundProgramId", "categories")


class ProviderRegistryAccountNotFresh(ModelError):
    """`account` is restricted by `current` already or holds `balance`."""

    field_names = ("account", "fundProgramId", "current", "balance")


class ProviderRegistryAccountIsProvider(ModelError):
    """A provider's account is never restricted."""

    field_names = ("account",)


class ProviderRegistryNotMarkedBy(ModelError):
    """`account` was marked by `markedBy` (zero: its NGO, or nobody), not by claim program `program`."""

    field_names = ("account", "program", "markedBy")


class ProviderRegistryProgramIsCash(ModelError):
    """Fund program `fundProgramId` is cash (now): its clients' money does not expire."""

    field_names = ("fundProgramId",)


class ProviderRegistryNotFundLedger(ModelError):
    """Only the fund ledger sweeps ended programs' accounts; `caller` asked."""

    field_names = ("caller",)


class ProviderRegistryNotSweepable(ModelError):
    """`account` is not marked by fund program `fundProgramId`'s NGO for it."""

    field_names = ("account", "fundProgramId", "restrictedBy", "markedBy")


class ProviderRegistryAccountBound(ModelError):
    """`account` is marked for fund program `fundProgramId`: it takes money only from that program and from
    providers giving a payment back; `from` (zero: a mint) sent some."""

    field_names = ("account", "fundProgramId", "from")


class ClaimProgramNotExpired(ModelError):
    """The claim program runs until `expiry` (now is `now_`)."""

    field_names = ("expiry", "now_")


class ClaimProgramTooManyAccounts(ModelError):
    """At most `max` accounts are reclaimed in one call; `count` were given."""

    field_names = ("count", "max")


class ClaimProgramNotRestricted(ModelError):
    """The claim program pays cash: nothing it paid expires."""


MAX_RECLAIM_ACCOUNTS: Final = 100
"""As `ClaimProgram.MAX_RECLAIM_ACCOUNTS`."""


class ProviderStatus(IntEnum):
    """As `IProviderRegistry.ProviderStatus`."""

    NONE = 0
    ADMITTED = 1
    SUSPENDED = 2


@dataclass
class Provider:
    """One provider's record."""

    ngo: str
    categories: int
    status: ProviderStatus


@dataclass(frozen=True)
class RestrictedPayment:
    """Restricted money that left an account: to whom, under which rule, to which categories."""

    account: str
    provider: str
    fund_program_id: int
    rule: int
    provider_categories: int
    amount: int


@dataclass
class ProviderModel:
    """The registry and the euro balances of the accounts it governs."""

    roles: dict[str, set[str]] = field(default_factory=dict)  # role -> accounts
    program_ngos: dict[int, str] = field(default_factory=dict)  # fund program -> its NGO
    providers: dict[str, Provider] = field(default_factory=dict)
    rules: dict[int, int] = field(default_factory=dict)
    restricted: dict[str, int] = field(default_factory=dict)  # account -> fund program
    marked_by: dict[str, str] = field(default_factory=dict)  # account -> claim program that marked it
    balances: dict[str, int] = field(default_factory=dict)
    paid_in: int = 0
    burned: int = 0
    reclaimed: int = 0  # went back to claim programs after their expiry
    swept: int = 0  # went back to the fund ledger after a fund program's end
    restricted_payments: list[RestrictedPayment] = field(default_factory=list)

    # --- set-up ---------------------------------------------------------------------------------

    def grant_role(self, role: str, account: str) -> None:
        """Give `account` `role`."""
        self.roles.setdefault(role, set()).add(account)

    def add_program(self, fund_program_id: int, ngo: str) -> None:
        """Fund program `fund_program_id` exists and is run by `ngo`."""
        self.program_ngos[fund_program_id] = ngo

    def has_role(self, role: str, account: str) -> bool:
        """Whether `account` holds `role`."""
        return account in self.roles.get(role, set())

    # --- commands ---------------------------------------------------------------------------------

    def admit(self, sender: str, provider: str, categories: int) -> None:
        """`admitProvider`."""
        if provider == ZERO_ADDRESS:
            raise ProviderRegistryZeroAccount()
        if categories == 0:
            raise ProviderRegistryNoCategories()
        current = self.providers.get(provider)
        if current is None:
            if not self.has_role(NGO_ROLE, sender) and not self.has_role(ADMIN_ROLE, sender):
                raise AccessControlUnauthorizedAccount(sender, ADMIN_ROLE)
            self.providers[provider] = Provider(sender, categories, ProviderStatus.ADMITTED)
            return
        self._require_provider_ngo(current, provider, sender)
        current.categories = categories
        current.status = ProviderStatus.ADMITTED

    def suspend(self, sender: str, provider: str) -> None:
        """`suspendProvider`."""
        current = self.providers.get(provider)
        if current is None or current.status != ProviderStatus.ADMITTED:
            raise ProviderRegistryNotAdmitted(provider)
        self._require_provider_ngo(current, provider, sender)
        current.status = ProviderStatus.SUSPENDED

    def set_rule(self, sender: str, fund_program_id: int, categories: int) -> None:
        """`setProgramRule`."""
        self._require_program_ngo(fund_program_id, sender)
        self.rules[fund_program_id] = categories

    def restrict(self, sender: str, fund_program_id: int, accounts: list[str]) -> None:
        """`restrictAccounts`: all or nothing."""
        self._require_program_ngo(fund_program_id, sender)
        marked, markers = dict(self.restricted), dict(self.marked_by)
        for account in accounts:
            if account == ZERO_ADDRESS:
                raise ProviderRegistryZeroAccount()
            if account in self.providers:
                raise ProviderRegistryAccountIsProvider(account)
            self._mark(marked, markers, account, fund_program_id, ZERO_ADDRESS)
        self.restricted, self.marked_by = marked, markers

    def pay_in(
        self, account: str, amount: int, *, claimed_from: int | None = None, claim_program: str = ZERO_ADDRESS
    ) -> None:
        """A disbursement or a claim pays `amount` to `account`. A claim of claim program `claim_program`
        opened while restricted (`claimed_from`) marks the account first, unless it is a provider."""
        if claimed_from is not None and account not in self.providers:
            marked, markers = dict(self.restricted), dict(self.marked_by)
            self._mark(marked, markers, account, claimed_from, claim_program)
            self.restricted, self.marked_by = marked, markers  # the marker pays it: always received
        elif claim_program != ZERO_ADDRESS:
            self.check_receipt(claim_program, account)
        self.balances[account] = self.balances.get(account, 0) + amount
        self.paid_in += amount

    def reclaim(
        self,
        program: str,
        fund_program_id: int,
        accounts: list[str],
        *,
        now: int,
        expiry: int,
        restricted_at_opening: bool,
    ) -> dict[str, int]:
        """`ClaimProgram.reclaimExpired(accounts)` up to the return to the fund ledger: the balances of
        `accounts` go back to claim program `program` (of fund program `fund_program_id`, expiring at
        `expiry`); returns what each account gave back (accounts holding nothing are left out)."""
        if now < expiry:
            raise ClaimProgramNotExpired(expiry, now)
        if len(accounts) > MAX_RECLAIM_ACCOUNTS:
            raise ClaimProgramTooManyAccounts(len(accounts), MAX_RECLAIM_ACCOUNTS)
        if not restricted_at_opening:
            raise ClaimProgramNotRestricted()
        for account in accounts:
            marked_by = self.marked_by.get(account, ZERO_ADDRESS)
            if marked_by != program:
                raise ProviderRegistryNotMarkedBy(account, program, marked_by)
        if accounts and self.rules.get(fund_program_id, 0) == 0:
            raise ProviderRegistryProgramIsCash(fund_program_id)
        moved: dict[str, int] = {}
        for account in accounts:
            balance = self.balances.get(account, 0)
            if balance:
                moved[account] = balance
                self.balances[account] = 0
                self.reclaimed += balance
        return moved

    def check_sweep(self, caller: str, fund_ledger: str, fund_program_id: int, accounts: list[str]) -> None:
        """`checkSweep`: the token may move what `accounts` hold to the fund ledger sweeping ended fund
        program `fund_program_id` (the fund ledger checks the end and the amounts; see `FundModel`)."""
        if caller != fund_ledger:
            raise ProviderRegistryNotFundLedger(caller)
        if self.rules.get(fund_program_id, 0) == 0:
            raise ProviderRegistryProgramIsCash(fund_program_id)
        for account in accounts:
            restricted_by = self.restricted.get(account, 0)
            marked_by = self.marked_by.get(account, ZERO_ADDRESS)
            if restricted_by != fund_program_id or marked_by != ZERO_ADDRESS:
                raise ProviderRegistryNotSweepable(account, fund_program_id, restricted_by, marked_by)

    def disburse(
        self, funds: FundModel, sender: str, program_id: int, account: str, amount: int, *, now: int
    ) -> None:
        """`FundLedger.disburse` of `amount` to `account` as the fund model `funds` decides it (its NGO
        only, from released money, never after the program's end), then paid in here."""
        funds.disburse(
            sender,
            program_id,
            [account],
            [amount],
            now=now,
            restriction_of=lambda x: self.restricted.get(x, 0),
            check_receipt=lambda x: self.check_receipt(funds.ledger, x, paying=program_id),
        )
        self.pay_in(account, amount)

    def sweep_expired(
        self, funds: FundModel, program_id: int, accounts: list[str], *, now: int
    ) -> tuple[dict[str, int], tuple[FundsReturned, ...]]:
        """`FundLedger.sweepExpired(program_id, accounts)` as the chain runs it: the fund ledger's
        checks and amounts (`FundModel.sweep_takes`), then the token's `sweepRestricted`: the
        registry's `check_sweep` of every listed account, and the moves one after the other; then the
        money leaves the accounts here (counted as `swept`) and `funds` credits it to the lots.
        `funds` does not see transfers between accounts: it is told what the listed accounts hold
        here first. Returns `FundModel.sweep_expired`'s outcome."""
        program = funds.programs.get(program_id)
        if program is not None:
            held = funds.balances.setdefault(program.token, {})
            for account in accounts:
                held[account] = self.balances.get(account, 0)
        takes = funds.sweep_takes(program_id, accounts, now=now)
        self.check_sweep(funds.ledger, funds.ledger, program_id, accounts)
        balances = dict(self.balances)
        for account, take in zip(accounts, takes, strict=True):
            if take == 0:
                continue
            balance = balances.get(account, 0)
            if balance < take:
                raise ERC20InsufficientBalance(account, balance, take)
            balances[account] = balance - take
        outcome = funds.sweep_expired(program_id, accounts, now=now)
        self.balances = balances
        self.swept += sum(takes)
        return outcome

    def check_receipt(
        self,
        sender: str,
        to: str,
        *,
        paying: int = 0,
    ) -> None:
        """`checkReceipt`: money from `sender` may reach `to`. A marked account takes it only from its own
        program (the fund ledger, `sender`, paying for program `paying`, when the NGO marked it; the claim
        program that marked it) and from a provider giving back a payment."""
        fund_program_id = self.restricted.get(to, 0)
        if fund_program_id == 0:
            return
        marked_by = self.marked_by.get(to, ZERO_ADDRESS)
        if marked_by != ZERO_ADDRESS:
            if sender == marked_by:
                return
        elif paying == fund_program_id:
            return
        if sender != ZERO_ADDRESS and sender in self.providers:
            return
        raise ProviderRegistryAccountBound(to, fund_program_id, sender)

    def transfer(self, sender: str, to: str, amount: int) -> None:
        """The token's `transfer` from plain account `sender`; `to` zero is a burn (`redeem`)."""
        fund_program_id = self.restricted.get(sender, 0)
        rule = self.rules.get(fund_program_id, 0) if fund_program_id else 0
        provider = self.providers.get(to)
        if rule != 0 and (
            provider is None or provider.status != ProviderStatus.ADMITTED or provider.categories & rule == 0
        ):
            raise ProviderRegistryRestrictedTransfer(sender, to, fund_program_id, rule)
        balance = self.balances.get(sender, 0)
        if balance < amount:
            raise ERC20InsufficientBalance(sender, balance, amount)
        if to != ZERO_ADDRESS:
            self.check_receipt(sender, to)
        self.balances[sender] = balance - amount
        if to == ZERO_ADDRESS:
            self.burned += amount
        else:
            self.balances[to] = self.balances.get(to, 0) + amount
        if rule != 0 and provider is not None:
            self.restricted_payments.append(
                RestrictedPayment(sender, to, fund_program_id, rule, provider.categories, amount)
            )

    # --- views --------------------------------------------------------------------------------------

    def may_pay(self, sender: str, to: str) -> bool:
        """`mayPay`."""
        fund_program_id = self.restricted.get(sender, 0)
        rule = self.rules.get(fund_program_id, 0) if fund_program_id else 0
        provider = self.providers.get(to)
        return rule == 0 or (
            provider is not None
            and provider.status == ProviderStatus.ADMITTED
            and provider.categories & rule != 0
        )

    def conserved(self) -> bool:
        """Whether what was paid in is what accounts hold plus what was burned, reclaimed and swept."""
        return self.paid_in == sum(self.balances.values()) + self.burned + self.reclaimed + self.swept

    def restricted_money_well_spent(self) -> bool:
        """Whether every restricted payment reached a provider of one of its rule's categories."""
        return all(p.rule & p.provider_categories != 0 for p in self.restricted_payments)

    # --- checks ---------------------------------------------------------------------------------------

    def _require_provider_ngo(self, provider: Provider, account: str, sender: str) -> None:
        if provider.ngo != sender and not self.has_role(ADMIN_ROLE, sender):
            raise ProviderRegistryNotProviderNgo(account, sender)

    def _require_program_ngo(self, fund_program_id: int, sender: str) -> None:
        if self.program_ngos.get(fund_program_id) != sender:
            raise ProviderRegistryNotProgramNgo(fund_program_id, sender)

    def _mark(
        self,
        marked: dict[str, int],
        markers: dict[str, str],
        account: str,
        fund_program_id: int,
        marker: str,
    ) -> None:
        current = marked.get(account, 0)
        if current == fund_program_id and markers.get(account, ZERO_ADDRESS) == marker:
            return
        balance = self.balances.get(account, 0)
        if current != 0 or balance != 0:
            raise ProviderRegistryAccountNotFresh(account, fund_program_id, current, balance)
        marked[account] = fund_program_id
        if marker != ZERO_ADDRESS:
            markers[account] = marker
