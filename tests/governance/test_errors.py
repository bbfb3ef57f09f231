"""The governance layer has one exception root: whatever it raises is caught as `GovernanceError`."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import governance
from governance.errors import GovernanceError, VoucherCodeError
from governance.fund_model import ModelError
from governance.vouchers import parse_code


def _governance_exceptions() -> list[type[BaseException]]:
    found: list[type[BaseException]] = []
    for info in pkgutil.iter_modules(governance.__path__):
        module = importlib.import_module(f"governance.{info.name}")
        for _, obj in inspect.getmembers(module, inspect.isclass):
            if issubclass(obj, BaseException) and obj.__module__.startswith("governance."):
                found.append(obj)
    # The fund model's errors stand for contract reverts (named like the Solidity errors, compared
    # with ledger's typed reverts) and the model imports nothing at all (test_fund_model): not ours.
    return [c for c in found if not issubclass(c, ModelError)]


def test_every_governance_exception_derives_from_the_one_root() -> None:
    classes = _governance_exceptions()
    assert VoucherCodeError in classes
    strays = [c.__qualname__ for c in classes if not issubclass(c, GovernanceError)]
    assert strays == []


def test_a_voucher_code_typo_is_caught_as_a_governance_error() -> None:
    with pytest.raises(GovernanceError):
        parse_code("XXXX")


def test_there_is_no_second_exception_module() -> None:
    names = {info.name for info in pkgutil.iter_modules(governance.__path__)}
    assert "exceptions" not in names
