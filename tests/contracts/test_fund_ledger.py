"""FundLedger: every function, every revert path, every role denial."""

from __future__ import annotations

import pytest
from eth_account import Account

from ledger.audit import audit_funds
from ledger.contracts import ContractClient
from ledger.exceptions import UnknownRevert
from ledger.fund_ledger import DrawPlan, TrancheStatus
from ledger.revert_errors import (
    AccessControlUnauthorizedAccount,
    FundLedgerAmountOverflow,
    FundLedgerBadBatch,
    FundLedgerDrawTooLong,
    FundLedgerEarmarkMismatch,
    FundLedgerExpiryInPast,
    FundLedgerInsufficientFunds,
    FundLedgerLotAlreadyRefunded,
    FundLedgerLotExpired,
    FundLedgerLotNotExpired,
    FundLedgerNotLotAllocator,
    FundLedgerNotLotFunder,
    FundLedgerNotProgramApprover,
    FundLedgerNotProgramFunder,
    FundLedgerNotProgramNgo,
    FundLedgerSelfApproval,
    FundLedgerTokenMismatch,
    FundLedgerTokenNotAllowed,
    FundLedgerTrancheNotPending,
    FundLedgerUnknownLot,
    FundLedgerUnknownProgram,
    FundLedgerUnknownTranche,
    FundLedgerZeroAccount,
    FundLedgerZeroAmount,
    FundLedgerZeroRecipient,
)
from ledger.roles import Role
from ledger.system import Allmende
from tests.conftest import EUR, Actors

DAY = 86_400


def _program(system: Allmende, ngo=None, actors: Actors | None = None) -> int:
    assert ngo is not None
    return system.funds.create_program(ngo, system.token.address).event("ProgramCreated").args["programId"]


def _lot(system: Allmende, funder, amount: int, *, earmark: int = 0, expiry: int = 0) -> int:
    r = system.funds.deposit(funder, system.token.address, amount, earmark=earmark, expiry=expiry)
    return r.event("LotDeposited").args["lotId"]


def _funded_program(system: Allmende, a: Actors, amount: int = 100 * EUR, released: int | None = None):
    program = _program(system, a.ngo)
    lot = _lot(system, a.funder, amount)
    system.funds.allocate(a.funder, lot, program, amount)
    system.funds.set_program_approver(a.funder, program, a.approver.address)  # the funder's checker
    if released:
        tranche = system.funds.request_tranche(a.ngo, program, released).event("TrancheRequested").args
        system.funds.approve_tranche(a.approver, tranche["trancheId"])
    return program, lot


def _other_token(system: Allmende, a: Actors) -> str:
    """A second allow-listed token (another EuroToken deployment)."""
    from ledger.system import _deploy_data

    data = _deploy_data(system.sender, "EuroToken", [system.roles.address, system.forwarder.address])
    address = system.sender.send(a.admin, None, data).contract_address
    assert address
    system.funds.set_token_allowed(a.admin, address, True)
    return address


# --- deposits -----------------------------------------------------------------------------


def test_deposit_records_lot_and_takes_the_money(system: Allmende, actors: Actors) -> None:
    before = system.balance(actors.funder.address)
    expiry = system.chain.now() + 30 * DAY
    r = system.funds.deposit(actors.funder, system.token.address, 250 * EUR, expiry=expiry)
    ev = r.event("LotDeposited").args
    assert ev == {
        "lotId": 1,
        "funder": actors.funder.address,
        "token": system.token.address,
        "amount": 250 * EUR,
        "earmark": 0,
        "expiry": expiry,
    }
    lot = system.funds.lot(1)
    assert (lot.funder, lot.amount, lot.unallocated, lot.refunded) == (
        actors.funder.address,
        250 * EUR,
        250 * EUR,
        False,
    )
    assert system.balance(actors.funder.address) == before - 250 * EUR
    assert system.balance(system.funds.address) == 250 * EUR


def test_deposit_reverts_for_non_funder(system: Allmende, actors: Actors) -> None:
    with pytest.raises(AccessControlUnauthorizedAccount) as err:
        system.funds.deposit(actors.ngo, system.token.address, EUR)
    assert err.value.account == actors.ngo.address
    assert err.value.neededRole == Role.FUNDER.id


def test_deposit_reverts_for_token_not_allowed(system: Allmende, actors: Actors) -> None:
    stranger = Account.create().address
    with pytest.raises(FundLedgerTokenNotAllowed) as err:
        system.funds.deposit(actors.funder, stranger, EUR)
    assert err.value.token == stranger


def test_deposit_reverts_for_zero_amount(system: Allmende, actors: Actors) -> None:
    with pytest.raises(FundLedgerZeroAmount):
        system.funds.deposit(actors.funder, system.token.address, 0)


def test_deposit_reverts_for_unknown_earmark(system: Allmende, actors: Actors) -> None:
    with pytest.raises(FundLedgerUnknownProgram) as err:
        system.funds.deposit(actors.funder, system.token.address, EUR, earmark=7)
    assert err.value.programId == 7


def test_deposit_reverts_for_earmark_in_other_token(system: Allmende, actors: Actors) -> None:
    other = _other_token(system, actors)
    program = system.funds.create_program(actors.ngo, other).event("ProgramCreated").args["programId"]
    with pytest.raises(FundLedgerTokenMismatch) as err:
        system.funds.deposit(actors.funder, system.token.address, EUR, earmark=program)
    assert (err.value.lotToken, err.value.programToken) == (system.token.address, other)


