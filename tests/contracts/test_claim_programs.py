"""Claim programs: opening, funding from the fund ledger, roots and caps, claims and every way they
fail, and the return of the unclaimed rest after expiry."""

from __future__ import annotations

import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils import keccak

from governance.claim_tree import ClaimTree, cap_root
from ledger.claims import ClaimDomain, SignedClaim, claim_signer, claim_typed_data, sign_claim
from ledger.fund_events import rebuild_fund_state, trace_payments
from ledger.revert_errors import (
    ClaimProgramAlreadyClaimed,
    ClaimProgramBadCap,
    ClaimProgramExpired,
    ClaimProgramInvalidProof,
    ClaimProgramInvalidSignature,
    ClaimProgramNotExpired,
    ClaimProgramNotFundLedger,
    ClaimProgramNothingToReturn,
    ClaimProgramNotNgo,
    ClaimProgramsExpiryInPast,
    ClaimProgramSignatureExpired,
    ClaimProgramsNotProgramNgo,
    ClaimProgramsUnknownProgram,
    ClaimProgramUnknownNode,
    ClaimProgramWrongFundProgram,
    ERC20InsufficientBalance,
    FundLedgerUnknownProgram,
)
from ledger.system import Allmende
from tests.claims_support import (
    DAY,
    PUBLISH_GAS,
    ClaimSetup,
    make_clients,
    open_claims,
    other_domain,
    released_program,
    synthetic_path,
)
from tests.conftest import EUR, Actors

_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def _setup(system: Allmende, a: Actors, amounts: list[int], cap_depth: int | None = None) -> ClaimSetup:
    setup = open_claims(system, a, fund=sum(amounts))
    setup.publish(a.ngo, make_clients(amounts), cap_depth)
    return setup


def _state_matches_events(system: Allmende) -> None:
    assert rebuild_fund_state(system.events()) == system.funds.read_state([system.token.address])


# --- opening and funding --------------------------------------------------------------------


def test_ngo_opens_a_claim_program_for_its_fund_program(system: Allmende, actors: Actors) -> None:
    a = actors
    fund_program = released_program(system, a)
    expiry = system.chain.now() + 10 * DAY
    created = system.claims.create_program(a.ngo, fund_program, expiry, b"\x07" * 32).event(
        "ClaimProgramCreated"
    )
    address = created.args["program"]
    assert created.args == {
        "claimProgramId": 1,
        "fundProgramId": fund_program,
        "ngo": a.ngo.address,
        "program": address,
        "expiry": expiry,
        "metadataHash": b"\x07" * 32,
    }
    program = system.claims.program(1)
    assert program.address == address
    info = program.info()
    assert (info.claim_program_id, info.fund_program_id, info.ngo, info.token, info.expiry) == (
        1,
        fund_program,
        a.ngo.address,
        system.token.address,
        expiry,
    )
    assert (info.funded, info.returned, info.root_count) == (0, 0, 0)
    assert system.claims.program_count() == 1
    assert system.claims.addresses() == [address]
    assert system.claims.call("fundLedger") == system.funds.address


def test_only_the_fund_programs_ngo_opens_claim_programs(system: Allmende, actors: Actors) -> None:
    a = actors
    fund_program = released_program(system, a)
    later = system.chain.now() + DAY
    with pytest.raises(ClaimProgramsNotProgramNgo) as err:
        system.claims.create_program(a.ngo2, fund_program, later)
    assert (err.value.fundProgramId, err.value.account) == (fund_program, a.ngo2.address)
    with pytest.raises(ClaimProgramsExpiryInPast) as past:
        system.claims.create_program(a.ngo, fund_program, system.chain.now())
    assert past.value.expiry == system.chain.now()
    with pytest.raises(FundLedgerUnknownProgram):
        system.claims.create_program(a.ngo, fund_program + 1, later)
    with pytest.raises(ClaimProgramsUnknownProgram) as unknown:
        system.claims.program(1)
    assert unknown.value.claimProgramId == 1


