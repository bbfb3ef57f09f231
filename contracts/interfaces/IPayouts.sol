// SPDX-License-Identifier: AGPL-3.0-or-later
pragma solidity ^0.8.24;

/// @title Allmende payouts in euros
/// @notice An account holding cash money (a provider's, or a client's of a cash program) asks to be
/// paid out in euros: its tokens move into this contract under a `payoutReference` (a hash; the IBAN and the
/// name stay off chain). The treasurer groups pending payouts into a batch (at most `MAX_BATCH`), sends
/// the bank a credit-transfer file for it, and then either marks the batch sent with the bank's
/// payoutReference, which burns the batch's tokens exactly once (the settlement on chain), or reopens a batch
/// the bank rejected, which puts its payouts back to pending without burning anything. Restricted aid
/// is never paid out: the provider registry says which accounts are restricted.
/// Invariant: token balance of this contract = pending + batched amounts; burned = settled amounts.
interface IPayouts {
    /// @notice A payout's state.
    enum PayoutStatus {
        None,
        Pending,
        Batched,
        Settled
    }

    /// @notice A batch's state.
    enum BatchStatus {
        None,
        Open,
        Sent,
        Rejected
    }

    /// @notice One payout: who is paid, how much, in which batch (zero while pending), under which payoutReference.
    struct Payout {
        address account;
        uint128 amount;
        uint48 batchId;
        PayoutStatus status;
        bytes32 payoutReference;
    }

    /// @notice One batch: its total, how many payouts, its state and the bank's payoutReference once sent.
    struct Batch {
        uint128 total;
        uint16 count;
        BatchStatus status;
        bytes32 bankReference;
    }

    /// @notice `account` asked for payout `payoutId` of `amount` under `payoutReference`; the tokens are held here.
    event PayoutRequested(uint64 indexed payoutId, address indexed account, uint256 amount, bytes32 indexed payoutReference);
    /// @notice The treasurer grouped `count` pending payouts worth `total` into batch `batchId`.
    event BatchCreated(uint48 indexed batchId, uint256 count, uint256 total);
    /// @notice The treasurer marked batch `batchId` sent under `bankReference`; `total` was burned.
    event BatchSent(uint48 indexed batchId, bytes32 indexed bankReference, uint256 total);
    /// @notice The treasurer reopened batch `batchId` that the bank rejected; its payouts are pending again.
    event BatchReopened(uint48 indexed batchId, bytes32 reasonHash);

    /// @notice A zero amount was asked to be paid out.
    error PayoutsZeroAmount();
    /// @notice A payout needs a non-zero payoutReference.
    error PayoutsZeroReference();
    /// @notice `payoutReference` names payout `payoutId` already (a retry never pays twice).
    error PayoutsReferenceUsed(bytes32 payoutReference, uint64 payoutId);
    /// @notice `account`'s money is restricted by fund program `fundProgramId` and cannot be paid out.
    error PayoutsRestrictedMoney(address account, uint48 fundProgramId);
    /// @notice A batch needs between one and `max` payouts; `count` were given.
    error PayoutsBadBatchSize(uint256 count, uint256 max);
    /// @notice Payout `payoutId` is not pending (unknown, batched or settled).
    error PayoutsNotPending(uint64 payoutId);
    /// @notice Batch `batchId` is not open (unknown, sent or reopened already).
    error PayoutsBatchNotOpen(uint48 batchId);
    /// @notice The amount does not fit the payout's 128 bits.
    error PayoutsAmountTooLarge(uint256 amount);

    /// @notice Moves `amount` of the sender's tokens here to be paid out under `payoutReference`. The sender
    /// must have approved this contract for `amount`; its money must not be restricted.
    /// @return payoutId The new payout's id (from 1).
    function requestPayout(uint256 amount, bytes32 payoutReference) external returns (uint64 payoutId);

    /// @notice Groups pending payouts `payoutIds` into a new open batch. Treasurer only.
    /// @return batchId The new batch's id (from 1).
    function createBatch(uint64[] calldata payoutIds) external returns (uint48 batchId);

    /// @notice Marks open batch `batchId` sent under the bank's `bankReference` and burns its total. Treasurer only.
    function markBatchSent(uint48 batchId, bytes32 bankReference) external;

    /// @notice Reopens open batch `batchId` that the bank rejected: its payouts are pending again. Treasurer only.
    function reopenBatch(uint48 batchId, bytes32 reasonHash) external;

    /// @notice Payout `payoutId` (status `None` when unknown).
    function payout(uint64 payoutId) external view returns (Payout memory);

    /// @notice Batch `batchId` (status `None` when unknown).
    function batch(uint48 batchId) external view returns (Batch memory);

    /// @notice The payouts of batch `batchId`, in the order they were given.
    function batchPayouts(uint48 batchId) external view returns (uint64[] memory);

    /// @notice The payout named by `payoutReference` (zero when none).
    function payoutByReference(bytes32 payoutReference) external view returns (uint64);

    /// @notice Counts and totals: payouts and batches created, held (pending + batched) and burned (settled).
    function totals() external view returns (uint64 payouts, uint48 batches, uint256 held, uint256 settled);

    /// @notice The most payouts one batch may hold.
    function MAX_BATCH() external view returns (uint256);
}
