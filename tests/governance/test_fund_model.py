"""The plain-Python fund ledger model: the contract's rules, errors and check order, without a chain."""

from __future__ import annotations

import ast
import copy
from collections.abc import Callable
from pathlib import Path

import pytest

from governance import fund_model as fm

LEDGER = "0x" + "1e" * 20
TOKEN = "0x" + "70" * 20
OTHER_TOKEN = "0x" + "71" * 20
ADMIN, FUNDER, FUNDER2, NGO, NGO2, APPROVER, ALLOCATOR, RECEIVER, ALICE, BOB = (
    "0x" + f"{i:02x}" * 20 for i in range(1, 11)
)
NOW = 1_000


@pytest.fixture
def model() -> fm.FundModel:
    m = fm.FundModel(ledger=LEDGER)
    for role, who in [
        (fm.ADMIN_ROLE, ADMIN),
        (fm.FUNDER_ROLE, FUNDER),
        (fm.FUNDER_ROLE, FUNDER2),
        (fm.NGO_ROLE, NGO),
        (fm.NGO_ROLE, NGO2),
        (fm.APPROVER_ROLE, APPROVER),
        (fm.APPROVER_ROLE, NGO2),
        (fm.ALLOCATOR_ROLE, ALLOCATOR),
    ]:
        m.grant_role(role, who)
    for token in (TOKEN, OTHER_TOKEN):
        m.allowed_tokens[token] = True
        for funder in (FUNDER, FUNDER2):
            m.mint(token, funder, 1_000)
            m.approve(token, funder, LEDGER, fm.MAX_UINT256)
    m.add_receiver(RECEIVER)
    return m


def _released(m: fm.FundModel, lots: list[tuple[str, int]], released: int) -> int:
    """A program of NGO funded by `lots` (funder, amount) and `released` approved."""
    program = m.create_program(NGO, TOKEN)
    for funder, amount in lots:
        lot = m.deposit(funder, TOKEN, amount, now=NOW)
        m.allocate(funder, lot, program, amount, now=NOW)
        m.set_program_approver(funder, program, APPROVER, True)  # each funder names the same checker
    tranche = m.request_tranche(NGO, program, released)
    m.approve_tranche(APPROVER, tranche)
    return program


def test_governance_model_stays_pure() -> None:
    """No I/O, web3 or ledger imports: the layers run api -> governance -> ledger."""
    tree = ast.parse(Path(fm.__file__).read_text())
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert imported <= {"__future__", "collections.abc", "dataclasses", "enum", "typing"}


def test_disbursement_draws_first_in_first_out(model: fm.FundModel) -> None:
    program = _released(model, [(FUNDER, 30), (FUNDER2, 50)], 80)
    batch = model.disburse(NGO, program, [ALICE, BOB], [20, 25])
    assert batch == fm.Batch(1, program, 45, (fm.Draw(1, 1, 30), fm.Draw(2, 2, 15)))
    assert (model.programs[program].disbursed, model.programs[program].draw_cursor) == (45, 1)
    assert (model.balance(TOKEN, ALICE), model.balance(TOKEN, BOB)) == (20, 25)
    assert model.balance(TOKEN, LEDGER) == model.held(TOKEN) == 35
    assert model.counts() == (2, 1, 2, 1, 1, 0)


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda m: m.deposit(NGO, "0x" + "99" * 20, 0, now=NOW), fm.AccessControlUnauthorizedAccount),
        (lambda m: m.deposit(FUNDER, "0x" + "99" * 20, 0, now=NOW), fm.FundLedgerTokenNotAllowed),
        (lambda m: m.deposit(FUNDER, TOKEN, 0, 9, now=NOW), fm.FundLedgerZeroAmount),
        (lambda m: m.deposit(FUNDER, TOKEN, 5, 9, NOW, now=NOW), fm.FundLedgerUnknownProgram),
        (lambda m: m.deposit(FUNDER, TOKEN, 5, 0, NOW, now=NOW), fm.FundLedgerExpiryInPast),
        (lambda m: m.deposit(FUNDER, TOKEN, 1_001, now=NOW), fm.ERC20InsufficientBalance),
        (lambda m: m.allocate(NGO, 1, 1, 0, now=NOW), fm.FundLedgerNotLotAllocator),
        (lambda m: m.allocate(FUNDER, 1, 1, 0, now=NOW + 10), fm.FundLedgerZeroAmount),
        (lambda m: m.allocate(FUNDER, 1, 1, 101, now=NOW + 10), fm.FundLedgerLotExpired),
        (lambda m: m.allocate(FUNDER, 1, 1, 101, now=NOW), fm.FundLedgerInsufficientFunds),
        (lambda m: m.reserve(ALLOCATOR, 1, 0, now=NOW, requester=FUNDER), fm.FundLedgerZeroAmount),
        (lambda m: m.refund(ALICE, 1, now=NOW + 9), fm.FundLedgerLotNotExpired),
    ],
)
def test_rejections_come_in_the_contracts_order_and_change_nothing(
    model: fm.FundModel, call: Callable[[fm.FundModel], object], error: type[fm.ModelError]
) -> None:
    model.create_program(NGO, TOKEN)
    model.deposit(FUNDER, TOKEN, 100, 0, NOW + 10, now=NOW)
    before = copy.deepcopy(model)
    with pytest.raises(error):
        call(model)
    assert model == before


