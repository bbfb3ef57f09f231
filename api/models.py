"""The gateway's database: organisations, API keys, clients, budget rounds, operations and idempotency
records.

Personal data lives only here, encrypted per field under a per-client data key; deleting that key
(erasure) leaves the ciphertext unreadable and the on-chain pseudonym unlinkable.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

from sqlalchemy import JSON, ForeignKey, Index, LargeBinary, String, Text, text
from sqlalchemy import BigInteger as sa_BigInteger
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def _now() -> datetime:
    return datetime.now(UTC)


def _id() -> str:
    return uuid4().hex


class Base(DeclarativeBase):
    """Base of every table."""


class Organisation(Base):
    """A funder, NGO, auditor or the operator's admin organisation, with its custodial key."""

    __tablename__ = "organisations"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=_id)
    kind: Mapped[str] = mapped_column(String(16))  # admin | funder | ngo | auditor | provider
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(String(42), unique=True)
    key_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    key_version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(default=_now)


class KeyringEntry(Base):
    """A key the gateway keeps sealed under the master key so that rotating the master key leaves it
    as it is. `lookup-tags` keys the hashes that find API keys, vouchers and duplicate clients: the
    secrets behind those hashes are not stored, so they could never be hashed again under a new key.
    Until the first rotation there is no row and the key is derived from the master key."""

    __tablename__ = "keyring"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=_now)


class ApiKey(Base):
    """An organisation's API key: only a hash is stored; the prefix finds the row."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=_id)
    organisation_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"))
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=_now)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    # a person's own key, or (None) the organisation's key for an integration
    person_id: Mapped[str | None] = mapped_column(ForeignKey("people.id"), default=None, index=True)
    name: Mapped[str] = mapped_column(String(80), default="")


class ProgramInfo(Base):
    """Public description of an on-chain program (its metadata hash is on chain)."""

    __tablename__ = "programs"

    program_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    ngo_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(String(4000), default="")


class Client(Base):
    """A person an NGO serves. On-chain they exist only as pseudonyms derived from their secret."""

    __tablename__ = "clients"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=_id)
    ngo_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"))
    data_key_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)  # None once erased
    personal_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    dedup_tag: Mapped[str | None] = mapped_column(String(64))  # keyed hash of identifying fields
    secret_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)  # sealed with master key and PIN
    recovery_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)  # master key + recovery code
    public_root_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)  # data key; derives pseudonyms
    voucher_tag: Mapped[str | None] = mapped_column(String(64), unique=True)  # keyed hash of the code
    failed_attempts: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=_now)
    erased_at: Mapped[datetime | None] = mapped_column(default=None)

    __table_args__ = (Index("ix_clients_ngo_dedup", "ngo_id", "dedup_tag"),)


class Entitlement(Base):
    """What a client may claim in a claim program: their leaf (index, amount) in one root's tree."""

    __tablename__ = "entitlements"

    claim_program_id: Mapped[int] = mapped_column(sa_BigInteger, primary_key=True, autoincrement=False)
    leaf_index: Mapped[int] = mapped_column(sa_BigInteger, primary_key=True, autoincrement=False)
    # None once the client is erased: the leaf stays (the tree must), the link to the person goes
    client_id: Mapped[str | None] = mapped_column(ForeignKey("clients.id"), index=True)
    root_id: Mapped[int] = mapped_column()
    claim_address: Mapped[str] = mapped_column(String(42))
    amount: Mapped[int] = mapped_column(sa_BigInteger)


class BudgetRound(Base):
    """A participatory budget round an NGO created through the gateway: its texts (hashed on chain)
    and the round whose pseudonyms its voter roll uses (the round's own id, unless another round was
    created between predicting the id and creating it)."""

    __tablename__ = "budget_rounds"

    round_id: Mapped[int] = mapped_column(sa_BigInteger, primary_key=True, autoincrement=False)
    ngo_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(String(4000), default="")
    pseudonym_round: Mapped[int] = mapped_column(sa_BigInteger)
    credits: Mapped[int] = mapped_column(sa_BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=_now)
    client_program_id: Mapped[int | None] = mapped_column(sa_BigInteger, default=None)
    """The NGO's program that clients' own proposals would fund; None: clients do not propose."""


