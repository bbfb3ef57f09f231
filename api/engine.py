"""The gateway's engine room: custody, organisations and relayed operations. No HTTP here.

Every state change a user makes is an ERC-2771 request signed with that user's own custodial key,
recorded as a pending operation, relayed in a batch, and recorded as done with its transaction hash
and events. A request whose call reverts in its batch is simulated once more to raise its typed
error (simulating every request up front would double the chain's work). On start,
pending operations are reconciled with the chain, so a crash never loses an acknowledged write.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Self
from uuid import uuid4

from eth_account import Account
from eth_account.signers.local import LocalAccount
from sqlalchemy import delete, select

from api.db import Database, migrate
from api.errors import Invalid, InvalidCredentials, NotFound, Unavailable
from api.keyring import lookup_tag_key
from api.models import ApiKey, IdempotencyRecord, Operation, Organisation, Person
from api.operations import (
    ACTING_PERSON,
    IDEMPOTENT_REQUEST,
    REQUEST_VALIDITY_S,
    AssumedNonceTaken,
    NonceBook,
    OperationJournal,
    OperationRecord,
    OperationResult,
)
from api.principals import Principal
from api.read_model import ReadModel, chain_view
from api.settings import Settings
from ledger.calls import Call
from ledger.chain import Chain
from ledger.custody import Sealer, new_account
from ledger.events import Event
from ledger.forwarding import ForwardRequest
from ledger.indexer import EventIndex
from ledger.relayer import (
    ForwardedCallFailed,
    Relayer,
    RelayOutcome,
    RequestNotExecuted,
    split_by_request,
)
from ledger.roles import Role
from ledger.system import Allmende

# No organisation holds ALLOCATOR or APPROVER: moving a lot's money needs its funder's consent (the
# funder, or allocators it names per lot) and deciding a tranche a funder whose money is in the program
# (or approvers it names per program), both on chain. ALLOCATOR is the budget contract's alone.
ORG_ROLES: dict[str, tuple[Role, ...]] = {
    "admin": (Role.ADMIN, Role.TREASURER),
    "funder": (Role.FUNDER,),
    "ngo": (Role.NGO,),
    "auditor": (Role.AUDITOR,),
    "provider": (),  # a shop, club or service: admitted in the provider registry, no role
}
API_KEY_PREFIX = "alm"


class Engine:
    """The chain, the database and the custody of one gateway: relays signed requests, keeps
    organisations and their API keys. Services are built over an engine; they never build one."""

    def __init__(self, settings: Settings, chain: Chain, system: Allmende, db: Database) -> None:
        self.settings = settings
        self.chain = chain
        self.system = system
        self.db = db
        self.master = Sealer(settings.load_master_key())
        self._tag_key = lookup_tag_key(db, self.master, settings.load_master_key())  # kept through rotations
        operators = chain.accounts
        self.admin = operators[0]
        lanes = settings.relayers or (1 if chain.is_embedded else 2)
        relayers = operators[-lanes:] if len(operators) > lanes else operators[-1:]
        for relayer in relayers:
            system.grant(self.admin, Role.RELAYER, relayer.address)
        system.grant(self.admin, Role.TREASURER, self.admin.address)
        self.journal = OperationJournal(db)
        self.relayer = Relayer(
            system,
            relayers,
            max_batch=settings.relay_batch,
            max_wait_s=settings.relay_wait_ms / 1000,
            journal=self.journal,
        )
        self.nonces = NonceBook(system, self._never_relayed_for)
        self.index = EventIndex(system)
        """Every event, replayed from the chain (the auditor's views and the exports read these)."""
        self.read_model = ReadModel(db, chain_view(system))
        """Indexed events in the database: reads by account or round cost the same however long the
        chain's history (receipts, round state, ballots)."""
        self._accounts: dict[str, LocalAccount] = {}
        self._clock: tuple[int, float] = (0, -1e9)  # (chain time, when read)

    # --- lifecycle ---------------------------------------------------------------------------

    @classmethod
    def open(cls, settings: Settings) -> Self:
        """Open the chain (embedded under the data dir, or JSON-RPC), deploy, migrate, reconcile."""
        settings.check_serving()
        settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        settings.data_dir.chmod(0o700)  # keys, chain and database live here
        chain: Chain
        if settings.rpc_url:
            from ledger.rpc import RpcChain

            keys = []
            if settings.rpc_key_file is not None:
                keys = [k.strip() for k in settings.rpc_key_file.read_text().split() if k.strip()]
            chain = RpcChain(settings.rpc_url, keys, confirmations=settings.confirmations)
        elif settings.chain_process:
            from ledger.chain_process import ProcessChain

            chain = ProcessChain.open(settings.data_dir / "chain")
        else:
            from ledger.embedded import EmbeddedChain

            chain = EmbeddedChain.open(settings.data_dir / "chain")
        system = Allmende.deploy(chain, chain.accounts[0], settings.data_dir / "address-book.json")
        db = Database(settings.db_url)
        migrate(db.engine)
        gateway = cls(settings, chain, system, db)
        gateway.reconcile()
        gateway.read_model.catch_up()
        return gateway

    def close(self) -> None:
        """Stop relaying, close the chain and the database connections."""
        self.relayer.close()
        self.chain.close()
        self.db.engine.dispose()

    def advance_time(self, seconds: int) -> None:
        """Move a test or devnet chain's clock forward, and sign the next requests by the new time."""
        self.chain.advance_time(seconds)
        self._clock = (0, -1e9)

    # --- tags and keys -----------------------------------------------------------------------

    def tag(self, purpose: str, value: str) -> str:
        """A keyed hash for looking things up without storing them (API key secrets, voucher codes)."""
        return hmac.new(self._tag_key, f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest()

    def organisation_account(self, org: Organisation) -> LocalAccount:
        """The organisation's custodial signing account."""
        account = self._accounts.get(org.id)
        if account is None:
            account = Account.from_key(self.master.open(org.key_sealed, f"org:{org.id}"))
            self._accounts[org.id] = account
        return account

    # --- organisations and API keys ----------------------------------------------------------

    def create_organisation(self, kind: str, name: str) -> tuple[Organisation, str]:
        """A new organisation with a custodial key, its on-chain roles and a first API key."""
        if kind not in ORG_ROLES or kind == "admin":
            raise Invalid(
                "UnknownOrganisationKind", f"kind must be one of funder, ngo, auditor, provider, not {kind!r}"
            )
        account, key = new_account()
        with self.db.session() as s:
            org = Organisation(kind=kind, name=name, address=account.address, key_sealed=b"")
            s.add(org)
            s.flush()
            org.key_sealed = self.master.seal(key, f"org:{org.id}")
        for role in ORG_ROLES[kind]:
            self.system.grant(self.admin, role, account.address)
        if kind == "funder":  # a funder's deposits are pulled by the fund ledger: allow it once
            approve = self.system.token.approve_call(self.system.funds.address, 2**256 - 1)
            self.execute(_operator(org), org, approve)
        return org, self.issue_api_key(org.id)

    def issue_api_key(
        self,
        organisation_id: str,
        scopes: tuple[str, ...] = ("*",),
        person_id: str | None = None,
        name: str = "",
    ) -> str:
        """A new API key for the organisation (or for one of its people); the secret is returned
        once and stored only hashed."""
        prefix = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        with self.db.session() as s:
            s.add(
                ApiKey(
                    organisation_id=organisation_id,
                    person_id=person_id,
                    name=name,
                    prefix=prefix,
                    secret_hash=self.tag("api-key", secret),
                    scopes=list(scopes),
                )
            )
        return f"{API_KEY_PREFIX}_{prefix}_{secret}"

    def rotate_api_key(self, principal: Principal, old_prefix: str | None = None) -> str:
        """Issue a new key and revoke the old one (or all others when no prefix is given). Keys are
        rotated per owner: a person's rotation touches only their own keys, an integration's only the
        organisation's integration keys, never its people's."""
        new_key = self.issue_api_key(
            principal.organisation_id, principal.scopes, principal.person_id, "rotated"
        )
        new_prefix = new_key.split("_")[1]
        with self.db.session() as s:
            keys = s.scalars(
                select(ApiKey).where(
                    ApiKey.organisation_id == principal.organisation_id,
                    ApiKey.person_id.is_(None)
                    if principal.person_id is None
                    else ApiKey.person_id == principal.person_id,
                )
            )
            for k in keys:
                if k.prefix != new_prefix and (old_prefix is None or k.prefix == old_prefix):
                    k.revoked_at = datetime.now(UTC)
        return new_key

    def authenticate(self, token: str) -> Principal:
        """The organisation (and, for a person's own key, the person) behind an API key;
        InvalidCredentials for anything else, a disabled person's key too."""
        parts = token.split("_", 2)
        if len(parts) != 3 or parts[0] != API_KEY_PREFIX:
            raise InvalidCredentials("InvalidApiKey", "the API key is not valid")
        with self.db.session() as s:
            key = s.scalar(select(ApiKey).where(ApiKey.prefix == parts[1]))
            if (
                key is None
                or key.revoked_at is not None
                or not hmac.compare_digest(key.secret_hash, self.tag("api-key", parts[2]))
            ):
                raise InvalidCredentials("InvalidApiKey", "the API key is not valid")
            org = s.get(Organisation, key.organisation_id)
            assert org is not None
            if key.person_id is None:  # an integration: the organisation's own key
                return Principal(org.id, org.kind, org.name, org.address, tuple(key.scopes))
            person = s.get(Person, key.person_id)
            if person is None or person.disabled_at is not None:
                raise InvalidCredentials("InvalidApiKey", "the API key is not valid")
            return self.person_principal(org, person, tuple(key.scopes))

    @staticmethod
    def person_principal(org: Organisation, person: Person, scopes: tuple[str, ...] = ("*",)) -> Principal:
        """A person of an organisation as the caller: the organisation's address (what owns its lots
        and programs on chain), the person's id and roles."""
        return Principal(
            org.id,
            org.kind,
            org.name,
            org.address,
            scopes,
            person_id=person.id,
            person_roles=tuple(person.roles),
        )

    def organisation(self, organisation_id: str) -> Organisation:
        """An organisation by id."""
        with self.db.session() as s:
            org = s.get(Organisation, organisation_id)
        if org is None:
            raise NotFound("UnknownOrganisation", f"no organisation {organisation_id}")
        return org

    def bootstrap_admin(self) -> tuple[Organisation, str] | None:
        """Create the operator's admin organisation (holding the deploy key) if there is none yet."""
        with self.db.session() as s:
            if s.scalar(select(Organisation).where(Organisation.kind == "admin")) is not None:
                return None
            org = Organisation(kind="admin", name="Operator", address=self.admin.address, key_sealed=b"")
            s.add(org)
            s.flush()
            org.key_sealed = self.master.seal(bytes(self.admin.key), f"org:{org.id}")
        return org, self.issue_api_key(org.id)

    # --- relayed operations ------------------------------------------------------------------

    def execute(
        self,
        principal: str,
        signer: Organisation | LocalAccount,
        call: Call,
        *,
        acting_for: str | None = None,
    ) -> OperationResult:
        """Sign `call` as `signer`, relay it, and record it as an operation."""
        account = signer if isinstance(signer, LocalAccount) else self.organisation_account(signer)
        request_key = IDEMPOTENT_REQUEST.get()
        if request_key is not None and (
            earlier := self._executed_for(request_key, account.address, call.kind)
        ):
            return earlier  # a retry of a request interrupted by a crash after the chain executed it
        try:
            return self._relay(principal, account, call, request_key, acting_for)
        except AssumedNonceTaken:  # the signer was not new after all: read its nonce and sign again
            with self.nonces.lock(account.address):
                self.nonces.read_next_time(account.address)
            return self._relay(principal, account, call, request_key, acting_for)

    def execute_together(
        self, principal: str, calls: Sequence[SignedCall], acting_for: str | None = None
    ) -> list[OperationResult]:
        """Sign every call with its own signer and queue them all before waiting, so they travel in
        one relayed batch where the relayer lanes allow (each signer keeps its lane). Each call is
        its own operation: under an idempotent request (or the call's own `request_key`) a retry
        skips the calls the chain executed already and sends only the rest. Raises the first
        failure once every call has finished."""
        outer_key = IDEMPOTENT_REQUEST.get()
        results: list[OperationResult | None] = [None] * len(calls)
        waiting: list[tuple[int, _Submitted]] = []
        for i, signed in enumerate(calls):
            request_key = signed.request_key or outer_key
            if request_key is not None and (
                earlier := self._executed_for(request_key, signed.signer.address, signed.call.kind)
            ):
                results[i] = earlier
                continue
            waiting.append((i, self._submit(principal, signed.signer, signed.call, request_key, acting_for)))
        failure: BaseException | None = None
        for i, submitted in waiting:
            try:
                try:
                    results[i] = self._outcome(submitted)
                except AssumedNonceTaken:
                    signed = calls[i]
                    with self.nonces.lock(signed.signer.address):
                        self.nonces.read_next_time(signed.signer.address)
                    results[i] = self._relay(
                        principal, signed.signer, signed.call, submitted.record.request_key, acting_for
                    )
            except Exception as exc:  # wait for the others before telling
                failure = failure or exc
        if failure is not None:
            raise failure
        return [r for r in results if r is not None]

    def _relay(
        self,
        principal: str,
        account: LocalAccount,
        call: Call,
        request_key: str | None,
        acting_for: str | None,
    ) -> OperationResult:
        """Number, sign, record and relay one request; wait for its outcome."""
        return self._outcome(self._submit(principal, account, call, request_key, acting_for))

    def _submit(
        self,
        principal: str,
        account: LocalAccount,
        call: Call,
        request_key: str | None,
        acting_for: str | None,
    ) -> _Submitted:
        """Number, sign, record and queue one request (the journal records it before sending)."""
        fwd = self.system.forwarding
        record = OperationRecord(
            uuid4().hex, principal, acting_for, call.kind, request_key, ACTING_PERSON.get()
        )
        with self.nonces.lock(account.address):
            nonce, assumed = self.nonces.take(account.address)
            request = fwd.sign(
                account, call.target, call.data, gas=call.gas, nonce=nonce, deadline=self._deadline()
            )
            future = self.relayer.submit(request, record)
        return _Submitted(account, call.data, request, record, future, assumed)

    def _outcome(self, submitted: _Submitted) -> OperationResult:
        """Wait for a queued request's outcome; typed errors for reverts."""
        fwd = self.system.forwarding
        account, request, record, future, assumed = (
            submitted.account,
            submitted.request,
            submitted.record,
            submitted.future,
            submitted.assumed,
        )
        try:
            outcome: RelayOutcome = future.result(timeout=120)
        except ForwardedCallFailed as exc:
            # The call reverted on chain (its nonce is used, nothing else changed): learn the typed
            # error by simulating the same call now; the state it failed on is still there.
            fwd.simulate(request)
            raise Unavailable("ForwardedCallFailed", "the request failed on chain; retry") from exc
        except RequestNotExecuted as exc:
            self.nonces.forget(account.address)
            if assumed:
                raise AssumedNonceTaken from exc
            raise Unavailable("RequestNotExecuted", "the chain did not execute the request; retry") from exc
        except Exception as exc:
            self.nonces.forget(account.address)
            raise Unavailable("RelayFailed", f"relaying failed: {exc}") from exc
        return OperationResult(record.id, outcome.transaction_hash, outcome.block_number, outcome.events)

    def _never_relayed_for(self, signer: str) -> bool:
        """True when the gateway never recorded an operation of `signer` (kept in memory: asking the
        database for every fresh claim or vote key was a round trip per request)."""
        return not self.journal.has_signed(signer)

    def _deadline(self) -> int:
        """Now (by the chain's clock, read at most once a second) plus the request validity."""
        now = time.monotonic()
        if now - self._clock[1] > 1.0:
            self._clock = (self.chain.now(), now)
        return max(int(time.time()), self._clock[0]) + REQUEST_VALIDITY_S

    def executed(self, request_key: str, signer: str, kind: str) -> bool:
        """Whether the chain executed `signer`'s `kind` call journalled under `request_key`."""
        return self._executed_for(request_key, signer, kind) is not None

    def in_flight(self, request_key: str, signer: str, kind: str) -> bool:
        """Whether `signer`'s `kind` call journalled under `request_key` is still on its way (sent,
        its outcome not yet known: it may still execute)."""
        with self.db.session() as s:
            found = s.scalar(
                select(Operation.id).where(
                    Operation.request_key == request_key,
                    Operation.signer == signer,
                    Operation.kind == kind,
                    Operation.status == "pending",
                )
            )
        return found is not None

    def _executed_for(self, request_key: str, signer: str, kind: str) -> OperationResult | None:
        """The operation an earlier attempt of this request had executed, if any."""
        with self.db.session() as s:
            op = s.scalars(
                select(Operation).where(
                    Operation.request_key == request_key,
                    Operation.signer == signer,
                    Operation.kind == kind,
                    Operation.status == "done",
                )
            ).first()
        if op is None or op.transaction_hash is None or op.block_number is None:
            return None
        events = self._request_events(op.transaction_hash, op.signer, op.forward_nonce)
        return OperationResult(op.id, op.transaction_hash, op.block_number, events)

    def _request_events(self, transaction_hash: str, signer: str, nonce: int) -> list[Event]:
        """The events one forwarded request emitted, out of its batch transaction."""
        in_tx = self.read_model.for_transaction(transaction_hash)
        found = split_by_request(in_tx, self.system.forwarder.address).get((signer, nonce))
        return found[1] if found is not None else []

    def reconcile(self) -> dict[str, int]:
        """Settle what a crash left: pending operations become done if the chain executed them, else
        failed; requests that were being served are released, so their retries run (and find their
        executed operations instead of repeating them). Runs at start, before serving: one gateway
        process serves a database (its nonce book assumes that too)."""
        counts = {"done": 0, "failed": 0}
        with self.db.session() as s:
            pending = list(s.scalars(select(Operation).where(Operation.status == "pending")))
            s.execute(delete(IdempotencyRecord).where(IdempotencyRecord.status_code.is_(None)))
        if not pending:
            return counts
        executed = {
            (e.args["signer"], e.args["nonce"]): e
            for e in self.index.refresh()
            if e.name == "ExecutedForwardRequest" and e.address == self.system.forwarder.address
        }
        for op in pending:
            event = executed.get((op.signer, op.forward_nonce))
            with self.db.session() as s:
                row = s.get(Operation, op.id)
                assert row is not None
                if event is not None and event.args["success"]:
                    events = self._request_events(event.transaction_hash, op.signer, op.forward_nonce)
                    row.status, row.transaction_hash, row.block_number = (
                        "done",
                        event.transaction_hash,
                        event.block_number,
                    )
                    row.result = {"events": [e.to_json() for e in events], "reconciled": True}
                    counts["done"] += 1
                else:
                    row.status = "failed"
                    counts["failed"] += 1
        return counts


@dataclass(frozen=True)
class SignedCall:
    """One call of `Engine.execute_together`, signed by `signer`."""

    signer: LocalAccount
    call: Call
    request_key: str | None = None
    """Journals the call under this key instead of the HTTP request's: a retry of the same logical
    step (a payment's leg, say) finds the operation the chain executed, whoever retries it."""


@dataclass(frozen=True)
class _Submitted:
    """A request queued at the relayer, not yet waited for."""

    account: LocalAccount
    data: bytes
    request: ForwardRequest
    record: OperationRecord
    future: Future[RelayOutcome]
    assumed: bool


def _operator(org: Organisation) -> str:
    return f"org:{org.id}"
