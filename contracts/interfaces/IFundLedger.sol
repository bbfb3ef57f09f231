// SPDX-License-Identifier: AGPL-3.0-or-later
pragma solidity ^0.8.24;

/// @title Allmende fund ledger
/// @notice Follows money euro by euro: funders deposit lots, lots are allocated to programs,
/// tranches are released on milestones with maker-checker approval, programs disburse to
/// pseudonymous accounts, and after expiry the unspent rest of a lot returns to its funder.
/// Programs draw on their allocations first in, first out, so every disbursed euro is traced
/// to the lots that paid it by the `AllocationDrawn` events alone.
///
/// Expiry and refund: from its expiry on, a lot takes no new allocations or reservations, and
/// money reserved from it can no longer be allocated (only released, by anyone). Allocations made
/// before stay the programs' until `refund` (which anyone may call) takes back what they have not
/// drawn: until then programs keep drawing on them, so a funder who wants the rest back promptly
/// refunds at the expiry. After the refund nothing of the lot is allocated anew: released
/// reservations and money receivers return go straight to the funder, and so does money receivers
/// return once the lot has expired, even before the refund (it never becomes a new allocation).
///
/// Consent: a lot's money is allocated, reserved or put into a budget round only by its funder or by
/// allocators the funder names for that lot (revocable). A program's tranches are approved only by a
/// funder whose money is in the program, or by approvers such a funder names for it.
interface IFundLedger {
    /// @notice A deposit: money one funder gave, optionally earmarked for one program.
    struct Lot {
        address funder;
        uint48 expiry; // 0: never expires
        uint48 earmark; // program id, 0: unearmarked
        address token;
        bool refunded;
        uint128 amount;
        uint128 unallocated;
    }

    /// @notice A program run by an NGO, paying out in one token.
    struct Program {
        address ngo;
        uint48 drawCursor; // position in the allocation queue disbursements draw from next
        uint48 endsAt; // when its restricted aid ends (0: never); packed with `ngo`, read by `disburse`
        address token;
        uint128 allocated; // allocated and not returned
        uint128 released; // released by approved tranches, never above `allocated`
        uint128 disbursed;
        bytes32 metadataHash;
    }

    /// @notice Part of a lot given to a program.
    struct Allocation {
        uint48 lotId;
        uint48 programId;
        uint128 amount; // what the program may still draw in total: reduced on refund
        uint128 drawn;
    }

    /// @notice Life of a tranche request.
    enum TrancheStatus {
        None,
        Requested,
        Approved,
        Rejected,
        Cancelled
    }

    /// @notice Money of an unearmarked lot held back for an allocator (a budget round, say),
    /// which later allocates it to programs or releases the rest back to the lot.
    struct Reservation {
        uint48 lotId;
        address holder;
        uint128 amount; // still reserved
    }

    /// @notice A disbursement to a receiver contract, which may return what it does not use.
    struct ReceiverBatch {
        address receiver;
        uint48 programId;
        uint128 returnable;
    }

    /// @notice A program's request to release money on a milestone.
    struct Tranche {
        uint48 programId;
        TrancheStatus status;
        address requester;
        address approver;
        uint128 amount;
        bytes32 milestoneHash;
    }