class RoundVoter(Base):
    """One leaf of a round's voter roll: a voting pseudonym, never the client it belongs to. A signed-in
    client finds their leaf by deriving their pseudonym; erasing the client leaves it unlinkable."""

    __tablename__ = "budget_round_voters"

    round_id: Mapped[int] = mapped_column(sa_BigInteger, primary_key=True, autoincrement=False)
    leaf_index: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    address: Mapped[str] = mapped_column(String(42))


class RoundProposal(Base):
    """A proposal's text (its hash is on chain) and the organisation that submitted it."""

    __tablename__ = "budget_proposals"

    round_id: Mapped[int] = mapped_column(sa_BigInteger, primary_key=True, autoincrement=False)
    proposal_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    organisation_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(String(4000), default="")


class Operation(Base):
    """A state change the gateway sent to the chain, written before sending, so a crash between
    sending and recording is reconciled from the chain on restart."""

    __tablename__ = "operations"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=_id)
    principal: Mapped[str] = mapped_column(String(80))
    acting_for: Mapped[str | None] = mapped_column(String(32))  # a client, in staff-assisted mode
    # the person of the organisation who did it (None: an integration key or the gateway itself)
    person_id: Mapped[str | None] = mapped_column(String(32), default=None, index=True)
    kind: Mapped[str] = mapped_column(String(40))
    signer: Mapped[str] = mapped_column(String(42))
    forward_nonce: Mapped[int] = mapped_column()
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | done | failed
    transaction_hash: Mapped[str | None] = mapped_column(String(66))
    block_number: Mapped[int | None] = mapped_column()
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=_now)
    # the idempotent HTTP request that caused it, so a retry after a crash finds it instead of repeating it
    request_key: Mapped[str | None] = mapped_column(String(64), index=True)

    __table_args__ = (
        # a forwarder nonce executes at most once; a failed attempt's nonce is signed again
        Index(
            "uq_operations_live_nonce",
            "signer",
            "forward_nonce",
            unique=True,
            sqlite_where=text("status != 'failed'"),
            postgresql_where=text("status != 'failed'"),
        ),
    )