def test_errors_carry_the_solidity_arguments(model: fm.FundModel) -> None:
    with pytest.raises(fm.AccessControlUnauthorizedAccount) as denied:
        model.deposit(NGO, TOKEN, 5, now=NOW)
    assert denied.value.values == (NGO, fm.FUNDER_ROLE)
    with pytest.raises(fm.FundLedgerExpiryInPast) as past:
        model.deposit(FUNDER, TOKEN, 5, 0, NOW, now=NOW)  # expiry == now is already past
    assert past.value.fields == {"expiry": NOW, "now_": NOW}


def test_earmarks_and_tokens_must_match(model: fm.FundModel) -> None:
    a, b = model.create_program(NGO, TOKEN), model.create_program(NGO2, TOKEN)
    other = model.create_program(NGO, OTHER_TOKEN)
    with pytest.raises(fm.FundLedgerTokenMismatch):
        model.deposit(FUNDER, TOKEN, 5, earmark=other, now=NOW)
    lot = model.deposit(FUNDER, TOKEN, 10, earmark=a, now=NOW)
    model.set_lot_allocator(FUNDER, lot, ALLOCATOR, True)
    with pytest.raises(fm.FundLedgerEarmarkMismatch) as err:
        model.allocate(ALLOCATOR, lot, b, 5, now=NOW)
    assert err.value.values == (lot, a, b)
    free = model.deposit(FUNDER, TOKEN, 10, now=NOW)
    with pytest.raises(fm.FundLedgerTokenMismatch):
        model.allocate(FUNDER, free, other, 5, now=NOW)
    with pytest.raises(fm.FundLedgerEarmarkMismatch) as reserved:
        model.reserve(ALLOCATOR, lot, 5, now=NOW)  # a named allocator; a reservation has no program: 0
    assert reserved.value.values == (lot, a, 0)


def test_tranches_need_a_second_person_and_are_decided_once(model: fm.FundModel) -> None:
    program = model.create_program(NGO2, TOKEN)
    lot = model.deposit(FUNDER, TOKEN, 50, now=NOW)
    model.allocate(FUNDER, lot, program, 50, now=NOW)
    tranche = model.request_tranche(NGO2, program, 40)
    with pytest.raises(fm.FundLedgerNotProgramApprover):  # the role alone no longer decides
        model.approve_tranche(APPROVER, tranche)
    model.set_program_approver(FUNDER, program, APPROVER, True)
    model.set_program_approver(FUNDER, program, NGO2, True)
    with pytest.raises(fm.FundLedgerSelfApproval):
        model.approve_tranche(NGO2, tranche)  # NGO2 is an approver, but asked for it
    with pytest.raises(fm.FundLedgerNotProgramNgo):
        model.cancel_tranche(NGO, tranche)
    model.approve_tranche(APPROVER, tranche)
    with pytest.raises(fm.FundLedgerTrancheNotPending) as err:
        model.reject_tranche(APPROVER, tranche)
    assert err.value.values == (tranche, fm.TrancheStatus.APPROVED)
    second = model.request_tranche(NGO2, program, 11)
    with pytest.raises(fm.FundLedgerInsufficientFunds) as short:
        model.approve_tranche(APPROVER, second)
    assert short.value.values == (11, 10)