def test_deposit_reverts_for_expiry_in_past(system: Allmende, actors: Actors) -> None:
    past = system.chain.now() - 1
    with pytest.raises(FundLedgerExpiryInPast) as err:
        system.funds.deposit(actors.funder, system.token.address, EUR, expiry=past)
    assert err.value.expiry == past


def test_deposit_reverts_above_what_a_lot_stores(system: Allmende, actors: Actors) -> None:
    # A lot keeps its amounts in 112 bits (two storage slots instead of three): more is refused.
    with pytest.raises(FundLedgerAmountOverflow) as err:
        system.funds.deposit(actors.funder, system.token.address, 2**112)
    assert err.value.value == 2**112


def test_lot_of_a_second_token_keeps_its_token_when_allowed_again(system: Allmende, actors: Actors) -> None:
    # A lot stores its token by number: a token allowed again keeps its number, each lot its own token.
    other = _other_token(system, actors)
    other_token = ContractClient(system.sender, "EuroToken", other)
    other_token.transact(actors.treasurer, "mint", actors.funder.address, 10 * EUR, bytes(32))
    other_token.transact(actors.funder, "approve", system.funds.address, 10 * EUR)
    system.funds.set_token_allowed(actors.admin, other, False)
    system.funds.set_token_allowed(actors.admin, other, True)
    first = _lot(system, actors.funder, EUR)
    second = system.funds.deposit(actors.funder, other, 10 * EUR).event("LotDeposited").args["lotId"]
    program = system.funds.create_program(actors.ngo, other).event("ProgramCreated").args["programId"]
    system.funds.allocate(actors.funder, second, program, 4 * EUR)
    assert system.funds.lot(first).token == system.token.address
    lot = system.funds.lot(second)
    assert (lot.token, lot.amount, lot.unallocated) == (other, 10 * EUR, 6 * EUR)


def test_set_token_allowed_is_admin_only(system: Allmende, actors: Actors) -> None:
    with pytest.raises(AccessControlUnauthorizedAccount) as err:
        system.funds.set_token_allowed(actors.funder, system.token.address, False)
    assert err.value.neededRole == Role.ADMIN.id
    r = system.funds.set_token_allowed(actors.admin, system.token.address, False)
    assert r.event("TokenAllowed").args == {"token": system.token.address, "allowed": False}
    with pytest.raises(FundLedgerTokenNotAllowed):
        system.funds.deposit(actors.funder, system.token.address, EUR)


# --- programs -----------------------------------------------------------------------------


def test_create_program_belongs_to_its_ngo(system: Allmende, actors: Actors) -> None:
    meta = b"\x11" * 32
    r = system.funds.create_program(actors.ngo, system.token.address, meta)
    assert r.event("ProgramCreated").args == {
        "programId": 1,
        "ngo": actors.ngo.address,
        "token": system.token.address,
        "metadataHash": meta,
    }
    p = system.funds.program(1)
    assert (p.ngo, p.token, p.allocated, p.released, p.disbursed, p.metadata_hash) == (
        actors.ngo.address,
        system.token.address,
        0,
        0,
        0,
        meta,
    )


def test_create_program_reverts_for_non_ngo(system: Allmende, actors: Actors) -> None:
    with pytest.raises(AccessControlUnauthorizedAccount) as err:
        system.funds.create_program(actors.funder, system.token.address)
    assert err.value.neededRole == Role.NGO.id


def test_create_program_reverts_for_token_not_allowed(system: Allmende, actors: Actors) -> None:
    with pytest.raises(FundLedgerTokenNotAllowed):
        system.funds.create_program(actors.ngo, Account.create().address)


def test_program_views_revert_for_unknown_ids(system: Allmende) -> None:
    with pytest.raises(FundLedgerUnknownProgram):
        system.funds.program(9)
    with pytest.raises(FundLedgerUnknownLot):
        system.funds.lot(9)
    with pytest.raises(FundLedgerUnknownTranche):
        system.funds.tranche(9)


# --- allocations --------------------------------------------------------------------------


def test_funder_allocates_own_lot(system: Allmende, actors: Actors) -> None:
    program = _program(system, actors.ngo)
    lot = _lot(system, actors.funder, 100 * EUR)
    r = system.funds.allocate(actors.funder, lot, program, 60 * EUR)
    assert r.event("Allocated").args == {
        "allocationId": 1,
        "lotId": lot,
        "programId": program,
        "amount": 60 * EUR,
        "allocator": actors.funder.address,
        "reservationId": 0,
    }
    assert system.funds.lot(lot).unallocated == 40 * EUR
    assert system.funds.program(program).allocated == 60 * EUR
    assert list(system.funds.call("lotAllocations", lot)) == [1]
    assert list(system.funds.call("programAllocations", program)) == [1]


