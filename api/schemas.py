"""Request and response bodies. Money is a decimal string in euros (up to 6 decimals)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from eth_utils import to_checksum_address
from fastapi import Path
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from api.amounts import Euros
from api.services.funds import ProgramSummary
from api.services.people import KeyView, PersonView
from ledger.fund_events import RefundSource

__all__ = ["Euros"]

MICRO = 10**6


def _checksummed(address: str) -> str:
    """The EIP-55 form; a mixed-case address must already carry a valid checksum (else it has a typo)."""
    checksummed: str = to_checksum_address(address)
    digits = address[2:]
    if digits != digits.lower() and digits != digits.upper() and address != checksummed:
        raise ValueError("the address has an invalid EIP-55 checksum")
    return checksummed


Address = Annotated[str, Field(pattern=r"^0x[0-9a-fA-F]{40}$"), AfterValidator(_checksummed)]


def _after_epoch(moment: datetime) -> datetime:
    """On chain, times are unsigned seconds and 0 means 'never'; earlier moments cannot be expressed."""
    if moment.timestamp() < 1:
        raise ValueError("the time must be after 1970-01-01T00:00:00Z")
    return moment


Moment = Annotated[datetime, AfterValidator(_after_epoch)]
Id = Annotated[int, Field(ge=1, le=2**48 - 1)]
NO_NUL = r"^[^\x00]*$"  # PostgreSQL text cannot hold NUL characters
IdPath = Annotated[int, Path(ge=1, le=2**48 - 1, description="An on-chain id (uint48, from 1)")]
AddressPath = Annotated[
    str,
    Path(pattern=r"^0x[0-9a-fA-F]{40}$", description="An on-chain address"),
    AfterValidator(_checksummed),
]


def micro(amount: Decimal) -> int:
    """Euros to micro-euros (the token's units)."""
    return int(amount * MICRO)


def euros(units: int) -> str:
    """Micro-euros to a euro string."""
    return str((Decimal(units) / MICRO).quantize(Decimal("0.000001")))


class Strict(BaseModel):
    """Bodies reject unknown fields."""

    model_config = ConfigDict(extra="forbid")


class OrganisationCreate(Strict):
    kind: Literal["funder", "ngo", "auditor"]
    name: Annotated[str, Field(min_length=1, max_length=200, pattern=NO_NUL)]


class OrganisationPublic(BaseModel):
    id: str
    kind: str
    name: str
    address: str


class OrganisationCreated(OrganisationPublic):
    apiKey: str = Field(description="Shown once; store it safely.")


class ApiKeyRotated(BaseModel):
    apiKey: str


class MintCreate(Strict):
    organisationId: Annotated[str, Field(min_length=1, max_length=32)]
    amount: Euros
    fiatReference: Annotated[str, Field(min_length=1, max_length=200, description="Bank receipt reference")]


class OperationPublic(BaseModel):
    """Where a state change landed on chain."""

    operationId: str
    transactionHash: str
    blockNumber: int
    events: list[dict[str, Any]]


class LotCreate(Strict):
    amount: Euros
    earmarkProgramId: Id | None = None
    expiresAt: Moment | None = None


class LotPublic(BaseModel):
    lotId: int
    funder: str
    amount: str
    unallocated: str
    earmarkProgramId: int | None
    expiresAt: int | None
    refunded: bool


class LotCreated(OperationPublic):
    lotId: int


class AllocationCreate(Strict):
    programId: Id
    amount: Euros


class AllocationCreated(OperationPublic):
    allocationId: int


class NamedAccount(Strict):
    """An account a funder names (an allocator of a lot, an approver of a program's tranches)."""

    address: Address = Field(description="The on-chain address of the organisation named")


class NamedAccountPublic(BaseModel):
    """An account a funder named, and where the naming landed on chain."""

    address: str
    transactionHash: str
    blockNumber: int


class ProgramCreate(Strict):
    name: Annotated[str, Field(min_length=1, max_length=200, pattern=NO_NUL)]
    description: Annotated[str, Field(max_length=4000, pattern=NO_NUL)] = ""


class ProgramPublic(BaseModel):
    programId: int
    name: str
    ngo: str
    allocated: str
    released: str
    disbursed: str
    payments: int


class ProgramCreated(OperationPublic):
    programId: int


class TrancheCreate(Strict):
    amount: Euros
    milestone: Annotated[str, Field(min_length=1, max_length=2000)]


class TrancheCreated(OperationPublic):
    trancheId: int


class TrancheDecision(Strict):
    reason: Annotated[str, Field(max_length=2000)] = ""


class Payment(Strict):
    address: Address
    amount: Euros


class DisbursementCreate(Strict):
    payments: Annotated[list[Payment], Field(min_length=1, max_length=200)]
    reference: Annotated[str, Field(max_length=200)] = ""


class DisbursementCreated(OperationPublic):
    batchId: int


class TracedPayment(BaseModel):
    batchId: int
    programId: int
    recipient: str
    amount: str
    transactionHash: str
    sources: list[dict[str, Any]]


class LineageSpending(BaseModel):
    provider: str  # the provider's account
    name: str | None  # its public name, when this gateway knows it
    categories: list[str]  # the provider's categories when it was paid
    amount: str


class LineagePayout(BaseModel):
    holder: str
    provider: bool  # a provider's payout, or else a client's (or anyone's) own
    amount: str


class LotLineagePublic(BaseModel):
    """Where one lot's euros are and went, rebuilt from events alone (first in, first out per account)."""

    lotId: int
    funder: str
    deposited: str
    inFundLedger: str
    refundedToFunder: str
    inClaimPrograms: str
    heldByPeople: str
    heldByProviders: str
    spentAtProviders: str
    refundedByProviders: str
    paidOutByProviders: str
    paidOutToOthers: str
    spendingByCategory: dict[str, str]
    spending: list[LineageSpending]
    payouts: list[LineagePayout]


class ReturnedAllocationPublic(BaseModel):
    allocationId: int
    programId: int
    amount: str


class RefundPublic(BaseModel):
    """Money the fund ledger sent back to the funder."""

    source: RefundSource = Field(
        description="`expired-lot`: the refund of an expired lot (its unallocated rest plus what its "
        "allocations had not drawn). After it, what still comes back from the lot goes to you directly: "
        "`released-reservation`, a budget round's reservation on the lot released later; "
        "`returned-by-receiver`, money a claim program returned from its disbursement batch"
    )
    lotId: int
    reservationId: int | None = Field(description="The released reservation (`released-reservation` only)")
    batchId: int | None = Field(description="The receiver's disbursement batch (`returned-by-receiver` only)")
    amount: str
    fromAllocations: list[ReturnedAllocationPublic] = Field(
        description="The part of `amount` taken back from programs' undrawn allocations"
    )
    transactionHash: str
    blockNumber: int
    logIndex: int


class AuditReport(BaseModel):
    events: int
    matches: bool
    lots: int
    programs: int
    payments: int


def program_public(p: ProgramSummary) -> ProgramPublic:
    """A program's figures as the API shows them."""
    return ProgramPublic(
        programId=p.program_id,
        name=p.name,
        ngo=p.ngo,
        allocated=euros(p.allocated),
        released=euros(p.released),
        disbursed=euros(p.disbursed),
        payments=p.payments,
    )


class ReceiptPublic(BaseModel):
    """Money a client received: `programId` for a disbursement, `claimProgramId` for a claim."""

    kind: Literal["disbursement", "claim"]
    programId: int | None = None
    claimProgramId: int | None = None
    recipient: str
    amount: str
    transactionHash: str
    blockNumber: int


class ClientMe(BaseModel):
    """The signed-in client's pseudonymous account, its balance and what it received."""

    clientId: str
    account: str
    balance: str
    receipts: list[ReceiptPublic]


class EntitlementPublic(BaseModel):
    """Aid the signed-in client may claim in one claim program, and whether they have."""

    claimProgramId: int
    amount: str
    claimed: bool


class ClientRecord(BaseModel):
    """A client's record as their NGO sees it: `personal` and `account` are absent once erased."""

    clientId: str
    createdAt: str
    erased: bool
    personal: dict[str, Any] | None = None
    account: str | None = None


# --- people of organisations ------------------------------------------------------------------

Login = Annotated[str, Field(min_length=3, max_length=80, pattern=r"^[A-Za-z0-9._@-]+$")]
PersonRole = Literal["admin", "caseworker", "approver", "cashier", "treasurer", "auditor", "viewer"]


class PersonCreate(Strict):
    login: Login
    displayName: Annotated[str, Field(min_length=1, max_length=200, pattern=NO_NUL)]
    roles: Annotated[list[PersonRole], Field(min_length=1, max_length=7)]


class PersonPublic(BaseModel):
    id: str
    organisationId: str
    login: str
    displayName: str
    roles: list[str]
    address: str | None = Field(description="The person's own signing address (None: signs nothing)")
    secondFactor: bool
    disabled: bool
    createdAt: datetime


class PersonCreated(BaseModel):
    person: PersonPublic
    setupCode: str = Field(description="Shown once: the person sets their password with it.")


class PersonSetup(Strict):
    login: Login
    setupCode: Annotated[str, Field(min_length=1, max_length=200)]
    password: Annotated[str, Field(min_length=1, max_length=200, pattern=NO_NUL)]


class SecondFactorPublic(BaseModel):
    secret: str = Field(description="Shown once: the TOTP secret for an authenticator app.")
    uri: str = Field(description="otpauth:// URI of the same secret (for a QR code).")


class PersonCredentials(Strict):
    login: Login
    password: Annotated[str, Field(min_length=1, max_length=200)]
    code: Annotated[str, Field(pattern=r"^[0-9]{6}$", description="A current TOTP code")]


class PersonSessionCreated(BaseModel):
    token: str = Field(description="Send as `Authorization: Bearer alp_...`; ends on sign-out.")
    person: PersonPublic


class ApiKeyCreate(Strict):
    name: Annotated[str, Field(min_length=1, max_length=80, pattern=NO_NUL)]
    personId: Annotated[str | None, Field(default=None, max_length=32)] = None
    integration: bool = Field(default=False, description="A key of no person (admins only)")


class ApiKeyPublic(BaseModel):
    prefix: str
    name: str
    personId: str | None
    createdAt: datetime
    revoked: bool


class ApiKeyCreated(ApiKeyPublic):
    apiKey: str = Field(description="Shown once; store it safely.")


class MePublic(OrganisationPublic):
    person: PersonPublic | None = Field(default=None, description="The person acting (None: an integration)")


def _utc(moment: datetime) -> datetime:
    """A time the database kept without a zone (all of them UTC), with its zone."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def person_public(p: PersonView) -> PersonPublic:
    """A person as the API shows them (never a secret)."""
    return PersonPublic(
        id=p.id,
        organisationId=p.organisation_id,
        login=p.login,
        displayName=p.display_name,
        roles=list(p.roles),
        address=p.address,
        secondFactor=p.second_factor,
        disabled=p.disabled,
        createdAt=_utc(p.created_at),
    )


def key_public(k: KeyView) -> ApiKeyPublic:
    """An API key as listed: its prefix and name, never its secret."""
    return ApiKeyPublic(
        prefix=k.prefix, name=k.name, personId=k.person_id, createdAt=_utc(k.created_at), revoked=k.revoked
    )


# --- lists people need ------------------------------------------------------------------------


class WhoPublic(BaseModel):
    address: str = Field(description="The address that signed on chain")
    personId: str | None = Field(default=None, description="The person of your organisation, if one")
    name: str | None = Field(default=None, description="Their name (only for your own organisation)")


class TranchePublic(BaseModel):
    trancheId: int
    programId: int
    amount: str
    milestoneHash: str
    status: Literal["pending", "approved", "rejected", "cancelled"]
    requestedBy: WhoPublic
    decidedBy: WhoPublic | None
    requestedTransaction: str
    decidedTransaction: str | None


class ClaimProgramPublic(BaseModel):
    claimProgramId: int
    name: str
    programId: int = Field(description="The fund program it is paid from")
    expiresAt: int | None = Field(description="Unix time; after it the unclaimed rest may be returned")
    expired: bool
    funded: str
    claimed: str
    unclaimed: str
    returned: str
    entitlements: int = Field(description="Clients granted an entitlement")


class LotRoundPublic(BaseModel):
    roundId: int
    title: str | None
    amount: str = Field(description="What the round holds of this lot")
    phase: str
    votingStart: int
    votingEnd: int
    awarded: str
    released: str = Field(description="Given back to the round's lots when settled or abandoned")
    settled: bool


# --- providers and programs' rules ---------------------------------------------------------------

CategoryKey = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")]
ProviderIdPath = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$", description="A provider's id")]
PublicText = Annotated[str, Field(min_length=1, max_length=200, pattern=NO_NUL)]


class ProviderCreate(Strict):
    """A shop, club or service to admit: everything here is published."""

    name: PublicText
    street: PublicText
    postcode: Annotated[str, Field(min_length=1, max_length=16, pattern=NO_NUL)]
    city: Annotated[str, Field(min_length=1, max_length=100, pattern=NO_NUL)]
    categories: Annotated[list[CategoryKey], Field(min_length=1, max_length=64)]


class ProviderAdmit(Strict):
    """Admit a provider again; without categories it keeps its own."""

    categories: Annotated[list[CategoryKey], Field(min_length=1, max_length=64)] | None = None


class ProviderSuspend(Strict):
    """Why the provider is suspended (kept off chain; its hash goes on chain)."""

    reason: Annotated[str, Field(max_length=1000, pattern=NO_NUL)] = ""


class ProviderPublic(BaseModel):
    providerId: str
    name: str
    street: str
    postcode: str
    city: str
    categories: list[str]
    status: Literal["admitted", "suspended"]
    account: str = Field(description="The provider's account on chain, which clients pay")
    admittedBy: str = Field(description="The organisation that admitted it")


class ProviderChanged(ProviderPublic):
    operation: OperationPublic | None = Field(description="None when nothing had to change on chain")


class ProviderCreated(ProviderPublic):
    apiKey: str = Field(description="The provider organisation's first API key. Shown once.")
    operation: OperationPublic


class ProgramRuleSet(Strict):
    """How a program's aid may be used: "cash", or "restricted" to at least one category."""

    kind: Literal["cash", "restricted"]
    categories: Annotated[list[CategoryKey], Field(max_length=64)] = []

    @model_validator(mode="after")
    def _categories_fit_the_kind(self) -> ProgramRuleSet:
        if (self.kind == "restricted") != bool(self.categories):
            raise ValueError("a restricted program names its categories; a cash program names none")
        return self


class ProgramRulePublic(BaseModel):
    programId: int
    name: str
    kind: Literal["cash", "restricted"]
    categories: list[str]


class ProgramRuleChanged(ProgramRulePublic):
    operation: OperationPublic


class AcceptedProvider(BaseModel):
    providerId: str
    name: str
    street: str
    postcode: str
    city: str
    categories: list[str]
    account: str


class AcceptedProviders(BaseModel):
    """Where a program's clients may use their aid."""

    program: ProgramRulePublic
    categories: list[str] = Field(description="Every published category key, in bit order")
    providers: list[AcceptedProvider]


class PayoutCreate(Strict):
    """How much of the organisation's money to pay out, and to which bank account."""

    amount: Euros
    iban: Annotated[
        str, Field(min_length=15, max_length=42, pattern=NO_NUL, examples=["DE02120300000000202051"])
    ]


class PayoutPublic(BaseModel):
    payoutId: int
    organisationId: str
    holder: str
    amount: str
    status: str  # pending | batched | settled
    batchId: int
    iban: str  # masked but for the last four characters


class PayoutCreated(PayoutPublic):
    operation: OperationPublic | None


class ClientPayoutCreate(Strict):
    """How much of the client's cash to pay out (none: all of it), and to which bank account."""

    amount: Euros | None = None
    iban: Annotated[
        str, Field(min_length=15, max_length=42, pattern=NO_NUL, examples=["DE02120300000000202051"])
    ]


class ClientPayoutPublic(BaseModel):
    payoutId: int
    amount: str
    status: str  # pending | batched | settled
    batchId: int
    iban: str  # masked but for its last four characters
    createdAt: str


class ClientPayoutsCreated(BaseModel):
    payouts: list[ClientPayoutPublic] = Field(description="One payout per account the cash came from")
    total: str
    operations: list[OperationPublic]


class PayoutBatchPublic(BaseModel):
    batchId: int
    status: str  # open | sent | rejected
    count: int
    total: str
    payoutIds: list[int]
    sepaFile: str | None = None


class PayoutBatchChanged(PayoutBatchPublic):
    operation: OperationPublic | None


class PayoutBatchSent(Strict):
    """The bank's reference for the transfer (kept off chain; its hash goes on chain)."""

    bankReference: Annotated[str, Field(min_length=1, max_length=200, pattern=NO_NUL)]


class PayoutBatchReopen(Strict):
    """Why the bank rejected the batch (kept off chain; its hash goes on chain)."""

    reason: Annotated[str, Field(max_length=1000, pattern=NO_NUL)] = ""