    /// @notice The admin allowed or disallowed `token` for deposits and programs.
    event TokenAllowed(address indexed token, bool allowed);
    /// @notice `funder` deposited `amount` of `token` as lot `lotId`.
    event LotDeposited(
        uint48 indexed lotId, address indexed funder, address token, uint128 amount, uint48 earmark, uint48 expiry
    );
    /// @notice `ngo` created program `programId` paying in `token`.
    event ProgramCreated(uint48 indexed programId, address indexed ngo, address token, bytes32 metadataHash);
    /// @notice `amount` of lot `lotId` was allocated to program `programId` by `allocator`.
    /// `reservationId` is 0 for a direct allocation, else the reservation the money came from.
    event Allocated(
        uint48 indexed allocationId,
        uint48 indexed lotId,
        uint48 indexed programId,
        uint128 amount,
        address allocator,
        uint48 reservationId
    );
    /// @notice `holder` reserved `amount` of lot `lotId`.
    event Reserved(uint48 indexed reservationId, uint48 indexed lotId, address indexed holder, uint128 amount);
    /// @notice The unused `amount` of reservation `reservationId` went back to its lot, or to the
    /// lot's funder when the lot has been refunded meanwhile.
    event ReservationReleased(uint48 indexed reservationId, uint48 indexed lotId, uint128 amount, bool toFunder);
    /// @notice Batch `batchId` paid receiver contract `receiver`, which may return unused money.
    event ReceiverFunded(uint48 indexed batchId, address indexed receiver, bytes32 dataHash);
    /// @notice The receiver of batch `batchId` returned `amount` drawn from lot `lotId`: credited to program
    /// `programId` as new allocation `allocationId` of that lot (so lineage holds), or, when the lot has been
    /// refunded meanwhile (`toFunder`, `allocationId` 0), passed straight on to the lot's funder.
    event FundsReturned(
        uint48 indexed batchId,
        uint48 indexed allocationId,
        uint48 indexed lotId,
        uint48 programId,
        uint128 amount,
        bool toFunder
    );
    /// @notice The NGO of program `programId` set the end of its restricted aid to `endsAt`: from then on
    /// every `disburse` records which lots it drew, and after `endsAt` anyone may sweep what the accounts
    /// it marked still hold back to those lots (`sweepExpired`).
    event ProgramEndSet(uint48 indexed programId, uint48 endsAt);
    /// @notice After program `programId` ended, `amount` that `account` (marked by the program's NGO) had not
    /// spent came back to the fund ledger; the `FundsReturned` events of the same call say which lots got it.
    event ExpiredAidSwept(uint48 indexed programId, address indexed account, uint128 amount);
    /// @notice `requester` asked to release `amount` to program `programId` for a milestone.
    event TrancheRequested(
        uint48 indexed trancheId, uint48 indexed programId, address indexed requester, uint128 amount, bytes32 milestoneHash
    );
    /// @notice `approver` approved tranche `trancheId`; the program may now disburse its amount.
    event TrancheApproved(uint48 indexed trancheId, uint48 indexed programId, address indexed approver, uint128 amount);
    /// @notice `approver` rejected tranche `trancheId`.
    event TrancheRejected(uint48 indexed trancheId, address indexed approver, bytes32 reasonHash);
    /// @notice The requester withdrew tranche `trancheId`.
    event TrancheCancelled(uint48 indexed trancheId);
    /// @notice Disbursement batch `batchId` of program `programId` took `amount` from allocation `allocationId`.
    event AllocationDrawn(uint48 indexed allocationId, uint48 indexed lotId, uint48 indexed batchId, uint128 amount);
    /// @notice Program `programId` paid `amount` to the pseudonymous account `recipient` in batch `batchId`.
    event Disbursed(uint48 indexed programId, address indexed recipient, uint48 batchId, uint128 amount);
    /// @notice Program `programId` closed batch `batchId` of `count` payments, `total` in all.
    event BatchDisbursed(uint48 indexed batchId, uint48 indexed programId, uint32 count, uint128 total, bytes32 paymentReference);
    /// @notice The undrawn `amount` of allocation `allocationId` went back to its expired lot.
    event AllocationReturned(uint48 indexed allocationId, uint48 indexed programId, uint128 amount, uint128 releasedAfter);
    /// @notice The unspent `amount` of expired lot `lotId` was returned to `funder`. A lot with many
    /// allocations is refunded in steps of at most `REFUND_STEP` allocations, one event per step.
    event LotRefunded(uint48 indexed lotId, address indexed funder, uint128 amount);
    /// @notice The funder of lot `lotId` named (`allowed`) or revoked `allocator` as one who may allocate,
    /// reserve or put into a budget round the lot's money.
    event LotAllocatorSet(uint48 indexed lotId, address indexed funder, address indexed allocator, bool allowed);
    /// @notice `funder`, whose money is in program `programId`, named (`allowed`) or revoked `approver`
    /// as one who may approve or reject the program's tranches.
    event ProgramApproverSet(uint48 indexed programId, address indexed funder, address indexed approver, bool allowed);
    /// @notice NGO `ngo` named (`allowed`) or revoked `requester` for the tranches of its programs.
    event RequesterSet(address indexed ngo, address indexed requester, bool allowed);
    /// @notice `skipSpent` moved program `programId`'s draw cursor past allocations with nothing left to
    /// draw (refunded ones): disbursements now start at queue position `cursor`.
    event DrawCursorMoved(uint48 indexed programId, uint48 cursor);