def test_only_an_allocator_the_funder_named_allocates_its_lot(system: Allmende, actors: Actors) -> None:
    # Finding 1: the ALLOCATOR role used to allocate any lot; now only with its funder's consent.
    a = actors
    program = _program(system, a.ngo)
    lot = _lot(system, a.funder, 100 * EUR)
    other = _lot(system, a.funder2, 100 * EUR)
    for who in (a.allocator, a.ngo2, a.funder2, a.outsider):  # the role alone, another NGO, funder, stranger
        with pytest.raises(FundLedgerNotLotAllocator) as err:
            system.funds.allocate(who, lot, program, EUR)
        assert (err.value.lotId, err.value.account) == (lot, who.address)
    r = system.funds.set_lot_allocator(a.funder, lot, a.ngo.address)
    assert r.event("LotAllocatorSet").args == {
        "lotId": lot,
        "funder": a.funder.address,
        "allocator": a.ngo.address,
        "allowed": True,
    }
    assert system.funds.may_allocate(lot, a.ngo.address) and system.funds.is_lot_allocator(lot, a.ngo.address)
    assert not system.funds.may_allocate(other, a.ngo.address)
    r = system.funds.allocate(a.ngo, lot, program, 40 * EUR)
    assert r.event("Allocated").args["allocator"] == a.ngo.address
    with pytest.raises(FundLedgerNotLotAllocator):  # the naming is for that lot only
        system.funds.allocate(a.ngo, other, program, EUR)
    for who in (a.ngo, a.funder2, a.outsider):  # only the funder names or revokes
        with pytest.raises(FundLedgerNotLotFunder) as err2:
            system.funds.set_lot_allocator(who, lot, a.ngo2.address)
        assert (err2.value.lotId, err2.value.account) == (lot, who.address)
    with pytest.raises(FundLedgerZeroAccount):
        system.funds.set_lot_allocator(a.funder, lot, "0x" + "00" * 20)
    system.funds.set_lot_allocator(a.funder, lot, a.ngo.address, False)
    assert not system.funds.may_allocate(lot, a.ngo.address)
    with pytest.raises(FundLedgerNotLotAllocator):
        system.funds.allocate(a.ngo, lot, program, EUR)
    assert system.funds.program(program).allocated == 40 * EUR  # what was allocated before stays


def test_allocate_reverts_for_someone_elses_lot(system: Allmende, actors: Actors) -> None:
    program = _program(system, actors.ngo)
    lot = _lot(system, actors.funder, 100 * EUR)
    with pytest.raises(FundLedgerNotLotAllocator) as err:
        system.funds.allocate(actors.funder2, lot, program, EUR)
    assert (err.value.lotId, err.value.account) == (lot, actors.funder2.address)


def test_allocate_reverts_for_zero_amount(system: Allmende, actors: Actors) -> None:
    program = _program(system, actors.ngo)
    lot = _lot(system, actors.funder, 100 * EUR)
    with pytest.raises(FundLedgerZeroAmount):
        system.funds.allocate(actors.funder, lot, program, 0)


def test_allocate_reverts_for_unknown_lot_and_program(system: Allmende, actors: Actors) -> None:
    program = _program(system, actors.ngo)
    lot = _lot(system, actors.funder, 100 * EUR)
    with pytest.raises(FundLedgerUnknownLot):
        system.funds.allocate(actors.funder, 42, program, EUR)
    with pytest.raises(FundLedgerUnknownProgram):
        system.funds.allocate(actors.funder, lot, 42, EUR)


def test_allocate_reverts_after_expiry(system: Allmende, actors: Actors) -> None:
    program = _program(system, actors.ngo)
    expiry = system.chain.now() + DAY
    lot = _lot(system, actors.funder, 100 * EUR, expiry=expiry)
    system.chain.advance_time(DAY)
    with pytest.raises(FundLedgerLotExpired) as err:
        system.funds.allocate(actors.funder, lot, program, EUR)
    assert err.value.expiry == expiry


def test_allocate_reverts_outside_earmark(system: Allmende, actors: Actors) -> None:
    earmarked = _program(system, actors.ngo)
    other = _program(system, actors.ngo2)
    lot = _lot(system, actors.funder, 100 * EUR, earmark=earmarked)
    system.funds.set_lot_allocator(actors.funder, lot, actors.allocator.address)
    with pytest.raises(FundLedgerEarmarkMismatch) as err:
        system.funds.allocate(actors.allocator, lot, other, EUR)
    assert (err.value.earmark, err.value.programId) == (earmarked, other)
    system.funds.allocate(actors.allocator, lot, earmarked, EUR)


def test_allocate_reverts_for_token_mismatch(system: Allmende, actors: Actors) -> None:
    other = _other_token(system, actors)
    program = system.funds.create_program(actors.ngo, other).event("ProgramCreated").args["programId"]
    lot = _lot(system, actors.funder, 100 * EUR)
    with pytest.raises(FundLedgerTokenMismatch):
        system.funds.allocate(actors.funder, lot, program, EUR)


def test_allocate_reverts_beyond_lot(system: Allmende, actors: Actors) -> None:
    program = _program(system, actors.ngo)
    lot = _lot(system, actors.funder, 100 * EUR)
    system.funds.allocate(actors.funder, lot, program, 70 * EUR)
    with pytest.raises(FundLedgerInsufficientFunds) as err:
        system.funds.allocate(actors.funder, lot, program, 31 * EUR)
    assert (err.value.requested, err.value.available) == (31 * EUR, 30 * EUR)


# --- tranches -----------------------------------------------------------------------------