def test_funding_through_disburse_to_keeps_lot_lineage(system: Allmende, actors: Actors) -> None:
    a = actors
    setup = open_claims(system, a, fund=None)
    first = system.funds.disburse_to(a.ngo, setup.fund_program, setup.program.address, 60 * EUR, b"top-up")
    second = system.funds.disburse_to(a.ngo, setup.fund_program, setup.program.address, 40 * EUR)
    batch_1 = first.event("BatchDisbursed").args["batchId"]
    batch_2 = second.event("BatchDisbursed").args["batchId"]
    assert first.event("ClaimProgramFunded").args == {"batchId": batch_1, "amount": 60 * EUR}
    assert [(f.batch_id, f.amount, f.returned) for f in setup.program.fundings()] == [
        (batch_1, 60 * EUR, 0),
        (batch_2, 40 * EUR, 0),
    ]
    assert setup.program.info().funded == 100 * EUR
    assert system.balance(setup.program.address) == 100 * EUR
    assert [e.args["lotId"] for e in first.events_named("AllocationDrawn")] == [1]
    _state_matches_events(system)


def test_only_the_fund_ledger_funds_and_only_for_its_program(system: Allmende, actors: Actors) -> None:
    a = actors
    setup = open_claims(system, a, fund=None)
    with pytest.raises(ClaimProgramNotFundLedger) as err:
        setup.program.transact(a.outsider, "onFundsReceived", setup.fund_program, 1, EUR, b"")
    assert err.value.caller == a.outsider.address
    own = released_program(system, a, ngo=a.ngo2)
    with pytest.raises(ClaimProgramWrongFundProgram) as wrong:
        system.funds.disburse_to(a.ngo2, own, setup.program.address, EUR)
    assert (wrong.value.fundProgramId, wrong.value.expected) == (own, setup.fund_program)
    system.chain.advance_time(31 * DAY)
    with pytest.raises(ClaimProgramExpired):
        system.funds.disburse_to(a.ngo, setup.fund_program, setup.program.address, EUR)


# --- roots and caps -------------------------------------------------------------------------


@pytest.mark.parametrize("cap_depth", [0, 1, 3])
def test_published_cap_hashes_up_to_the_trees_root(system: Allmende, actors: Actors, cap_depth: int) -> None:
    a = actors
    setup = open_claims(system, a)
    tree = ClaimTree.build([c.entry for c in make_clients([EUR] * 11)], cap_depth)
    added = setup.program.add_root(a.ngo, tree.cap).event("ClaimRootAdded")
    assert added.args == {"rootId": 1, "root": tree.root, "cap": tuple(tree.cap)}
    assert setup.program.root(1) == tree.root
    assert [setup.program.cap_node(1, i) for i in range(len(tree.cap))] == tree.cap
    assert setup.program.cap_node(1, len(tree.cap)) == bytes(32)
    assert setup.program.info().root_count == 1


def test_add_root_is_for_the_ngo_with_a_proper_cap_before_expiry(system: Allmende, actors: Actors) -> None:
    a = actors
    setup = open_claims(system, a)
    node = b"\x11" * 32
    with pytest.raises(ClaimProgramNotNgo) as err:
        setup.program.add_root(a.ngo2, [node])
    assert err.value.account == a.ngo2.address
    for cap in ([], [node] * 3, [node] * 1024, [node, bytes(32)]):
        with pytest.raises(ClaimProgramBadCap) as bad:
            setup.program.add_root(a.ngo, cap)
        assert bad.value.length == len(cap)
    setup.program.transact(a.ngo, "addRoot", [node] * 256, gas=PUBLISH_GAS)  # the largest cap
    system.chain.advance_time(30 * DAY)
    with pytest.raises(ClaimProgramExpired) as late:
        setup.program.add_root(a.ngo, [node])
    assert late.value.expiry == setup.program.info().expiry