class IdempotencyRecord(Base):
    """The first response to a request carrying an `Idempotency-Key`, replayed for retries.

    Responses carry secrets shown once (API keys, voucher and recovery codes, PINs, session
    tokens), so the response is kept sealed under the master key (`body_sealed`); `body` holds
    only what versions before sealing kept in plain JSON."""

    __tablename__ = "idempotency"

    principal: Mapped[str] = mapped_column(String(80), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    # what the request's operations carry as their `request_key`, so erasing a client finds them
    request_key: Mapped[str | None] = mapped_column(String(64), index=True)
    status_code: Mapped[int | None] = mapped_column()
    body: Mapped[Any] = mapped_column(JSON, nullable=True)
    body_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    created_at: Mapped[datetime] = mapped_column(default=_now)


class IndexedEvent(Base):
    """One decoded Allmende event, kept by the read model (`api/read_model.py`).

    The columns a read filters by are indexed, so a read costs the same however long the chain's
    history: `account` is the address the event concerns (a payment's recipient, a ballot's voter, a
    lot's funder), and round, program and lot ids are copied out of the arguments."""

    __tablename__ = "chain_events"

    block_number: Mapped[int] = mapped_column(sa_BigInteger, primary_key=True, autoincrement=False)
    log_index: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    transaction_hash: Mapped[str] = mapped_column(String(66))
    contract: Mapped[str] = mapped_column(String(40))
    address: Mapped[str] = mapped_column(String(42))
    name: Mapped[str] = mapped_column(String(64))
    account: Mapped[str | None] = mapped_column(String(42), default=None)
    round_id: Mapped[int | None] = mapped_column(sa_BigInteger, default=None)
    program_id: Mapped[int | None] = mapped_column(sa_BigInteger, default=None)
    lot_id: Mapped[int | None] = mapped_column(sa_BigInteger, default=None)
    args: Mapped[str] = mapped_column(Text)

    __table_args__ = (
        Index("ix_chain_events_account", "account", "name"),
        Index("ix_chain_events_round", "round_id", "contract"),
        Index("ix_chain_events_program", "program_id", "contract"),
        Index("ix_chain_events_lot", "lot_id"),
        Index("ix_chain_events_transaction", "transaction_hash"),
        Index("ix_chain_events_name", "name", "contract"),
    )


class IndexedBlock(Base):
    """A block the read model indexed up to, with its hash: the newest row is where it goes on from,
    and the hashes find the fork point after a reorganisation of an external chain."""

    __tablename__ = "indexed_blocks"

    number: Mapped[int] = mapped_column(sa_BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[str] = mapped_column(String(66))


class Person(Base):
    """A person of an organisation (a caseworker, an approver, a cashier, its admin) with their own
    sign-in and, when they sign on chain, their own custodial key holding the organisation's roles.

    The password is stored as an argon2id hash; the second factor's TOTP secret and the signing key
    are sealed under the master key, bound to the person's id. `login` is unique across the gateway."""

    __tablename__ = "people"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=_id)
    organisation_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), index=True)
    login: Mapped[str] = mapped_column(String(80), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    roles: Mapped[list[str]] = mapped_column(JSON, default=list)
    password_hash: Mapped[str | None] = mapped_column(String(200), default=None)
    totp_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    totp_confirmed: Mapped[bool] = mapped_column(default=False)
    totp_last_step: Mapped[int] = mapped_column(sa_BigInteger, default=0)  # a code is used once
    address: Mapped[str | None] = mapped_column(String(42), unique=True, default=None)
    key_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    failed_attempts: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None] = mapped_column(default=None)
    created_by: Mapped[str | None] = mapped_column(String(32), default=None)
    created_at: Mapped[datetime] = mapped_column(default=_now)
    disabled_at: Mapped[datetime | None] = mapped_column(default=None)