def test_tranche_release_needs_a_second_person(system: Allmende, actors: Actors) -> None:
    program, _ = _funded_program(system, actors)
    milestone = b"\x22" * 32
    r = system.funds.request_tranche(actors.ngo, program, 40 * EUR, milestone)
    assert r.event("TrancheRequested").args == {
        "trancheId": 1,
        "programId": program,
        "requester": actors.ngo.address,
        "amount": 40 * EUR,
        "milestoneHash": milestone,
    }
    system.funds.set_program_approver(actors.funder, program, actors.ngo.address)
    with pytest.raises(FundLedgerSelfApproval) as err:
        system.funds.approve_tranche(actors.ngo, 1)
    assert err.value.account == actors.ngo.address
    r = system.funds.approve_tranche(actors.approver, 1)
    assert r.event("TrancheApproved").args["approver"] == actors.approver.address
    t = system.funds.tranche(1)
    assert (t.status, t.approver) == (TrancheStatus.APPROVED, actors.approver.address)
    assert system.funds.program(program).released == 40 * EUR


def test_request_tranche_reverts_for_other_ngo(system: Allmende, actors: Actors) -> None:
    program, _ = _funded_program(system, actors)
    with pytest.raises(FundLedgerNotProgramNgo) as err:
        system.funds.request_tranche(actors.ngo2, program, EUR)
    assert (err.value.programId, err.value.account) == (program, actors.ngo2.address)


def test_request_tranche_reverts_for_zero_and_unknown(system: Allmende, actors: Actors) -> None:
    program, _ = _funded_program(system, actors)
    with pytest.raises(FundLedgerZeroAmount):
        system.funds.request_tranche(actors.ngo, program, 0)
    with pytest.raises(FundLedgerUnknownProgram):
        system.funds.request_tranche(actors.ngo, 99, EUR)


def test_approve_tranche_reverts_for_non_approver(system: Allmende, actors: Actors) -> None:
    program, _ = _funded_program(system, actors)
    system.funds.request_tranche(actors.ngo, program, EUR)
    # Finding 5: approvals were global (every APPROVER, every funder); now only a funder with money in
    # the program or an approver such a funder named. An unrelated funder, a role holder nobody named,
    # another NGO and a stranger are refused.
    system.grant(actors.admin, Role.APPROVER, actors.outsider.address)
    for who in (actors.funder2, actors.outsider, actors.ngo2):
        with pytest.raises(FundLedgerNotProgramApprover) as err:
            system.funds.approve_tranche(who, 1)
        assert (err.value.programId, err.value.account) == (program, who.address)
    assert not system.funds.may_approve(program, actors.funder2.address)
    with pytest.raises(FundLedgerNotProgramFunder) as err2:  # nor can it name itself an approver
        system.funds.set_program_approver(actors.funder2, program, actors.funder2.address)
    assert (err2.value.programId, err2.value.account) == (program, actors.funder2.address)
    system.funds.set_program_approver(actors.funder, program, actors.approver.address, False)
    with pytest.raises(FundLedgerNotProgramApprover):  # revoked
        system.funds.approve_tranche(actors.approver, 1)
    system.funds.approve_tranche(actors.funder, 1)  # the funder whose money is in it
    assert system.funds.tranche(1).approver == actors.funder.address


def test_approve_tranche_reverts_beyond_allocation(system: Allmende, actors: Actors) -> None:
    program, _ = _funded_program(system, actors, amount=100 * EUR, released=80 * EUR)
    system.funds.request_tranche(actors.ngo, program, 30 * EUR)
    with pytest.raises(FundLedgerInsufficientFunds) as err:
        system.funds.approve_tranche(actors.approver, 2)
    assert (err.value.requested, err.value.available) == (30 * EUR, 20 * EUR)


def test_tranche_decided_once(system: Allmende, actors: Actors) -> None:
    program, _ = _funded_program(system, actors)
    system.funds.request_tranche(actors.ngo, program, EUR)
    system.funds.approve_tranche(actors.approver, 1)
    with pytest.raises(FundLedgerTrancheNotPending) as err:
        system.funds.approve_tranche(actors.approver, 1)
    assert err.value.status == TrancheStatus.APPROVED
    with pytest.raises(FundLedgerUnknownTranche):
        system.funds.approve_tranche(actors.approver, 5)


def test_reject_and_cancel_tranche(system: Allmende, actors: Actors) -> None:
    program, _ = _funded_program(system, actors)
    system.funds.request_tranche(actors.ngo, program, EUR)
    system.funds.request_tranche(actors.ngo, program, EUR)
    reason = b"\x33" * 32
    r = system.funds.reject_tranche(actors.approver, 1, reason)
    assert r.event("TrancheRejected").args == {
        "trancheId": 1,
        "approver": actors.approver.address,
        "reasonHash": reason,
    }
    with pytest.raises(FundLedgerTrancheNotPending):
        system.funds.approve_tranche(actors.approver, 1)
    with pytest.raises(FundLedgerNotProgramNgo):
        system.funds.cancel_tranche(actors.ngo2, 2)
    system.funds.cancel_tranche(actors.ngo, 2)
    assert system.funds.tranche(2).status == TrancheStatus.CANCELLED
    with pytest.raises(FundLedgerTrancheNotPending):
        system.funds.cancel_tranche(actors.ngo, 2)
    assert system.funds.program(program).released == 0


def test_reject_tranche_reverts_for_requester_and_non_approver(system: Allmende, actors: Actors) -> None:
    program, _ = _funded_program(system, actors)
    system.funds.request_tranche(actors.ngo, program, EUR)
    with pytest.raises(FundLedgerNotProgramApprover):
        system.funds.reject_tranche(actors.outsider, 1)
    system.funds.set_program_approver(actors.funder, program, actors.ngo.address)
    with pytest.raises(FundLedgerSelfApproval):
        system.funds.reject_tranche(actors.ngo, 1)