def test_bad_batches(model: fm.FundModel) -> None:
    program = _released(model, [(FUNDER, 10)], 10)
    with pytest.raises(fm.FundLedgerBadBatch):
        model.disburse(NGO, program, [ALICE], [1, 2])
    with pytest.raises(fm.FundLedgerZeroRecipient) as zero:
        model.disburse(NGO, program, [ALICE, fm.ZERO_ADDRESS], [1, 0])  # the recipient is checked first
    assert zero.value.values == (1,)
    with pytest.raises(fm.FundLedgerAmountOverflow):
        model.disburse(NGO, program, [ALICE, BOB], [fm.UINT128_MAX, 1])
    with pytest.raises(fm.FundLedgerInsufficientFunds):
        model.disburse(NGO, program, [ALICE], [fm.UINT128_MAX])


def test_refund_returns_unallocated_and_undrawn_money_after_expiry(model: fm.FundModel) -> None:
    program = model.create_program(NGO, TOKEN)
    lot = model.deposit(FUNDER, TOKEN, 100, 0, NOW + 10, now=NOW)
    model.allocate(FUNDER, lot, program, 80, now=NOW)
    model.approve_tranche(FUNDER, model.request_tranche(NGO, program, 50))
    model.disburse(NGO, program, [ALICE], [30])
    refund = model.refund(BOB, lot, now=NOW + 10)  # anyone, from the expiry on
    assert refund == fm.Refund(lot, FUNDER, 70, (fm.Returned(1, program, 50, 30),))
    assert model.balance(TOKEN, FUNDER) == 1_000 - 100 + 70
    p = model.programs[program]
    assert (p.allocated, p.released, p.disbursed) == (30, 30, 30)
    assert model.balance(TOKEN, LEDGER) == model.held(TOKEN) == 0
    assert model.accounted(lot) == 100
    with pytest.raises(fm.FundLedgerLotAlreadyRefunded):
        model.refund(FUNDER, lot, now=NOW + 10)


def test_reservations_allocate_and_release(model: fm.FundModel) -> None:
    program = model.create_program(NGO, TOKEN)
    lot = model.deposit(FUNDER, TOKEN, 100, 0, NOW + 10, now=NOW)
    with pytest.raises(fm.AccessControlUnauthorizedAccount):
        model.reserve(FUNDER, lot, 10, now=NOW)
    reservation = model.reserve(ALLOCATOR, lot, 80, now=NOW, requester=FUNDER)
    with pytest.raises(fm.FundLedgerNotReservationHolder):
        model.allocate_reserved(FUNDER, reservation, program, 10, now=NOW)
    model.allocate_reserved(ALLOCATOR, reservation, program, 50, now=NOW)
    with pytest.raises(fm.FundLedgerNotReservationHolder):
        model.release_reservation(FUNDER, reservation, now=NOW + 9)  # the holder's until the expiry
    released = model.release_reservation(ALLOCATOR, reservation, now=NOW)
    assert released == fm.Released(reservation, lot, 30, False)
    assert model.lots[lot].unallocated == 50
    second = model.reserve(ALLOCATOR, lot, 20, now=NOW, requester=FUNDER)
    with pytest.raises(fm.FundLedgerLotExpired) as expired:
        model.allocate_reserved(ALLOCATOR, second, program, 5, now=NOW + 10)
    assert expired.value.values == (lot, NOW + 10)
    assert model.refund(ALICE, lot, now=NOW + 10).amount == 30 + 50  # the reserved 20 stay reserved
    with pytest.raises(fm.FundLedgerLotExpired):
        model.allocate_reserved(ALLOCATOR, second, program, 5, now=NOW + 10)
    released = model.release_reservation(BOB, second, now=NOW + 10)  # anyone, after the expiry
    assert released == fm.Released(second, lot, 20, True)
    assert model.balance(TOKEN, FUNDER) == 1_000 - 100 + 80 + 20
    assert model.accounted(lot) == 100
    with pytest.raises(fm.FundLedgerUnknownReservation):
        model.release_reservation(ALLOCATOR, 3, now=NOW)