def test_ngo_acts_through_the_forwarder(system: Allmende, actors: Actors) -> None:
    a = actors
    setup = open_claims(system, a)
    result = system.forwarding.call_as(a.relayer, a.ngo, setup.program, "addRoot", [b"\x22" * 32])
    assert result.event("ClaimRootAdded").args["rootId"] == 1


# --- claims ---------------------------------------------------------------------------------


def test_relayed_claim_pays_the_signed_recipient(system: Allmende, actors: Actors) -> None:
    a = actors
    setup = _setup(system, a, [10 * EUR, 20 * EUR, 30 * EUR])
    recipient = Account.create().address
    result = setup.claim(a.relayer, 1, recipient)
    assert result.event("Claimed").args == {"index": 1, "recipient": recipient, "amount": 20 * EUR}
    transfer = result.event("Transfer").args
    assert (transfer["from"], transfer["to"], transfer["value"]) == (
        setup.program.address,
        recipient,
        20 * EUR,
    )
    assert system.balance(recipient) == 20 * EUR
    assert system.balance(setup.program.address) == 40 * EUR
    assert setup.program.is_claimed(1)
    assert not setup.program.is_claimed(0) and not setup.program.is_claimed(2)


@pytest.mark.parametrize("cap_depth", [0, 2, 4])
def test_every_client_claims_once_whatever_the_cap(system: Allmende, actors: Actors, cap_depth: int) -> None:
    a = actors
    amounts = [EUR + i for i in range(17)]
    setup = _setup(system, a, amounts, cap_depth)
    for index in range(17):
        setup.claim(a.relayer, index)
    assert system.balance(setup.program.address) == 0
    assert all(setup.program.is_claimed(i) for i in range(17))


def test_claim_digest_is_the_eip712_hash_the_key_signs(system: Allmende, actors: Actors) -> None:
    setup = _setup(system, actors, [EUR])
    recipient, deadline = Account.create().address, 1_900_000_000
    typed = claim_typed_data(setup.program.domain, 0, recipient, deadline)
    signable = encode_typed_data(full_message=typed)
    expected = keccak(b"\x19\x01" + signable.header + signable.body)
    assert setup.program.claim_digest(0, recipient, deadline) == expected
    assert setup.program.call("CLAIM_TYPEHASH") == keccak(
        text="Claim(uint256 program,uint256 index,address recipient,uint256 deadline)"
    )
    domain = setup.program.call("eip712Domain")
    assert domain[1:5] == ("AllmendeClaimProgram", "1", system.chain.chain_id, setup.program.address)


def test_claim_reverts_on_a_bad_proof(system: Allmende, actors: Actors) -> None:
    a = actors
    setup = _setup(system, a, [EUR] * 8, cap_depth=1)
    client = setup.clients[3]
    proof = setup.trees[1].proof(3)
    claim = setup.sign(client, Account.create().address)
    tampered = [bytes(32 - 1) + b"\x01", *proof.proof[1:]]
    with pytest.raises(ClaimProgramInvalidProof) as err:
        setup.program.claim(a.relayer, claim, root_id=1, position=proof.position, amount=EUR, proof=tampered)
    assert (err.value.rootId, err.value.index, err.value.signer) == (1, 3, client.key.address)
    with pytest.raises(ClaimProgramInvalidProof):  # the right proof against the other cap node
        setup.program.claim(
            a.relayer, claim, root_id=1, position=1 - proof.position, amount=EUR, proof=proof.proof
        )
    with pytest.raises(ClaimProgramInvalidProof):  # a proof that is one step short
        setup.program.claim(
            a.relayer, claim, root_id=1, position=proof.position, amount=EUR, proof=proof.proof[:-1]
        )
    assert not setup.program.is_claimed(3)


def test_claim_reverts_when_the_amount_is_not_the_leafs(system: Allmende, actors: Actors) -> None:
    a = actors
    setup = _setup(system, a, [5 * EUR, 5 * EUR])
    claim = setup.sign(setup.clients[0], Account.create().address)
    with pytest.raises(ClaimProgramInvalidProof) as err:
        setup.submit(a.relayer, claim, amount=6 * EUR)
    assert err.value.signer == setup.clients[0].key.address


