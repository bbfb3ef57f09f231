"""AuditAttestations: auditors record what they verified; nobody else can."""

from __future__ import annotations

import pytest
from eth_account.signers.local import LocalAccount

from ledger.embedded import EmbeddedChain
from ledger.revert_errors import (
    AccessControlUnauthorizedAccount,
    AuditAttestationsFutureBlock,
    AuditAttestationsUnknownAttestation,
    AuditAttestationsWrongBlockHash,
)
from ledger.roles import Role
from ledger.system import Allmende
from tests.conftest import Actors

REPORT = b"\x42" * 32


@pytest.fixture
def auditor(system: Allmende, chain: EmbeddedChain, actors: Actors) -> LocalAccount:
    account = chain.accounts[10]
    system.grant(actors.admin, Role.AUDITOR, account.address)
    return account


def _head(chain: EmbeddedChain) -> tuple[int, bytes]:
    block = chain.web3.eth.get_block("latest")
    return int(block["number"]), bytes(block["hash"])


def test_an_auditor_attests_a_block_and_its_report(
    system: Allmende, chain: EmbeddedChain, auditor: LocalAccount
) -> None:
    assert system.attestations is not None
    number, block_hash = _head(chain)
    result = system.attestations.attest(auditor, number, block_hash, REPORT)
    assert result.event("Attested").args == {
        "attestationId": 1,
        "auditor": auditor.address,
        "blockNumber": number,
        "blockHash": block_hash,
        "reportHash": REPORT,
    }
    recorded = system.attestations.attestation(1)
    assert (recorded.auditor, recorded.block_number, recorded.block_hash, recorded.report_hash) == (
        auditor.address,
        number,
        block_hash,
        REPORT,
    )
    assert recorded.attested_at == chain.now()
    assert system.attestations.latest(5) == [recorded]


def test_a_stranger_an_ngo_and_a_funder_cannot_attest(
    system: Allmende, chain: EmbeddedChain, actors: Actors
) -> None:
    assert system.attestations is not None
    number, block_hash = _head(chain)
    for who in (actors.outsider, actors.ngo, actors.funder):
        with pytest.raises(AccessControlUnauthorizedAccount) as err:
            system.attestations.attest(who, number, block_hash, REPORT)
        assert (err.value.account, err.value.neededRole) == (who.address, Role.AUDITOR.id)
    assert system.attestations.count() == 0


def test_a_block_not_yet_mined_or_a_wrong_hash_is_refused(
    system: Allmende, chain: EmbeddedChain, auditor: LocalAccount
) -> None:
    assert system.attestations is not None
    number, block_hash = _head(chain)
    with pytest.raises(AuditAttestationsFutureBlock) as future:
        system.attestations.attest(auditor, number + 5, block_hash, REPORT)
    assert future.value.blockNumber == number + 5
    with pytest.raises(AuditAttestationsWrongBlockHash) as wrong:
        system.attestations.attest(auditor, number, b"\x01" * 32, REPORT)
    assert (wrong.value.blockNumber, wrong.value.blockHash, wrong.value.actual) == (
        number,
        b"\x01" * 32,
        block_hash,
    )
    with pytest.raises(AuditAttestationsUnknownAttestation) as unknown:
        system.attestations.attestation(1)
    assert unknown.value.attestationId == 1


def test_a_revert_whose_first_word_reads_as_a_huge_string_length_is_still_typed(
    system: Allmende, chain: EmbeddedChain, auditor: LocalAccount
) -> None:
    # The embedded chain's provider tries every revert as Error(string). Here the first
    # argument (block 32) reads as an offset pointing at the wrong hash, a length no index fits.
    assert system.attestations is not None
    head, _ = _head(chain)
    if head <= 32:
        chain.backend.mine_blocks(33 - head)
    actual = bytes(chain.web3.eth.get_block(32)["hash"])
    wrong_hash = b"\x01" * 32
    with pytest.raises(AuditAttestationsWrongBlockHash) as wrong:  # eth_estimateGas
        system.attestations.attest(auditor, 32, wrong_hash, REPORT)
    assert (wrong.value.blockNumber, wrong.value.blockHash, wrong.value.actual) == (32, wrong_hash, actual)
    with pytest.raises(AuditAttestationsWrongBlockHash) as called:  # eth_call
        system.attestations.call("attest", 32, wrong_hash, REPORT, sender=auditor.address)
    assert called.value.actual == actual


def test_latest_lists_the_newest_first_and_is_bounded(
    system: Allmende, chain: EmbeddedChain, auditor: LocalAccount
) -> None:
    assert system.attestations is not None
    for i in range(3):
        number, block_hash = _head(chain)
        system.attestations.attest(auditor, number, block_hash, bytes([i]) * 32)
    latest = system.attestations.latest(2)
    assert [a.attestation_id for a in latest] == [3, 2]
    assert [a.report_hash for a in latest] == [b"\x02" * 32, b"\x01" * 32]
