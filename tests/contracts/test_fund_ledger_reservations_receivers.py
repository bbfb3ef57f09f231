"""FundLedger reservations (budget rounds) and receiver contracts (claim programs)."""

from __future__ import annotations

import pytest
from eth_account import Account

from ledger.contracts import ContractClient
from ledger.fund_events import rebuild_fund_state, refunds, trace_payments
from ledger.revert_errors import (
    AccessControlUnauthorizedAccount,
    FundLedgerEarmarkMismatch,
    FundLedgerInsufficientFunds,
    FundLedgerLotExpired,
    FundLedgerNotBatchReceiver,
    FundLedgerNotLotAllocator,
    FundLedgerNotReservationHolder,
    FundLedgerReceiverRejected,
    FundLedgerUnknownReservation,
    FundLedgerZeroAmount,
    FundLedgerZeroRecipient,
)
from ledger.roles import Role
from ledger.system import Allmende, _deploy_data
from tests.conftest import EUR, Actors

DAY = 86_400


def _program(system: Allmende, ngo) -> int:  # type: ignore[no-untyped-def]
    return system.funds.create_program(ngo, system.token.address).event("ProgramCreated").args["programId"]


def _lot(system: Allmende, funder, amount: int, **kw: int) -> int:  # type: ignore[no-untyped-def]
    return (
        system.funds.deposit(funder, system.token.address, amount, **kw).event("LotDeposited").args["lotId"]
    )


def _probe(system: Allmende, a: Actors) -> ContractClient:
    data = _deploy_data(system.sender, "FundsReceiverProbe", [system.funds.address])
    address = system.sender.send(a.admin, None, data).contract_address
    assert address
    return ContractClient(system.sender, "FundsReceiverProbe", address)


def _state_matches_events(system: Allmende) -> None:
    assert rebuild_fund_state(system.events()) == system.funds.read_state([system.token.address])


# --- reservations ---------------------------------------------------------------------------


def test_reservation_allocates_to_programs_and_releases_the_rest(system: Allmende, actors: Actors) -> None:
    a = actors
    p1, p2 = _program(system, a.ngo), _program(system, a.ngo2)
    lot = _lot(system, a.funder, 100 * EUR)
    r = system.funds.reserve(a.allocator, lot, 80 * EUR, a.funder.address)
    assert r.event("Reserved").args == {
        "reservationId": 1,
        "lotId": lot,
        "holder": a.allocator.address,
        "amount": 80 * EUR,
    }
    assert system.funds.lot(lot).unallocated == 20 * EUR
    with pytest.raises(FundLedgerInsufficientFunds):
        system.funds.allocate(a.funder, lot, p1, 21 * EUR)  # the reserved part is out of reach
    alloc = system.funds.allocate_reserved(a.allocator, 1, p1, 50 * EUR).event("Allocated").args
    assert (alloc["lotId"], alloc["programId"], alloc["reservationId"]) == (lot, p1, 1)
    system.funds.allocate_reserved(a.allocator, 1, p2, 10 * EUR)
    with pytest.raises(FundLedgerInsufficientFunds) as err:
        system.funds.allocate_reserved(a.allocator, 1, p2, 21 * EUR)
    assert (err.value.requested, err.value.available) == (21 * EUR, 20 * EUR)
    released = system.funds.release_reservation(a.allocator, 1).event("ReservationReleased").args
    assert (released["amount"], released["toFunder"]) == (20 * EUR, False)
    assert system.funds.lot(lot).unallocated == 40 * EUR
    assert system.funds.reservation(1).amount == 0
    _state_matches_events(system)


