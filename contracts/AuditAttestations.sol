// SPDX-License-Identifier: AGPL-3.0-or-later
pragma solidity 0.8.37;

import {IAllmendeRoles} from "./interfaces/IAllmendeRoles.sol";
import {IAuditAttestations} from "./interfaces/IAuditAttestations.sol";
import {RoleIds} from "./libraries/RoleIds.sol";
import {Permissioned} from "./Permissioned.sol";

/// @title Audit attestations
/// @notice Auditors (and only they) record what they verified; nothing else is stored or moved.
contract AuditAttestations is Permissioned, IAuditAttestations {
    mapping(uint48 attestationId => Attestation) private _attestations;
    uint48 private _count;

    constructor(IAllmendeRoles roles_, address forwarder) Permissioned(roles_, forwarder) {}

    /// @inheritdoc IAuditAttestations
    function attest(uint48 blockNumber, bytes32 blockHash, bytes32 reportHash)
        external
        returns (uint48 attestationId)
    {
        address auditor = _msgSender();
        _requireRole(RoleIds.AUDITOR, auditor);
        if (blockNumber >= block.number) revert AuditAttestationsFutureBlock(blockNumber, block.number);
        bytes32 actual = blockhash(blockNumber); // zero beyond the last 256 blocks: not checkable then
        if (actual != bytes32(0) && actual != blockHash) {
            revert AuditAttestationsWrongBlockHash(blockNumber, blockHash, actual);
        }
        attestationId = ++_count;
        _attestations[attestationId] = Attestation({
            auditor: auditor,
            blockNumber: blockNumber,
            attestedAt: uint48(block.timestamp),
            blockHash: blockHash,
            reportHash: reportHash
        });
        emit Attested(attestationId, auditor, blockNumber, blockHash, reportHash);
    }

    /// @inheritdoc IAuditAttestations
    function attestation(uint48 attestationId) external view returns (Attestation memory) {
        if (attestationId == 0 || attestationId > _count) revert AuditAttestationsUnknownAttestation(attestationId);
        return _attestations[attestationId];
    }

    /// @inheritdoc IAuditAttestations
    function attestationCount() external view returns (uint48) {
        return _count;
    }
}
