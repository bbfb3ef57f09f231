"""Masking immutables: the helpers an auditor's tools stand on."""

from __future__ import annotations

import pytest

from ledger.chain_reading import immutable_values, mask_immutables


def test_masking_zeroes_every_place_of_every_immutable_and_nothing_else() -> None:
    code = bytes(range(1, 101))
    refs = {"7": [{"start": 10, "length": 4}, {"start": 50, "length": 2}], "9": [{"start": 90, "length": 10}]}
    masked = mask_immutables(code, refs)
    zeroed = set(range(10, 14)) | {50, 51} | set(range(90, 100))
    assert [i for i, b in enumerate(masked) if b == 0] == sorted(zeroed)
    assert all(masked[i] == code[i] for i in range(100) if i not in zeroed)
    assert immutable_values(code, refs) == {"7": code[10:14], "9": code[90:100]}


def test_an_immutable_beyond_the_code_is_an_error_not_a_short_match() -> None:
    with pytest.raises(ValueError):
        mask_immutables(bytes(10), {"1": [{"start": 8, "length": 32}]})
