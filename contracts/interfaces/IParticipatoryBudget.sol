// SPDX-License-Identifier: AGPL-3.0-or-later
pragma solidity ^0.8.24;

/// @title Allmende participatory budget
/// @notice Rounds of participatory budgeting with quadratic voting, in which the money follows the vote.
/// Creating a round reserves its budget from unearmarked lots of the fund ledger. NGOs and eligible
/// clients propose projects, each naming the program that would receive the money. Eligible clients
/// (a Merkle allow-list of pseudonymous addresses, OpenZeppelin's standard leaf of `(address)`) spend
/// voice credits: `n` votes on a proposal cost `n * n` credits, and a new ballot replaces the earlier
/// one until voting closes. Afterwards anyone finalises the round by submitting every active proposal
/// in the finalisation order: **votes descending, ties broken by the lower proposal id first**. The
/// contract checks the order in one pass and walks it greedily within the budget. Winners' amounts
/// become allocations of their programs in the fund ledger (drawn from the round's reservations first
/// in, first out, so the lots' lineage holds) and the rest goes back to the lots.
///
/// Expiring lots: a round only takes lots that expire (if at all) after its voting ends, and must be
/// finalised and paid before the earliest of their expiries (`Round.fundingExpiry`): from a lot's expiry
/// on, the fund ledger no longer allocates money reserved from it. Once the round still holds money of
/// an expired lot, anyone may `abandon` it: every reservation it holds goes back to its lot (or to the
/// funder of a refunded lot), winners already paid keep their allocations, and the round takes no
/// further ballots, finalisation or payouts. So no money is ever stuck in a round.
///
/// Consent and bounds: a round takes money only from lots whose funder is its creator or named the
/// creator as an allocator of that lot (`IFundLedger.setLotAllocator`); its voting ends at most
/// `maxVotingLength` after its creation; every proposal asks for at least `minProposalCost`; and until
/// the first ballot the creator or the funder of any of its lots may `cancelRound` it (its money goes
/// back to the lots). A proposal names a program its proposer runs (an NGO), or, for an eligible client,
/// a program run by the round's creator. Withdrawn proposals do not count against the proposal cap.
interface IParticipatoryBudget {
    /// @notice How winners are chosen along the finalisation order. Proposals with fewer than the
    /// round's `minVotes` never win.
    enum SelectionRule {
        /// Take each proposal that still fits the remaining budget and skip those that do not
        /// (CONSUL Democracy; pabutools' greedy rule with satisfaction = votes x cost).
        GreedySkip,
        /// Take proposals while they fit; stop at the first that does not.
        GreedyStop
    }

    /// @notice Where a round is in its life, from its on-chain times.
    enum Phase {
        None, // no such round
        Proposals, // from creation until `votingStart`
        Voting, // from `votingStart` until `votingEnd`
        Tally, // from `votingEnd` until someone finalises
        Finalised, // winners chosen (their payouts may still be pending, see `Round.paidCount`)
        Abandoned // a lot expired before the round was settled: the money it held went back
    }

    /// @notice Life of a proposal.
    enum ProposalStatus {
        None,
        Submitted, // active: open for votes, or not selected once the round is finalised
        Withdrawn,
        Selected
    }

    /// @notice What the creator of a round decides, fixed for the round's life.
    struct RoundParams {
        uint48 votingStart; // proposals are accepted until then
        uint48 votingEnd;
        bytes32 voterRoot; // Merkle root over the eligible voters' addresses
        uint32 credits; // voice credits per voter
        uint128 minCost; // bounds on a proposal's requested amount
        uint128 maxCost;
        SelectionRule rule;
        uint64 minVotes; // a proposal needs at least this many votes to win
        bytes32 metadataHash; // hash of the round's description, kept off-chain
    }

    /// @notice A round as stored.
    struct Round {
        // slot 0: what every ballot reads
        uint48 votingStart;
        uint48 votingEnd;
        uint32 credits;
        uint16 proposalCount;
        uint16 activeCount; // submitted and not withdrawn
        SelectionRule rule;
        bool finalised;
        bool abandoned; // see `abandon` and `cancelRound`
        bool balloted; // at least one ballot was cast: the round can no longer be cancelled
        uint64 minVotes;
        // slot 1
        bytes32 voterRoot;
        // slot 2
        address creator;
        uint16 winnerCount;
        uint16 paidCount; // winners whose money has moved
        uint16 fundingCursor; // reservation the next payout draws from
        bool settled; // every winner paid and the rest released
        // slot 3
        address token;
        uint48 fundingExpiry; // earliest expiry of the round's lots, 0 if none expires: settle before it
        // slot 4
        uint128 budget;
        uint128 awarded; // chosen at finalisation; after an abandonment, what the paid winners received
        // slot 5
        uint128 minCost;
        uint128 maxCost;
        // slot 6
        bytes32 metadataHash;
    }