# --- disbursement -------------------------------------------------------------------------


def test_disburse_pays_recipients_and_traces_lots_first_in_first_out(
    system: Allmende, actors: Actors
) -> None:
    program = _program(system, actors.ngo)
    lot_a = _lot(system, actors.funder, 30 * EUR)
    lot_b = _lot(system, actors.funder2, 50 * EUR)
    system.funds.allocate(actors.funder, lot_a, program, 30 * EUR)
    system.funds.allocate(actors.funder2, lot_b, program, 50 * EUR)
    system.funds.request_tranche(actors.ngo, program, 80 * EUR)
    system.funds.approve_tranche(actors.funder2, 1)
    alice, bob = Account.create().address, Account.create().address
    r = system.funds.disburse(actors.ngo, program, [(alice, 20 * EUR), (bob, 25 * EUR)], b"\x44" * 32)
    assert system.balance(alice) == 20 * EUR and system.balance(bob) == 25 * EUR
    drawn = [(e.args["lotId"], e.args["amount"]) for e in r.events_named("AllocationDrawn")]
    assert drawn == [(lot_a, 30 * EUR), (lot_b, 15 * EUR)]
    assert [(e.args["recipient"], e.args["amount"]) for e in r.events_named("Disbursed")] == [
        (alice, 20 * EUR),
        (bob, 25 * EUR),
    ]
    # The payment loop writes its events by hand (assembly): every field decodes as the ABI says.
    assert {(e.args["programId"], e.args["batchId"]) for e in r.events_named("Disbursed")} == {(program, 1)}
    batch = r.event("BatchDisbursed").args
    assert (batch["batchId"], batch["count"], batch["total"]) == (1, 2, 45 * EUR)
    p = system.funds.program(program)
    assert (p.disbursed, p.draw_cursor) == (45 * EUR, 1)
    assert system.funds.allocation(2).drawn == 15 * EUR


def test_disburse_reverts_for_other_ngo(system: Allmende, actors: Actors) -> None:
    program, _ = _funded_program(system, actors, released=10 * EUR)
    with pytest.raises(FundLedgerNotProgramNgo):
        system.funds.disburse(actors.ngo2, program, [(Account.create().address, EUR)])


def test_disburse_reverts_for_malformed_batches(system: Allmende, actors: Actors) -> None:
    program, _ = _funded_program(system, actors, released=10 * EUR)
    with pytest.raises(FundLedgerBadBatch) as err:
        system.funds.disburse(actors.ngo, program, [])
    assert (err.value.recipients, err.value.amounts) == (0, 0)
    with pytest.raises(FundLedgerBadBatch):
        system.funds.transact(actors.ngo, "disburse", program, [Account.create().address], [1, 2], bytes(32))
    with pytest.raises(FundLedgerZeroRecipient) as zero:
        system.funds.disburse(actors.ngo, program, [(Account.create().address, EUR), ("0x" + "00" * 20, EUR)])
    assert zero.value.index == 1
    with pytest.raises(FundLedgerZeroAmount):
        system.funds.disburse(actors.ngo, program, [(Account.create().address, 0)])
    # The checking loop is assembly: it refuses words with stray high bits as ABI decoding would.
    clean = system.funds.encode("disburse", program, [Account.create().address], [EUR], bytes(32))
    for word in (5, 7):  # head of four words, then the recipients' length and first, the amounts'
        dirty = bytearray(clean)
        dirty[4 + 32 * word] = 1
        with pytest.raises(UnknownRevert) as bare:
            system.sender.send(actors.ngo, system.funds.address, bytes(dirty))
        assert bare.value.data == "0x"


def test_disburse_reverts_beyond_released(system: Allmende, actors: Actors) -> None:
    program, _ = _funded_program(system, actors, amount=100 * EUR, released=10 * EUR)
    system.funds.disburse(actors.ngo, program, [(Account.create().address, 4 * EUR)])
    with pytest.raises(FundLedgerInsufficientFunds) as err:
        system.funds.disburse(actors.ngo, program, [(Account.create().address, 7 * EUR)])
    assert (err.value.requested, err.value.available) == (7 * EUR, 6 * EUR)


def test_disburse_with_explicit_gas_still_raises_typed_error(system: Allmende, actors: Actors) -> None:
    program, _ = _funded_program(system, actors, released=EUR)
    with pytest.raises(FundLedgerInsufficientFunds) as err:
        system.funds.disburse(actors.ngo, program, [(Account.create().address, 2 * EUR)], gas=500_000)
    assert err.value.transaction_hash.startswith("0x")  # type: ignore[attr-defined]


# --- refunds ------------------------------------------------------------------------------