class PersonSession(Base):
    """A person's signed-in session (pages): only a keyed hash of its token is stored."""

    __tablename__ = "person_sessions"

    token_tag: Mapped[str] = mapped_column(String(64), primary_key=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("people.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=_now)
    expires_at: Mapped[datetime] = mapped_column()


class VoteReceipt(Base):
    """A ballot's receipt, stored so that only the holder of its code finds it: the lookup is a hash
    of the code's secret, the binding a hash of the secret and the ballot's transaction. Nothing here
    names the voter; the transaction is public on chain anyway."""

    __tablename__ = "vote_receipts"

    lookup: Mapped[str] = mapped_column(String(64), primary_key=True)
    round_id: Mapped[int] = mapped_column(sa_BigInteger, index=True)
    transaction_hash: Mapped[str] = mapped_column(String(66))
    binding: Mapped[str] = mapped_column(String(64))
    checked: Mapped[bool] = mapped_column(default=False)


class ClaimProgramName(Base):
    """A claim program's own name ("Winterhilfe Dezember"), shown to its clients; its hash is on chain."""

    __tablename__ = "claim_program_names"

    claim_program_id: Mapped[int] = mapped_column(sa_BigInteger, primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(String(200))


class ProviderRecord(Base):
    """An accepted provider (Akzeptanzstelle): a shop, club or service, itself an organisation of kind
    "provider" with a custodial account that receives clients' payments. Everything here is public
    (name, address, categories); the registry on chain holds its account, categories and status, and
    a SHA-256 of this record. `admitted_by` is the NGO (or admin) organisation that admitted it."""

    __tablename__ = "providers"

    organisation_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    street: Mapped[str] = mapped_column(String(200))
    postcode: Mapped[str] = mapped_column(String(16))
    city: Mapped[str] = mapped_column(String(100))
    categories: Mapped[str] = mapped_column(String(1000))  # category keys, comma-separated
    status: Mapped[str] = mapped_column(String(16))  # admitted | suspended
    admitted_by: Mapped[str] = mapped_column(ForeignKey("organisations.id"))
    created_at: Mapped[datetime] = mapped_column(default=_now)
    updated_at: Mapped[datetime] = mapped_column(default=_now)


class Payment(Base):
    """A provider's payment request at the counter (Kasse) and what became of it: open, paying (its
    legs are planned and being sent), paid, refunded. `legs` are the transfers out of the client's
    pseudonymous accounts ({account, amount, restricted}); no client id is kept, so a client's
    payments are found from their own accounts (which erasure makes unlinkable)."""

    __tablename__ = "payments"
    __table_args__ = (Index("ix_payments_provider_paid", "provider_id", "paid_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=_id)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    provider_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"))
    amount: Mapped[int] = mapped_column(sa_BigInteger)  # micro-euros
    note: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16))  # open | paying | paid | refunded
    legs: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    requested_by: Mapped[str | None] = mapped_column(String(32))  # the cashier (person id), if a person
    created_at: Mapped[datetime] = mapped_column(default=_now)
    paid_at: Mapped[datetime | None] = mapped_column(default=None)
    refunded_at: Mapped[datetime | None] = mapped_column(default=None)


class PaymentLeg(Base):
    """Which account paid a leg of a payment: an index from accounts to payments, so a client's
    payments are found from their own accounts without a scan (the legs themselves, with amounts,
    are `Payment.legs`). Written with the legs, in the same transaction."""

    __tablename__ = "payment_legs"

    payment_id: Mapped[str] = mapped_column(ForeignKey("payments.id"), primary_key=True)
    leg_index: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    account: Mapped[str] = mapped_column(String(42), index=True)


class PayoutRecord(Base):
    """A payout in euros an organisation asked for: the chain holds its account, amount, reference and
    batch; here is where the money goes. The IBAN is sealed under the master key (re-sealed on
    rotation); the account holder is the organisation's public name. `reference` is the hex of the
    on-chain payout reference, derived from the request's idempotency key, so a retry finds this row."""

    __tablename__ = "payouts"

    payout_id: Mapped[int] = mapped_column(sa_BigInteger, primary_key=True, autoincrement=False)
    organisation_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"))
    reference: Mapped[str] = mapped_column(String(64), unique=True)
    amount: Mapped[int] = mapped_column(sa_BigInteger)  # micro-euros, whole cents
    holder: Mapped[str] = mapped_column(String(200))
    iban_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=_now)


class ClientPayoutRecord(Base):
    """One leg of a client's payout in euros (one on-chain payout of one of their cash accounts). The
    IBAN is sealed under the CLIENT's data key (context `client-payout:<client>:<reference>`), so their
    erasure makes it unreadable; erasure also clears it and the client id here. `request` groups the
    legs of one request (a hash of the client and the request's idempotency key)."""

    __tablename__ = "client_payouts"

    payout_id: Mapped[int] = mapped_column(sa_BigInteger, primary_key=True, autoincrement=False)
    client_id: Mapped[str | None] = mapped_column(ForeignKey("clients.id"), index=True)
    ngo_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"))
    request: Mapped[str] = mapped_column(String(64), index=True)
    leg: Mapped[int]
    reference: Mapped[str] = mapped_column(String(64), unique=True)
    amount: Mapped[int] = mapped_column(sa_BigInteger)  # micro-euros, whole cents
    iban_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)  # None once the client is erased
    created_at: Mapped[datetime] = mapped_column(default=_now)
