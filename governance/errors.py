"""The exception tree of the governance layer: everything it raises derives from `GovernanceError`."""

from __future__ import annotations


class GovernanceError(Exception):
    """Base of every error the governance layer raises."""


class InvalidBallot(GovernanceError, ValueError):
    """A ballot breaks the round's rules (negative or zero votes, unknown proposal, too costly)."""


class InvalidProposal(GovernanceError, ValueError):
    """A proposal breaks the round's rules (cost out of bounds, unknown or inactive proposal)."""


class PabulibFormatError(GovernanceError, ValueError):
    """A .pb text does not follow the pabulib format."""


class VoucherCodeError(GovernanceError, ValueError):
    """A typed voucher code is malformed: wrong length, a symbol outside the alphabet, or a typo."""
