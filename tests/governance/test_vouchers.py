"""Voucher codes (format, check symbol) and the per-program keys derived from a client's secret."""

from __future__ import annotations

import itertools
import random

import pytest
from eth_account import Account
from hypothesis import given
from hypothesis import strategies as st

from governance.errors import VoucherCodeError
from governance.vouchers import (
    ALPHABET,
    CODE_LENGTH,
    ProgramRef,
    address_of,
    check_symbol,
    claim_key,
    is_consistent,
    new_client_secret,
    parse_code,
    payout_key,
    qr_png,
    voucher_code,
)

REGISTRY = "0x" + "ab" * 20
PROGRAM = ProgramRef(chain_id=1337, registry=REGISTRY, program_id=1)


def _codes(n: int) -> list[str]:
    rng = random.Random(n)
    return [voucher_code(rng.randbytes(32), PROGRAM, serial) for serial in range(n)]


def _symbols(code: str) -> str:
    return code.replace("-", "")


def test_alphabet_has_no_ambiguous_symbols() -> None:
    assert len(ALPHABET) == len(set(ALPHABET)) == 31
    assert not set("01OIL") & set(ALPHABET)
    assert all(ch.isdigit() or ch.isupper() for ch in ALPHABET)


def test_code_is_four_groups_of_four_from_the_alphabet() -> None:
    for code in _codes(50):
        groups = code.split("-")
        assert [len(g) for g in groups] == [4, 4, 4, 4]
        assert set(_symbols(code)) <= set(ALPHABET)
        assert is_consistent(_symbols(code))
        assert parse_code(code) == code


def test_typing_ignores_case_spaces_and_hyphens() -> None:
    code = _codes(1)[0]
    assert parse_code(code.lower()) == code
    assert parse_code(" ".join(_symbols(code))) == code
    assert parse_code(_symbols(code)) == code


def test_check_symbol_catches_every_single_substitution() -> None:
    for code in _codes(20):
        symbols = _symbols(code)
        for position, wrong in itertools.product(range(CODE_LENGTH), ALPHABET):
            if wrong == symbols[position]:
                continue
            typo = symbols[:position] + wrong + symbols[position + 1 :]
            with pytest.raises(VoucherCodeError, match="typo"):
                parse_code(typo)


def test_check_symbol_catches_every_swap_of_two_symbols() -> None:
    for code in _codes(20):
        symbols = list(_symbols(code))
        for i, j in itertools.combinations(range(CODE_LENGTH), 2):
            if symbols[i] == symbols[j]:
                continue
            swapped = symbols.copy()
            swapped[i], swapped[j] = swapped[j], swapped[i]
            assert not is_consistent("".join(swapped)), (code, i, j)


@given(st.text(alphabet=ALPHABET, min_size=1, max_size=29), st.data())
def test_any_payload_gets_a_check_that_single_changes_break(payload: str, data: st.DataObject) -> None:
    symbols = payload + check_symbol(payload)
    assert is_consistent(symbols)
    position = data.draw(st.integers(0, len(symbols) - 1))
    wrong = data.draw(st.sampled_from(ALPHABET).filter(lambda ch: ch != symbols[position]))
    assert not is_consistent(symbols[:position] + wrong + symbols[position + 1 :])


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("ABCD-EFGH-JKMN", "16 symbols, not 12"),
        ("ABCD-EFGH-JKMN-PQR0", "not in a voucher code: 0"),
        ("", "not 0"),
    ],
)
def test_malformed_codes_are_refused(text: str, problem: str) -> None:
    with pytest.raises(VoucherCodeError, match=problem):
        parse_code(text)


def test_keys_and_codes_are_fresh_per_program_and_stable_per_client() -> None:
    secret = new_client_secret()
    others = [
        ProgramRef(1337, REGISTRY, 2),
        ProgramRef(1338, REGISTRY, 1),
        ProgramRef(1337, "0x" + "cd" * 20, 1),
    ]
    key = claim_key(secret, PROGRAM)
    assert claim_key(secret, PROGRAM) == key  # the gateway re-derives it, nothing else to store
    assert all(claim_key(secret, other) != key for other in others)
    assert all(voucher_code(secret, other) != voucher_code(secret, PROGRAM) for other in others)
    assert claim_key(new_client_secret(), PROGRAM) != key
    assert payout_key(secret, PROGRAM) not in (key, payout_key(secret, others[0]))
    assert address_of(key) == Account.from_key(key).address
    assert voucher_code(secret, PROGRAM, serial=1) != voucher_code(secret, PROGRAM, serial=0)


def test_a_short_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        claim_key(b"too short", PROGRAM)


def test_qr_code_is_a_png_of_the_code_or_the_claim_link() -> None:
    code = _codes(1)[0]
    plain, linked = qr_png(code), qr_png(code, "https://allmende.example/claim")
    assert plain.startswith(b"\x89PNG\r\n\x1a\n") and linked.startswith(b"\x89PNG\r\n\x1a\n")
    assert plain != linked
