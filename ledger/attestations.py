"""Auditors' attestations on chain: who verified the deployment up to which block, with which report."""

from __future__ import annotations

from dataclasses import dataclass

from eth_account.signers.local import LocalAccount

from ledger.calls import Call
from ledger.contracts import ContractClient
from ledger.transactions import TransactionSender, TxResult


@dataclass(frozen=True)
class Attestation:
    """One attestation as the contract records it."""

    attestation_id: int
    auditor: str
    block_number: int
    attested_at: int
    block_hash: bytes
    report_hash: bytes


GAS_ATTEST = 200_000


class AttestationsClient(ContractClient):
    """The AuditAttestations contract."""

    def __init__(self, sender: TransactionSender, address: str) -> None:
        super().__init__(sender, "AuditAttestations", address)

    def attest_call(self, block_number: int, block_hash: bytes, report_hash: bytes) -> Call:
        """An auditor records that it verified the deployment up to `block_number`."""
        return self.build("attest", block_number, block_hash, report_hash, gas=GAS_ATTEST)

    def attest(
        self, auditor: LocalAccount, block_number: int, block_hash: bytes, report_hash: bytes
    ) -> TxResult:
        """Record that `auditor` verified the deployment up to `block_number` (auditor role only)."""
        return self.transact(auditor, "attest", block_number, block_hash, report_hash)

    def count(self) -> int:
        """How many attestations exist."""
        return int(self.call("attestationCount"))

    def attestation(self, attestation_id: int) -> Attestation:
        """Attestation `attestation_id` (from 1)."""
        auditor, block_number, attested_at, block_hash, report_hash = self.call("attestation", attestation_id)
        return Attestation(attestation_id, auditor, block_number, attested_at, block_hash, report_hash)

    def latest(self, limit: int) -> list[Attestation]:
        """The newest `limit` attestations, newest first (bounded however many exist)."""
        count = self.count()
        return [self.attestation(i) for i in range(count, max(count - limit, 0), -1)]
