"""The fund audit: rebuild the fund ledger's state from its events alone and compare it with the
contract's own views, consent included (every allocator and approver the events name or revoke, and
every funder with money in a program, against `isLotAllocator`, `isProgramApprover`,
`isProgramFunder`). The one place this comparison is made (the gateway's `/v1/audit/verify` and
the devnet summary both use it); printing it is the caller's business.

It reads raw events, never the gateway's read model, so an auditor's verdict stays independent of
what the gateway indexed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ledger.events import Event
from ledger.fund_events import Consent, Payment, rebuild_fund_state, replay_consent, trace_payments
from ledger.fund_ledger import FundLedgerClient, FundState
from ledger.system import Allmende


@dataclass(frozen=True)
class FundAudit:
    """The contract's state, the state rebuilt from events, and the payments traced to their lots."""

    events: int
    on_chain: FundState
    rebuilt: FundState
    payments: list[Payment]
    consent: list[str]  # consent the events show and the views do not, or moves without consent

    @property
    def matches(self) -> bool:
        """True when the events rebuild exactly the state the contract holds, consent included."""
        return self.rebuilt == self.on_chain and not self.consent


def consent_mismatches(funds: FundLedgerClient, consent: Consent) -> list[str]:
    """Moves without consent, and where the consent rebuilt from events differs from the views."""
    return consent.differences(funds.consent_views(consent.expected_views()))


def audit_funds(system: Allmende, events: Sequence[Event] | None = None) -> FundAudit:
    """Audit the fund ledger of `system` from `events` (by default, every event read from the chain)."""
    events = system.events() if events is None else events
    return FundAudit(
        events=len(events),
        on_chain=system.funds.read_state([system.token.address]),
        rebuilt=rebuild_fund_state(events),
        payments=trace_payments(events),
        consent=consent_mismatches(system.funds, replay_consent(events)),
    )