    /// @notice `token` is not allowed in this ledger.
    error FundLedgerTokenNotAllowed(address token);
    /// @notice A zero amount was given where money must move.
    error FundLedgerZeroAmount();
    /// @notice No lot has id `lotId`.
    error FundLedgerUnknownLot(uint48 lotId);
    /// @notice No program has id `programId`.
    error FundLedgerUnknownProgram(uint48 programId);
    /// @notice No tranche has id `trancheId`.
    error FundLedgerUnknownTranche(uint48 trancheId);
    /// @notice `expiry` is not in the future.
    error FundLedgerExpiryInPast(uint48 expiry, uint256 now_);
    /// @notice Lot `lotId` has expired at `expiry`: it can only be refunded.
    error FundLedgerLotExpired(uint48 lotId, uint48 expiry);
    /// @notice Lot `lotId` does not expire before `expiry`, or never.
    error FundLedgerLotNotExpired(uint48 lotId, uint48 expiry);
    /// @notice Lot `lotId` was already refunded.
    error FundLedgerLotAlreadyRefunded(uint48 lotId);
    /// @notice Lot `lotId` is earmarked for program `earmark`, not `programId`.
    error FundLedgerEarmarkMismatch(uint48 lotId, uint48 earmark, uint48 programId);
    /// @notice Lot token `lotToken` differs from program token `programToken`.
    error FundLedgerTokenMismatch(address lotToken, address programToken);
    /// @notice `account` may not allocate lot `lotId`: neither its funder nor an allocator its funder named.
    error FundLedgerNotLotAllocator(uint48 lotId, address account);
    /// @notice `account` is not the funder of lot `lotId`.
    error FundLedgerNotLotFunder(uint48 lotId, address account);
    /// @notice `account` may not decide tranches of program `programId` (no funder or named approver).
    error FundLedgerNotProgramApprover(uint48 programId, address account);
    /// @notice `account` has no money in program `programId`, so it cannot name its approvers.
    error FundLedgerNotProgramFunder(uint48 programId, address account);
    /// @notice The zero address cannot be named.
    error FundLedgerZeroAccount();
    /// @notice `requested` exceeds the `available` amount.
    error FundLedgerInsufficientFunds(uint128 requested, uint128 available);
    /// @notice `account` does not run program `programId`.
    error FundLedgerNotProgramNgo(uint48 programId, address account);
    /// @notice Tranche `trancheId` is `status`, not awaiting a decision.
    error FundLedgerTrancheNotPending(uint48 trancheId, TrancheStatus status);
    /// @notice The requester `account` may not also approve tranche `trancheId` (maker-checker).
    error FundLedgerSelfApproval(uint48 trancheId, address account);
    /// @notice `recipients` and `amounts` differ in length, or are empty.
    error FundLedgerBadBatch(uint256 recipients, uint256 amounts);
    /// @notice Payment `index` of a batch goes to the zero address.
    error FundLedgerZeroRecipient(uint256 index);
    /// @notice No reservation has id `reservationId`.
    error FundLedgerUnknownReservation(uint48 reservationId);
    /// @notice `account` does not hold reservation `reservationId`.
    error FundLedgerNotReservationHolder(uint48 reservationId, address account);
    /// @notice Receiver `receiver` did not accept the money.
    error FundLedgerReceiverRejected(address receiver);
    /// @notice `account` is not the receiver of batch `batchId`.
    error FundLedgerNotBatchReceiver(uint48 batchId, address account);
    /// @notice A value does not fit its storage type.
    error FundLedgerAmountOverflow(uint256 value);
    /// @notice Paying this much walks over `DRAW_STEP` allocations; one call may pay `drawable` now.
    error FundLedgerDrawTooLong(uint48 programId, uint128 drawable);
    /// @notice Program `programId` has no end (`endsAt` 0) or it has not come yet.
    error FundLedgerProgramNotEnded(uint48 programId, uint48 endsAt);
    /// @notice Program `programId` ended at `endsAt`: it pays no more until its NGO sets a later end.
    error FundLedgerProgramEnded(uint48 programId, uint48 endsAt);
    /// @notice A program's end may only move later: `endsAt` is before its current end `current`.
    error FundLedgerEndEarlier(uint48 programId, uint48 current, uint48 endsAt);
    /// @notice Program `programId` has paid `disbursed` without an end: its first end must come before any payment.
    error FundLedgerEndAfterPayment(uint48 programId, uint128 disbursed);
    /// @notice A sweep takes between one and `max` accounts; `count` were given.
    error FundLedgerTooManyAccounts(uint256 count, uint256 max);
    /// @notice The accounts given hold nothing the program's restricted disbursements may take back.
    error FundLedgerNothingToSweep(uint48 programId);
    /// @notice Program `programId` has an end: it pays only accounts marked for it, not `account`.
    /// @dev `restrictedBy` is the program restricting `account` (zero: none).
    error FundLedgerRecipientNotMarked(uint48 programId, address account, uint48 restrictedBy);

