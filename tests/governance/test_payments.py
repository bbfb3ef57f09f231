"""The payment planner: legs add up, never exceed a balance, spend restricted money before cash."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from governance.errors import GovernanceError
from governance.payments import Leg, NotEnoughBalance, Source, plan_payment

sources = st.lists(
    st.builds(
        Source,
        account=st.sampled_from([f"0x{i:040x}" for i in range(8)]),
        balance=st.integers(min_value=0, max_value=10**9),
        restricted=st.booleans(),
    ),
    max_size=6,
    unique_by=lambda s: s.account,
)


@given(sources, st.integers(min_value=1, max_value=3 * 10**9))
def test_plan_adds_up_within_balances_restricted_first(found: list[Source], amount: int) -> None:
    available = sum(s.balance for s in found)
    if available < amount:
        with pytest.raises(NotEnoughBalance) as refused:
            plan_payment(amount, found)
        assert (refused.value.needed, refused.value.available) == (amount, available)
        return
    legs = plan_payment(amount, found)
    balances = {s.account: s for s in found}
    assert sum(leg.amount for leg in legs) == amount
    assert all(0 < leg.amount <= balances[leg.account].balance for leg in legs)
    assert len({leg.account for leg in legs}) == len(legs)
    kinds = [leg.restricted for leg in legs]
    assert kinds == sorted(kinds, reverse=True)  # restricted legs come before cash legs
    if any(not leg.restricted for leg in legs):  # cash is touched only once restricted money is used up
        used = {leg.account: leg.amount for leg in legs}
        assert all(used.get(s.account) == s.balance for s in found if s.restricted and s.balance)
    # only the last leg may leave money on its account
    assert all(leg.amount == balances[leg.account].balance for leg in legs[:-1])


def test_largest_balance_first_within_a_kind() -> None:
    found = [Source("0xa", 500, False), Source("0xb", 300, True), Source("0xc", 900, False)]
    assert plan_payment(1000, found) == [Leg("0xb", 300, True), Leg("0xc", 700, False)]


def test_not_enough_is_a_governance_error() -> None:
    with pytest.raises(GovernanceError):
        plan_payment(10, [Source("0xa", 9, False)])
    with pytest.raises(ValueError):
        plan_payment(0, [])