def test_reserve_is_for_allocators_and_unearmarked_lots(system: Allmende, actors: Actors) -> None:
    a = actors
    program = _program(system, a.ngo)
    lot = _lot(system, a.funder, 10 * EUR)
    earmarked = _lot(system, a.funder, 10 * EUR, earmark=program)
    with pytest.raises(AccessControlUnauthorizedAccount) as err:
        system.funds.reserve(a.funder, lot, EUR)
    assert err.value.neededRole == Role.ALLOCATOR.id
    # Finding 1: the role holder (a budget contract) reserves only for someone the funder consents to.
    for requester in (a.ngo2, a.funder2, a.outsider):
        with pytest.raises(FundLedgerNotLotAllocator) as err2:
            system.funds.reserve(a.allocator, lot, EUR, requester.address)
        assert (err2.value.lotId, err2.value.account) == (lot, requester.address)
    system.funds.set_lot_allocator(a.funder, lot, a.ngo2.address)
    system.funds.reserve(a.allocator, lot, EUR, a.ngo2.address)  # a named allocator asked
    with pytest.raises(FundLedgerEarmarkMismatch):
        system.funds.reserve(a.allocator, earmarked, EUR, a.funder.address)
    with pytest.raises(FundLedgerZeroAmount):
        system.funds.reserve(a.allocator, lot, 0, a.funder.address)
    with pytest.raises(FundLedgerInsufficientFunds):
        system.funds.reserve(a.allocator, lot, 10 * EUR, a.funder.address)


def test_only_the_holder_uses_a_reservation(system: Allmende, actors: Actors) -> None:
    a = actors
    program = _program(system, a.ngo)
    lot = _lot(system, a.funder, 10 * EUR)
    system.funds.reserve(a.allocator, lot, 5 * EUR, a.funder.address)
    system.grant(a.admin, Role.ALLOCATOR, a.outsider.address)
    with pytest.raises(FundLedgerNotReservationHolder) as err:
        system.funds.allocate_reserved(a.outsider, 1, program, EUR)
    assert err.value.account == a.outsider.address
    with pytest.raises(FundLedgerNotReservationHolder):
        system.funds.release_reservation(a.outsider, 1)
    with pytest.raises(FundLedgerUnknownReservation):
        system.funds.release_reservation(a.allocator, 2)
    with pytest.raises(FundLedgerUnknownReservation):
        system.funds.reservation(2)
    with pytest.raises(FundLedgerZeroAmount):
        system.funds.allocate_reserved(a.allocator, 1, program, 0)


def test_released_reservation_of_refunded_lot_goes_to_the_funder(system: Allmende, actors: Actors) -> None:
    a = actors
    lot = _lot(system, a.funder, 10 * EUR, expiry=system.chain.now() + DAY)
    system.funds.reserve(a.allocator, lot, 6 * EUR, a.funder.address)
    system.chain.advance_time(DAY)
    refunded = system.funds.refund(a.funder, lot).event("LotRefunded").args["amount"]
    assert refunded == 4 * EUR  # the reserved part is the round's until it is released
    before = system.balance(a.funder.address)
    ev = system.funds.release_reservation(a.allocator, 1).event("ReservationReleased").args
    assert (ev["amount"], ev["toFunder"]) == (6 * EUR, True)
    assert system.balance(a.funder.address) == before + 6 * EUR
    assert system.balance(system.funds.address) == 0
    _state_matches_events(system)


def test_reserved_money_of_an_expired_lot_cannot_be_allocated_only_released(
    system: Allmende, actors: Actors
) -> None:
    """A budget round's reservation is the round's until the lot expires; then it can only go back."""
    a = actors
    program = _program(system, a.ngo)
    expiry = system.chain.now() + DAY
    lot = _lot(system, a.funder, 10 * EUR, expiry=expiry)
    system.funds.reserve(a.allocator, lot, 6 * EUR, a.funder.address)
    system.funds.allocate_reserved(a.allocator, 1, program, EUR)  # before the expiry: fine
    with pytest.raises(FundLedgerNotReservationHolder):
        system.funds.release_reservation(a.funder, 1)  # before the expiry: the holder's
    system.chain.advance_time(DAY)
    with pytest.raises(FundLedgerLotExpired) as err:
        system.funds.allocate_reserved(a.allocator, 1, program, EUR)
    assert (err.value.lotId, err.value.expiry) == (lot, expiry)
    assert system.funds.reservation(1).amount == 5 * EUR
    # After the expiry anyone may release it, here the funder: back to the lot, then refunded.
    ev = system.funds.release_reservation(a.funder, 1).event("ReservationReleased").args
    assert (ev["amount"], ev["toFunder"]) == (5 * EUR, False)
    before = system.balance(a.funder.address)
    assert system.funds.refund(a.outsider, lot).event("LotRefunded").args["amount"] == 10 * EUR
    assert system.balance(a.funder.address) == before + 10 * EUR  # 4 unreserved, 5 released, 1 undrawn
    assert system.balance(system.funds.address) == 0
    _state_matches_events(system)


