"""The lineage model: first in, first out per account; every euro keeps its lot; nothing is made or lost."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from governance.lineage_model import UNFUNDED, LineageModel, LineageShortfall

ACCOUNTS = ["a", "b", "c", "shop"]


def test_a_transfer_moves_the_oldest_slices_first_in_order() -> None:
    m = LineageModel()
    m.credit("a", 1, 30)
    m.credit("a", 2, 50)
    assert m.move("a", "shop", 40) == [(1, 30), (2, 10)]
    assert m.slices("a") == [(2, 40)]
    assert m.slices("shop") == [(1, 30), (2, 10)]
    assert m.burn("shop", 35) == [(1, 30), (2, 5)]
    assert m.paid_out == Counter({(1, "shop"): 30, (2, "shop"): 5})
    assert m.moved[(2, "a", "shop")] == 10
    assert m.conserved()


def test_take_back_takes_the_named_lot_newest_first() -> None:
    m = LineageModel()
    m.credit("cp", 1, 10)
    m.credit("cp", 2, 10)
    m.credit("cp", 1, 5)
    m.take_back("cp", 1, 7)
    assert m.slices("cp") == [(1, 8), (2, 10)]
    with pytest.raises(LineageShortfall) as caught:
        m.take_back("cp", 2, 11)
    assert (caught.value.account, caught.value.lot, caught.value.held) == ("cp", 2, 10)
    assert m.conserved()


def test_relabel_swaps_a_lot_in_place_newest_first_and_keeps_every_total() -> None:
    m = LineageModel()
    m.credit("pool", 1, 10)
    m.credit("pool", 2, 5)
    m.credit("b", 2, 8)
    m.credit("b", 3, 4)
    # pool gives 3 of lot 1 the name of lot 2; b gives 3 of lot 2 the name of lot 1: a swap
    m.relabel("pool", 1, 2, 3)
    m.relabel("b", 2, 1, 3)
    assert m.slices("pool") == [(1, 7), (2, 8)]  # the newest part of the lot-1 slice, merged with lot 2
    assert m.slices("b") == [(2, 5), (1, 3), (3, 4)]  # in place: b still spends its oldest money first
    assert (m.balance("pool"), m.balance("b")) == (15, 12)
    assert m.conserved()
    with pytest.raises(LineageShortfall) as caught:
        m.relabel("b", 3, 1, 5)
    assert (caught.value.account, caught.value.lot, caught.value.held) == ("b", 3, 4)


def test_no_account_gives_more_than_it_holds() -> None:
    m = LineageModel()
    m.credit("a", UNFUNDED, 5)
    with pytest.raises(LineageShortfall):
        m.move("a", "b", 6)
    with pytest.raises(LineageShortfall):
        m.burn("b", 1)
    assert m.slices("a") == [(UNFUNDED, 5)]


_step = st.tuples(
    st.sampled_from(["credit", "move", "burn", "debit", "take_back"]),
    st.sampled_from(ACCOUNTS),
    st.sampled_from(ACCOUNTS),
    st.integers(min_value=0, max_value=4),  # lot
    st.integers(min_value=0, max_value=100),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(_step, max_size=40))
def test_money_is_conserved_fifo_holds_and_every_euro_has_a_lot(steps: list[tuple]) -> None:  # type: ignore[type-arg]
    m = LineageModel()
    balances: Counter[str] = Counter()
    arrivals: dict[str, list[int]] = {a: [] for a in ACCOUNTS}  # lots in order of arrival, one per euro
    for op, x, y, lot, amount in steps:
        before = m.slices(x)
        try:
            if op == "credit":
                m.credit(x, lot, amount)
                arrivals[x] += [lot] * amount
                balances[x] += amount
            elif op == "take_back":
                m.take_back(x, lot, amount)
                for _ in range(amount):  # the newest euros of that lot leave
                    i = len(arrivals[x]) - 1 - arrivals[x][::-1].index(lot)
                    del arrivals[x][i]
                balances[x] -= amount
            else:
                if op == "move":
                    slices = m.move(x, y, amount)
                elif op == "burn":
                    slices = m.burn(x, amount)
                else:
                    slices = m.debit(x, amount)
                oldest, arrivals[x] = arrivals[x][:amount], arrivals[x][amount:]
                assert [lot for lot, part in slices for _ in range(part)] == oldest  # first in, first out
                balances[x] -= amount
                if op == "move":
                    arrivals[y] += oldest
                    balances[y] += amount
        except LineageShortfall:
            assert m.slices(x) == before  # a refusal changes nothing
            continue
        assert m.conserved()
        for account in ACCOUNTS:
            assert m.balance(account) == balances[account]
            assert [lot for lot, part in m.slices(account) for _ in range(part)] == arrivals[account]
            assert all(part > 0 for _, part in m.slices(account))