def test_refund_returns_unallocated_and_undrawn_rest_to_funder(system: Allmende, actors: Actors) -> None:
    program = _program(system, actors.ngo)
    expiry = system.chain.now() + 10 * DAY
    lot = _lot(system, actors.funder, 100 * EUR, earmark=program, expiry=expiry)
    system.funds.allocate(actors.funder, lot, program, 80 * EUR)
    system.funds.request_tranche(actors.ngo, program, 50 * EUR)
    system.funds.approve_tranche(actors.funder, 1)
    system.funds.disburse(actors.ngo, program, [(Account.create().address, 30 * EUR)])
    with pytest.raises(FundLedgerLotNotExpired) as err:
        system.funds.refund(actors.outsider, lot)
    assert err.value.expiry == expiry
    system.chain.advance_time(10 * DAY)
    before = system.balance(actors.funder.address)
    r = system.funds.refund(actors.outsider, lot)  # anyone may trigger it; only the funder gains
    assert r.event("LotRefunded").args == {"lotId": lot, "funder": actors.funder.address, "amount": 70 * EUR}
    assert r.event("AllocationReturned").args == {
        "allocationId": 1,
        "programId": program,
        "amount": 50 * EUR,
        "releasedAfter": 30 * EUR,
    }
    assert system.balance(actors.funder.address) == before + 70 * EUR
    p = system.funds.program(program)
    assert (p.allocated, p.released, p.disbursed) == (30 * EUR, 30 * EUR, 30 * EUR)
    assert system.balance(system.funds.address) == 0
    with pytest.raises(FundLedgerLotAlreadyRefunded):
        system.funds.refund(actors.funder, lot)
    with pytest.raises(FundLedgerInsufficientFunds):
        system.funds.disburse(actors.ngo, program, [(Account.create().address, 1)])


def test_refund_reverts_for_lot_without_expiry(system: Allmende, actors: Actors) -> None:
    lot = _lot(system, actors.funder, EUR)
    system.chain.advance_time(365 * DAY)
    with pytest.raises(FundLedgerLotNotExpired) as err:
        system.funds.refund(actors.funder, lot)
    assert err.value.expiry == 0
    with pytest.raises(FundLedgerUnknownLot):
        system.funds.refund(actors.funder, 77)


def test_refunds_from_events_keep_apart_lots_refunded_in_one_batch(system: Allmende, actors: Actors) -> None:
    """Two lots refunded by one relayed batch transaction: each refund gets its own allocations back,
    and a reservation released after its lot's refund counts as money returned to that funder."""
    from ledger.fund_events import ReturnedAllocation, refunds
    from ledger.relayer import Relayer

    a = actors
    program = _program(system, a.ngo)
    expiry = system.chain.now() + DAY
    lot_a = _lot(system, a.funder, 40 * EUR, expiry=expiry)
    lot_b = _lot(system, a.funder2, 60 * EUR, expiry=expiry)
    system.funds.allocate(a.funder, lot_a, program, 10 * EUR)
    system.funds.allocate(a.funder2, lot_b, program, 20 * EUR)
    system.funds.set_lot_allocator(a.funder2, lot_b, a.allocator.address)
    reservation = system.funds.reserve(a.allocator, lot_b, 5 * EUR).event("Reserved").args["reservationId"]
    system.chain.advance_time(DAY)
    relayer = Relayer(system, [a.relayer], max_batch=16, max_wait_s=0.2)
    try:
        fwd, funds = system.forwarding, system.funds
        futures = [
            relayer.submit(fwd.sign(who, funds.address, funds.encode("refund", lot), gas=1_000_000))
            for who, lot in ((a.funder, lot_a), (a.funder2, lot_b))
        ]
        outcomes = [f.result(timeout=60) for f in futures]
    finally:
        relayer.close()
    assert outcomes[0].transaction_hash == outcomes[1].transaction_hash
    released = system.funds.release_reservation(a.allocator, reservation)

    got = [
        (r.source, r.lot_id, r.funder, r.amount, r.reservation_id, r.from_allocations)
        for r in refunds(system.events())
    ]
    assert got == [
        ("expired-lot", lot_a, a.funder.address, 40 * EUR, None, (ReturnedAllocation(1, program, 10 * EUR),)),
        (
            "expired-lot",
            lot_b,
            a.funder2.address,
            55 * EUR,
            None,
            (ReturnedAllocation(2, program, 20 * EUR),),
        ),
        ("released-reservation", lot_b, a.funder2.address, 5 * EUR, reservation, ()),
    ]
    assert refunds(system.events())[-1].transaction_hash == released.transaction_hash


# --- the state from events alone -------------------------------------------------------------


