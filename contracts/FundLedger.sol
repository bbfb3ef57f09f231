// SPDX-License-Identifier: AGPL-3.0-or-later
pragma solidity 0.8.37;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {IAllmendeRoles} from "./interfaces/IAllmendeRoles.sol";
import {RoleIds} from "./libraries/RoleIds.sol";
import {IEuroToken} from "./interfaces/IEuroToken.sol";
import {IFundLedger} from "./interfaces/IFundLedger.sol";
import {IFundsReceiver} from "./interfaces/IFundsReceiver.sol";
import {Permissioned} from "./Permissioned.sol";

/// @title Allmende fund ledger
/// @notice Holds funders' money from deposit to disbursement and keeps every euro linked to its lot.
contract FundLedger is IFundLedger, Permissioned, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    mapping(address token => TokenEntry) private _tokens;
    mapping(uint24 number => address token) private _tokenAt;
    mapping(uint48 => StoredLot) private _lots;
    mapping(uint48 => Program) private _programs;
    mapping(uint48 => Allocation) private _allocations;
    mapping(uint48 => Tranche) private _tranches;
    mapping(uint48 lotId => uint48[]) private _lotAllocations;
    mapping(uint48 programId => uint48[]) private _programAllocations;
    mapping(uint48 => Reservation) private _reservations;
    mapping(uint48 batchId => ReceiverBatch) private _receiverBatches;
    mapping(uint48 batchId => Draw[]) private _receiverBatchDraws; // and of disbursements of programs with an end
    mapping(uint48 programId => uint48[]) private _sweepBatches; // recorded disbursements not all swept back, oldest first
    mapping(uint48 programId => uint128) private _sweepable; // what those have paid and not got back
    mapping(uint48 lotId => mapping(address allocator => bool)) private _lotAllocators;
    mapping(uint48 programId => mapping(address funder => bool)) private _programFunders;
    mapping(uint48 programId => mapping(address funder => mapping(address approver => bool))) private _approverNamed;
    mapping(uint48 programId => mapping(address approver => uint256 funders)) private _approverNamings;
    mapping(uint48 lotId => uint256) private _refundCursor; // allocations of the lot a refund has walked
    mapping(address ngo => mapping(address requester => bool)) private _requesters;
    uint48 private transient _paying; // the program whose disbursement is paying now (for the token's rules)

    /// @dev A lot as stored: two slots where the interface's `Lot` takes three, so a deposit writes one
    /// fresh slot less (22,100 gas). The token is kept by its number in `_tokenAt`, the amounts in 112
    /// bits (5.1e27 euros at six decimals; `deposit` refuses more). `getLot` gives the `Lot` back.
    struct StoredLot {
        address funder;
        uint48 expiry; // 0: never expires
        uint48 earmark; // program id, 0: unearmarked
        uint24 token; // the token's number, see `_tokenAt`
        bool refunded;
        uint112 amount;
        uint112 unallocated;
    }

    /// @dev Whether a token is allowed, and its number (from 1, given when first allowed, kept for ever).
    struct TokenEntry {
        bool allowed;
        uint24 number;
    }

    /// @dev What one receiver batch (or a disbursement of a program with an end) took from one allocation,
    /// and how much of it came back.
    struct Draw {
        uint48 allocationId;
        uint128 amount;
        uint128 returned;
    }

    uint48 private _lotCount;
    uint48 private _programCount;
    uint48 private _allocationCount;
    uint48 private _trancheCount;
    uint48 private _batchCount;
    uint48 private _reservationCount;
    uint24 private _tokenCount;

    /// @inheritdoc IFundLedger
    uint256 public constant REFUND_STEP = 64;

    /// @inheritdoc IFundLedger
    uint256 public constant DRAW_STEP = 64;

    /// @inheritdoc IFundLedger
    uint256 public constant MAX_SWEEP_ACCOUNTS = 100;

    constructor(IAllmendeRoles roles_, address forwarder) Permissioned(roles_, forwarder) {}

    /// @inheritdoc IFundLedger
    function setTokenAllowed(address token, bool allowed) external {
        _requireRole(RoleIds.ADMIN, _msgSender());
        TokenEntry storage entry = _tokens[token];
        if (allowed && entry.number == 0) {
            uint256 number = uint256(_tokenCount) + 1;
            if (number > type(uint24).max) revert FundLedgerAmountOverflow(number);
            _tokenCount = uint24(number);
            entry.number = uint24(number);
            _tokenAt[uint24(number)] = token;
        }
        entry.allowed = allowed;
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
        uint24 tokenNumber = _requireAllowedToken(token);
        if (amount == 0) revert FundLedgerZeroAmount();
        if (amount > type(uint112).max) revert FundLedgerAmountOverflow(amount);
        if (earmark != 0) {
            Program storage target = _program(earmark);
            if (target.token != token) revert FundLedgerTokenMismatch(token, target.token);
        }
        if (expiry != 0 && expiry <= block.timestamp) revert FundLedgerExpiryInPast(expiry, block.timestamp);

        lotId = ++_lotCount;
        _lots[lotId] = StoredLot({
            funder: funder,
            expiry: expiry,
            earmark: earmark,
            token: tokenNumber,
            refunded: false,
            amount: uint112(amount), // fits: checked above
            unallocated: uint112(amount)
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
        StoredLot storage lot = _lot(lotId);
        Program storage p = _program(programId);
        _requireConsent(lotId, lot, sender);
        _takeFromLot(lotId, lot, programId, p.token, amount);
        allocationId = _allocate(lotId, p, programId, amount, sender, 0);
    }

    /// @inheritdoc IFundLedger
    function reserve(uint48 lotId, uint128 amount, address requester) external returns (uint48 reservationId) {
        address holder = _msgSender();
        _requireRole(RoleIds.ALLOCATOR, holder);
        StoredLot storage lot = _lot(lotId);
        _requireConsent(lotId, lot, requester);
        _takeFromLot(lotId, lot, 0, address(0), amount);
        reservationId = ++_reservationCount;
        _reservations[reservationId] = Reservation({lotId: lotId, holder: holder, amount: amount});
        emit Reserved(reservationId, lotId, holder, amount);
    }

    /// @inheritdoc IFundLedger
    function setLotAllocator(uint48 lotId, address allocator, bool allowed) external {
        address sender = _msgSender();
        StoredLot storage lot = _lot(lotId);
        if (lot.funder != sender) revert FundLedgerNotLotFunder(lotId, sender);
        if (allocator == address(0)) revert FundLedgerZeroAccount();
        _lotAllocators[lotId][allocator] = allowed;
        emit LotAllocatorSet(lotId, sender, allocator, allowed);
    }

    /// @inheritdoc IFundLedger
    function setRequester(address requester, bool allowed) external {
        address ngo = _msgSender();
        _requireRole(RoleIds.NGO, ngo);
        if (requester == address(0)) revert FundLedgerZeroAccount();
        _requesters[ngo][requester] = allowed;
        emit RequesterSet(ngo, requester, allowed);
    }

    /// @inheritdoc IFundLedger
    function isRequester(address ngo, address requester) external view returns (bool) {
        return _requesters[ngo][requester];
    }

    /// @inheritdoc IFundLedger
    function setProgramApprover(uint48 programId, address approver, bool allowed) external {
        address funder = _msgSender();
        _program(programId);
        if (!_programFunders[programId][funder]) revert FundLedgerNotProgramFunder(programId, funder);
        if (approver == address(0)) revert FundLedgerZeroAccount();
        mapping(address => bool) storage named = _approverNamed[programId][funder];
        if (named[approver] != allowed) {
            named[approver] = allowed;
            if (allowed) ++_approverNamings[programId][approver];
            else --_approverNamings[programId][approver]; // was named by this funder, so counted
        }
        emit ProgramApproverSet(programId, funder, approver, allowed);
    }

    /// @inheritdoc IFundLedger
    function allocateReserved(uint48 reservationId, uint48 programId, uint128 amount)
        external
        returns (uint48 allocationId)
    {
        address holder = _msgSender();
        Reservation storage r = _heldReservation(reservationId, holder);
        Program storage p = _program(programId);
        uint48 lotId = r.lotId;
        StoredLot storage lot = _lots[lotId];
        // Reserved money of an expired lot is the funder's again: it can only be released.
        if (_expired(lot)) revert FundLedgerLotExpired(lotId, lot.expiry);
        address lotToken = _tokenAt[lot.token];
        if (lotToken != p.token) revert FundLedgerTokenMismatch(lotToken, p.token);
        if (amount == 0) revert FundLedgerZeroAmount();
        if (amount > r.amount) revert FundLedgerInsufficientFunds(amount, r.amount);
        // Cannot underflow: checked just above.
        unchecked {
            r.amount -= amount;
        }
        allocationId = _allocate(lotId, p, programId, amount, holder, reservationId);
    }

    /// @inheritdoc IFundLedger
    function releaseReservation(uint48 reservationId) external nonReentrant returns (uint128 amount) {
        address sender = _msgSender();
        Reservation storage r = _reservations[reservationId];
        if (r.holder == address(0)) revert FundLedgerUnknownReservation(reservationId);
        StoredLot storage lot = _lots[r.lotId];
        // Once the lot has expired the money can only go back to it (or its funder), so anyone may
        // release it, as anyone may refund: the funder never depends on the holder acting.
        if (r.holder != sender && !_expired(lot)) revert FundLedgerNotReservationHolder(reservationId, sender);
        amount = r.amount;
        r.amount = 0;
        bool toFunder = lot.refunded;
        // Fits: reserved money was taken from the lot's unallocated rest, which never exceeds its amount.
        if (!toFunder) lot.unallocated += uint112(amount);
        emit ReservationReleased(reservationId, r.lotId, amount, toFunder);
        if (toFunder && amount != 0) IERC20(_tokenAt[lot.token]).safeTransfer(lot.funder, amount);
    }

    /// @inheritdoc IFundLedger
    function requestTranche(uint48 programId, uint128 amount, bytes32 milestoneHash)
        external
        returns (uint48 trancheId)
    {
        address requester = _msgSender();
        address ngo = _program(programId).ngo;
        if (requester != ngo && !_requesters[ngo][requester]) revert FundLedgerNotProgramNgo(programId, requester);
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
        address sender = _msgSender();
        if (t.requester != sender && _programs[t.programId].ngo != sender) revert FundLedgerNotProgramNgo(t.programId, sender);
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
        uint256 sum = _sumPayments(recipients, amounts);
        uint128 available = p.released - p.disbursed;
        if (sum > available) revert FundLedgerInsufficientFunds(_toUint128(sum), available);
        uint128 total = uint128(sum); // fits: sum <= available, a uint128

        batchId = ++_batchCount;
        p.disbursed += total;
        uint48 endsAt = p.endsAt;
        if (endsAt != 0) {
            _recordSweepable(programId, endsAt, batchId, total);
            _requireMarked(p.token, programId, recipients);
        }
        _draw(programId, p, batchId, total, endsAt != 0);
        emit BatchDisbursed(batchId, programId, uint32(count), total, paymentReference);

        _paying = programId;
        _payEach(p.token, programId, batchId, recipients, amounts);
        _paying = 0;
    }

    /// @inheritdoc IFundLedger
    function disburseTo(uint48 programId, address receiver, uint128 amount, bytes calldata data)
        external
        nonReentrant
        returns (uint48 batchId)
    {
        Program storage p = _requireProgramNgo(programId, _msgSender());
        if (receiver == address(0)) revert FundLedgerZeroRecipient(0);
        if (amount == 0) revert FundLedgerZeroAmount();
        uint128 available = p.released - p.disbursed;
        if (amount > available) revert FundLedgerInsufficientFunds(amount, available);

        batchId = ++_batchCount;
        p.disbursed += amount;
        _draw(programId, p, batchId, amount, true);
        _receiverBatches[batchId] = ReceiverBatch({receiver: receiver, programId: programId, returnable: amount});
        bytes32 dataHash = keccak256(data);
        emit BatchDisbursed(batchId, programId, 1, amount, dataHash);
        emit ReceiverFunded(batchId, receiver, dataHash);
        emit Disbursed(programId, receiver, batchId, amount);

        IERC20(p.token).safeTransfer(receiver, amount);
        if (IFundsReceiver(receiver).onFundsReceived(programId, batchId, amount, data) != IFundsReceiver.onFundsReceived.selector) {
            revert FundLedgerReceiverRejected(receiver);
        }
    }

    /// @inheritdoc IFundLedger
    function returnFunds(uint48 batchId, uint128 amount) external nonReentrant {
        address sender = _msgSender();
        ReceiverBatch storage b = _receiverBatches[batchId];
        if (b.receiver == address(0) || b.receiver != sender) revert FundLedgerNotBatchReceiver(batchId, sender);
        if (amount == 0) revert FundLedgerZeroAmount();
        if (amount > b.returnable) revert FundLedgerInsufficientFunds(amount, b.returnable);
        // Cannot underflow: checked just above.
        unchecked {
            b.returnable -= amount;
        }
        uint48 programId = b.programId;
        Program storage p = _programs[programId];
        IERC20 token = IERC20(p.token);
        // Pull first: the part drawn from refunded lots goes straight on to their funders.
        token.safeTransferFrom(sender, address(this), amount);

        Draw[] storage draws = _receiverBatchDraws[batchId];
        uint128 remaining = amount;
        uint128 credited;
        for (uint256 i = draws.length; remaining != 0; --i) {
            Draw storage d = draws[i - 1];
            uint128 back = d.amount - d.returned;
            if (back > remaining) back = remaining;
            if (back == 0) continue;
            d.returned += back;
            remaining -= back;
            if (!_returnDraw(batchId, programId, token, d.allocationId, back)) credited += back;
        }
        if (credited != 0) {
            p.allocated += credited;
            p.released += credited;
        }
    }

    /// @inheritdoc IFundLedger
    function setProgramEnd(uint48 programId, uint48 endsAt) external {
        Program storage p = _requireProgramNgo(programId, _msgSender());
        uint48 current = p.endsAt;
        // Also after the end: a later end opens a next period for the money swept back (not yet swept
        // accounts get the time too); an earlier one never, so no date told to clients is shortened.
        if (endsAt <= block.timestamp) revert FundLedgerExpiryInPast(endsAt, block.timestamp);
        if (current == 0) {
            // Every payment must be recorded by lot, or a sweep could not say whose money came back.
            if (p.disbursed != 0) revert FundLedgerEndAfterPayment(programId, p.disbursed);
        } else if (endsAt < current) {
            revert FundLedgerEndEarlier(programId, current, endsAt);
        }
        p.endsAt = endsAt;
        emit ProgramEndSet(programId, endsAt);
    }

    /// @inheritdoc IFundLedger
    function sweepExpired(uint48 programId, address[] calldata accounts)
        external
        nonReentrant
        returns (uint128 swept)
    {
        // Anyone may call it: the money only goes back to the lots it came from.
        Program storage p = _program(programId);
        uint48 endsAt = p.endsAt;
        if (endsAt == 0 || block.timestamp < endsAt) revert FundLedgerProgramNotEnded(programId, endsAt);
        uint256 count = accounts.length;
        if (count == 0 || count > MAX_SWEEP_ACCOUNTS) revert FundLedgerTooManyAccounts(count, MAX_SWEEP_ACCOUNTS);
        IERC20 token = IERC20(p.token);
        uint128 before = _sweepable[programId];
        uint128 left = before;
        uint256[] memory amounts = new uint256[](count);
        for (uint256 i; i < count && left != 0; ++i) {
            uint256 held = token.balanceOf(accounts[i]);
            // Money that reached the account otherwise (beyond what the program paid) stays with it.
            uint128 take = held < left ? uint128(held) : left;
            if (take != 0) {
                amounts[i] = take;
                // Cannot underflow: take <= left.
                unchecked {
                    left -= take;
                }
                emit ExpiredAidSwept(programId, accounts[i], take);
            }
        }
        swept = before - left;
        if (swept == 0) revert FundLedgerNothingToSweep(programId);
        _sweepable[programId] = left;
        // The token asks the registry, which allows it only for accounts the program's NGO marked for it.
        IEuroToken(address(token)).sweepRestricted(programId, accounts, amounts);
        uint128 credited = _returnSwept(programId, token, swept);
        if (credited != 0) {
            p.allocated += credited;
            p.released += credited;
        }
    }

    /// @inheritdoc IFundLedger
    function sweepable(uint48 programId) external view returns (uint128) {
        return _sweepable[programId];
    }

    /// @inheritdoc IFundLedger
    function payingProgram() external view returns (uint48) {
        return _paying;
    }

    /// @inheritdoc IFundLedger
    function skipSpent(uint48 programId) external returns (uint256 skipped) {
        Program storage p = _program(programId);
        uint48[] storage queue = _programAllocations[programId];
        uint256 cursor = p.drawCursor;
        uint256 end = queue.length;
        while (cursor < end && skipped < DRAW_STEP) {
            Allocation storage a = _allocations[queue[cursor]];
            if (a.amount != a.drawn) break;
            ++cursor;
            ++skipped;
        }
        if (skipped != 0) {
            p.drawCursor = uint48(cursor); // cursor <= queue length <= allocation count, a uint48
            emit DrawCursorMoved(programId, uint48(cursor));
        }
    }

    /// @inheritdoc IFundLedger
    function drawPlan(uint48 programId, uint128 amount)
        external
        view
        returns (uint256 spentAhead, uint256 walked, uint128 drawable)
    {
        uint48[] storage queue = _programAllocations[programId];
        uint256 cursor = _program(programId).drawCursor;
        uint256 end = queue.length;
        bool leading = true;
        while (cursor < end && walked < DRAW_STEP && drawable < amount) {
            Allocation storage a = _allocations[queue[cursor]];
            uint128 free = a.amount - a.drawn;
            if (free == 0 && leading) ++spentAhead;
            else leading = false;
            uint128 take = free < amount - drawable ? free : amount - drawable;
            drawable += take;
            ++walked;
            if (take == free) ++cursor;
        }
    }

    /// @inheritdoc IFundLedger
    function refund(uint48 lotId) external nonReentrant returns (uint128 amount) {
        StoredLot storage lot = _lot(lotId);
        if (!_expired(lot)) revert FundLedgerLotNotExpired(lotId, lot.expiry);
        uint48[] storage allocationIds = _lotAllocations[lotId];
        uint256 cursor = _refundCursor[lotId];
        if (lot.refunded) {
            // Continues a refund that stopped after REFUND_STEP allocations.
            if (cursor == allocationIds.length) revert FundLedgerLotAlreadyRefunded(lotId);
        } else {
            // The lot's allocation list is final from here on: a refunded (even an expired) lot takes
            // no new allocations, and what comes back from its allocations goes to the funder.
            lot.refunded = true;
            amount = lot.unallocated;
            lot.unallocated = 0;
        }
        uint256 end = allocationIds.length - cursor > REFUND_STEP ? cursor + REFUND_STEP : allocationIds.length;
        for (uint256 i = cursor; i < end; ++i) {
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
        _refundCursor[lotId] = end;
        emit LotRefunded(lotId, lot.funder, amount);
        if (amount != 0) IERC20(_tokenAt[lot.token]).safeTransfer(lot.funder, amount);
    }

    /// @inheritdoc IFundLedger
    function mayAllocate(uint48 lotId, address account) external view returns (bool) {
        StoredLot storage lot = _lot(lotId);
        return account == lot.funder || _lotAllocators[lotId][account];
    }

    /// @inheritdoc IFundLedger
    function isLotAllocator(uint48 lotId, address allocator) external view returns (bool) {
        return _lotAllocators[lotId][allocator];
    }

    /// @inheritdoc IFundLedger
    function mayApprove(uint48 programId, address account) external view returns (bool) {
        return _mayApprove(programId, account);
    }

    /// @inheritdoc IFundLedger
    function isProgramFunder(uint48 programId, address funder) external view returns (bool) {
        return _programFunders[programId][funder];
    }

    /// @inheritdoc IFundLedger
    function isProgramApprover(uint48 programId, address funder, address approver) external view returns (bool) {
        return _approverNamed[programId][funder][approver];
    }

    /// @inheritdoc IFundLedger
    function refundPending(uint48 lotId) external view returns (uint256) {
        if (!_lots[lotId].refunded) return _lotAllocations[lotId].length;
        return _lotAllocations[lotId].length - _refundCursor[lotId];
    }

    /// @inheritdoc IFundLedger
    function isTokenAllowed(address token) external view returns (bool) {
        return _tokens[token].allowed;
    }

    /// @inheritdoc IFundLedger
    function getLot(uint48 lotId) external view returns (Lot memory) {
        StoredLot storage lot = _lot(lotId);
        return Lot({
            funder: lot.funder,
            expiry: lot.expiry,
            earmark: lot.earmark,
            token: _tokenAt[lot.token],
            refunded: lot.refunded,
            amount: lot.amount,
            unallocated: lot.unallocated
        });
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
    function getReservation(uint48 reservationId) external view returns (Reservation memory) {
        Reservation storage r = _reservations[reservationId];
        if (r.holder == address(0)) revert FundLedgerUnknownReservation(reservationId);
        return r;
    }

    /// @inheritdoc IFundLedger
    function getReceiverBatch(uint48 batchId) external view returns (ReceiverBatch memory) {
        return _receiverBatches[batchId];
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
        returns (
            uint48 lots,
            uint48 programs,
            uint48 allocations,
            uint48 tranches,
            uint48 batches,
            uint48 reservations
        )
    {
        return (_lotCount, _programCount, _allocationCount, _trancheCount, _batchCount, _reservationCount);
    }

    /// @dev Takes `total` from the program's allocations, oldest first, and records which lots paid.
    /// Everything before the cursor is fully drawn, and the undrawn rest after it equals
    /// `allocated - disbursed`, which covers `total`, so the loop ends inside the queue. It walks at most
    /// `DRAW_STEP` allocations, so a receiver batch holds at most that many draws.
    function _draw(uint48 programId, Program storage p, uint48 batchId, uint128 total, bool record) private {
        uint48[] storage queue = _programAllocations[programId];
        uint256 cursor = p.drawCursor;
        uint256 stop = cursor + DRAW_STEP;
        uint128 remaining = total;
        while (remaining != 0) {
            if (cursor == stop) revert FundLedgerDrawTooLong(programId, total - remaining);
            uint48 allocationId = queue[cursor];
            Allocation storage a = _allocations[allocationId];
            uint128 free = a.amount - a.drawn;
            uint128 take = free < remaining ? free : remaining;
            if (take != 0) {
                a.drawn += take;
                remaining -= take;
                emit AllocationDrawn(allocationId, a.lotId, batchId, take);
                if (record) _receiverBatchDraws[batchId].push(Draw({allocationId: allocationId, amount: take, returned: 0}));
            }
            if (take == free) ++cursor;
        }
        p.drawCursor = uint48(cursor); // cursor <= queue length <= allocation count, a uint48
    }

    /// @dev Records disbursement `batchId` of program `programId` (ending at `endsAt`) as one a sweep may take
    /// back; refuses once the program has ended.
    function _recordSweepable(uint48 programId, uint48 endsAt, uint48 batchId, uint128 total) private {
        if (block.timestamp >= endsAt) revert FundLedgerProgramEnded(programId, endsAt);
        _sweepBatches[programId].push(batchId);
        _sweepable[programId] += total;
    }

    /// @dev Reverts unless the token restricts every one of `recipients` by program `programId`: a program
    /// with an end pays only accounts marked for it, so its sweep takes back only its own payments.
    function _requireMarked(address token, uint48 programId, address[] calldata recipients) private view {
        for (uint256 i; i < recipients.length; ++i) {
            uint48 restrictedBy = IEuroToken(token).restrictionOf(recipients[i]);
            if (restrictedBy != programId) revert FundLedgerRecipientNotMarked(programId, recipients[i], restrictedBy);
        }
    }

    /// @dev Credits `amount` swept from program `programId`'s accounts to the draws of its recorded
    /// disbursements, last drawn first; returns what went to the program (not to funders). `amount` is at
    /// most what those draws have not got back, so the loop ends inside the list; a disbursement whose
    /// first draw is all back is all back, and leaves the list.
    function _returnSwept(uint48 programId, IERC20 token, uint128 amount) private returns (uint128 credited) {
        uint48[] storage batches = _sweepBatches[programId];
        uint128 remaining = amount;
        while (remaining != 0) {
            uint48 batchId = batches[batches.length - 1];
            Draw[] storage draws = _receiverBatchDraws[batchId];
            for (uint256 i = draws.length; i != 0 && remaining != 0; --i) {
                Draw storage d = draws[i - 1];
                uint128 back = d.amount - d.returned;
                if (back == 0) continue;
                if (back > remaining) back = remaining;
                d.returned += back;
                remaining -= back;
                if (!_returnDraw(batchId, programId, token, d.allocationId, back)) credited += back;
            }
            if (draws[0].returned == draws[0].amount) batches.pop();
        }
    }

    /// @dev The total of a batch's amounts, checking each payment in order as a Solidity loop over
    /// `recipients[i]` and `amounts[i]` would: a word with stray high bits reverts without data (as ABI
    /// decoding does), a zero recipient or amount with the typed error. Written out in assembly because it
    /// runs once per recipient (~500 gas less each). The sum cannot overflow: `disburse` allows at most
    /// 2^32 - 1 payments, each below 2^128.
    function _sumPayments(address[] calldata recipients, uint128[] calldata amounts)
        private
        pure
        returns (uint256 sum)
    {
        uint256 count = recipients.length;
        uint256 badAt = count; // the first payment with a zero recipient or amount, if any
        bool zeroAmount;
        assembly ("memory-safe") {
            for { let i := 0 } lt(i, count) { i := add(i, 1) } {
                let to := calldataload(add(recipients.offset, shl(5, i)))
                if shr(160, to) { revert(0, 0) }
                if iszero(to) {
                    badAt := i
                    break
                }
                let value := calldataload(add(amounts.offset, shl(5, i)))
                if shr(128, value) { revert(0, 0) }
                if iszero(value) {
                    badAt := i
                    zeroAmount := 1
                    break
                }
                sum := add(sum, value)
            }
        }
        if (badAt != count) {
            if (zeroAmount) revert FundLedgerZeroAmount();
            revert FundLedgerZeroRecipient(badAt);
        }
    }

    /// @dev Pays `amounts[i]` of `token` to `recipients[i]` and emits `Disbursed` after each transfer, in
    /// order. Written out in assembly because it runs once per recipient: against `safeTransfer` and
    /// `emit` in a Solidity loop it saves ~1,000 gas a recipient. `_sumPayments` checked every word of
    /// both arrays first (no stray high bits), so the words read here are clean. A transfer counts as
    /// SafeERC20's does: the call succeeded and returned true, or returned nothing from a token with code;
    /// a failed call's revert is passed on.
    function _payEach(
        address token,
        uint48 programId,
        uint48 batchId,
        address[] calldata recipients,
        uint128[] calldata amounts
    ) private {
        assembly ("memory-safe") {
            let m := mload(0x40) // the call's arguments go above the free memory pointer, the answer to 0x00
            for { let i := 0 } lt(i, recipients.length) { i := add(i, 1) } {
                let to := calldataload(add(recipients.offset, shl(5, i)))
                let value := calldataload(add(amounts.offset, shl(5, i)))
                mstore(m, shl(224, 0xa9059cbb)) // transfer(address,uint256)
                mstore(add(m, 0x04), to)
                mstore(add(m, 0x24), value)
                mstore(0x00, 0)
                let success := call(gas(), token, 0, m, 0x44, 0x00, 0x20)
                if iszero(and(success, eq(mload(0x00), 1))) {
                    if iszero(success) {
                        returndatacopy(m, 0x00, returndatasize())
                        revert(m, returndatasize())
                    }
                    if iszero(and(iszero(returndatasize()), gt(extcodesize(token), 0))) {
                        mstore(0x00, shl(224, 0x5274afe7)) // SafeERC20FailedOperation(address)
                        mstore(0x04, token)
                        revert(0x00, 0x24)
                    }
                }
                mstore(0x00, batchId)
                mstore(0x20, value)
                // topic 0: keccak256("Disbursed(uint48,address,uint48,uint128)"), the event of IFundLedger
                log3(0x00, 0x40, 0x4a6eb81e0e19f0a5922f868a12b93c29cf892e72333d7468dd72bd1f8b7f254f, programId, to)
            }
        }
    }

    /// @dev Gives `back` of what a receiver batch drew from allocation `allocationId` back: to the lot's
    /// funder if the lot has been refunded (returns true), else to the program as a new allocation of the lot.
    function _returnDraw(uint48 batchId, uint48 programId, IERC20 token, uint48 allocationId, uint128 back)
        private
        returns (bool toFunder)
    {
        uint48 lotId = _allocations[allocationId].lotId;
        StoredLot storage lot = _lots[lotId];
        toFunder = lot.refunded || _expired(lot);
        if (toFunder) {
            // An expired lot takes no new allocations: the money is the funder's, as a released
            // reservation of a refunded lot is (were it a new allocation, it would escape the refund).
            emit FundsReturned(batchId, 0, lotId, programId, back, true);
            token.safeTransfer(lot.funder, back);
        } else {
            emit FundsReturned(batchId, _newAllocation(lotId, programId, back), lotId, programId, back, false);
        }
    }

    /// @dev Checks that `amount` of the lot may go to `programId` paying in `programToken`
    /// (0 and the zero address for a reservation) and takes it from the lot.
    function _takeFromLot(uint48 lotId, StoredLot storage lot, uint48 programId, address programToken, uint128 amount)
        private
    {
        if (amount == 0) revert FundLedgerZeroAmount();
        if (_expired(lot)) revert FundLedgerLotExpired(lotId, lot.expiry);
        if (lot.earmark != 0 && lot.earmark != programId) {
            revert FundLedgerEarmarkMismatch(lotId, lot.earmark, programId);
        }
        if (programToken != address(0)) {
            address lotToken = _tokenAt[lot.token];
            if (lotToken != programToken) revert FundLedgerTokenMismatch(lotToken, programToken);
        }
        uint112 unallocated = lot.unallocated;
        if (amount > unallocated) revert FundLedgerInsufficientFunds(amount, unallocated);
        // Cannot underflow, and the cast keeps every bit: `amount` is at most `unallocated`, just checked.
        unchecked {
            lot.unallocated = unallocated - uint112(amount);
        }
    }

    /// @dev Records a new allocation of already-taken lot money to a program.
    function _allocate(
        uint48 lotId,
        Program storage p,
        uint48 programId,
        uint128 amount,
        address allocator,
        uint48 reservationId
    ) private returns (uint48 allocationId) {
        p.allocated += amount;
        address funder = _lots[lotId].funder;
        if (!_programFunders[programId][funder]) _programFunders[programId][funder] = true;
        allocationId = _newAllocation(lotId, programId, amount);
        emit Allocated(allocationId, lotId, programId, amount, allocator, reservationId);
    }

    function _newAllocation(uint48 lotId, uint48 programId, uint128 amount) private returns (uint48 allocationId) {
        allocationId = ++_allocationCount;
        _allocations[allocationId] = Allocation({lotId: lotId, programId: programId, amount: amount, drawn: 0});
        _lotAllocations[lotId].push(allocationId);
        _programAllocations[programId].push(allocationId);
    }

    /// @dev Whether `lot` has expired: it then takes no new allocations or reservations and may be refunded.
    function _expired(StoredLot storage lot) private view returns (bool) {
        uint48 expiry = lot.expiry;
        return expiry != 0 && block.timestamp >= expiry;
    }

    function _heldReservation(uint48 reservationId, address account) private view returns (Reservation storage r) {
        r = _reservations[reservationId];
        if (r.holder == address(0)) revert FundLedgerUnknownReservation(reservationId);
        if (r.holder != account) revert FundLedgerNotReservationHolder(reservationId, account);
    }

    function _lot(uint48 lotId) private view returns (StoredLot storage lot) {
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
        t = _tranche(trancheId);
        if (!_mayApprove(t.programId, approver)) revert FundLedgerNotProgramApprover(t.programId, approver);
        if (t.status != TrancheStatus.Requested) revert FundLedgerTrancheNotPending(trancheId, t.status);
        if (t.requester == approver) revert FundLedgerSelfApproval(trancheId, approver);
    }

    /// @dev A funder whose money is in the program, or an approver at least one such funder named.
    function _mayApprove(uint48 programId, address account) private view returns (bool) {
        return _programFunders[programId][account] || _approverNamings[programId][account] != 0;
    }

    /// @dev The lot's funder consents to `account` moving its money: it is the funder or a named allocator.
    function _requireConsent(uint48 lotId, StoredLot storage lot, address account) private view {
        if (account != lot.funder && !_lotAllocators[lotId][account]) revert FundLedgerNotLotAllocator(lotId, account);
    }

    function _requireProgramNgo(uint48 programId, address account) private view returns (Program storage p) {
        p = _program(programId);
        if (p.ngo != account) revert FundLedgerNotProgramNgo(programId, account);
    }

    /// @dev Reverts unless `token` is allowed; returns its number.
    function _requireAllowedToken(address token) private view returns (uint24 number) {
        TokenEntry storage entry = _tokens[token];
        if (!entry.allowed) revert FundLedgerTokenNotAllowed(token);
        return entry.number;
    }

    function _toUint128(uint256 value) private pure returns (uint128) {
        if (value > type(uint128).max) revert FundLedgerAmountOverflow(value);
        return uint128(value);
    }
}
