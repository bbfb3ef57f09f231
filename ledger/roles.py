"""Role ids, as the contracts compute them."""

from __future__ import annotations

from enum import StrEnum

from eth_utils import keccak


class Role(StrEnum):
    """The roles of the Allmende role registry."""

    ADMIN = "DEFAULT_ADMIN_ROLE"
    TREASURER = "TREASURER_ROLE"
    FUNDER = "FUNDER_ROLE"
    NGO = "NGO_ROLE"
    APPROVER = "APPROVER_ROLE"
    ALLOCATOR = "ALLOCATOR_ROLE"
    AUDITOR = "AUDITOR_ROLE"
    RELAYER = "RELAYER_ROLE"

    @property
    def id(self) -> bytes:
        """The 32-byte role id."""
        return bytes(32) if self is Role.ADMIN else keccak(text=self.value)
