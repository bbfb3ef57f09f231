"""The demo's cast: operator-held accounts that play its organisations, and its units."""

from __future__ import annotations

from dataclasses import dataclass

from eth_account.signers.local import LocalAccount

from ledger.chain import Chain

EUR = 1_000_000
DAY = 86_400
BOOK_FILE = "address-book.json"


@dataclass(frozen=True)
class DemoCast:
    """Operator-held accounts that play the demo's organisations."""

    admin: LocalAccount
    treasurer: LocalAccount
    foundation: LocalAccount  # a funder
    city: LocalAccount  # another funder
    ngo: LocalAccount
    approver: LocalAccount
    relayer: LocalAccount

    @classmethod
    def from_chain(cls, chain: Chain) -> DemoCast:
        """The first seven funded accounts of the chain."""
        if len(chain.accounts) < 7:
            raise ValueError("the demo needs seven funded operator accounts")
        return cls(*chain.accounts[:7])