def test_reserved_money_of_a_refunded_lot_goes_to_the_funder_not_to_programs(
    system: Allmende, actors: Actors
) -> None:
    a = actors
    program = _program(system, a.ngo)
    expiry = system.chain.now() + DAY
    lot = _lot(system, a.funder, 10 * EUR, expiry=expiry)
    system.funds.reserve(a.allocator, lot, 6 * EUR, a.funder.address)
    system.chain.advance_time(DAY)
    assert system.funds.refund(a.outsider, lot).event("LotRefunded").args["amount"] == 4 * EUR
    with pytest.raises(FundLedgerLotExpired):  # the old contract let the round allocate it anyway
        system.funds.allocate_reserved(a.allocator, 1, program, 6 * EUR)
    assert system.funds.program(program).allocated == 0
    before = system.balance(a.funder.address)
    ev = system.funds.release_reservation(a.outsider, 1).event("ReservationReleased").args
    assert (ev["amount"], ev["toFunder"]) == (6 * EUR, True)
    assert system.balance(a.funder.address) == before + 6 * EUR
    assert system.balance(system.funds.address) == 0
    _state_matches_events(system)


# --- receivers ------------------------------------------------------------------------------


def _released_program(system: Allmende, a: Actors) -> tuple[int, int, int]:
    program = _program(system, a.ngo)
    lot_a = _lot(system, a.funder, 30 * EUR)
    lot_b = _lot(system, a.funder2, 30 * EUR)
    system.funds.allocate(a.funder, lot_a, program, 30 * EUR)
    system.funds.allocate(a.funder2, lot_b, program, 30 * EUR)
    system.funds.request_tranche(a.ngo, program, 60 * EUR)
    system.funds.approve_tranche(a.funder, 1)  # a funder whose money is in the program
    return program, lot_a, lot_b


def test_disburse_to_receiver_tells_it_program_and_batch(system: Allmende, actors: Actors) -> None:
    a = actors
    program, lot_a, lot_b = _released_program(system, a)
    probe = _probe(system, a)
    system.funds.disburse(a.ngo, program, [(Account.create().address, 10 * EUR)])
    r = system.funds.disburse_to(a.ngo, program, probe.address, 40 * EUR, b"claim program 7")
    assert r.event("ReceiverFunded").args["receiver"] == probe.address
    assert [(e.args["lotId"], e.args["amount"]) for e in r.events_named("AllocationDrawn")] == [
        (lot_a, 20 * EUR),
        (lot_b, 20 * EUR),
    ]
    assert (probe.call("lastProgramId"), probe.call("lastBatchId"), probe.call("lastAmount")) == (
        program,
        2,
        40 * EUR,
    )
    assert probe.call("lastData") == b"claim program 7"
    assert system.balance(probe.address) == 40 * EUR
    batch = system.funds.call("getReceiverBatch", 2)
    assert batch == (probe.address, program, 40 * EUR)
    _state_matches_events(system)


