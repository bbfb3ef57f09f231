// SPDX-License-Identifier: AGPL-3.0-or-later
pragma solidity 0.8.37;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {IAllmendeRoles} from "./interfaces/IAllmendeRoles.sol";
import {RoleIds} from "./libraries/RoleIds.sol";
import {IFundLedger} from "./interfaces/IFundLedger.sol";
import {Permissioned} from "./Permissioned.sol";

/// @title Allmende fund ledger
/// @notice Holds funders' money from deposit to disbursement and keeps every euro linked to its lot.
contract FundLedger is IFundLedger, Permissioned, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    mapping(address token => bool) private _allowedTokens;
    mapping(uint48 => Lot) private _lots;
    mapping(uint48 => Program) private _programs;
    mapping(uint48 => Allocation) private _allocations;
    mapping(uint48 => Tranche) private _tranches;
    mapping(uint48 lotId => uint48[]) private _lotAllocations;
    mapping(uint48 programId => uint48[]) private _programAllocations;

    uint48 private _lotCount;
    uint48 private _programCount;
    uint48 private _allocationCount;
    uint48 private _trancheCount;
    uint48 private _batchCount;

    constructor(IAllmendeRoles roles_, address forwarder) Permissioned(roles_, forwarder) {}

    /// @inheritdoc IFundLedger
    function setTokenAllowed(address token, bool allowed) external {
        _requireRole(RoleIds.ADMIN, _msgSender());
        _allowedTokens[token] = allowed;
        emit TokenAllowed(token, allowed);
    }

    /// @inheritdoc IFundLedger
    function deposit(address token, uint128 amount, uint48 earmark, uint48 expiry)
        external
        nonReentrant
        returns (uint48 lotId)
    {
        address funder = _msgSender();
        _requireRole(RoleIds.FUNDER, funder);
        _requireAllowedToken(token);
        if (amount == 0) revert FundLedgerZeroAmount();
        if (earmark != 0) {
            Program storage target = _program(earmark);
            if (target.token != token) revert FundLedgerTokenMismatch(token, target.token);
        }
        if (expiry != 0 && expiry <= block.timestamp) revert FundLedgerExpiryInPast(expiry, block.timestamp);

        lotId = ++_lotCount;
        _lots[lotId] = Lot({
            funder: funder,
            expiry: expiry,
            earmark: earmark,
            token: token,
            refunded: false,
            amount: amount,
            unallocated: amount
        });
        emit LotDeposited(lotId, funder, token, amount, earmark, expiry);
        IERC20(token).safeTransferFrom(funder, address(this), amount);
    }

    /// @inheritdoc IFundLedger
    function createProgram(address token, bytes32 metadataHash) external returns (uint48 programId) {
        address ngo = _msgSender();
        _requireRole(RoleIds.NGO, ngo);
        _requireAllowedToken(token);
        programId = ++_programCount;
        Program storage p = _programs[programId];
        p.ngo = ngo;
        p.token = token;
        p.metadataHash = metadataHash;
        emit ProgramCreated(programId, ngo, token, metadataHash);
    }

    /// @inheritdoc IFundLedger
    function allocate(uint48 lotId, uint48 programId, uint128 amount) external returns (uint48 allocationId) {
        address sender = _msgSender();
        Lot storage lot = _lot(lotId);
        Program storage p = _program(programId);
        if (sender != lot.funder && !roles.hasRole(RoleIds.ALLOCATOR, sender)) {
            revert FundLedgerNotLotAllocator(lotId, sender);
        }
        if (amount == 0) revert FundLedgerZeroAmount();
        if (lot.expiry != 0 && block.timestamp >= lot.expiry) revert FundLedgerLotExpired(lotId, lot.expiry);
        if (lot.earmark != 0 && lot.earmark != programId) {
            revert FundLedgerEarmarkMismatch(lotId, lot.earmark, programId);
        }
        if (lot.token != p.token) revert FundLedgerTokenMismatch(lot.token, p.token);
        if (amount > lot.unallocated) revert FundLedgerInsufficientFunds(amount, lot.unallocated);

        // Cannot underflow: checked just above.
        unchecked {
            lot.unallocated -= amount;
        }
        p.allocated += amount;
        allocationId = ++_allocationCount;
        _allocations[allocationId] = Allocation({lotId: lotId, programId: programId, amount: amount, drawn: 0});
        _lotAllocations[lotId].push(allocationId);
        _programAllocations[programId].push(allocationId);
        emit Allocated(allocationId, lotId, programId, amount, sender);
    }

    /// @inheritdoc IFundLedger
    function requestTranche(uint48 programId, uint128 amount, bytes32 milestoneHash)
        external
        returns (uint48 trancheId)
    {
        address requester = _msgSender();
        _requireProgramNgo(programId, requester);
        if (amount == 0) revert FundLedgerZeroAmount();
        trancheId = ++_trancheCount;
        _tranches[trancheId] = Tranche({
            programId: programId,
            status: TrancheStatus.Requested,
            requester: requester,
            approver: address(0),
            amount: amount,
            milestoneHash: milestoneHash
        });
        emit TrancheRequested(trancheId, programId, requester, amount, milestoneHash);
    }

    /// @inheritdoc IFundLedger
    function approveTranche(uint48 trancheId) external {
        address approver = _msgSender();
        Tranche storage t = _pendingTranche(trancheId, approver);
        Program storage p = _programs[t.programId];
        uint128 releasable = p.allocated - p.released;
        if (t.amount > releasable) revert FundLedgerInsufficientFunds(t.amount, releasable);
        t.status = TrancheStatus.Approved;
        t.approver = approver;
        p.released += t.amount;
        emit TrancheApproved(trancheId, t.programId, approver, t.amount);
    }

    /// @inheritdoc IFundLedger
    function rejectTranche(uint48 trancheId, bytes32 reasonHash) external {
        address approver = _msgSender();
        Tranche storage t = _pendingTranche(trancheId, approver);
        t.status = TrancheStatus.Rejected;
        t.approver = approver;
        emit TrancheRejected(trancheId, approver, reasonHash);
    }

    /// @inheritdoc IFundLedger
    function cancelTranche(uint48 trancheId) external {
        Tranche storage t = _tranche(trancheId);
        if (t.status != TrancheStatus.Requested) revert FundLedgerTrancheNotPending(trancheId, t.status);
        if (t.requester != _msgSender()) revert FundLedgerNotProgramNgo(t.programId, _msgSender());
        t.status = TrancheStatus.Cancelled;
        emit TrancheCancelled(trancheId);
    }

    /// @inheritdoc IFundLedger
    function disburse(
        uint48 programId,
        address[] calldata recipients,
        uint128[] calldata amounts,
        bytes32 paymentReference
    ) external nonReentrant returns (uint48 batchId) {
        Program storage p = _requireProgramNgo(programId, _msgSender());
        uint256 count = recipients.length;
        if (count == 0 || count != amounts.length || count > type(uint32).max) {
            revert FundLedgerBadBatch(count, amounts.length);
        }
        uint256 sum;
        for (uint256 i; i < count; ++i) {
            if (recipients[i] == address(0)) revert FundLedgerZeroRecipient(i);
            if (amounts[i] == 0) revert FundLedgerZeroAmount();
            sum += amounts[i];
        }
        uint128 available = p.released - p.disbursed;
        if (sum > available) revert FundLedgerInsufficientFunds(_toUint128(sum), available);
        uint128 total = uint128(sum); // fits: sum <= available, a uint128

        batchId = ++_batchCount;
        p.disbursed += total;
        _draw(programId, p, batchId, total);
        emit BatchDisbursed(batchId, programId, uint32(count), total, paymentReference);

        IERC20 token = IERC20(p.token);
        for (uint256 i; i < count; ++i) {
            token.safeTransfer(recipients[i], amounts[i]);
            emit Disbursed(programId, recipients[i], batchId, amounts[i]);
        }
    }

    /// @inheritdoc IFundLedger
    function refund(uint48 lotId) external nonReentrant returns (uint128 amount) {
        Lot storage lot = _lot(lotId);
        if (lot.expiry == 0 || block.timestamp < lot.expiry) revert FundLedgerLotNotExpired(lotId, lot.expiry);
        if (lot.refunded) revert FundLedgerLotAlreadyRefunded(lotId);
        lot.refunded = true;
        amount = lot.unallocated;
        lot.unallocated = 0;

        uint48[] storage allocationIds = _lotAllocations[lotId];
        for (uint256 i; i < allocationIds.length; ++i) {
            uint48 allocationId = allocationIds[i];
            Allocation storage a = _allocations[allocationId];
            uint128 undrawn = a.amount - a.drawn;
            if (undrawn == 0) continue;
            a.amount = a.drawn;
            Program storage p = _programs[a.programId];
            p.allocated -= undrawn;
            if (p.released > p.allocated) p.released = p.allocated;
            amount += undrawn;
            emit AllocationReturned(allocationId, a.programId, undrawn, p.released);
        }
        emit LotRefunded(lotId, lot.funder, amount);
        if (amount != 0) IERC20(lot.token).safeTransfer(lot.funder, amount);
    }

    /// @inheritdoc IFundLedger
    function isTokenAllowed(address token) external view returns (bool) {
        return _allowedTokens[token];
    }

    /// @inheritdoc IFundLedger
    function getLot(uint48 lotId) external view returns (Lot memory) {
        return _lot(lotId);
    }

    /// @inheritdoc IFundLedger
    function getProgram(uint48 programId) external view returns (Program memory) {
        return _program(programId);
    }

    /// @inheritdoc IFundLedger
    function getAllocation(uint48 allocationId) external view returns (Allocation memory) {
        return _allocations[allocationId];
    }

    /// @inheritdoc IFundLedger
    function getTranche(uint48 trancheId) external view returns (Tranche memory) {
        return _tranche(trancheId);
    }

    /// @inheritdoc IFundLedger
    function lotAllocations(uint48 lotId) external view returns (uint48[] memory) {
        return _lotAllocations[lotId];
    }

    /// @inheritdoc IFundLedger
    function programAllocations(uint48 programId) external view returns (uint48[] memory) {
        return _programAllocations[programId];
    }

    /// @inheritdoc IFundLedger
    function counts()
        external
        view
        returns (uint48 lots, uint48 programs, uint48 allocations, uint48 tranches, uint48 batches)
    {
        return (_lotCount, _programCount, _allocationCount, _trancheCount, _batchCount);
    }

    /// @dev Takes `total` from the program's allocations, oldest first, and records which lots paid.
    /// Everything before the cursor is fully drawn, and the undrawn rest after it equals
    /// `allocated - disbursed`, which covers `total`, so the loop ends inside the queue.
    function _draw(uint48 programId, Program storage p, uint48 batchId, uint128 total) private {
        uint48[] storage queue = _programAllocations[programId];
        uint256 cursor = p.drawCursor;
        uint128 remaining = total;
        while (remaining != 0) {
            uint48 allocationId = queue[cursor];
            Allocation storage a = _allocations[allocationId];
            uint128 free = a.amount - a.drawn;
            uint128 take = free < remaining ? free : remaining;
            if (take != 0) {
                a.drawn += take;
                remaining -= take;
                emit AllocationDrawn(allocationId, a.lotId, batchId, take);
            }
            if (take == free) ++cursor;
        }
        p.drawCursor = uint48(cursor); // cursor <= queue length <= allocation count, a uint48
    }

    function _lot(uint48 lotId) private view returns (Lot storage lot) {
        lot = _lots[lotId];
        if (lot.funder == address(0)) revert FundLedgerUnknownLot(lotId);
    }

    function _program(uint48 programId) private view returns (Program storage p) {
        p = _programs[programId];
        if (p.ngo == address(0)) revert FundLedgerUnknownProgram(programId);
    }

    function _tranche(uint48 trancheId) private view returns (Tranche storage t) {
        t = _tranches[trancheId];
        if (t.status == TrancheStatus.None) revert FundLedgerUnknownTranche(trancheId);
    }

    function _pendingTranche(uint48 trancheId, address approver) private view returns (Tranche storage t) {
        _requireRole(RoleIds.APPROVER, approver);
        t = _tranche(trancheId);
        if (t.status != TrancheStatus.Requested) revert FundLedgerTrancheNotPending(trancheId, t.status);
        if (t.requester == approver) revert FundLedgerSelfApproval(trancheId, approver);
    }

    function _requireProgramNgo(uint48 programId, address account) private view returns (Program storage p) {
        p = _program(programId);
        if (p.ngo != account) revert FundLedgerNotProgramNgo(programId, account);
    }

    function _requireAllowedToken(address token) private view {
        if (!_allowedTokens[token]) revert FundLedgerTokenNotAllowed(token);
    }

    function _toUint128(uint256 value) private pure returns (uint128) {
        if (value > type(uint128).max) revert FundLedgerAmountOverflow(value);
        return uint128(value);
    }
}
