"""Building blocks of the claim-program tests: a released fund program, clients, trees and claims."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field

from eth_account import Account
from eth_account.signers.local import LocalAccount

from governance import fund_model as fm
from governance.claim_tree import ClaimEntry, ClaimTree
from governance.merkle import hash_pair, leaf_hash
from ledger.claims import LEAF_TYPES, ClaimDomain, ClaimProgramClient, SignedClaim, sign_claim
from ledger.system import Allmende
from ledger.transactions import TxResult
from tests.conftest import EUR, Actors

DAY = 86_400
CLAIM_GAS = 300_000
"""An explicit gas limit runs a claim once instead of estimating it first (3x faster on the embedded
chain); a failing claim is mined and replayed into the same typed error."""
PUBLISH_GAS = 8_000_000


def released_program(
    system: Allmende, a: Actors, amount: int = 1_000 * EUR, ngo: LocalAccount | None = None
) -> int:
    """A fund-ledger program of `ngo` (default `a.ngo`) with `amount` released and ready to disburse."""
    ngo = ngo or a.ngo
    token = system.token.address
    program = system.funds.create_program(ngo, token).event("ProgramCreated").args["programId"]
    lot = system.funds.deposit(a.funder, token, amount).event("LotDeposited").args["lotId"]
    system.funds.allocate(a.funder, lot, program, amount)
    system.funds.set_program_approver(a.funder, program, a.approver.address)  # the funder's checker
    tranche = system.funds.request_tranche(ngo, program, amount).event("TrancheRequested").args["trancheId"]
    system.funds.approve_tranche(a.approver, tranche)
    return int(program)


def fund_model_of(system: Allmende, accounts: list[str]) -> fm.FundModel:
    """The Python fund model, loaded with the fund ledger's state as its views report it now, and
    the token balances of the fund ledger and `accounts`."""
    token = system.token.address
    state = system.funds.read_state([token])
    model = fm.FundModel(ledger=system.funds.address, allowed_tokens=dict(state.allowed_tokens))
    model.lots = {i: fm.Lot(**dataclasses.asdict(x)) for i, x in state.lots.items()}
    model.programs = {i: fm.Program(**dataclasses.asdict(x)) for i, x in state.programs.items()}
    model.allocations = {i: fm.Allocation(**dataclasses.asdict(x)) for i, x in state.allocations.items()}
    model.lot_allocations = {i: list(v) for i, v in state.lot_allocations.items()}
    model.program_allocations = {i: list(v) for i, v in state.program_allocations.items()}
    model.batch_count = state.batch_count
    model.balances = {token: {a: system.balance(a) for a in (system.funds.address, *accounts)}}
    return model


@dataclass
class Client:
    """A client as the gateway sees them in one program: index, claim key and entitlement."""

    index: int
    key: LocalAccount
    amount: int

    @property
    def entry(self) -> ClaimEntry:
        return ClaimEntry(self.index, self.key.address, self.amount)


@dataclass
class ClaimSetup:
    """An open claim program with its clients and published trees."""

    system: Allmende
    program: ClaimProgramClient
    fund_program: int
    clients: dict[int, Client] = field(default_factory=dict)
    trees: dict[int, ClaimTree] = field(default_factory=dict)  # root id -> tree

    def publish(
        self, ngo: LocalAccount, clients: list[Client], cap_depth: int | None = None, gas: int | None = None
    ) -> int:
        """Publish a tree over `clients`; returns the root id."""
        tree = ClaimTree.build([c.entry for c in clients], cap_depth)
        added = self.program.transact(ngo, "addRoot", tree.cap, gas=gas or PUBLISH_GAS).event(
            "ClaimRootAdded"
        )
        root_id = int(added.args["rootId"])
        self.trees[root_id] = tree
        self.clients.update({c.index: c for c in clients})
        return root_id

    def sign(self, client: Client, recipient: str, *, deadline: int | None = None) -> SignedClaim:
        """The client's claim paying `recipient`, valid for an hour unless `deadline` says otherwise."""
        if deadline is None:
            deadline = self.system.chain.now() + 3600
        return sign_claim(client.key, self.program.domain, client.index, recipient, deadline)

    def submit(
        self,
        relayer: LocalAccount,
        claim: SignedClaim,
        *,
        root_id: int = 1,
        amount: int | None = None,
        gas: int | None = None,
    ) -> TxResult:
        """Submit `claim` with the proof from root `root_id`'s tree."""
        proof = self.trees[root_id].proof(claim.index)
        return self.program.claim(
            relayer,
            claim,
            root_id=root_id,
            position=proof.position,
            amount=proof.amount if amount is None else amount,
            proof=proof.proof,
            gas=gas or CLAIM_GAS,
        )

    def claim(
        self, relayer: LocalAccount, index: int, recipient: str | None = None, root_id: int = 1
    ) -> TxResult:
        """Client `index` claims to `recipient` (a fresh address by default)."""
        recipient = recipient or Account.create().address
        return self.submit(relayer, self.sign(self.clients[index], recipient), root_id=root_id)


def make_clients(amounts: list[int], first_index: int = 0) -> list[Client]:
    """Clients with fresh claim keys and the given entitlements, indexed from `first_index`."""
    return [Client(first_index + i, Account.create(), amount) for i, amount in enumerate(amounts)]


def open_claims(
    system: Allmende,
    a: Actors,
    *,
    fund: int | None = 100 * EUR,
    expiry_in: int = 30 * DAY,
    fund_program: int | None = None,
    ngo: LocalAccount | None = None,
) -> ClaimSetup:
    """Open a claim program for a released fund program and (unless `fund` is None) fund it."""
    ngo = ngo or a.ngo
    if fund_program is None:
        fund_program = released_program(system, a, ngo=ngo)
    program = system.claims.open_program(ngo, fund_program, system.chain.now() + expiry_in)
    if fund:
        system.funds.disburse_to(ngo, fund_program, program.address, fund)
    return ClaimSetup(system, program, fund_program)


@dataclass(frozen=True)
class SyntheticPath:
    """A leaf in a tree of 2**depth leaves whose other nodes are random: what a claim sees of a big tree."""

    cap: list[bytes]
    position: int
    proof: list[bytes]


def synthetic_path(
    index: int, key: str, amount: int, depth: int, cap_depth: int, position: int | None = None
) -> SyntheticPath:
    """Random siblings from the leaf up to a random cap; the chain cannot tell it from a real tree's path.

    A claim's gas depends only on the proof's length and bytes, so this measures a claim in a tree
    of 2**depth leaves without hashing all of them.
    """
    node = leaf_hash(LEAF_TYPES, (index, key, amount))
    proof = [os.urandom(32) for _ in range(depth - cap_depth)]
    for sibling in proof:
        node = hash_pair(node, sibling)
    width = 1 << cap_depth
    if position is None:
        position = int.from_bytes(os.urandom(2), "big") % width
    cap = [os.urandom(32) for _ in range(width)]
    cap[position] = node
    return SyntheticPath(cap, position, proof)


def other_domain(
    domain: ClaimDomain, *, chain_id: int | None = None, contract: str | None = None
) -> ClaimDomain:
    """`domain` with another chain id or contract."""
    return ClaimDomain(
        domain.chain_id if chain_id is None else chain_id,
        domain.contract if contract is None else contract,
        domain.program_id,
    )