def test_returned_funds_go_back_to_the_lots_they_came_from(system: Allmende, actors: Actors) -> None:
    a = actors
    program, lot_a, lot_b = _released_program(system, a)
    probe = _probe(system, a)
    system.funds.disburse_to(a.ngo, program, probe.address, 50 * EUR)  # 30 from lot a, 20 from lot b
    r = probe.transact(a.outsider, "giveBack", system.token.address, 1, 25 * EUR)
    returned = [(e.args["lotId"], e.args["amount"]) for e in r.events_named("FundsReturned")]
    assert returned == [(lot_b, 20 * EUR), (lot_a, 5 * EUR)]  # last drawn, first returned
    p = system.funds.program(program)
    assert (p.allocated, p.released, p.disbursed) == (85 * EUR, 85 * EUR, 50 * EUR)
    assert system.balance(system.funds.address) == 35 * EUR
    with pytest.raises(FundLedgerInsufficientFunds) as err:
        probe.transact(a.outsider, "giveBack", system.token.address, 1, 26 * EUR)
    assert err.value.available == 25 * EUR
    alice = Account.create().address
    system.funds.disburse(a.ngo, program, [(alice, 35 * EUR)])
    _state_matches_events(system)
    last = trace_payments(system.events())[-1]
    assert (last.recipient, sum(s.amount for s in last.sources)) == (alice, 35 * EUR)


def test_receiver_calls_are_guarded(system: Allmende, actors: Actors) -> None:
    a = actors
    program, _, _ = _released_program(system, a)
    probe = _probe(system, a)
    probe.transact(a.admin, "setAccept", False)
    with pytest.raises(FundLedgerReceiverRejected) as err:
        system.funds.disburse_to(a.ngo, program, probe.address, EUR)
    assert err.value.receiver == probe.address
    probe.transact(a.admin, "setAccept", True)
    with pytest.raises(FundLedgerZeroRecipient):
        system.funds.disburse_to(a.ngo, program, "0x" + "00" * 20, EUR)
    with pytest.raises(FundLedgerZeroAmount):
        system.funds.disburse_to(a.ngo, program, probe.address, 0)
    with pytest.raises(FundLedgerInsufficientFunds):
        system.funds.disburse_to(a.ngo, program, probe.address, 61 * EUR)
    system.funds.disburse(a.ngo, program, [(Account.create().address, EUR)])  # an ordinary batch
    with pytest.raises(FundLedgerNotBatchReceiver):
        probe.transact(a.outsider, "giveBack", system.token.address, 1, EUR)
    system.funds.disburse_to(a.ngo, program, probe.address, EUR)
    with pytest.raises(FundLedgerNotBatchReceiver) as err2:
        system.funds.transact(a.outsider, "returnFunds", 2, EUR)
    assert err2.value.account == a.outsider.address
    with pytest.raises(FundLedgerZeroAmount):
        probe.transact(a.outsider, "giveBack", system.token.address, 2, 0)