def test_claim_reverts_when_signed_by_another_key(system: Allmende, actors: Actors) -> None:
    a = actors
    setup = _setup(system, a, [EUR, EUR])
    intruder = Account.create()
    claim = sign_claim(intruder, setup.program.domain, 0, intruder.address, system.chain.now() + 60)
    with pytest.raises(ClaimProgramInvalidProof) as err:
        setup.submit(a.relayer, claim)
    assert err.value.signer == intruder.address
    other_client = setup.sign(setup.clients[1], intruder.address)
    forged = SignedClaim(0, other_client.recipient, other_client.deadline, other_client.r, other_client.vs)
    with pytest.raises(ClaimProgramInvalidProof) as err2:  # client 1's signature for client 0's index
        setup.submit(a.relayer, forged)
    assert err2.value.signer not in (setup.clients[0].key.address, setup.clients[1].key.address)


def test_claim_reverts_when_the_relayer_swaps_the_recipient(system: Allmende, actors: Actors) -> None:
    a = actors
    setup = _setup(system, a, [EUR, EUR])
    honest = setup.sign(setup.clients[0], Account.create().address)
    swapped = SignedClaim(honest.index, a.relayer.address, honest.deadline, honest.r, honest.vs)
    with pytest.raises(ClaimProgramInvalidProof) as err:
        setup.submit(a.relayer, swapped)
    assert err.value.signer != setup.clients[0].key.address
    later = SignedClaim(honest.index, honest.recipient, honest.deadline + 1, honest.r, honest.vs)
    with pytest.raises(ClaimProgramInvalidProof):  # nor may the deadline be stretched
        setup.submit(a.relayer, later)
    assert system.balance(a.relayer.address) == 0
    setup.submit(a.relayer, honest)
    assert system.balance(honest.recipient) == EUR


def test_claim_reverts_when_the_signature_is_replayed(system: Allmende, actors: Actors) -> None:
    a = actors
    setup = _setup(system, a, [EUR, EUR, EUR])
    claim = setup.sign(setup.clients[2], Account.create().address)
    setup.submit(a.relayer, claim)
    with pytest.raises(ClaimProgramAlreadyClaimed) as err:
        setup.submit(a.outsider, claim)
    assert err.value.index == 2
    assert system.balance(claim.recipient) == EUR


def test_claim_reverts_when_already_claimed_to_another_recipient(system: Allmende, actors: Actors) -> None:
    a = actors
    setup = _setup(system, a, [EUR, EUR])
    setup.claim(a.relayer, 0)
    with pytest.raises(ClaimProgramAlreadyClaimed) as err:
        setup.claim(a.relayer, 0, Account.create().address)
    assert err.value.index == 0


def test_claim_reverts_after_the_program_expired(system: Allmende, actors: Actors) -> None:
    a = actors
    setup = _setup(system, a, [EUR, EUR])
    claim = setup.sign(setup.clients[0], Account.create().address, deadline=system.chain.now() + 60 * DAY)
    system.chain.advance_time(30 * DAY)
    with pytest.raises(ClaimProgramExpired) as err:
        setup.submit(a.relayer, claim)
    assert err.value.expiry == setup.program.info().expiry
    assert err.value.now_ >= err.value.expiry


def test_claim_reverts_after_the_signatures_deadline(system: Allmende, actors: Actors) -> None:
    a = actors
    setup = _setup(system, a, [EUR])
    deadline = system.chain.now() + 100
    claim = setup.sign(setup.clients[0], Account.create().address, deadline=deadline)
    system.chain.advance_time(101)
    with pytest.raises(ClaimProgramSignatureExpired) as err:
        setup.submit(a.relayer, claim)
    assert err.value.deadline == deadline


