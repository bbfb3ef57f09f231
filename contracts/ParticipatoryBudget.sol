// SPDX-License-Identifier: AGPL-3.0-or-later
pragma solidity 0.8.37;

import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {IAllmendeRoles} from "./interfaces/IAllmendeRoles.sol";
import {IFundLedger} from "./interfaces/IFundLedger.sol";
import {IParticipatoryBudget} from "./interfaces/IParticipatoryBudget.sol";
import {RoleIds} from "./libraries/RoleIds.sol";
import {Permissioned} from "./Permissioned.sol";

/// @title Allmende participatory budget
/// @notice Quadratic-voting budget rounds whose winners are funded from the fund ledger on-chain.
/// @dev A ballot is stored packed, eight 32-bit entries `(proposalId << 16) | votes` per word, entries
/// in ascending id order and a zero entry ending the ballot, so a re-vote subtracts the earlier ballot
/// exactly. This contract must hold the allocator role in the registry (it reserves lot money).
contract ParticipatoryBudget is IParticipatoryBudget, Permissioned, ReentrancyGuardTransient {
    /// @inheritdoc IParticipatoryBudget
    uint16 public constant PROPOSALS_LIMIT = 500;
    /// @inheritdoc IParticipatoryBudget
    uint256 public constant MAX_FUNDINGS = 32;

    uint256 private constant _ENTRY_BITS = 32;
    uint256 private constant _ENTRIES_PER_WORD = 8;
    uint256 private constant _ENTRY_MASK = 0xffffffff;

    /// @notice The fund ledger the budgets come from and the winners' money goes to.
    IFundLedger public immutable funds;
    uint16 private immutable _maxProposals;
    uint48 private immutable _maxVotingLength;
    uint128 private immutable _minProposalCost;

    uint48 private _roundCount;
    mapping(uint48 roundId => Round) private _rounds;
    mapping(uint48 roundId => mapping(uint16 proposalId => Proposal)) private _proposals;
    mapping(uint48 roundId => mapping(address voter => mapping(uint256 word => uint256))) private _ballots;
    mapping(uint48 roundId => uint16[]) private _winners;
    mapping(uint48 roundId => Funding[]) private _fundings;

    /// @dev The state of the greedy walk along a finalisation order.
    struct Walk {
        uint128 remaining;
        uint64 minVotes;
        bool stopAtMisfit;
        bool open;
    }

    /// @param maxProposals_ The most active proposals a round may hold, 1 to `PROPOSALS_LIMIT`.
    /// @param maxVotingLength_ The longest time from a round's creation to the end of its voting (non-zero).
    /// @param minProposalCost_ The least a proposal may ask for in any round (non-zero).
    constructor(
        IAllmendeRoles roles_,
        address forwarder,
        IFundLedger funds_,
        uint16 maxProposals_,
        uint48 maxVotingLength_,
        uint128 minProposalCost_
    ) Permissioned(roles_, forwarder) {
        if (maxProposals_ == 0 || maxProposals_ > PROPOSALS_LIMIT) {
            revert ParticipatoryBudgetBadProposalCap(maxProposals_, PROPOSALS_LIMIT);
        }
        if (maxVotingLength_ == 0 || minProposalCost_ == 0) revert ParticipatoryBudgetBadDeployment();
        funds = funds_;
        _maxProposals = maxProposals_;
        _maxVotingLength = maxVotingLength_;
        _minProposalCost = minProposalCost_;
    }

    /// @inheritdoc IParticipatoryBudget
    function createRound(RoundParams calldata params, uint48[] calldata lotIds, uint128[] calldata amounts)
        external
        nonReentrant
        returns (uint48 roundId)
    {
        address creator = _msgSender();
        if (!roles.hasRole(RoleIds.ADMIN, creator) && !roles.hasRole(RoleIds.NGO, creator)) {
            revert ParticipatoryBudgetUnauthorizedCreator(creator);
        }
        if (params.votingStart <= block.timestamp || params.votingEnd <= params.votingStart) {
            revert ParticipatoryBudgetBadSchedule(params.votingStart, params.votingEnd, block.timestamp);
        }
        if (params.votingEnd - block.timestamp > _maxVotingLength) {
            revert ParticipatoryBudgetScheduleTooLong(params.votingEnd, block.timestamp + _maxVotingLength);
        }
        if (params.minCost < _minProposalCost) revert ParticipatoryBudgetCostBelowMinimum(params.minCost, _minProposalCost);
        if (params.credits == 0) revert ParticipatoryBudgetZeroCredits();
        uint256 count = lotIds.length;
        if (count == 0 || count != amounts.length || count > MAX_FUNDINGS) {
            revert ParticipatoryBudgetBadFunding(count, amounts.length);
        }
        uint256 budget;
        for (uint256 i; i < count; ++i) {
            budget += amounts[i];
        }
        if (budget > type(uint128).max) revert ParticipatoryBudgetAmountOverflow(budget);
        if (params.minCost == 0 || params.minCost > params.maxCost || params.maxCost > budget) {
            revert ParticipatoryBudgetBadCostBounds(params.minCost, params.maxCost, budget);
        }
        (address token, uint48 fundingExpiry) = _checkLots(lotIds, params.votingEnd, creator);

        roundId = ++_roundCount;
        Round storage r = _rounds[roundId];
        r.votingStart = params.votingStart;
        r.votingEnd = params.votingEnd;
        r.credits = params.credits;
        r.rule = params.rule;
        r.minVotes = params.minVotes;
        r.voterRoot = params.voterRoot;
        r.creator = creator;
        r.token = token;
        r.fundingExpiry = fundingExpiry;
        r.budget = uint128(budget); // checked above
        r.minCost = params.minCost;
        r.maxCost = params.maxCost;
        r.metadataHash = params.metadataHash;
        _announce(roundId, creator, token, params);
        _reserve(roundId, lotIds, amounts);
    }

    /// @inheritdoc IParticipatoryBudget
    function submitProposal(
        uint48 roundId,
        uint48 programId,
        uint128 amount,
        bytes32 contentHash,
        bytes32[] calldata proof
    ) external returns (uint16 proposalId) {
        address proposer = _msgSender();
        Round storage r = _rounds[roundId];
        _requirePhase(roundId, r, Phase.Proposals);
        IFundLedger.Program memory program = funds.getProgram(programId); // reverts for an unknown program
        _requireProposer(roundId, r, programId, program.ngo, proposer, proof);
        if (amount < r.minCost || amount > r.maxCost) {
            revert ParticipatoryBudgetCostOutOfBounds(amount, r.minCost, r.maxCost);
        }
        // Withdrawn proposals leave room; the ids themselves run out at the uint16 limit.
        if (r.activeCount >= _maxProposals || r.proposalCount == type(uint16).max) {
            revert ParticipatoryBudgetTooManyProposals(roundId, _maxProposals);
        }
        if (program.token != r.token) revert ParticipatoryBudgetTokenMismatch(r.token, program.token);

        // Cannot overflow: the active count stays below the cap and the id count below 2^16 - 1, checked above.
        unchecked {
            proposalId = ++r.proposalCount;
            ++r.activeCount;
        }
        _proposals[roundId][proposalId] = Proposal({
            proposer: proposer,
            programId: programId,
            amount: amount,
            votes: 0,
            status: ProposalStatus.Submitted,
            contentHash: contentHash
        });
        emit ProposalSubmitted(roundId, proposalId, proposer, programId, amount, contentHash);
    }

    /// @inheritdoc IParticipatoryBudget
    function withdrawProposal(uint48 roundId, uint16 proposalId) external {
        address sender = _msgSender();
        Round storage r = _rounds[roundId];
        _requirePhase(roundId, r, Phase.Proposals);
        Proposal storage p = _activeProposal(roundId, proposalId);
        if (p.proposer != sender) revert ParticipatoryBudgetNotProposer(roundId, proposalId, sender);
        p.status = ProposalStatus.Withdrawn;
        // Cannot underflow: the proposal was active, so it is counted.
        unchecked {
            --r.activeCount;
        }
        emit ProposalWithdrawn(roundId, proposalId);
    }

    /// @inheritdoc IParticipatoryBudget
    function castBallot(
        uint48 roundId,
        uint16[] calldata proposalIds,
        uint16[] calldata votes,
        bytes32[] calldata proof
    ) external {
        address voter = _msgSender();
        Round storage r = _rounds[roundId];
        _requirePhase(roundId, r, Phase.Voting);
        if (!_isVoter(r.voterRoot, voter, proof)) revert ParticipatoryBudgetNotEligible(roundId, voter);
        uint256 count = proposalIds.length;
        if (count != votes.length) revert ParticipatoryBudgetBadBallot(count, votes.length);

        uint256 cost = _record(roundId, _ballots[roundId][voter], proposalIds, votes);
        if (cost > r.credits) revert ParticipatoryBudgetCreditsExceeded(cost, r.credits);
        if (!r.balloted) r.balloted = true;
        emit BallotCast(roundId, voter, proposalIds, votes, uint32(cost)); // cost <= credits, a uint32
    }

    /// @inheritdoc IParticipatoryBudget
    function finalise(uint48 roundId, uint16[] calldata order, uint256 maxPayouts)
        external
        nonReentrant
        returns (uint256 unpaid)
    {
        Round storage r = _rounds[roundId];
        _requirePhase(roundId, r, Phase.Tally);
        if (order.length != r.activeCount) revert ParticipatoryBudgetBadOrderLength(order.length, r.activeCount);
        r.finalised = true;
        uint128 remaining = _select(roundId, r, order);
        uint128 awarded = r.budget - remaining;
        uint16 winnerCount = uint16(_winners[roundId].length); // at most PROPOSALS_LIMIT
        r.awarded = awarded;
        r.winnerCount = winnerCount;
        emit RoundFinalised(roundId, _msgSender(), winnerCount, awarded);
        unpaid = _pay(roundId, r, maxPayouts);
    }

    /// @inheritdoc IParticipatoryBudget
    function payWinners(uint48 roundId, uint256 maxPayouts) external nonReentrant returns (uint256 unpaid) {
        Round storage r = _rounds[roundId];
        _requirePhase(roundId, r, Phase.Finalised);
        if (r.settled) revert ParticipatoryBudgetAlreadySettled(roundId);
        unpaid = _pay(roundId, r, maxPayouts);
    }

    /// @inheritdoc IParticipatoryBudget
    function abandon(uint48 roundId) external nonReentrant returns (uint128 released) {
        Round storage r = _rounds[roundId];
        Phase current = _phase(r);
        if (current == Phase.None) revert ParticipatoryBudgetUnknownRound(roundId);
        if (current == Phase.Abandoned) revert ParticipatoryBudgetRoundAbandoned(roundId);
        if (r.settled) revert ParticipatoryBudgetAlreadySettled(roundId);
        Funding[] storage roundFundings = _fundings[roundId];
        uint256 cursor = r.fundingCursor; // the reservations before it are used up
        uint48 expiredLot = _expiredLot(roundFundings, cursor);
        if (expiredLot == 0) revert ParticipatoryBudgetFundingNotExpired(roundId);
        r.abandoned = true;
        released = _release(roundFundings, cursor);
        uint128 awarded = r.budget - released; // what the winners paid so far received
        r.awarded = awarded;
        emit RoundAbandoned(roundId, _msgSender(), expiredLot, awarded, released);
    }

    /// @inheritdoc IParticipatoryBudget
    function cancelRound(uint48 roundId) external nonReentrant returns (uint128 released) {
        address account = _msgSender();
        Round storage r = _rounds[roundId];
        Phase current = _phase(r);
        if (current == Phase.None) revert ParticipatoryBudgetUnknownRound(roundId);
        if (current == Phase.Abandoned) revert ParticipatoryBudgetRoundAbandoned(roundId);
        if (r.balloted || current == Phase.Finalised) revert ParticipatoryBudgetNotCancellable(roundId);
        Funding[] storage roundFundings = _fundings[roundId];
        if (account != r.creator && !_fundsRound(roundFundings, account)) {
            revert ParticipatoryBudgetNotCanceller(roundId, account);
        }
        // A cancelled round is abandoned with nothing awarded: no ballots, finalisation or payouts follow.
        r.abandoned = true;
        released = _release(roundFundings, 0);
        emit RoundCancelled(roundId, account, released);
    }

    /// @inheritdoc IParticipatoryBudget
    function maxProposals() external view returns (uint16) {
        return _maxProposals;
    }

    /// @inheritdoc IParticipatoryBudget
    function maxVotingLength() external view returns (uint48) {
        return _maxVotingLength;
    }

    /// @inheritdoc IParticipatoryBudget
    function minProposalCost() external view returns (uint128) {
        return _minProposalCost;
    }

    /// @inheritdoc IParticipatoryBudget
    function roundCount() external view returns (uint48) {
        return _roundCount;
    }

    /// @inheritdoc IParticipatoryBudget
    function getRound(uint48 roundId) external view returns (Round memory) {
        Round storage r = _rounds[roundId];
        if (r.votingEnd == 0) revert ParticipatoryBudgetUnknownRound(roundId);
        return r;
    }

    /// @inheritdoc IParticipatoryBudget
    function phase(uint48 roundId) external view returns (Phase) {
        return _phase(_rounds[roundId]);
    }

    /// @inheritdoc IParticipatoryBudget
    function getProposal(uint48 roundId, uint16 proposalId) external view returns (Proposal memory) {
        Proposal storage p = _proposals[roundId][proposalId];
        if (p.status == ProposalStatus.None) revert ParticipatoryBudgetUnknownProposal(roundId, proposalId);
        return p;
    }

    /// @inheritdoc IParticipatoryBudget
    function getProposals(uint48 roundId) external view returns (Proposal[] memory all) {
        uint256 count = _rounds[roundId].proposalCount;
        all = new Proposal[](count);
        for (uint256 i; i < count; ++i) {
            all[i] = _proposals[roundId][uint16(i + 1)];
        }
    }

    /// @inheritdoc IParticipatoryBudget
    function ballotOf(uint48 roundId, address voter)
        external
        view
        returns (uint16[] memory proposalIds, uint16[] memory votes, uint256 creditsSpent)
    {
        mapping(uint256 => uint256) storage words = _ballots[roundId][voter];
        uint256 count;
        while ((words[count / _ENTRIES_PER_WORD] >> ((count % _ENTRIES_PER_WORD) * _ENTRY_BITS)) & _ENTRY_MASK != 0) {
            ++count;
        }
        proposalIds = new uint16[](count);
        votes = new uint16[](count);
        for (uint256 i; i < count; ++i) {
            uint256 entry = words[i / _ENTRIES_PER_WORD] >> ((i % _ENTRIES_PER_WORD) * _ENTRY_BITS);
            proposalIds[i] = uint16(entry >> 16);
            votes[i] = uint16(entry);
            creditsSpent += uint256(votes[i]) * votes[i];
        }
    }

    /// @inheritdoc IParticipatoryBudget
    function winners(uint48 roundId) external view returns (uint16[] memory) {
        return _winners[roundId];
    }

    /// @inheritdoc IParticipatoryBudget
    function fundings(uint48 roundId) external view returns (Funding[] memory) {
        return _fundings[roundId];
    }

    /// @inheritdoc IParticipatoryBudget
    function isEligible(uint48 roundId, address account, bytes32[] calldata proof) external view returns (bool) {
        return _isVoter(_rounds[roundId].voterRoot, account, proof);
    }

    /// @dev Reserves `amounts[i]` of each lot `lotIds[i]` for the round, in order.
    function _reserve(uint48 roundId, uint48[] calldata lotIds, uint128[] calldata amounts) private {
        Funding[] storage roundFundings = _fundings[roundId];
        for (uint256 i; i < lotIds.length; ++i) {
            uint48 reservationId = funds.reserve(lotIds[i], amounts[i], _rounds[roundId].creator);
            roundFundings.push(Funding({reservationId: reservationId, lotId: lotIds[i], remaining: amounts[i]}));
            emit RoundFunded(roundId, reservationId, lotIds[i], amounts[i]);
        }
    }

    /// @dev Emits the events that describe a new round.
    function _announce(uint48 roundId, address creator, address token, RoundParams calldata params) private {
        emit RoundCreated(
            roundId,
            creator,
            token,
            _rounds[roundId].budget,
            params.votingStart,
            params.votingEnd,
            params.voterRoot,
            params.credits,
            params.metadataHash
        );
        emit RoundRulesSet(roundId, params.minCost, params.maxCost, params.rule, params.minVotes);
    }

    /// @dev Checks `order` (strictly descending by votes, then ascending by id, every entry an active
    /// proposal; with the length equal to the active count that makes it a permutation of them),
    /// marks the winners along it and returns the budget left over.
    function _select(uint48 roundId, Round storage r, uint16[] calldata order) private returns (uint128) {
        mapping(uint16 => Proposal) storage proposals = _proposals[roundId];
        Walk memory walk = Walk({
            remaining: r.budget,
            minVotes: r.minVotes,
            stopAtMisfit: r.rule == SelectionRule.GreedyStop,
            open: true
        });
        uint256 prevKey = type(uint256).max;
        for (uint256 i; i < order.length; ++i) {
            uint16 id = order[i];
            Proposal storage p = proposals[id];
            if (p.status != ProposalStatus.Submitted) _revertInactive(roundId, id, p.status);
            uint64 v = p.votes;
            // Votes descending, then ids ascending, is this key strictly descending.
            uint256 key = (uint256(v) << 16) | (type(uint16).max - id);
            if (key >= prevKey) revert ParticipatoryBudgetOrderNotSorted(i);
            prevKey = key;
            bool selected = _take(walk, p);
            if (selected) _winners[roundId].push(id);
            emit ProposalTallied(roundId, id, v, selected);
        }
        return walk.remaining;
    }

    /// @dev Whether the rule selects `p` next; if so takes its amount from the budget and marks it.
    function _take(Walk memory walk, Proposal storage p) private returns (bool) {
        if (!walk.open || p.votes < walk.minVotes) return false;
        uint128 amount = p.amount;
        if (amount > walk.remaining) {
            if (walk.stopAtMisfit) walk.open = false;
            return false;
        }
        walk.remaining -= amount;
        p.status = ProposalStatus.Selected;
        return true;
    }

    /// @dev Allocates the next `maxPayouts` winners' amounts to their programs, drawing the round's
    /// reservations first in, first out; after the last winner releases what is left of them.
    function _pay(uint48 roundId, Round storage r, uint256 maxPayouts) private returns (uint256 unpaid) {
        uint256 paid = r.paidCount;
        uint256 total = r.winnerCount;
        uint256 end = total - paid > maxPayouts ? paid + maxPayouts : total;
        uint256 cursor = r.fundingCursor;
        Funding[] storage roundFundings = _fundings[roundId];
        uint16[] storage roundWinners = _winners[roundId];
        mapping(uint16 => Proposal) storage proposals = _proposals[roundId];
        r.paidCount = uint16(end); // end <= total, a uint16
        for (uint256 i = paid; i < end; ++i) {
            Proposal storage p = proposals[roundWinners[i]];
            uint48 programId = p.programId;
            uint128 need = p.amount;
            // Ends inside the fundings: winners' amounts add up to at most the budget, their sum.
            while (need != 0) {
                Funding storage f = roundFundings[cursor];
                uint128 take = f.remaining < need ? f.remaining : need;
                if (take != 0) {
                    // Cannot underflow: take is at most each of them.
                    unchecked {
                        f.remaining -= take;
                        need -= take;
                    }
                    funds.allocateReserved(f.reservationId, programId, take);
                }
                if (f.remaining == 0) ++cursor;
            }
        }
        r.fundingCursor = uint16(cursor); // cursor <= MAX_FUNDINGS
        unpaid = total - end;
        if (unpaid == 0) _settle(roundId, r, roundFundings, cursor);
    }

    /// @dev Releases what the winners left of the reservations from `cursor` on.
    function _settle(uint48 roundId, Round storage r, Funding[] storage roundFundings, uint256 cursor) private {
        r.settled = true;
        emit RoundSettled(roundId, r.awarded, _release(roundFundings, cursor));
    }

    /// @dev Releases the unallocated rest of every reservation from `cursor` on; returns their sum. (After
    /// its lot's expiry anyone may release a reservation in the fund ledger directly; the rest counted here
    /// has then gone back already, and the ledger releases nothing more.)
    function _release(Funding[] storage roundFundings, uint256 cursor) private returns (uint128 released) {
        for (uint256 i = cursor; i < roundFundings.length; ++i) {
            Funding storage f = roundFundings[i];
            uint128 rest = f.remaining;
            if (rest == 0) continue;
            f.remaining = 0;
            released += rest;
            funds.releaseReservation(f.reservationId);
        }
    }

    /// @dev The token all `lotIds` are in and the earliest of their expiries (0 if none expires); reverts
    /// for lots in another token or expiring before `votingEnd` (the round could never pay from them).
    function _checkLots(uint48[] calldata lotIds, uint48 votingEnd, address creator)
        private
        view
        returns (address token, uint48 fundingExpiry)
    {
        for (uint256 i; i < lotIds.length; ++i) {
            IFundLedger.Lot memory lot = funds.getLot(lotIds[i]); // reverts for an unknown lot
            if (lot.funder != creator && !funds.isLotAllocator(lotIds[i], creator)) {
                revert ParticipatoryBudgetNoConsent(lotIds[i], creator);
            }
            if (i == 0) token = lot.token;
            else if (lot.token != token) revert ParticipatoryBudgetTokenMismatch(token, lot.token);
            uint48 expiry = lot.expiry;
            if (expiry == 0) continue;
            if (expiry <= votingEnd) revert ParticipatoryBudgetFundingExpiresTooSoon(lotIds[i], expiry, votingEnd);
            if (fundingExpiry == 0 || expiry < fundingExpiry) fundingExpiry = expiry;
        }
    }

    /// @dev Whether `account` is the funder of one of the round's lots.
    function _fundsRound(Funding[] storage roundFundings, address account) private view returns (bool) {
        for (uint256 i; i < roundFundings.length; ++i) {
            if (funds.getLot(roundFundings[i].lotId).funder == account) return true;
        }
        return false;
    }

    /// @dev An NGO proposes for programs it runs; an eligible client for programs the round's creator runs.
    function _requireProposer(
        uint48 roundId,
        Round storage r,
        uint48 programId,
        address programNgo,
        address proposer,
        bytes32[] calldata proof
    ) private view {
        bool ngo = roles.hasRole(RoleIds.NGO, proposer);
        if (ngo && programNgo == proposer) return;
        if (!_isVoter(r.voterRoot, proposer, proof)) {
            if (!ngo) revert ParticipatoryBudgetNotEligible(roundId, proposer);
            revert ParticipatoryBudgetProgramNotAllowed(roundId, programId, proposer);
        }
        if (programNgo != r.creator) revert ParticipatoryBudgetProgramNotAllowed(roundId, programId, proposer);
    }

    /// @dev The first lot, from `cursor` on, whose expiry has come while the round still holds its money;
    /// 0 for none.
    function _expiredLot(Funding[] storage roundFundings, uint256 cursor) private view returns (uint48) {
        for (uint256 i = cursor; i < roundFundings.length; ++i) {
            Funding storage f = roundFundings[i];
            if (f.remaining == 0) continue;
            uint48 expiry = funds.getLot(f.lotId).expiry;
            if (expiry != 0 && block.timestamp >= expiry) return f.lotId;
        }
        return 0;
    }

    /// @dev Replaces the ballot stored in `words` by the given one, moving the tallies along; returns its cost.
    function _record(
        uint48 roundId,
        mapping(uint256 => uint256) storage words,
        uint16[] calldata proposalIds,
        uint16[] calldata votes
    ) private returns (uint256 cost) {
        mapping(uint16 => Proposal) storage proposals = _proposals[roundId];
        uint256 oldWords = _retract(proposals, words);
        uint256 count = proposalIds.length;
        uint256 word;
        for (uint256 i; i < count; ++i) {
            uint16 id = proposalIds[i];
            uint16 v = votes[i];
            if (i != 0 && id <= proposalIds[i - 1]) revert ParticipatoryBudgetBallotNotAscending(i);
            if (v == 0) revert ParticipatoryBudgetZeroVotes(i);
            _addVotes(roundId, proposals[id], id, v);
            // Cannot overflow: at most 65535 entries (ids are unique uint16) of at most 65535^2 each.
            unchecked {
                cost += uint256(v) * v;
                uint256 slot = i % _ENTRIES_PER_WORD;
                word |= ((uint256(id) << 16) | v) << (slot * _ENTRY_BITS);
                if (slot == _ENTRIES_PER_WORD - 1) {
                    words[i / _ENTRIES_PER_WORD] = word;
                    word = 0;
                }
            }
        }
        uint256 newWords = (count + _ENTRIES_PER_WORD - 1) / _ENTRIES_PER_WORD;
        if (word != 0) words[newWords - 1] = word;
        for (uint256 w = newWords; w < oldWords; ++w) {
            delete words[w];
        }
    }

    function _addVotes(uint48 roundId, Proposal storage p, uint16 id, uint16 v) private {
        if (p.status != ProposalStatus.Submitted) _revertInactive(roundId, id, p.status);
        p.votes += v;
    }

    /// @dev Subtracts a voter's stored ballot from the tallies; returns how many words it used.
    function _retract(mapping(uint16 => Proposal) storage proposals, mapping(uint256 => uint256) storage words)
        private
        returns (uint256 used)
    {
        while (true) {
            uint256 word = words[used];
            if (word == 0) return used;
            ++used;
            for (uint256 k; k < _ENTRIES_PER_WORD; ++k) {
                uint256 entry = (word >> (k * _ENTRY_BITS)) & _ENTRY_MASK;
                if (entry == 0) return used;
                proposals[uint16(entry >> 16)].votes -= uint16(entry);
            }
        }
    }

    function _requirePhase(uint48 roundId, Round storage r, Phase expected) private view {
        Phase actual = _phase(r);
        if (actual == Phase.None) revert ParticipatoryBudgetUnknownRound(roundId);
        if (actual == Phase.Abandoned) revert ParticipatoryBudgetRoundAbandoned(roundId);
        if (actual != expected) revert ParticipatoryBudgetWrongPhase(roundId, expected, actual);
    }

    function _phase(Round storage r) private view returns (Phase) {
        uint48 votingEnd = r.votingEnd;
        if (votingEnd == 0) return Phase.None;
        if (r.abandoned) return Phase.Abandoned;
        if (r.finalised) return Phase.Finalised;
        if (block.timestamp < r.votingStart) return Phase.Proposals;
        if (block.timestamp < votingEnd) return Phase.Voting;
        return Phase.Tally;
    }

    function _activeProposal(uint48 roundId, uint16 proposalId) private view returns (Proposal storage p) {
        p = _proposals[roundId][proposalId];
        if (p.status != ProposalStatus.Submitted) _revertInactive(roundId, proposalId, p.status);
    }

    function _revertInactive(uint48 roundId, uint16 proposalId, ProposalStatus status) private pure {
        if (status == ProposalStatus.None) revert ParticipatoryBudgetUnknownProposal(roundId, proposalId);
        revert ParticipatoryBudgetProposalNotActive(roundId, proposalId, status);
    }

    /// @dev OpenZeppelin's standard leaf of `(address)`: keccak256(bytes.concat(keccak256(abi.encode(account)))).
    function _isVoter(bytes32 root, address account, bytes32[] calldata proof) private pure returns (bool) {
        bytes32 leaf = keccak256(bytes.concat(keccak256(abi.encode(account))));
        return MerkleProof.verifyCalldata(proof, root, leaf);
    }
}