    /// @notice Allows or disallows `token`. Admin only.
    function setTokenAllowed(address token, bool allowed) external;

    /// @notice Deposits `amount` of `token` from the sender as a new lot. Funder only.
    /// @param earmark Program the lot may only go to, 0 for none.
    /// @param expiry Time after which the unspent rest returns to the funder, 0 for never.
    function deposit(address token, uint128 amount, uint48 earmark, uint48 expiry) external returns (uint48 lotId);

    /// @notice Creates a program run by the sender, paying in `token`. NGO only.
    function createProgram(address token, bytes32 metadataHash) external returns (uint48 programId);

    /// @notice Allocates `amount` of lot `lotId` to program `programId`.
    /// The lot's funder, or an allocator the funder named for this lot (`setLotAllocator`), only.
    function allocate(uint48 lotId, uint48 programId, uint128 amount) external returns (uint48 allocationId);

    /// @notice Asks to release `amount` of program `programId`'s allocations on a milestone. The program's
    /// NGO, or a requester that NGO named (`setRequester`: a person of the NGO with their own key), only.
    function requestTranche(uint48 programId, uint128 amount, bytes32 milestoneHash) external returns (uint48 trancheId);

    /// @notice Approves a tranche. Only a funder whose money is in the tranche's program (one that ever
    /// allocated to it) or an approver such a funder named (`setProgramApprover`), and never the requester.
    function approveTranche(uint48 trancheId) external;

    /// @notice Rejects a tranche. The same accounts as `approveTranche`, and never the requester.
    function rejectTranche(uint48 trancheId, bytes32 reasonHash) external;

    /// @notice Withdraws a pending tranche. Its requester, or the program's NGO.
    function cancelTranche(uint48 trancheId) external;

    /// @notice Pays `amounts[i]` to `recipients[i]` from program `programId`'s released money. Program NGO only.
    function disburse(
        uint48 programId,
        address[] calldata recipients,
        uint128[] calldata amounts,
        bytes32 paymentReference
    ) external returns (uint48 batchId);

    /// @notice Holds `amount` of unearmarked lot `lotId` back for the sender on behalf of `requester`.
    /// The sender must hold the allocator role (a budget contract, which vouches that `requester` asked),
    /// and `requester` must be the lot's funder or an allocator the funder named for the lot.
    function reserve(uint48 lotId, uint128 amount, address requester) external returns (uint48 reservationId);