    /// @notice A proposed project.
    struct Proposal {
        address proposer;
        uint48 programId; // receives the money if the proposal wins
        // one slot for what ballots and finalisation read
        uint128 amount;
        uint64 votes;
        ProposalStatus status;
        bytes32 contentHash; // hash of the proposal's text, kept off-chain
    }

    /// @notice One fund ledger reservation backing a round, and what of it is not yet allocated.
    struct Funding {
        uint48 reservationId;
        uint48 lotId;
        uint128 remaining;
    }

    /// @notice `account` (the creator or a funder of one of its lots) cancelled round `roundId` before any
    /// ballot; `released` went back to the round's lots.
    event RoundCancelled(uint48 indexed roundId, address indexed account, uint128 released);
    /// @notice `creator` created round `roundId` with a budget of `budget` in `token`.
    event RoundCreated(
        uint48 indexed roundId,
        address indexed creator,
        address token,
        uint128 budget,
        uint48 votingStart,
        uint48 votingEnd,
        bytes32 voterRoot,
        uint32 credits,
        bytes32 metadataHash
    );
    /// @notice Round `roundId` accepts proposals costing `minCost` to `maxCost` and selects by `rule`,
    /// requiring `minVotes` votes.
    event RoundRulesSet(uint48 indexed roundId, uint128 minCost, uint128 maxCost, SelectionRule rule, uint64 minVotes);
    /// @notice Reservation `reservationId` of `amount` from lot `lotId` backs round `roundId`.
    event RoundFunded(uint48 indexed roundId, uint48 indexed reservationId, uint48 indexed lotId, uint128 amount);
    /// @notice `proposer` proposed `amount` for program `programId` in round `roundId`.
    event ProposalSubmitted(
        uint48 indexed roundId,
        uint16 indexed proposalId,
        address indexed proposer,
        uint48 programId,
        uint128 amount,
        bytes32 contentHash
    );
    /// @notice The proposer withdrew proposal `proposalId` of round `roundId`.
    event ProposalWithdrawn(uint48 indexed roundId, uint16 indexed proposalId);
    /// @notice `voter`'s ballot in round `roundId` is now `votes[i]` votes on `proposalIds[i]`,
    /// replacing any earlier one; it cost `creditsSpent` credits.
    event BallotCast(
        uint48 indexed roundId, address indexed voter, uint16[] proposalIds, uint16[] votes, uint32 creditsSpent
    );
    /// @notice Proposal `proposalId` of round `roundId` ended with `votes` votes and was `selected` or not.
    event ProposalTallied(uint48 indexed roundId, uint16 indexed proposalId, uint64 votes, bool selected);
    /// @notice `finaliser` finalised round `roundId`: `winners` proposals were awarded `awarded` in all.
    event RoundFinalised(uint48 indexed roundId, address indexed finaliser, uint16 winners, uint128 awarded);
    /// @notice Every winner of round `roundId` is paid and `released` went back to the lots.
    event RoundSettled(uint48 indexed roundId, uint128 awarded, uint128 released);
    /// @notice `caller` abandoned round `roundId`, which held money of lot `lotId` after that lot's expiry:
    /// `released` (every reservation's unallocated rest) went back to the lots or their funders; `awarded`
    /// had gone to winners paid before, and stays theirs. `awarded + released` is the budget.
    event RoundAbandoned(
        uint48 indexed roundId, address indexed caller, uint48 indexed lotId, uint128 awarded, uint128 released
    );