def test_claim_reverts_for_a_signature_made_for_another_chain(system: Allmende, actors: Actors) -> None:
    a = actors
    setup = _setup(system, a, [EUR, EUR])
    client = setup.clients[0]
    domain = other_domain(setup.program.domain, chain_id=system.chain.chain_id + 1)
    claim = sign_claim(client.key, domain, 0, Account.create().address, system.chain.now() + 60)
    with pytest.raises(ClaimProgramInvalidProof) as err:
        setup.submit(a.relayer, claim)
    assert err.value.signer == claim_signer(setup.program.domain, claim) != client.key.address


def test_claim_reverts_for_a_signature_made_for_another_program(system: Allmende, actors: Actors) -> None:
    a = actors
    clients = make_clients([EUR, EUR])
    first = open_claims(system, a, fund=2 * EUR)
    second = open_claims(system, a, fund=2 * EUR, fund_program=first.fund_program)
    for setup in (first, second):  # the same keys in both programs, as a careless gateway might do
        setup.publish(a.ngo, clients)
    recipient = Account.create().address
    meant_for_second = second.sign(clients[0], recipient)
    with pytest.raises(ClaimProgramInvalidProof) as err:
        first.submit(a.relayer, meant_for_second)
    assert err.value.signer != clients[0].key.address
    same_id_other_contract = ClaimDomain(
        system.chain.chain_id, second.program.address, first.program.program_id
    )
    claim = sign_claim(clients[0].key, same_id_other_contract, 0, recipient, system.chain.now() + 60)
    with pytest.raises(ClaimProgramInvalidProof):
        first.submit(a.relayer, claim)
    second.submit(a.relayer, meant_for_second)
    assert (first.program.is_claimed(0), second.program.is_claimed(0)) == (False, True)


def test_claim_reverts_for_an_unknown_root_or_cap_node(system: Allmende, actors: Actors) -> None:
    a = actors
    setup = _setup(system, a, [EUR] * 4, cap_depth=1)
    claim = setup.sign(setup.clients[0], Account.create().address)
    proof = setup.trees[1].proof(0)
    for root_id, position in ((2, proof.position), (0, proof.position), (1, 2), (1, 256 + proof.position)):
        with pytest.raises(ClaimProgramUnknownNode) as err:
            setup.program.claim(
                a.relayer, claim, root_id=root_id, position=position, amount=EUR, proof=proof.proof
            )
        assert (err.value.rootId, err.value.position) == (root_id, position)


