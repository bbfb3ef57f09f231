"""The one calldata word a claim packs its small numbers into (`IClaimProgram.claim`)."""

from __future__ import annotations

import pytest

from ledger.claims import pack_claim


def test_pack_claim_puts_each_number_in_its_bits() -> None:
    packed = pack_claim(root_id=3, position=511, index=2**48 - 1, amount=10**18, deadline=1_900_000_000)
    assert packed >> 232 == 3
    assert (packed >> 216) & 0xFFFF == 511
    assert (packed >> 168) & (2**48 - 1) == 2**48 - 1
    assert (packed >> 48) & (2**120 - 1) == 10**18
    assert packed & (2**48 - 1) == 1_900_000_000
    assert packed < 2**256


@pytest.mark.parametrize(
    ("field", "value"),
    [("root_id", 2**24), ("position", 2**16), ("index", 2**48), ("amount", 2**120), ("deadline", -1)],
)
def test_pack_claim_refuses_a_number_that_does_not_fit(field: str, value: int) -> None:
    numbers = {"root_id": 1, "position": 0, "index": 0, "amount": 1, "deadline": 1} | {field: value}
    with pytest.raises(ValueError, match="must fit"):
        pack_claim(**numbers)
