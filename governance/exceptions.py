"""The exception tree of the governance layer: everything it raises derives from `GovernanceError`."""

from __future__ import annotations


class GovernanceError(Exception):
    """Base of every error the governance layer raises."""


class VoucherCodeError(GovernanceError, ValueError):
    """A typed voucher code is malformed: wrong length, a symbol outside the alphabet, or a typo."""
