"""Claim programs through the gateway: NGOs grant entitlements by client, clients claim with their session.

The claim-key address of each client comes from their public root (no PIN needed), so an NGO can
publish a program's tree; the claim itself is signed with the key derived from the signed-in
client's secret and relayed, so nobody but the client, present with their PIN, can claim.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import select

from api.engine import Engine
from api.errors import Forbidden, GatewayError, NotFound
from api.models import ClaimProgramName, Entitlement
from api.operations import REQUEST_VALIDITY_S, OperationResult
from api.principals import Principal
from api.services.clients import Clients, ClientSession
from api.services.funds import draw_walks
from governance.claim_tree import ClaimEntry, ClaimTree
from governance.pseudonyms import Purpose, pseudonym_address, pseudonym_key
from governance.vouchers import ProgramRef, claim_address, payout_address, program_index
from ledger.claims import GAS_FUND_CLAIM_PROGRAM, MAX_RECLAIM_ACCOUNTS, ClaimProgramClient, sign_claim

CLAIM_VALIDITY_S = 600
EXPIRY_SCAN = 1_000
"""The most recipients whose balances one request to send back expired aid reads."""
ZERO_ADDRESS = "0x" + "00" * 20


@dataclass(frozen=True)
class ClaimProgramCreated:
    """A claim program opened, published and funded."""

    claim_program_id: int
    address: str
    root: bytes
    total: int
    operations: list[OperationResult]


@dataclass(frozen=True)
class Receipt:
    """Money a client received: a disbursement to their account, or aid they claimed (paid to a
    fresh payout pseudonym per claim program)."""

    kind: Literal["disbursement", "claim"]
    recipient: str
    amount: int  # micro-euros
    transaction_hash: str
    block_number: int
    program_id: int | None = None  # the fund program of a disbursement
    claim_program_id: int | None = None  # the claim program of a claim


@dataclass(frozen=True)
class ExpiredAidReturned:
    """What one request sent back of an expired claim program: taken back from recipients' accounts
    (restricted aid they had not spent), and returned to the lots (that plus the unclaimed rest)."""

    claim_program_id: int
    reclaimed: int  # micro-euros taken back from accounts
    returned: int  # micro-euros returned to the fund ledger
    accounts: int  # how many accounts gave money back
    operation: OperationResult | None  # None: there was nothing (left) to send back
    next_after: int | None  # continue after this many recipients; None: every recipient was looked at


class ClaimsService:
    """Opens claim programs for NGOs and relays clients' claims."""

    def __init__(self, gateway: Engine, clients: Clients) -> None:
        self.gw = gateway
        self.clients = clients
        self._trees: dict[tuple[int, int], ClaimTree] = {}
        self._programs: dict[int, ClaimProgramClient] = {}
        self._lock = threading.Lock()

    def _ref(self, claim_program_id: int) -> ProgramRef:
        return ProgramRef(self.gw.chain.chain_id, self.gw.system.claims.address, claim_program_id)

    def open_program(
        self, ngo_id: str, fund_program_id: int, expiry: int, name: str, grants: list[tuple[str, int]]
    ) -> ClaimProgramCreated:
        """Open a claim program on an NGO's fund program, grant `(client id, micro-euros)` and fund it."""
        gw = self.gw
        ngo = gw.organisation(ngo_id)
        principal = f"org:{ngo_id}"
        meta = hashlib.sha256(name.encode()).digest()
        created = gw.execute(
            principal, ngo, gw.system.claims.create_program_call(fund_program_id, expiry, meta)
        )
        event = created.event("ClaimProgramCreated")
        claim_program_id, address = event.args["claimProgramId"], event.args["program"]
        program = gw.system.claims.program(claim_program_id)
        ref = self._ref(claim_program_id)
        entries = []
        rows = []
        for index, (client_id, amount) in enumerate(grants):
            client = self.clients._own(ngo_id, client_id)
            address_ = claim_address(self.clients.public_root(client), ref)
            entries.append(ClaimEntry(index, address_, amount))
            rows.append(
                Entitlement(
                    claim_program_id=claim_program_id,
                    leaf_index=index,
                    client_id=client_id,
                    root_id=1,
                    claim_address=address_,
                    amount=amount,
                )
            )
        tree = ClaimTree.build(entries)
        published = gw.execute(principal, ngo, program.add_root_call(tree.cap))
        total = sum(amount for _, amount in grants)
        walks = draw_walks(gw, principal, ngo, fund_program_id, total)
        data = claim_program_id.to_bytes(32, "big")
        funding = gw.system.funds.disburse_to_call(
            fund_program_id, address, total, data, walks, GAS_FUND_CLAIM_PROGRAM
        )
        funded = gw.execute(principal, ngo, funding)
        with gw.db.session() as s:
            s.add_all(rows)
            s.merge(ClaimProgramName(claim_program_id=claim_program_id, name=name))
        with self._lock:
            self._trees[(claim_program_id, 1)] = tree
        return ClaimProgramCreated(claim_program_id, address, tree.root, total, [created, published, funded])

    def _tree(self, claim_program_id: int, root_id: int) -> ClaimTree:
        with self._lock:
            tree = self._trees.get((claim_program_id, root_id))
        if tree is None:
            with self.gw.db.session() as s:
                rows = s.scalars(
                    select(Entitlement).where(
                        Entitlement.claim_program_id == claim_program_id, Entitlement.root_id == root_id
                    )
                ).all()
            tree = ClaimTree.build(ClaimEntry(r.leaf_index, r.claim_address, r.amount) for r in rows)
            with self._lock:
                self._trees[(claim_program_id, root_id)] = tree
        return tree

    def _program(self, claim_program_id: int) -> ClaimProgramClient:
        """The claim program's client, with its address and EIP-712 domain read once."""
        program = self._programs.get(claim_program_id)
        if program is None:
            program = self.gw.system.claims.program(claim_program_id)
            _ = program.domain
            self._programs[claim_program_id] = program
        return program

    def entitlements(self, session: ClientSession) -> list[dict[str, Any]]:
        """What the signed-in client may claim, and whether they have."""
        with self.gw.db.session() as s:
            rows = s.scalars(select(Entitlement).where(Entitlement.client_id == session.client_id)).all()
        out = []
        for r in rows:
            program = self._program(r.claim_program_id)
            out.append(
                {
                    "claimProgramId": r.claim_program_id,
                    "amount": r.amount,
                    "claimed": program.is_claimed(r.leaf_index),
                }
            )
        return out

    def payout_addresses(self, session: ClientSession) -> dict[str, int]:
        """The client's payout pseudonym in each claim program they have an entitlement in -> its id."""
        with self.gw.db.session() as s:
            ids = s.scalars(
                select(Entitlement.claim_program_id).where(Entitlement.client_id == session.client_id)
            ).all()
        public = session.root.public()
        return {payout_address(public, self._ref(i)): i for i in set(ids)}

    def account(self, session: ClientSession) -> str:
        """The client's pseudonymous account (where disbursements go)."""
        return pseudonym_address(session.root.public(), Purpose.ACCOUNT, 0)

    def receipts(self, session: ClientSession) -> list[Receipt]:
        """What the client received, in chain order: disbursements to their account and their claims."""
        account = self.account(session)
        payouts = self.payout_addresses(session)
        out: list[Receipt] = []
        for e in self.gw.read_model.for_accounts([account, *payouts], ("Disbursed", "Claimed")):
            if e.name == "Disbursed" and e.args["recipient"] == account:
                out.append(
                    Receipt(
                        "disbursement",
                        account,
                        e.args["amount"],
                        e.transaction_hash,
                        e.block_number,
                        program_id=e.args["programId"],
                    )
                )
            elif e.name == "Claimed" and e.args["recipient"] in payouts:
                out.append(
                    Receipt(
                        "claim",
                        e.args["recipient"],
                        e.args["amount"],
                        e.transaction_hash,
                        e.block_number,
                        claim_program_id=payouts[e.args["recipient"]],
                    )
                )
        return out

    def claim(self, session: ClientSession, claim_program_id: int) -> tuple[OperationResult, str, int]:
        """Claim the client's entitlement; returns the operation, the payout address and the amount."""
        with self.gw.db.session() as s:
            row = s.scalar(
                select(Entitlement).where(
                    Entitlement.client_id == session.client_id,
                    Entitlement.claim_program_id == claim_program_id,
                )
            )
        if row is None:
            raise NotFound("NoEntitlement", f"you have nothing to claim in claim program {claim_program_id}")
        ref = self._ref(claim_program_id)
        program = self._program(claim_program_id)
        key = pseudonym_key(session.root, Purpose.CLAIM, program_index(ref))
        recipient = payout_address(session.root.public(), ref)
        deadline = self.gw._deadline() - REQUEST_VALIDITY_S + CLAIM_VALIDITY_S
        signed = sign_claim(key, program.domain, row.leaf_index, recipient, deadline)
        proof = self._tree(claim_program_id, row.root_id).proof(row.leaf_index)
        from eth_account import Account

        call = program.claim_call(
            signed, root_id=row.root_id, position=proof.position, amount=row.amount, proof=proof.proof
        )
        result = self.gw.execute(
            session.principal,
            Account.from_key(key),
            call,
            acting_for=session.client_id if session.assisted_by else None,
        )
        return result, recipient, row.amount

    # --- expiry -------------------------------------------------------------------------------------

    def send_back_expired(
        self, principal: Principal, claim_program_id: int, after: int = 0
    ) -> ExpiredAidReturned:
        """After a claim program's expiry, send what it no longer pays back to the lots it came from: the
        unclaimed rest and, for restricted aid, what the recipients have not spent (at most
        `MAX_RECLAIM_ACCOUNTS` accounts per request, found among at most `EXPIRY_SCAN` recipients after the
        first `after`, in the order they claimed). The contract lets anybody do it; through the gateway the
        program's NGO, a funder whose money it holds, or the admin. Asking again sends nothing twice."""
        gw = self.gw
        program = self._program(claim_program_id)
        info = program.info()
        self._require_may_send_back(principal, info.ngo, info.fund_program_id)
        now = gw.chain.now()
        if now < info.expiry:
            raise GatewayError(
                "ClaimProgramNotExpired",
                f"claim program {claim_program_id} runs until {info.expiry}: what its clients hold is theirs",
                expiry=info.expiry,
            )
        accounts: list[str] = []
        next_after: int | None = None
        restricted = program.restricted_by() != ZERO_ADDRESS
        # A program loosened to cash freed its clients' money: only the unclaimed rest goes back.
        if restricted and gw.system.providers.program_rule(info.fund_program_id) != 0:
            recipients = [
                e.args["recipient"]
                for e in gw.read_model.named(("Claimed",), "ClaimProgram", program.address)
            ]
            position = after
            for recipient in recipients[after : after + EXPIRY_SCAN]:
                position += 1
                if gw.system.balance(recipient) > 0:
                    accounts.append(recipient)
                    if len(accounts) == MAX_RECLAIM_ACCOUNTS:
                        break
            next_after = position if position < len(recipients) else None
        held = gw.system.balance(program.address)
        if not accounts and (held == 0 or info.returned >= info.funded):
            return ExpiredAidReturned(claim_program_id, 0, 0, 0, None, next_after)
        fundings, draws = self._fundings_and_draws(program.address)
        call = (
            program.reclaim_expired_call(accounts, fundings=fundings, draws=draws)
            if restricted
            else program.return_unclaimed_call(fundings=fundings, draws=draws)
        )
        signer = gw.organisation(principal.organisation_id)
        result = gw.execute(principal.id, signer, call)
        reclaimed = sum(int(e.args["amount"]) for e in result.events if e.name == "ExpiredAidReclaimed")
        returned = sum(int(e.args["amount"]) for e in result.events if e.name == "UnclaimedReturned")
        return ExpiredAidReturned(claim_program_id, reclaimed, returned, len(accounts), result, next_after)

    def _fundings_and_draws(self, address: str) -> tuple[int, int]:
        """How many fund-ledger batches paid the claim program at `address`, and how many allocations
        they drew from (the `AllocationDrawn` events of those transactions): what a return walks back."""
        read = self.gw.read_model
        funded = read.named(("ClaimProgramFunded",), "ClaimProgram", address)
        draws = sum(
            1 for f in funded for e in read.for_transaction(f.transaction_hash) if e.name == "AllocationDrawn"
        )
        return len(funded), draws

    def _require_may_send_back(self, principal: Principal, ngo: str, fund_program_id: int) -> None:
        if principal.kind == "admin":
            return
        if principal.kind == "ngo" and principal.address == ngo:
            return
        funds = self.gw.system.funds
        if principal.kind == "funder" and funds.call("isProgramFunder", fund_program_id, principal.address):
            return
        raise Forbidden("NotYourClaimProgram", "only its NGO, its funders or the admin send back expired aid")