    /// @notice Names (`allowed`) or revokes `allocator` for lot `lotId`: who may allocate its money,
    /// reserve it or put it into a budget round besides the funder. The lot's funder only.
    /// Revoking stops future allocations; what was allocated or reserved before stays.
    function setLotAllocator(uint48 lotId, address allocator, bool allowed) external;

    /// @notice Names (`allowed`) or revokes `approver` for program `programId`'s tranches, as the sender.
    /// Only a funder whose money is in the program. Another funder's naming of the same approver stays.
    function setProgramApprover(uint48 programId, address approver, bool allowed) external;

    /// @notice Names (`allowed`) or revokes `requester` as one who may ask for tranches of the sender's
    /// programs, so a person of the NGO asks with their own key and the maker-checker rule (requester
    /// != approver) holds between two people of one NGO. NGO role only.
    function setRequester(address requester, bool allowed) external;

    /// @notice Whether `ngo` named `requester` for the tranches of its programs.
    function isRequester(address ngo, address requester) external view returns (bool);

    /// @notice Whether `account` may allocate, reserve or put into a round the money of lot `lotId`.
    function mayAllocate(uint48 lotId, address account) external view returns (bool);

    /// @notice Whether the funder of lot `lotId` named `allocator` for it (and has not revoked it).
    function isLotAllocator(uint48 lotId, address allocator) external view returns (bool);

    /// @notice Whether `account` may approve or reject tranches of program `programId`.
    function mayApprove(uint48 programId, address account) external view returns (bool);

    /// @notice Whether `funder` has money in program `programId` (allocated to it at least once).
    function isProgramFunder(uint48 programId, address funder) external view returns (bool);

    /// @notice Whether `funder` named `approver` for program `programId`.
    function isProgramApprover(uint48 programId, address funder, address approver) external view returns (bool);

    /// @notice The most allocations one `refund` call walks.
    function REFUND_STEP() external view returns (uint256);

    /// @notice The most allocations one disbursement draws on (or one `skipSpent` call walks), so a
    /// queue others filled with small or refunded allocations costs a bounded amount per call, and a
    /// receiver batch's returns walk at most that many draws.
    function DRAW_STEP() external view returns (uint256);

    /// @notice Moves program `programId`'s draw cursor past at most `DRAW_STEP` allocations that have
    /// nothing left to draw (a refund took their rest); stops at the first one that has. Anyone may call
    /// it: it moves no money. Returns how many it passed.
    function skipSpent(uint48 programId) external returns (uint256 skipped);

    /// @notice What paying `amount` from program `programId` would walk, for sizing a transaction's gas:
    /// `spentAhead` allocations at the cursor with nothing left (at most `DRAW_STEP`; `skipSpent` passes
    /// them), `walked` allocations the draw would touch (at most `DRAW_STEP`), and the `drawable` part of
    /// `amount` those cover (`amount` itself when the draw fits).
    function drawPlan(uint48 programId, uint128 amount)
        external
        view
        returns (uint256 spentAhead, uint256 walked, uint128 drawable);

    /// @notice How many allocations of lot `lotId` a refund has yet to walk (0 once it is complete).
    function refundPending(uint48 lotId) external view returns (uint256);

    /// @notice Allocates `amount` of a reservation to program `programId`. Its holder only, and only
    /// until the reserved lot expires (`FundLedgerLotExpired`): then the money can only be released.
    function allocateReserved(uint48 reservationId, uint48 programId, uint128 amount)
        external
        returns (uint48 allocationId);

    /// @notice Gives what is left of a reservation back to its lot (or the refunded lot's funder). Its holder
    /// only while the lot has not expired; after the expiry anyone, since the money can only go back.
    function releaseReservation(uint48 reservationId) external returns (uint128 amount);

