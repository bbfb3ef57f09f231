// SPDX-License-Identifier: AGPL-3.0-or-later
pragma solidity ^0.8.24;

/// @title Receiver of program money from the fund ledger
/// @notice A contract that takes program money for a purpose of its own (a claim program, say)
/// and learns which program and disbursement batch it came from, so lot lineage continues.
interface IFundsReceiver {
    /// @notice Called by the fund ledger after it transferred `amount` to this contract.
    /// @param programId The fund ledger program paying.
    /// @param batchId The disbursement batch (its `AllocationDrawn` events name the lots).
    /// @param amount What was transferred.
    /// @param data Whatever the program's NGO passed along (e.g. which claim program to fund).
    /// @return The selector of this function, to confirm the receiver accepts the money.
    function onFundsReceived(uint48 programId, uint48 batchId, uint128 amount, bytes calldata data)
        external
        returns (bytes4);
}