def test_receiver_returns_go_back_to_the_lots_last_drawn_first(model: fm.FundModel) -> None:
    program = _released(model, [(FUNDER, 30), (FUNDER2, 30)], 60)
    with pytest.raises(fm.FundLedgerZeroRecipient):
        model.disburse_to(NGO, program, fm.ZERO_ADDRESS, 5)
    model.add_receiver(BOB, accepts=False)
    with pytest.raises(fm.FundLedgerReceiverRejected):
        model.disburse_to(NGO, program, BOB, 5)
    batch = model.disburse_to(NGO, program, RECEIVER, 50)
    assert batch.draws == (fm.Draw(1, 1, 30), fm.Draw(2, 2, 20))
    with pytest.raises(fm.FundLedgerNotBatchReceiver):
        model.return_funds(ALICE, batch.batch_id, 5, now=NOW)
    with pytest.raises(fm.ERC20InsufficientAllowance):
        model.return_funds(RECEIVER, batch.batch_id, 5, now=NOW)  # the receiver has not approved the ledger
    model.approve(TOKEN, RECEIVER, LEDGER, 25)
    returned = model.return_funds(RECEIVER, batch.batch_id, 25, now=NOW)
    assert returned == (fm.FundsReturned(3, 2, 20), fm.FundsReturned(4, 1, 5))
    p = model.programs[program]
    assert (p.allocated, p.released, p.disbursed) == (85, 85, 50)
    assert model.receiver_batches[batch.batch_id].returnable == 25
    assert model.balance(TOKEN, LEDGER) == model.held(TOKEN) == 35
    assert (model.accounted(1), model.accounted(2)) == (30, 30)


def test_receiver_returns_for_a_refunded_lot_go_to_its_funder(model: fm.FundModel) -> None:
    program = model.create_program(NGO, TOKEN)
    lot_a = model.deposit(FUNDER, TOKEN, 40, 0, NOW + 10, now=NOW)
    lot_b = model.deposit(FUNDER2, TOKEN, 30, now=NOW)
    model.allocate(FUNDER, lot_a, program, 30, now=NOW)
    model.allocate(FUNDER2, lot_b, program, 30, now=NOW)
    model.approve_tranche(FUNDER, model.request_tranche(NGO, program, 60))
    batch = model.disburse_to(NGO, program, RECEIVER, 50)  # 30 from lot a, 20 from lot b
    assert model.refund(ALICE, lot_a, now=NOW + 10).amount == 10
    model.approve(TOKEN, RECEIVER, LEDGER, 45)
    before = copy.deepcopy(model)
    with pytest.raises(fm.ERC20InsufficientAllowance):
        model.return_funds(RECEIVER, batch.batch_id, 46, now=NOW + 10)  # the allowance is checked first
    assert model == before
    returned = model.return_funds(RECEIVER, batch.batch_id, 45, now=NOW + 10)
    assert returned == (fm.FundsReturned(3, lot_b, 20), fm.FundsReturned(0, lot_a, 25, True))
    assert model.balance(TOKEN, FUNDER) == 1_000 - 40 + 10 + 25
    p = model.programs[program]
    assert (p.allocated, p.released, p.disbursed) == (80, 80, 50)
    assert model.balance(TOKEN, LEDGER) == model.held(TOKEN) == 30
    assert (model.accounted(lot_a), model.accounted(lot_b)) == (40, 30)
    assert model.lot_allocations[lot_a] == [1]  # nothing of the refunded lot allocated anew
