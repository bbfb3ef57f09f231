"""Receipts for ballots ("check my vote"). No HTTP here.

After a ballot is on chain its voter gets a short receipt code: 16 characters of Crockford base 32
holding an 80-bit secret drawn for that ballot alone. The gateway stores only

- `lookup` = SHA-256 of the secret (so the code finds its row, and the row does not give the code),
- the round and the ballot's transaction hash (public on chain anyway),
- `binding` = SHA-256 of the secret and the transaction hash, so a row moved to another ballot no
  longer matches its code,
- whether the receipt was checked at least once (the public counter).

Invariants: nothing here names the voter (no client id, no pseudonym, no time of casting); a code
cannot be forged, since finding any stored row means guessing an 80-bit secret; anyone holding the
code sees exactly the ballot of that transaction (proposals and votes, read from the chain's
`BallotCast` event, never from the gateway's records), whether it is the voter's current ballot (the
one the contract counts) and whether the contract's totals are the sum of the current ballots.
Authority: creating a receipt is the gateway's, right after it relayed the ballot; checking one is
open to anyone with the code.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy import func, select, update

from api.engine import Engine
from api.errors import NotFound
from api.models import VoteReceipt
from api.services.rounds import BallotRecord, RoundsService

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford: no I, L, O, U
SECRET_BITS = 80
CODE_LENGTH = SECRET_BITS // 5
_CONFUSABLE = str.maketrans({"I": "1", "L": "1", "O": "0", "U": "V"})


def _lookup(secret: str) -> str:
    return hashlib.sha256(f"allmende/vote-receipt/lookup:{secret}".encode()).hexdigest()


def _binding(secret: str, transaction_hash: str) -> str:
    return hashlib.sha256(
        f"allmende/vote-receipt/binding:{secret}:{transaction_hash.lower()}".encode()
    ).hexdigest()


def format_code(secret: str) -> str:
    """The code as printed: four groups of four characters."""
    return "-".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def parse_code(text: str) -> str | None:
    """The secret of a typed code (spaces, dashes and case ignored, look-alike letters read as the
    digits they resemble), or None when it cannot be a receipt code."""
    clean = "".join(ch for ch in text.upper() if ch not in " -\t").translate(_CONFUSABLE)
    if len(clean) != CODE_LENGTH or any(ch not in ALPHABET for ch in clean):
        return None
    return clean


@dataclass(frozen=True)
class CheckedReceipt:
    """What a receipt code proves: the ballot of a transaction, and whether the tally holds it."""

    round_id: int
    transaction_hash: str
    block_number: int
    ballot: dict[int, int]  # proposal id -> votes, as the BallotCast event holds it
    current: bool  # the voter's last ballot: the one the contract counts
    tally_matches: bool  # the contract's totals equal the sum of the current ballots
    checks: int  # receipts of this round checked at least once


class VoteReceipts:
    """Issues and checks ballot receipts."""

    def __init__(self, gateway: Engine, rounds: RoundsService) -> None:
        self.gw = gateway
        self.rounds = rounds

    def issue(self, round_id: int, transaction_hash: str) -> str:
        """A new receipt for the ballot cast in `transaction_hash`; returns the code, which is not kept."""
        secret = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
        with self.gw.db.session() as s:
            s.add(
                VoteReceipt(
                    lookup=_lookup(secret),
                    round_id=round_id,
                    transaction_hash=transaction_hash.lower(),
                    binding=_binding(secret, transaction_hash),
                    checked=False,
                )
            )
        return format_code(secret)

    def check(self, code: str) -> CheckedReceipt:
        """The ballot a receipt code stands for, read from the chain; `NotFound("UnknownReceipt")` for a
        code that is not one (mistyped, made up, or bound to another transaction)."""
        secret = parse_code(code)
        if secret is None:
            raise NotFound("UnknownReceipt", "no ballot has this receipt code")
        with self.gw.db.session() as s:
            row = s.get(VoteReceipt, _lookup(secret))
            if row is None or not hmac.compare_digest(row.binding, _binding(secret, row.transaction_hash)):
                raise NotFound("UnknownReceipt", "no ballot has this receipt code")
            round_id, tx = int(row.round_id), row.transaction_hash
            if not row.checked:
                s.execute(update(VoteReceipt).where(VoteReceipt.lookup == row.lookup).values(checked=True))
        records = self.rounds.ballots(round_id)
        mine = next((r for r in records if r.event.transaction_hash.lower() == tx), None)
        if mine is None:  # the chain does not hold the ballot (yet): nothing to show
            raise NotFound("UnknownReceipt", "no ballot has this receipt code")
        args = mine.event.args
        ballot = dict(
            zip((int(p) for p in args["proposalIds"]), (int(v) for v in args["votes"]), strict=True)
        )
        return CheckedReceipt(
            round_id=round_id,
            transaction_hash=tx,
            block_number=int(mine.event.block_number),
            ballot=ballot,
            current=mine.current,
            tally_matches=self._tally_matches(round_id, records),
            checks=self.checks(round_id),
        )

    def _tally_matches(self, round_id: int, records: list[BallotRecord]) -> bool:
        """Whether every proposal's votes on chain are the sum of the current ballots."""
        tallies: dict[int, int] = {}
        for record in records:
            if record.current:
                args = record.event.args
                for pid, votes in zip(args["proposalIds"], args["votes"], strict=True):
                    tallies[int(pid)] = tallies.get(int(pid), 0) + int(votes)
        proposals = self.gw.system.budget.proposals(round_id)
        return all(p.votes == tallies.get(pid, 0) for pid, p in proposals.items())

    def checks(self, round_id: int) -> int:
        """How many receipts of the round were checked at least once."""
        with self.gw.db.session() as s:
            return int(
                s.scalar(
                    select(func.count())
                    .select_from(VoteReceipt)
                    .where(VoteReceipt.round_id == round_id, VoteReceipt.checked.is_(True))
                )
                or 0
            )
