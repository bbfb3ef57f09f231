// SPDX-License-Identifier: AGPL-3.0-or-later
pragma solidity ^0.8.24;

/// @title Registry of pseudonymous claim programs
/// @notice An NGO opens a claim program for one of its fund-ledger programs. Each claim program is a
/// contract of its own (`IClaimProgram`) that holds only its own money, so a faulty tree of one program
/// can never pay out another program's money, and a claim touches no shared bookkeeping.
interface IClaimPrograms {
    /// @notice `ngo` opened claim program `claimProgramId` at `program` for fund-ledger program
    /// `fundProgramId`; it takes claims until `expiry`.
    event ClaimProgramCreated(
        uint48 indexed claimProgramId,
        uint48 indexed fundProgramId,
        address indexed ngo,
        address program,
        uint48 expiry,
        bytes32 metadataHash
    );

    /// @notice `account` does not run fund-ledger program `fundProgramId`.
    error ClaimProgramsNotProgramNgo(uint48 fundProgramId, address account);
    /// @notice `expiry` is not in the future (now is `now_`).
    error ClaimProgramsExpiryInPast(uint48 expiry, uint256 now_);
    /// @notice No claim program has id `claimProgramId`.
    error ClaimProgramsUnknownProgram(uint48 claimProgramId);

    /// @notice Opens a claim program for fund-ledger program `fundProgramId`, paying in its token.
    /// The program's NGO only. Fund it with `FundLedger.disburseTo(fundProgramId, program, amount, data)`.
    /// @param expiry Time from which claims are refused and the rest may be returned.
    /// @param metadataHash Hash of the program's public description (never of personal data).
    function createProgram(uint48 fundProgramId, uint48 expiry, bytes32 metadataHash)
        external
        returns (uint48 claimProgramId, address program);

    /// @notice The contract of claim program `claimProgramId`.
    function programAt(uint48 claimProgramId) external view returns (address);

    /// @notice Every claim program's contract, by id (index 0 is program 1).
    function programs() external view returns (address[] memory);

    /// @notice How many claim programs exist (ids start at 1).
    function programCount() external view returns (uint48);

    /// @notice The fund ledger the programs are paid from.
    function fundLedger() external view returns (address);
}