def test_state_rebuilt_from_events_equals_contract_views(system: Allmende, actors: Actors) -> None:
    from ledger.fund_events import rebuild_fund_state, trace_payments

    program = _program(system, actors.ngo)
    program2 = _program(system, actors.ngo2)
    lot_a = _lot(system, actors.funder, 40 * EUR, expiry=system.chain.now() + DAY)
    lot_b = _lot(system, actors.funder2, 60 * EUR, earmark=program)
    system.funds.allocate(actors.funder, lot_a, program, 25 * EUR)
    system.funds.set_lot_allocator(actors.funder, lot_a, actors.allocator.address)
    system.funds.allocate(actors.allocator, lot_a, program2, 10 * EUR)
    system.funds.allocate(actors.funder2, lot_b, program, 60 * EUR)
    system.funds.set_program_approver(actors.funder2, program, actors.approver.address)
    system.funds.request_tranche(actors.ngo, program, 70 * EUR)
    system.funds.approve_tranche(actors.approver, 1)
    system.funds.request_tranche(actors.ngo, program, 5 * EUR)
    system.funds.reject_tranche(actors.approver, 2)
    carol, dave = Account.create().address, Account.create().address
    system.funds.disburse(actors.ngo, program, [(carol, 20 * EUR), (dave, 10 * EUR)])
    system.chain.advance_time(DAY)
    system.funds.refund(actors.funder, lot_a)

    events = system.events()
    tokens = [system.token.address]
    assert rebuild_fund_state(events) == system.funds.read_state(tokens)
    # consent from events alone: who was named and revoked, who has money in which program
    from dataclasses import replace

    from ledger.audit import audit_funds, consent_mismatches
    from ledger.fund_events import replay_consent

    system.funds.set_lot_allocator(actors.funder, lot_a, actors.allocator.address, False)  # revoked
    events = system.events()
    consent = replay_consent(events)
    assert consent.lot_allocators == {lot_a: set()} and consent.violations == []
    assert consent.program_funders == {
        program: {actors.funder.address, actors.funder2.address},
        program2: {actors.funder.address},
    }
    assert consent.program_approvers == {program: {actors.funder2.address: {actors.approver.address}}}
    assert audit_funds(system).matches and audit_funds(system).consent == []
    # an allocation by someone the funder never named, or a view that disagrees, is reported
    forged = [
        replace(e, args={**e.args, "allocator": actors.outsider.address}) if e.name == "Allocated" else e
        for e in events
    ]
    assert replay_consent(forged).violations[0].endswith(f"{actors.outsider.address} had no consent")
    stale = replay_consent(events)
    stale.lot_allocators[lot_a].add(actors.allocator.address)
    assert consent_mismatches(system.funds, stale) == [
        f"isLotAllocator({lot_a}, '{actors.allocator.address}') is False, the events give True"
    ]

    payments = trace_payments(events)
    assert [(p.recipient, p.amount) for p in payments] == [(carol, 20 * EUR), (dave, 10 * EUR)]
    assert [(s.lot_id, s.funder, s.amount) for s in payments[0].sources] == [
        (lot_a, actors.funder.address, 20 * EUR)
    ]
    assert [(s.lot_id, s.amount) for s in payments[1].sources] == [(lot_a, 5 * EUR), (lot_b, 5 * EUR)]