    /// @notice `account` may not create rounds: it is neither an admin nor an NGO.
    error ParticipatoryBudgetUnauthorizedCreator(address account);
    /// @notice Voting must open after `now_` and close after it opens.
    error ParticipatoryBudgetBadSchedule(uint48 votingStart, uint48 votingEnd, uint256 now_);
    /// @notice A round needs voice credits.
    error ParticipatoryBudgetZeroCredits();
    /// @notice Cost bounds must satisfy `0 < minCost <= maxCost <= budget`.
    error ParticipatoryBudgetBadCostBounds(uint128 minCost, uint128 maxCost, uint256 budget);
    /// @notice `lots` and `amounts` differ in length, are empty or too many.
    error ParticipatoryBudgetBadFunding(uint256 lots, uint256 amounts);
    /// @notice `actual` is not the round's token `expected`.
    error ParticipatoryBudgetTokenMismatch(address expected, address actual);
    /// @notice No round has id `roundId`.
    error ParticipatoryBudgetUnknownRound(uint48 roundId);
    /// @notice Round `roundId` is in phase `actual`, not `expected`.
    error ParticipatoryBudgetWrongPhase(uint48 roundId, Phase expected, Phase actual);
    /// @notice `account` is not an eligible voter of round `roundId` (nor, for proposals, an NGO).
    error ParticipatoryBudgetNotEligible(uint48 roundId, address account);
    /// @notice `amount` lies outside the round's bounds `minCost` to `maxCost`.
    error ParticipatoryBudgetCostOutOfBounds(uint128 amount, uint128 minCost, uint128 maxCost);
    /// @notice Round `roundId` already holds the most proposals a round may hold, `max`.
    error ParticipatoryBudgetTooManyProposals(uint48 roundId, uint256 max);
    /// @notice Round `roundId` has no proposal `proposalId`.
    error ParticipatoryBudgetUnknownProposal(uint48 roundId, uint16 proposalId);
    /// @notice Proposal `proposalId` of round `roundId` is `status`, not active.
    error ParticipatoryBudgetProposalNotActive(uint48 roundId, uint16 proposalId, ProposalStatus status);
    /// @notice `account` did not submit proposal `proposalId` of round `roundId`.
    error ParticipatoryBudgetNotProposer(uint48 roundId, uint16 proposalId, address account);
    /// @notice A ballot's `proposalIds` and `votes` differ in length.
    error ParticipatoryBudgetBadBallot(uint256 proposalIds, uint256 votes);
    /// @notice Ballot entry `index` does not name a higher proposal id than the entry before it.
    error ParticipatoryBudgetBallotNotAscending(uint256 index);
    /// @notice Ballot entry `index` casts zero votes.
    error ParticipatoryBudgetZeroVotes(uint256 index);
    /// @notice The ballot costs `cost` credits, more than the voter's `credits`.
    error ParticipatoryBudgetCreditsExceeded(uint256 cost, uint32 credits);
    /// @notice A finalisation order of `length` proposals for `expected` active ones.
    error ParticipatoryBudgetBadOrderLength(uint256 length, uint256 expected);
    /// @notice Order entry `index` does not follow the entry before it (votes descending, then ids ascending).
    error ParticipatoryBudgetOrderNotSorted(uint256 index);
    /// @notice Round `roundId` is settled: there is nothing left to pay.
    error ParticipatoryBudgetAlreadySettled(uint48 roundId);
    /// @notice A deployment's proposal cap `cap` must lie between 1 and `limit`.
    error ParticipatoryBudgetBadProposalCap(uint256 cap, uint256 limit);
    /// @notice A value does not fit its storage type.
    error ParticipatoryBudgetAmountOverflow(uint256 value);
    /// @notice Lot `lotId` expires at `expiry`, by the end of voting (`votingEnd`): no payout could use it.
    error ParticipatoryBudgetFundingExpiresTooSoon(uint48 lotId, uint48 expiry, uint48 votingEnd);
    /// @notice Round `roundId` was abandoned after one of its lots expired: its money went back.
    error ParticipatoryBudgetRoundAbandoned(uint48 roundId);
    /// @notice Round `roundId` holds no money of an expired lot: it can still be finalised and paid.
    error ParticipatoryBudgetFundingNotExpired(uint48 roundId);
    /// @notice Voting would end at `votingEnd`, after `latest` (creation plus the maximum voting length).
    error ParticipatoryBudgetScheduleTooLong(uint48 votingEnd, uint256 latest);
    /// @notice The round's smallest proposal cost `minCost` is below the deployment's `minimum`.
    error ParticipatoryBudgetCostBelowMinimum(uint128 minCost, uint128 minimum);
    /// @notice `account` may not put lot `lotId` into a round: no funder or named allocator.
    error ParticipatoryBudgetNoConsent(uint48 lotId, address account);
    /// @notice `proposer` may not name program `programId` in round `roundId` (see `submitProposal`).
    error ParticipatoryBudgetProgramNotAllowed(uint48 roundId, uint48 programId, address proposer);
    /// @notice `account` may not cancel round `roundId`: neither its creator nor a funder of one of its lots.
    error ParticipatoryBudgetNotCanceller(uint48 roundId, address account);
    /// @notice Round `roundId` has ballots (or is finalised): it can no longer be cancelled.
    error ParticipatoryBudgetNotCancellable(uint48 roundId);
    /// @notice A deployment parameter is out of range.
    error ParticipatoryBudgetBadDeployment();

    /// @notice Creates a round whose budget is `amounts[i]` reserved from each unearmarked lot
    /// `lotIds[i]` (all in one token, each expiring, if at all, after `params.votingEnd`). Admin or NGO only,
    /// and for each lot its funder or an allocator the funder named for it. Voting ends at most
    /// `maxVotingLength` from now; `params.minCost` is at least `minProposalCost`.
    function createRound(RoundParams calldata params, uint48[] calldata lotIds, uint128[] calldata amounts)
        external
        returns (uint48 roundId);