def test_claim_reverts_for_malformed_signatures(system: Allmende, actors: Actors) -> None:
    a = actors
    setup = _setup(system, a, [EUR])
    good = setup.sign(setup.clients[0], Account.create().address)
    high_s = (_ORDER // 2 + 1).to_bytes(32, "big")  # the malleable half (EIP-2), top bit still clear
    for r, vs in ((good.r, high_s), (bytes(32), good.vs)):
        with pytest.raises(ClaimProgramInvalidSignature):
            setup.submit(a.relayer, SignedClaim(0, good.recipient, good.deadline, r, vs))
    setup.submit(a.relayer, good)


def test_a_tree_that_grants_more_than_was_funded_cannot_touch_other_money(
    system: Allmende, actors: Actors
) -> None:
    a = actors
    greedy = open_claims(system, a, fund=3 * EUR)
    greedy.publish(a.ngo, make_clients([2 * EUR, 2 * EUR]))
    neighbour = open_claims(system, a, fund=10 * EUR, fund_program=greedy.fund_program)
    greedy.claim(a.relayer, 0)
    with pytest.raises(ERC20InsufficientBalance) as err:
        greedy.claim(a.relayer, 1)
    assert (err.value.sender, err.value.balance, err.value.needed) == (greedy.program.address, EUR, 2 * EUR)
    assert system.balance(neighbour.program.address) == 10 * EUR


def test_a_new_root_adds_clients_and_earlier_proofs_stay_valid(system: Allmende, actors: Actors) -> None:
    a = actors
    setup = open_claims(system, a, fund=100 * EUR)
    early = make_clients([EUR, 2 * EUR])
    setup.publish(a.ngo, early)
    setup.claim(a.relayer, 0)
    late = make_clients([3 * EUR, 4 * EUR], first_index=2)
    root_2 = setup.publish(a.ngo, [*early, *late])  # the whole list again, indices unchanged
    assert root_2 == 2
    setup.claim(a.relayer, 1, root_id=1)  # a proof from the first root still works
    setup.claim(a.relayer, 3, root_id=2)
    with pytest.raises(ClaimProgramAlreadyClaimed) as err:  # one bitmap for every root
        setup.claim(a.relayer, 0, root_id=2)
    assert err.value.index == 0
    assert system.balance(setup.program.address) == 100 * EUR - 7 * EUR


# --- return after expiry --------------------------------------------------------------------


def test_unclaimed_rest_returns_to_the_lots_after_expiry(system: Allmende, actors: Actors) -> None:
    a = actors
    fund_program = released_program(system, a, 30 * EUR)
    lot_2 = (
        system.funds.deposit(a.funder2, system.token.address, 30 * EUR).event("LotDeposited").args["lotId"]
    )
    system.funds.allocate(a.funder2, lot_2, fund_program, 30 * EUR)
    tranche = system.funds.request_tranche(a.ngo, fund_program, 30 * EUR).event("TrancheRequested").args
    system.funds.approve_tranche(a.approver, tranche["trancheId"])
    setup = open_claims(system, a, fund=40 * EUR, fund_program=fund_program)  # 30 from lot 1, 10 from lot 2
    top_up = system.funds.disburse_to(a.ngo, fund_program, setup.program.address, 5 * EUR)
    setup.publish(a.ngo, make_clients([10 * EUR, 12 * EUR, 3 * EUR]))
    setup.claim(a.relayer, 0)
    setup.claim(a.relayer, 2)

    with pytest.raises(ClaimProgramNotExpired) as early:
        setup.program.return_unclaimed(a.ngo)
    assert early.value.expiry == setup.program.info().expiry
    system.chain.advance_time(30 * DAY)
    # Finding 6: the return used to be the NGO's alone, so an NGO that never acted left the rest stuck;
    # after the expiry anyone may send it back (it only goes to the lots it came from).
    result = setup.program.return_unclaimed(a.outsider)

    top_up_batch = top_up.event("BatchDisbursed").args["batchId"]
    assert [(e.args["batchId"], e.args["amount"]) for e in result.events_named("UnclaimedReturned")] == [
        (top_up_batch, 5 * EUR),
        (top_up_batch - 1, 27 * EUR),
    ]
    back = [(e.args["lotId"], e.args["amount"]) for e in result.events_named("FundsReturned")]
    assert back == [(lot_2, 5 * EUR), (lot_2, 10 * EUR), (1, 17 * EUR)]  # last drawn, first returned
    info = setup.program.info()
    claimed = 13 * EUR
    assert (info.funded, info.returned) == (45 * EUR, 32 * EUR)
    assert claimed + info.returned == info.funded
    assert system.balance(setup.program.address) == 0
    p = system.funds.program(fund_program)
    assert p.released - p.disbursed == 60 * EUR - 45 * EUR + 32 * EUR
    assert [(f.amount, f.returned) for f in setup.program.fundings()] == [
        (40 * EUR, 27 * EUR),
        (5 * EUR, 5 * EUR),
    ]
    with pytest.raises(ClaimProgramNothingToReturn):
        setup.program.return_unclaimed(a.ngo)
    _state_matches_events(system)


def test_unclaimed_money_of_a_refunded_lot_goes_back_to_its_funder(system: Allmende, actors: Actors) -> None:
    """The funding lot expired and was refunded before the claim program returned its rest: that rest
    is the funder's, not a new allocation no refund could ever reach."""
    a = actors
    token = system.token.address
    fund_program = system.funds.create_program(a.ngo, token).event("ProgramCreated").args["programId"]
    lot = system.funds.deposit(a.funder, token, 50 * EUR, expiry=system.chain.now() + 10 * DAY)
    lot_id = lot.event("LotDeposited").args["lotId"]
    system.funds.allocate(a.funder, lot_id, fund_program, 40 * EUR)
    tranche = system.funds.request_tranche(a.ngo, fund_program, 40 * EUR).event("TrancheRequested").args
    system.funds.approve_tranche(a.funder, tranche["trancheId"])
    setup = open_claims(system, a, fund=30 * EUR, fund_program=fund_program)
    setup.publish(a.ngo, make_clients([10 * EUR, 12 * EUR]))
    setup.claim(a.relayer, 0)

    system.chain.advance_time(30 * DAY)  # past the lot's expiry and the claim program's
    refunded = system.funds.refund(a.outsider, lot_id).event("LotRefunded").args["amount"]
    assert refunded == 10 * EUR + 10 * EUR  # unallocated and allocated but undrawn
    before = system.balance(a.funder.address)
    result = setup.program.return_unclaimed(a.ngo)

    assert system.balance(a.funder.address) == before + 20 * EUR
    back = [
        (e.args["lotId"], e.args["allocationId"], e.args["amount"], e.args["toFunder"])
        for e in result.events_named("FundsReturned")
    ]
    assert back == [(lot_id, 0, 20 * EUR, True)]
    assert system.balance(setup.program.address) == 0
    p = system.funds.program(fund_program)
    assert (p.allocated, p.released, p.disbursed) == (30 * EUR, 30 * EUR, 30 * EUR)  # nothing allocated anew
    assert system.balance(system.funds.address) == 0
    paid = 10 * EUR  # the one claim: all that lot 1 paid out in the end
    assert refunded + 20 * EUR + paid == 50 * EUR
    _state_matches_events(system)
    (funding,) = trace_payments(system.events())
    assert (funding.returned, [(s.lot_id, s.amount) for s in funding.sources]) == (20 * EUR, [(lot_id, paid)])


def test_money_sent_by_others_is_not_returned_as_program_money(system: Allmende, actors: Actors) -> None:
    a = actors
    setup = _setup(system, a, [EUR])
    system.token.transact(a.funder, "transfer", setup.program.address, 7 * EUR)
    system.chain.advance_time(30 * DAY)
    returned = setup.program.return_unclaimed(a.ngo).events_named("UnclaimedReturned")
    assert sum(e.args["amount"] for e in returned) == EUR
    assert system.balance(setup.program.address) == 7 * EUR


# --- gas ------------------------------------------------------------------------------------


def test_claim_gas_stays_within_the_targets(system: Allmende, actors: Actors) -> None:
    """A claim in a 2**17-leaf tree with the default cap: first in its bitmap word <= 95k, warm <= 78k."""
    a = actors
    setup = open_claims(system, a, fund=10 * EUR)
    keys = [Account.create() for _ in range(2)]
    paths = [synthetic_path(i, key.address, EUR, 17, 8, position=(3, 200)[i]) for i, key in enumerate(keys)]
    cap = paths[0].cap
    cap[200] = paths[1].cap[200]  # both leaves under one published cap
    added = setup.program.transact(a.ngo, "addRoot", cap, gas=PUBLISH_GAS).event("ClaimRootAdded")
    assert added.args["root"] == cap_root(cap)  # 256 nodes hashed up on chain as in Python
    gas = []
    for index, (key, path) in enumerate(zip(keys, paths, strict=True)):
        claim = sign_claim(
            key, setup.program.domain, index, Account.create().address, system.chain.now() + 60
        )
        result = setup.program.claim(
            a.relayer, claim, root_id=1, position=path.position, amount=EUR, proof=path.proof
        )
        gas.append(result.gas_used)
    first, warm = gas
    assert first <= 95_000
    assert warm <= 78_000
    assert abs(first - warm - 17_100) < 100  # the bitmap word's first write; the rest is calldata noise
