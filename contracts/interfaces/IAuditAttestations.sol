// SPDX-License-Identifier: AGPL-3.0-or-later
pragma solidity ^0.8.24;

/// @title Audit attestations
/// @notice Auditors record on chain that they verified the deployment up to a block: which block
/// (number and hash) and the hash of their report, so anyone can re-run the check and compare.
interface IAuditAttestations {
    /// @notice One attestation as recorded.
    struct Attestation {
        address auditor;
        uint48 blockNumber;
        uint48 attestedAt;
        bytes32 blockHash;
        bytes32 reportHash;
    }

    /// @notice `auditor` attested verifying the deployment up to block `blockNumber` (hash `blockHash`),
    /// with the report whose sha256 is `reportHash`.
    /// @param attestationId The attestation's id (from 1).
    /// @param auditor Who attested (an auditor role holder).
    /// @param blockNumber The last block the verification covered.
    /// @param blockHash That block's hash.
    /// @param reportHash The sha256 of the verification report.
    event Attested(
        uint48 indexed attestationId,
        address indexed auditor,
        uint48 indexed blockNumber,
        bytes32 blockHash,
        bytes32 reportHash
    );

    /// @notice The attested block is not yet on chain.
    /// @param blockNumber The block named.
    /// @param current The block the attestation is mined in.
    error AuditAttestationsFutureBlock(uint48 blockNumber, uint256 current);

    /// @notice The block hash named is not the chain's hash of that block (checked for the last 256 blocks).
    /// @param blockNumber The block named.
    /// @param blockHash The hash named.
    /// @param actual The chain's hash of that block.
    error AuditAttestationsWrongBlockHash(uint48 blockNumber, bytes32 blockHash, bytes32 actual);

    /// @notice No attestation has this id.
    /// @param attestationId The id asked for.
    error AuditAttestationsUnknownAttestation(uint48 attestationId);

    /// @notice Attest a verification up to block `blockNumber`; auditors only.
    /// @param blockNumber The last block the verification covered (before this one).
    /// @param blockHash That block's hash.
    /// @param reportHash The sha256 of the verification report.
    /// @return attestationId The new attestation's id.
    function attest(uint48 blockNumber, bytes32 blockHash, bytes32 reportHash) external returns (uint48 attestationId);

    /// @notice The attestation `attestationId`.
    /// @param attestationId The id (from 1).
    /// @return The attestation.
    function attestation(uint48 attestationId) external view returns (Attestation memory);

    /// @notice How many attestations exist.
    /// @return The count; ids run from 1 to it.
    function attestationCount() external view returns (uint48);
}