    /// @notice Proposes `amount` for program `programId` during the proposal phase. NGOs for programs they
    /// run, and eligible voters proving it with `proof` (a Merkle proof of the sender's address; empty for
    /// NGOs) for programs the round's creator runs. At most `maxProposals` proposals are active at once.
    function submitProposal(
        uint48 roundId,
        uint48 programId,
        uint128 amount,
        bytes32 contentHash,
        bytes32[] calldata proof
    ) external returns (uint16 proposalId);

    /// @notice Withdraws a proposal before voting opens. Its proposer only.
    function withdrawProposal(uint48 roundId, uint16 proposalId) external;

    /// @notice Cancels a round before its first ballot and gives its money back to its lots. The round's
    /// creator, or the funder of any of its lots; not once finalised or abandoned.
    /// @return released What went back to the lots.
    function cancelRound(uint48 roundId) external returns (uint128 released);

    /// @notice The longest time from a round's creation to the end of its voting, in seconds.
    function maxVotingLength() external view returns (uint48);

    /// @notice The least any round lets a proposal ask for (a round's `minCost` is at least this).
    function minProposalCost() external view returns (uint128);

    /// @notice Casts `votes[i]` votes on `proposalIds[i]` (ids strictly ascending, votes positive),
    /// replacing the sender's earlier ballot; an empty ballot takes the earlier one back. The sum of
    /// the squared votes may not exceed the round's credits. Eligible voters (with `proof`), while voting is open.
    function castBallot(
        uint48 roundId,
        uint16[] calldata proposalIds,
        uint16[] calldata votes,
        bytes32[] calldata proof
    ) external;

    /// @notice Finalises a round once voting has closed. Anyone may call it. `order` lists every active
    /// proposal by votes descending, ties by lower id first; winners are chosen along it by the round's
    /// rule, and the first `maxPayouts` of them are paid at once (`payWinners` pays the rest).
    /// @return unpaid Winners still to be paid.
    function finalise(uint48 roundId, uint16[] calldata order, uint256 maxPayouts) external returns (uint256 unpaid);

    /// @notice Pays up to `maxPayouts` further winners of a finalised round; paying the last one
    /// releases the rest of the budget to the lots. Anyone may call it.
    /// @return unpaid Winners still to be paid.
    function payWinners(uint48 roundId, uint256 maxPayouts) external returns (uint256 unpaid);

    /// @notice Abandons a round that still holds money of a lot whose expiry has come (it was not
    /// finalised and paid in time, so it can never settle): releases every reservation it holds back to
    /// the lots (or to the funders of refunded lots). Winners already paid keep their allocations; the
    /// round takes no further ballots, finalisation or payouts. Anyone may call it.
    /// @return released What the round held of its budget, all of it now back.
    function abandon(uint48 roundId) external returns (uint128 released);

    /// @notice The most proposals any deployment lets a round hold, so that finalising always fits in a block.
    function PROPOSALS_LIMIT() external view returns (uint16);
    /// @notice The most proposals one round of this deployment may hold (at most `PROPOSALS_LIMIT`).
    function maxProposals() external view returns (uint16);
    /// @notice The most lots one round may draw on.
    function MAX_FUNDINGS() external view returns (uint256);
    /// @notice How many rounds exist (ids start at 1).
    function roundCount() external view returns (uint48);
    /// @notice Round `roundId`.
    function getRound(uint48 roundId) external view returns (Round memory);
    /// @notice The phase round `roundId` is in now (`None` for an unknown round).
    function phase(uint48 roundId) external view returns (Phase);
    /// @notice Proposal `proposalId` of round `roundId`.
    function getProposal(uint48 roundId, uint16 proposalId) external view returns (Proposal memory);
    /// @notice Every proposal of round `roundId`, by id (the first has id 1).
    function getProposals(uint48 roundId) external view returns (Proposal[] memory);
    /// @notice `voter`'s current ballot in round `roundId` and the credits it costs.
    function ballotOf(uint48 roundId, address voter)
        external
        view
        returns (uint16[] memory proposalIds, uint16[] memory votes, uint256 creditsSpent);
    /// @notice The winners of round `roundId` in finalisation order (empty before finalisation).
    function winners(uint48 roundId) external view returns (uint16[] memory);
    /// @notice The reservations backing round `roundId`, first drawn first.
    function fundings(uint48 roundId) external view returns (Funding[] memory);
    /// @notice Whether `proof` shows `account` is an eligible voter of round `roundId`.
    function isEligible(uint48 roundId, address account, bytes32[] calldata proof) external view returns (bool);
}