def test_money_returned_for_a_refunded_lot_goes_to_its_funder(system: Allmende, actors: Actors) -> None:
    """Returned money of a lot refunded since is not allocated anew (where no refund could reach it)."""
    a = actors
    program = _program(system, a.ngo)
    lot_a = _lot(system, a.funder, 40 * EUR, expiry=system.chain.now() + DAY)
    lot_b = _lot(system, a.funder2, 30 * EUR)
    system.funds.allocate(a.funder, lot_a, program, 30 * EUR)
    system.funds.allocate(a.funder2, lot_b, program, 30 * EUR)
    system.funds.request_tranche(a.ngo, program, 60 * EUR)
    system.funds.approve_tranche(a.funder, 1)  # a funder whose money is in the program
    probe = _probe(system, a)
    system.funds.disburse_to(a.ngo, program, probe.address, 50 * EUR)  # 30 from lot a, 20 from lot b
    system.chain.advance_time(DAY)
    assert system.funds.refund(a.outsider, lot_a).event("LotRefunded").args["amount"] == 10 * EUR
    funder_before = system.balance(a.funder.address)
    p_before = system.funds.program(program)

    r = probe.transact(a.outsider, "giveBack", system.token.address, 1, 45 * EUR)
    assert system.balance(a.funder.address) == funder_before + 25 * EUR  # was allocated anew, unrefundable
    returned = [
        (e.args["lotId"], e.args["allocationId"] != 0, e.args["amount"], e.args["toFunder"])
        for e in r.events_named("FundsReturned")
    ]
    assert returned == [(lot_b, True, 20 * EUR, False), (lot_a, False, 25 * EUR, True)]
    assert [(x.source, x.lot_id, x.funder, x.amount, x.batch_id) for x in refunds(system.events())] == [
        ("expired-lot", lot_a, a.funder.address, 10 * EUR, None),
        ("returned-by-receiver", lot_a, a.funder.address, 25 * EUR, 1),  # the funder's refunds list it
    ]
    p = system.funds.program(program)
    assert (p.allocated, p.released, p.disbursed) == (
        p_before.allocated + 20 * EUR,
        p_before.released + 20 * EUR,
        p_before.disbursed,
    )
    assert system.funds.lot(lot_a).unallocated == 0
    assert all(  # nothing of the refunded lot is allocated and undrawn
        system.funds.allocation(i).amount == system.funds.allocation(i).drawn
        for i in system.funds.call("lotAllocations", lot_a)
    )
    assert system.balance(system.funds.address) == p.allocated - p.disbursed == 30 * EUR
    assert system.funds.call("getReceiverBatch", 1)[2] == 5 * EUR
    with pytest.raises(FundLedgerInsufficientFunds):  # only lot b's 20 (and its undrawn 10) came back
        system.funds.disburse(a.ngo, program, [(Account.create().address, 31 * EUR)])
    system.funds.disburse(a.ngo, program, [(Account.create().address, 30 * EUR)])
    _state_matches_events(system)
    payment = trace_payments(system.events())[0]
    assert (payment.recipient, payment.returned) == (probe.address, 45 * EUR)
    assert [(s.lot_id, s.amount) for s in payment.sources] == [(lot_a, 5 * EUR)]


def test_money_returned_for_an_expired_lot_goes_to_its_funder_even_before_the_refund(
    system: Allmende, actors: Actors
) -> None:
    """Finding 4: money returned after the lot expired but before anyone refunded it became a new
    allocation of the expired lot, already released, that could be paid out again while the later
    refund gave the funder nothing of it. Now it goes straight to the funder."""
    a = actors
    program = _program(system, a.ngo)
    lot = _lot(system, a.funder, 40 * EUR, expiry=system.chain.now() + DAY)
    system.funds.allocate(a.funder, lot, program, 30 * EUR)
    system.funds.request_tranche(a.ngo, program, 30 * EUR)
    system.funds.approve_tranche(a.funder, 1)
    probe = _probe(system, a)
    system.funds.disburse_to(a.ngo, program, probe.address, 30 * EUR)
    system.chain.advance_time(DAY)  # expired, nobody has refunded it
    assert not system.funds.lot(lot).refunded
    before = system.balance(a.funder.address)
    r = probe.transact(a.outsider, "giveBack", system.token.address, 1, 12 * EUR)
    back = [
        (e.args["lotId"], e.args["allocationId"], e.args["amount"], e.args["toFunder"])
        for e in r.events_named("FundsReturned")
    ]
    assert back == [(lot, 0, 12 * EUR, True)]
    assert system.balance(a.funder.address) == before + 12 * EUR
    p = system.funds.program(program)
    assert (p.allocated, p.released, p.disbursed) == (30 * EUR, 30 * EUR, 30 * EUR)  # nothing allocated anew
    assert list(system.funds.call("lotAllocations", lot)) == [1]
    with pytest.raises(FundLedgerInsufficientFunds):  # nothing to pay out again
        system.funds.disburse(a.ngo, program, [(Account.create().address, 1)])
    refunded = system.funds.refund(a.outsider, lot).event("LotRefunded").args["amount"]
    assert refunded == 10 * EUR  # the unallocated rest; the returned 12 already went to the funder
    assert system.balance(a.funder.address) == before + 22 * EUR
    _state_matches_events(system)