    /// @notice Pays `amount` of program `programId`'s released money to the contract `receiver` and
    /// calls its `onFundsReceived` with `data`. Program NGO only.
    function disburseTo(uint48 programId, address receiver, uint128 amount, bytes calldata data)
        external
        returns (uint48 batchId);

    /// @notice The receiver of batch `batchId` returns `amount` to the program (pulled from the sender
    /// with `transferFrom`), credited back to the lots it came from, last drawn first. The part drawn
    /// from a lot refunded since goes straight on to that lot's funder instead.
    function returnFunds(uint48 batchId, uint128 amount) external;

    /// @notice Sets when program `programId`'s restricted aid ends (program NGO only). The first end must be
    /// set before the program pays anything (so every payment of the program is recorded by lot); after
    /// that it may only move later (after the end too: the next period pays what was swept back).
    /// `endsAt` must lie in the future.
    function setProgramEnd(uint48 programId, uint48 endsAt) external;

    /// @notice The most accounts one `sweepExpired` call takes.
    function MAX_SWEEP_ACCOUNTS() external view returns (uint256);

    /// @notice After program `programId` ended anyone may call this with 1 to `MAX_SWEEP_ACCOUNTS` accounts
    /// its NGO marked restricted (`ProviderRegistry.restrictAccounts`): what each still holds (at most what
    /// the program's recorded disbursements have not yet got back) comes back to the fund ledger
    /// (`EuroToken.sweepRestricted`, allowed by the registry's `checkSweep`) and is credited to the lots the
    /// program's disbursements drew, last drawn first, as `returnFunds` credits a receiver's return: a lot
    /// refunded or expired since gets it straight to its funder. An account holding nothing is skipped; a
    /// call that would move nothing reverts, so nothing comes back twice.
    /// @return swept What came back in total.
    function sweepExpired(uint48 programId, address[] calldata accounts) external returns (uint128 swept);

    /// @notice What program `programId`'s disbursements recorded since its end was set have paid and not
    /// yet got back by a sweep: the most any sweep of the program can still take.
    function sweepable(uint48 programId) external view returns (uint128);

    /// @notice The program whose `disburse` is paying its recipients in this transaction right now, zero
    /// otherwise: the transfer rules read it to let a marked account take money from its own program only.
    function payingProgram() external view returns (uint48);

    /// @notice Returns the unspent rest of expired lot `lotId` to its funder: its unallocated money and
    /// what its allocations have not drawn. Anyone may call it. Money reserved from the lot stays
    /// reserved (it can no longer be allocated) until released, which then pays the funder directly.
    /// One call walks at most `REFUND_STEP` of the lot's allocations, so its cost is bounded whatever
    /// others do: while `refundPending` is not 0, call it again (until then the programs may still draw
    /// on the allocations not yet walked, as before any refund).
    function refund(uint48 lotId) external returns (uint128 amount);

    /// @notice Whether `token` is allowed.
    function isTokenAllowed(address token) external view returns (bool);
    /// @notice Lot `lotId`.
    function getLot(uint48 lotId) external view returns (Lot memory);
    /// @notice Program `programId`.
    function getProgram(uint48 programId) external view returns (Program memory);
    /// @notice Allocation `allocationId`.
    function getAllocation(uint48 allocationId) external view returns (Allocation memory);
    /// @notice Tranche `trancheId`.
    function getTranche(uint48 trancheId) external view returns (Tranche memory);
    /// @notice Reservation `reservationId`.
    function getReservation(uint48 reservationId) external view returns (Reservation memory);
    /// @notice Receiver batch `batchId` (zero receiver for an ordinary batch).
    function getReceiverBatch(uint48 batchId) external view returns (ReceiverBatch memory);
    /// @notice Allocation ids of lot `lotId`, oldest first.
    function lotAllocations(uint48 lotId) external view returns (uint48[] memory);
    /// @notice Allocation ids of program `programId`, in drawing order.
    function programAllocations(uint48 programId) external view returns (uint48[] memory);
    /// @notice How many lots, programs, allocations, tranches, batches and reservations exist (ids start at 1).
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
        );
}