def test_a_refund_walks_at_most_a_step_of_allocations_whatever_others_did(
    system: Allmende, actors: Actors
) -> None:
    """Finding 2: a refund used to walk every allocation of its lot in one transaction (~12k gas each),
    so dust allocations could make it cost more than any gas limit. Now each call walks at most
    REFUND_STEP allocations; its cost is bounded whatever the lot's history, and calls go on until done."""
    a = actors
    program = _program(system, a.ngo)
    expiry = system.chain.now() + DAY
    lot = _lot(system, a.funder, 10 * EUR, expiry=expiry)
    dust = 300
    for _ in range(dust):
        system.funds.allocate(a.funder, lot, program, 1)  # one micro-euro each
    step = int(system.funds.call("REFUND_STEP"))
    assert step == 64 and system.funds.refund_pending(lot) == dust
    system.chain.advance_time(DAY)
    before = system.balance(a.funder.address)
    gas, refunded = [], 0
    while system.funds.refund_pending(lot):
        r = system.funds.refund(a.outsider, lot)  # anyone may continue it
        gas.append(r.gas_used)
        refunded += r.event("LotRefunded").args["amount"]
        assert len(r.events_named("AllocationReturned")) <= step
    assert len(gas) == -(-dust // step)
    assert max(gas) < 150_000 + 30_000 * step  # the gateway's sizing (FundLedgerClient.refund_call)
    assert refunded == 10 * EUR and system.balance(a.funder.address) == before + 10 * EUR
    with pytest.raises(FundLedgerLotAlreadyRefunded):
        system.funds.refund(a.outsider, lot)
    print(f"refund step gas: {gas}")


def _dust_program(system: Allmende, a: Actors, dust: int, *, expiry: int = 0) -> tuple[int, int]:
    """A program with `dust` one-micro-euro allocations of one lot, all released; (program, lot)."""
    program = _program(system, a.ngo)
    lot = _lot(system, a.funder, 10 * EUR, expiry=expiry)
    for _ in range(dust):
        system.funds.allocate(a.funder, lot, program, 1)
    tranche = system.funds.request_tranche(a.ngo, program, dust).event("TrancheRequested").args["trancheId"]
    system.funds.approve_tranche(a.funder, tranche)
    return program, lot


def test_a_disbursement_draws_on_at_most_a_step_of_allocations(system: Allmende, actors: Actors) -> None:
    """Finding 2: a disbursement walked as many allocations as its amount needed, so dust in the queue
    made one payment cost any amount of gas. Now one call walks at most DRAW_STEP allocations, and the
    refusal says how much fits; paying in parts goes on."""
    a = actors
    step = int(system.funds.call("DRAW_STEP"))
    assert step == 64
    program, _ = _dust_program(system, a, step + 1)
    recipient = Account.create().address
    plan = system.funds.draw_plan(program, step + 1)
    assert (plan.spent_ahead, plan.walked, plan.drawable) == (0, step, step)
    with pytest.raises(FundLedgerDrawTooLong) as refused:
        system.funds.disburse(a.ngo, program, [(recipient, step + 1)])
    assert (refused.value.programId, refused.value.drawable) == (program, step)
    paid = system.funds.disburse(a.ngo, program, [(recipient, step)])
    assert len(paid.events_named("AllocationDrawn")) == step
    assert system.funds.draw_plan(program, 1).walked == 1
    system.funds.disburse(a.ngo, program, [(recipient, 1)])
    assert system.balance(recipient) == step + 1
    audit = audit_funds(system)
    assert audit.rebuilt == audit.on_chain


def test_spent_allocations_ahead_of_a_draw_are_passed_in_steps_by_anyone(
    system: Allmende, actors: Actors
) -> None:
    """A refund of an expired lot leaves its allocations with nothing to draw. When more than a step of
    them stand at the head of a program's queue, no disbursement fits until `skipSpent` (anyone may
    call it: it moves no money) has moved the cursor past them; the replay follows the cursor."""
    a = actors
    step = int(system.funds.call("DRAW_STEP"))
    expiry = system.chain.now() + DAY
    program, dusty = _dust_program(system, a, step + 6, expiry=expiry)
    system.chain.advance_time(2 * DAY)
    while system.funds.refund_pending(dusty):
        system.funds.refund(a.outsider, dusty)
    fresh = _lot(system, a.funder, 5 * EUR)
    system.funds.allocate(a.funder, fresh, program, 5 * EUR)
    asked = system.funds.request_tranche(a.ngo, program, 5 * EUR)
    system.funds.approve_tranche(a.funder, asked.event("TrancheRequested").args["trancheId"])
    recipient = Account.create().address

    assert system.funds.draw_plan(program, EUR) == DrawPlan(spent_ahead=step, walked=step, drawable=0)
    with pytest.raises(FundLedgerDrawTooLong) as refused:
        system.funds.disburse(a.ngo, program, [(recipient, EUR)])
    assert refused.value.drawable == 0
    with pytest.raises(FundLedgerUnknownProgram):
        system.funds.skip_spent(a.outsider, 999)
    first = system.funds.skip_spent(a.outsider, program)
    assert first.event("DrawCursorMoved").args["cursor"] == step
    second = system.funds.skip_spent(a.outsider, program)
    assert second.event("DrawCursorMoved").args["cursor"] == step + 6
    assert system.funds.skip_spent(a.outsider, program).events_named("DrawCursorMoved") == []
    audit = audit_funds(system)
    assert audit.rebuilt == audit.on_chain  # the replay moved its cursor with the events
    assert system.funds.draw_plan(program, EUR) == DrawPlan(spent_ahead=0, walked=1, drawable=EUR)
    system.funds.disburse(a.ngo, program, [(recipient, EUR)])
    assert system.balance(recipient) == EUR
    audit = audit_funds(system)
    assert audit.rebuilt == audit.on_chain


def test_an_ngo_names_the_people_who_ask_so_maker_checker_holds_between_two_of_its_people(
    system: Allmende, actors: Actors
) -> None:
    """Issue 9, people: a tranche used to be asked for with the NGO's own key, so on chain the rule
    requester != approver held between the NGO and a person, not between two people of the NGO. Now an
    NGO names its people's keys as requesters; a person who asked can never decide their own request,
    another person can, and the NGO can still withdraw a request a person made."""
    a = actors
    program = _program(system, a.ngo)
    lot = _lot(system, a.funder, 10 * EUR)
    system.funds.allocate(a.funder, lot, program, 10 * EUR)
    maria, jonas = a.approver, a.allocator  # two people of the NGO, each with their own key
    system.funds.set_program_approver(a.funder, program, maria.address)
    system.funds.set_program_approver(a.funder, program, jonas.address)

    with pytest.raises(FundLedgerNotProgramNgo):
        system.funds.request_tranche(maria, program, EUR)  # not named yet
    for who in (a.outsider, a.funder):
        with pytest.raises(AccessControlUnauthorizedAccount):
            system.funds.set_requester(who, maria.address)
    with pytest.raises(FundLedgerZeroAccount):
        system.funds.set_requester(a.ngo, "0x" + "00" * 20)
    named = system.funds.set_requester(a.ngo, maria.address)
    assert named.event("RequesterSet").args == {
        "ngo": a.ngo.address,
        "requester": maria.address,
        "allowed": True,
    }
    system.funds.set_requester(a.ngo2, jonas.address)  # another NGO's naming gives nothing here
    assert system.funds.call("isRequester", a.ngo.address, maria.address) is True

    asked = system.funds.request_tranche(maria, program, 2 * EUR).event("TrancheRequested").args
    assert asked["requester"] == maria.address
    with pytest.raises(FundLedgerSelfApproval):
        system.funds.approve_tranche(maria, asked["trancheId"])
    with pytest.raises(FundLedgerNotProgramNgo):
        system.funds.request_tranche(jonas, program, EUR)  # named by another NGO only
    system.funds.approve_tranche(jonas, asked["trancheId"])  # the second person decides

    second = system.funds.request_tranche(maria, program, EUR).event("TrancheRequested").args["trancheId"]
    for who in (jonas, a.ngo2, a.outsider):
        with pytest.raises(FundLedgerNotProgramNgo):
            system.funds.cancel_tranche(who, second)
    system.funds.cancel_tranche(a.ngo, second)  # the NGO withdraws what its person asked
    system.funds.set_requester(a.ngo, maria.address, False)
    with pytest.raises(FundLedgerNotProgramNgo):
        system.funds.request_tranche(maria, program, EUR)
    audit = audit_funds(system)
    assert audit.consent == [] and audit.rebuilt == audit.on_chain
