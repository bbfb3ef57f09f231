// SPDX-License-Identifier: AGPL-3.0-or-later
pragma solidity 0.8.37;

import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {IAllmendeRoles} from "./interfaces/IAllmendeRoles.sol";
import {IEuroToken} from "./interfaces/IEuroToken.sol";
import {IPayouts} from "./interfaces/IPayouts.sol";
import {IProviderRegistry} from "./interfaces/IProviderRegistry.sol";
import {RoleIds} from "./libraries/RoleIds.sol";
import {Permissioned} from "./Permissioned.sol";

/// @title Allmende payouts in euros
/// @notice Holds the tokens of requested payouts until the treasurer settles (burns) or reopens their batch.
/// @dev Anyone with unrestricted money may request; batching, settling and reopening need the treasurer.
/// Burning happens only in `markBatchSent`, which a batch passes at most once (Open -> Sent is final,
/// Open -> Rejected puts its payouts back to pending), so no token is burned twice.
contract Payouts is IPayouts, Permissioned {
    using SafeERC20 for IEuroToken;

    /// @inheritdoc IPayouts
    uint256 public constant MAX_BATCH = 200;

    IEuroToken private immutable _token;
    IProviderRegistry private immutable _registry;

    uint64 private _payoutCount;
    uint48 private _batchCount;
    uint256 private _held;
    uint256 private _settled;
    mapping(uint64 payoutId => Payout) private _payouts;
    mapping(uint48 batchId => Batch) private _batches;
    mapping(uint48 batchId => uint64[]) private _batchPayouts;
    mapping(bytes32 payoutReference => uint64 payoutId) private _byReference;

    constructor(IAllmendeRoles roles_, address forwarder, IEuroToken token_, IProviderRegistry registry_)
        Permissioned(roles_, forwarder)
    {
        _token = token_;
        _registry = registry_;
    }

    /// @inheritdoc IPayouts
    function requestPayout(uint256 amount, bytes32 payoutReference) external returns (uint64 payoutId) {
        address account = _msgSender();
        if (amount == 0) revert PayoutsZeroAmount();
        if (amount > type(uint128).max) revert PayoutsAmountTooLarge(amount);
        if (payoutReference == bytes32(0)) revert PayoutsZeroReference();
        uint64 existing = _byReference[payoutReference];
        if (existing != 0) revert PayoutsReferenceUsed(payoutReference, existing);
        if (!_registry.mayPay(address(_token), account, address(this))) {
            revert PayoutsRestrictedMoney(account, _registry.restrictionOf(address(_token), account));
        }
        payoutId = ++_payoutCount;
        _payouts[payoutId] = Payout({
            account: account,
            amount: uint128(amount),
            batchId: 0,
            status: PayoutStatus.Pending,
            payoutReference: payoutReference
        });
        _byReference[payoutReference] = payoutId;
        _held += amount;
        emit PayoutRequested(payoutId, account, amount, payoutReference);
        _token.safeTransferFrom(account, address(this), amount);
    }

    /// @inheritdoc IPayouts
    function createBatch(uint64[] calldata payoutIds) external returns (uint48 batchId) {
        _requireRole(RoleIds.TREASURER, _msgSender());
        uint256 count = payoutIds.length;
        if (count == 0 || count > MAX_BATCH) revert PayoutsBadBatchSize(count, MAX_BATCH);
        batchId = ++_batchCount;
        uint256 total = 0;
        for (uint256 i; i < count; ++i) {
            Payout storage p = _payouts[payoutIds[i]];
            if (p.status != PayoutStatus.Pending) revert PayoutsNotPending(payoutIds[i]);
            p.status = PayoutStatus.Batched;
            p.batchId = batchId;
            total += p.amount;
        }
        // count <= MAX_BATCH fits uint16; the total is checked.
        _batches[batchId] = Batch({
            total: SafeCast.toUint128(total),
            count: uint16(count),
            status: BatchStatus.Open,
            bankReference: 0
        });
        _batchPayouts[batchId] = payoutIds;
        emit BatchCreated(batchId, count, total);
    }

    /// @inheritdoc IPayouts
    function markBatchSent(uint48 batchId, bytes32 bankReference) external {
        _requireRole(RoleIds.TREASURER, _msgSender());
        Batch storage b = _batches[batchId];
        if (b.status != BatchStatus.Open) revert PayoutsBatchNotOpen(batchId);
        if (bankReference == bytes32(0)) revert PayoutsZeroReference();
        b.status = BatchStatus.Sent;
        b.bankReference = bankReference;
        uint64[] storage ids = _batchPayouts[batchId];
        uint256 count = ids.length;
        for (uint256 i; i < count; ++i) {
            _payouts[ids[i]].status = PayoutStatus.Settled;
        }
        uint256 total = b.total;
        _held -= total;
        _settled += total;
        emit BatchSent(batchId, bankReference, total);
        _token.redeem(total, bankReference);
    }

    /// @inheritdoc IPayouts
    function reopenBatch(uint48 batchId, bytes32 reasonHash) external {
        _requireRole(RoleIds.TREASURER, _msgSender());
        Batch storage b = _batches[batchId];
        if (b.status != BatchStatus.Open) revert PayoutsBatchNotOpen(batchId);
        b.status = BatchStatus.Rejected;
        uint64[] storage ids = _batchPayouts[batchId];
        uint256 count = ids.length;
        for (uint256 i; i < count; ++i) {
            Payout storage p = _payouts[ids[i]];
            p.status = PayoutStatus.Pending;
            p.batchId = 0;
        }
        emit BatchReopened(batchId, reasonHash);
    }

    /// @inheritdoc IPayouts
    function payout(uint64 payoutId) external view returns (Payout memory) {
        return _payouts[payoutId];
    }

    /// @inheritdoc IPayouts
    function batch(uint48 batchId) external view returns (Batch memory) {
        return _batches[batchId];
    }

    /// @inheritdoc IPayouts
    function batchPayouts(uint48 batchId) external view returns (uint64[] memory) {
        return _batchPayouts[batchId];
    }

    /// @inheritdoc IPayouts
    function payoutByReference(bytes32 payoutReference) external view returns (uint64) {
        return _byReference[payoutReference];
    }

    /// @inheritdoc IPayouts
    function totals() external view returns (uint64 payouts, uint48 batches, uint256 held, uint256 settled) {
        return (_payoutCount, _batchCount, _held, _settled);
    }
}
