// SPDX-License-Identifier: AGPL-3.0-or-later
pragma solidity 0.8.37;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {IAllmendeRoles} from "./interfaces/IAllmendeRoles.sol";
import {IClaimProgram} from "./interfaces/IClaimProgram.sol";
import {IFundLedger} from "./interfaces/IFundLedger.sol";
import {IEuroToken} from "./interfaces/IEuroToken.sol";
import {IFundsReceiver} from "./interfaces/IFundsReceiver.sol";
import {IProviderRegistry} from "./interfaces/IProviderRegistry.sol";
import {Permissioned} from "./Permissioned.sol";

/// @title Allmende claim program
/// @notice One program's vouchers: Merkle roots of `(index, claimKey, amount)`, claims signed by the
/// claim key, a bitmap against double claims, and the return of the rest after expiry.
/// @dev Created by `ClaimPrograms`. A claim reads one root and one bitmap word and makes one token
/// transfer: the program's money is this contract's own token balance, so no per-program total is
/// kept up to date on the claim path. Everything fixed at creation is immutable.
contract ClaimProgram is IClaimProgram, Permissioned, EIP712 {
    using SafeERC20 for IERC20;

    /// @notice The EIP-712 type a claim key signs.
    bytes32 public constant CLAIM_TYPEHASH =
        keccak256("Claim(uint256 program,uint256 index,address recipient,uint256 deadline)");

    /// @notice The largest cap depth: a cap holds at most 2^9 = 512 nodes (about 12.3 million gas to publish,
    /// under the 2^24 gas a transaction may use from EIP-7825 on). Each level more saves ~640 gas per claim.
    uint256 public constant MAX_CAP_DEPTH = 9;

    /// @notice The most accounts one `reclaimExpired` call takes back (it stays well inside a block).
    uint256 public constant MAX_RECLAIM_ACCOUNTS = 100;

    /// @dev secp256k1n / 2: a larger `s` is the malleable twin of a valid signature (EIP-2).
    uint256 private constant _HALF_ORDER = 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0;

    IFundLedger private immutable _fundLedger;
    IERC20 private immutable _token;
    address private immutable _ngo;
    uint48 private immutable _claimProgramId;
    uint48 private immutable _fundProgramId;
    uint48 private immutable _expiry;
    IProviderRegistry private immutable _restrictedBy;

    /// @dev 256 claimed-bits; a struct so that a claim hashes the word's slot once for its read and write.
    struct ClaimedWord {
        uint256 bits;
    }

    mapping(uint256 rootId => bytes32) private _roots;
    mapping(uint256 node => bytes32) private _capNodes; // key: rootId << MAX_CAP_DEPTH | position
    mapping(uint256 word => ClaimedWord) private _claimedWords;

    Funding[] private _fundings;
    uint128 private _funded;
    uint128 private _returned;
    uint256 private _rootCount;

    constructor(
        IAllmendeRoles roles_,
        address forwarder,
        IFundLedger fundLedger_,
        IERC20 token_,
        uint48 claimProgramId_,
        uint48 fundProgramId_,
        address ngo_,
        uint48 expiry_
    ) Permissioned(roles_, forwarder) EIP712("AllmendeClaimProgram", "1") {
        _fundLedger = fundLedger_;
        _token = token_;
        _claimProgramId = claimProgramId_;
        _fundProgramId = fundProgramId_;
        _ngo = ngo_;
        _expiry = expiry_;
        _restrictedBy = _restrictingRegistry(token_, fundProgramId_);
    }

    /// @inheritdoc IFundsReceiver
    function onFundsReceived(uint48 programId, uint48 batchId, uint128 amount, bytes calldata)
        external
        returns (bytes4)
    {
        if (msg.sender != address(_fundLedger)) revert ClaimProgramNotFundLedger(msg.sender);
        if (programId != _fundProgramId) revert ClaimProgramWrongFundProgram(programId, _fundProgramId);
        _requireOpen();
        _fundings.push(Funding({batchId: batchId, amount: amount, returned: 0}));
        _funded += amount;
        emit ClaimProgramFunded(batchId, amount);
        return IFundsReceiver.onFundsReceived.selector;
    }

    /// @inheritdoc IClaimProgram
    function addRoot(bytes32[] calldata cap) external returns (uint256 rootId) {
        _requireNgo();
        _requireOpen();
        uint256 length = cap.length;
        if (length == 0 || length > (1 << MAX_CAP_DEPTH) || length & (length - 1) != 0) {
            revert ClaimProgramBadCap(length);
        }
        rootId = ++_rootCount;
        bytes32[] memory level = cap;
        for (uint256 i; i < length; ++i) {
            if (cap[i] == 0) revert ClaimProgramBadCap(length);
            _capNodes[(rootId << MAX_CAP_DEPTH) | i] = cap[i];
        }
        // Hash the cap up to the root, pairs sorted as in OpenZeppelin's trees.
        for (uint256 width = length; width > 1; width >>= 1) {
            for (uint256 i; i < width / 2; ++i) {
                level[i] = _hashPair(level[2 * i], level[2 * i + 1]);
            }
        }
        _roots[rootId] = level[0];
        emit ClaimRootAdded(rootId, level[0], cap);
    }

    /// @inheritdoc IClaimProgram
    function claim(uint256 packed, address recipient, bytes32 r, bytes32 vs, bytes32[] calldata proof) external {
        uint256 deadline = uint48(packed);
        uint256 amount = uint120(packed >> 48);
        uint256 index = uint48(packed >> 168);
        uint256 position = uint16(packed >> 216);
        uint256 rootId = packed >> 232;
        _requireOpen();
        if (block.timestamp > deadline) revert ClaimProgramSignatureExpired(deadline, block.timestamp);
        address signer = _signer(_claimHash(index, recipient, deadline), r, vs);
        _requireLeaf(rootId, position, _leaf(index, signer, amount), proof, index, signer);
        _markClaimed(index);
        if (address(_restrictedBy) != address(0)) _restrictedBy.markRecipient(recipient);
        emit Claimed(index, recipient, amount);
        _token.safeTransfer(recipient, amount);
    }

    /// @inheritdoc IClaimProgram
    function returnUnclaimed() external returns (uint128 amount) {
        // Anyone may call it: the money only goes back to where it came from.
        _requireExpired();
        amount = _returnRest();
        if (amount == 0) revert ClaimProgramNothingToReturn();
    }

    /// @inheritdoc IClaimProgram
    function reclaimExpired(address[] calldata accounts) external returns (uint256 reclaimed, uint128 returned) {
        // Anyone may call it: the money only goes back to where it came from.
        _requireExpired();
        uint256 count = accounts.length;
        if (count > MAX_RECLAIM_ACCOUNTS) revert ClaimProgramTooManyAccounts(count, MAX_RECLAIM_ACCOUNTS);
        if (address(_restrictedBy) == address(0)) revert ClaimProgramNotRestricted();
        // The token asks the registry, which allows it only for accounts this program marked.
        uint256[] memory amounts = IEuroToken(address(_token)).reclaimRestricted(accounts);
        for (uint256 i; i < count; ++i) {
            uint256 amount = amounts[i];
            if (amount == 0) continue;
            reclaimed += amount;
            emit ExpiredAidReclaimed(accounts[i], amount);
        }
        returned = _returnRest();
        if (reclaimed == 0 && returned == 0) revert ClaimProgramNothingToReturn();
    }

    /// @inheritdoc IClaimProgram
    function isClaimed(uint256 index) external view returns (bool) {
        return _claimedWords[index >> 8].bits & (1 << (index & 0xff)) != 0;
    }

    /// @inheritdoc IClaimProgram
    function root(uint256 rootId) external view returns (bytes32) {
        return _roots[rootId];
    }

    /// @inheritdoc IClaimProgram
    function capNode(uint256 rootId, uint256 position) external view returns (bytes32) {
        return position >> MAX_CAP_DEPTH == 0 ? _capNodes[(rootId << MAX_CAP_DEPTH) | position] : bytes32(0);
    }

    /// @inheritdoc IClaimProgram
    function info() external view returns (Info memory) {
        return Info({
            claimProgramId: _claimProgramId,
            fundProgramId: _fundProgramId,
            ngo: _ngo,
            token: address(_token),
            expiry: _expiry,
            funded: _funded,
            returned: _returned,
            rootCount: _rootCount
        });
    }

    /// @inheritdoc IClaimProgram
    function restrictedBy() external view returns (address) {
        return address(_restrictedBy);
    }

    /// @inheritdoc IClaimProgram
    function fundings() external view returns (Funding[] memory) {
        return _fundings;
    }

    /// @inheritdoc IClaimProgram
    function claimDigest(uint256 index, address recipient, uint256 deadline) external view returns (bytes32) {
        return _claimHash(index, recipient, deadline);
    }

    /// @dev The provider registry bound to `token_` when fund program `fundProgramId_` is restricted now;
    /// zero for a cash program or a token without transfer rules.
    function _restrictingRegistry(IERC20 token_, uint48 fundProgramId_) private view returns (IProviderRegistry) {
        try IEuroToken(address(token_)).transferRules() returns (address rules) {
            if (rules != address(0) && IProviderRegistry(rules).programRule(fundProgramId_) != 0) {
                return IProviderRegistry(rules);
            }
        } catch {}
        return IProviderRegistry(address(0));
    }

    function _requireNgo() private view {
        address account = _msgSender();
        if (account != _ngo) revert ClaimProgramNotNgo(account);
    }

    /// @dev Gives what this program holds, up to what the fund ledger paid in and has not had back, to the
    /// fund ledger, last funding first, so it is credited to the lots it came from; returns the amount.
    function _returnRest() private returns (uint128 amount) {
        uint256 balance = _token.balanceOf(address(this));
        uint128 returnable = _funded - _returned;
        // Tokens sent here other than by the fund ledger stay: the ledger takes back what it paid.
        amount = balance < returnable ? uint128(balance) : returnable;
        if (amount == 0) return 0;
        _returned += amount;

        uint128 remaining = amount;
        uint48[] memory batchIds = new uint48[](_fundings.length);
        uint128[] memory parts = new uint128[](_fundings.length);
        for (uint256 i = _fundings.length; remaining != 0; --i) {
            Funding storage f = _fundings[i - 1];
            uint128 part = f.amount - f.returned;
            if (part > remaining) part = remaining;
            // Cannot underflow: part <= remaining, and part <= f.amount - f.returned.
            unchecked {
                f.returned += part;
                remaining -= part;
            }
            batchIds[i - 1] = f.batchId;
            parts[i - 1] = part;
            if (part != 0) emit UnclaimedReturned(f.batchId, part);
        }

        _token.forceApprove(address(_fundLedger), amount);
        for (uint256 i = batchIds.length; i != 0; --i) {
            if (parts[i - 1] != 0) _fundLedger.returnFunds(batchIds[i - 1], parts[i - 1]);
        }
    }

    function _requireExpired() private view {
        if (block.timestamp < _expiry) revert ClaimProgramNotExpired(_expiry, block.timestamp);
    }

    function _requireOpen() private view {
        if (block.timestamp >= _expiry) revert ClaimProgramExpired(_expiry, block.timestamp);
    }

    /// @dev Reverts unless cap node `position` of root `rootId` exists and `proof` leads from `leaf` to it.
    function _requireLeaf(
        uint256 rootId,
        uint256 position,
        bytes32 leaf,
        bytes32[] calldata proof,
        uint256 index,
        address signer
    ) private view {
        // A position of 512 or more would alias another root's node: refuse it.
        bytes32 node = position >> MAX_CAP_DEPTH == 0 ? _capNodes[(rootId << MAX_CAP_DEPTH) | position] : bytes32(0);
        if (node == 0) revert ClaimProgramUnknownNode(rootId, position);
        if (!_proves(proof, node, leaf)) revert ClaimProgramInvalidProof(rootId, index, signer);
    }

    /// @dev Sets the bit of `index`, reverting when it is set already.
    function _markClaimed(uint256 index) private {
        ClaimedWord storage claimed = _claimedWords[index >> 8];
        uint256 word = claimed.bits;
        uint256 bit = 1 << (index & 0xff);
        if (word & bit != 0) revert ClaimProgramAlreadyClaimed(index);
        claimed.bits = word | bit;
    }

    /// @dev EIP-712 digest of `Claim(program, index, recipient, deadline)` for this contract and chain.
    function _claimHash(uint256 index, address recipient, uint256 deadline) private view returns (bytes32) {
        bytes32 typeHash = CLAIM_TYPEHASH;
        uint256 program = _claimProgramId;
        bytes32 structHash;
        assembly ("memory-safe") {
            let m := mload(0x40)
            mstore(m, typeHash)
            mstore(add(m, 0x20), program)
            mstore(add(m, 0x40), index)
            mstore(add(m, 0x60), and(recipient, 0xffffffffffffffffffffffffffffffffffffffff))
            mstore(add(m, 0x80), deadline)
            structHash := keccak256(m, 0xa0)
        }
        return _hashTypedDataV4(structHash);
    }

    /// @dev The key that signed `digest` (ERC-2098 short signature, low `s` only). The precompile is called
    /// directly: Solidity's `ecrecover` adds a copy and checks that cost more than the call itself.
    function _signer(bytes32 digest, bytes32 r, bytes32 vs) private view returns (address signer) {
        bytes32 s = vs & bytes32(type(uint256).max >> 1); // the top bit is v's parity
        if (uint256(s) > _HALF_ORDER) revert ClaimProgramInvalidSignature();
        assembly ("memory-safe") {
            let m := mload(0x40)
            mstore(m, digest)
            mstore(add(m, 0x20), add(shr(255, vs), 27)) // v: 27 or 28
            mstore(add(m, 0x40), r)
            mstore(add(m, 0x60), s)
            // A signature the precompile cannot recover returns nothing: the zero stays, refused below.
            mstore(0x00, 0)
            pop(staticcall(gas(), 0x01, m, 0x80, 0x00, 0x20))
            signer := mload(0x00)
        }
        if (signer == address(0)) revert ClaimProgramInvalidSignature();
    }

    /// @dev OpenZeppelin's standard leaf: keccak256(bytes.concat(keccak256(abi.encode(index, key, amount)))).
    function _leaf(uint256 index, address key, uint256 amount) private pure returns (bytes32 leaf) {
        assembly ("memory-safe") {
            let m := mload(0x40)
            mstore(m, index)
            mstore(add(m, 0x20), key)
            mstore(add(m, 0x40), amount)
            mstore(0x00, keccak256(m, 0x60))
            leaf := keccak256(0x00, 0x20)
        }
    }

    /// @dev Commutative pair hash, as OpenZeppelin's `Hashes.commutativeKeccak256`.
    function _hashPair(bytes32 a, bytes32 b) private pure returns (bytes32 parent) {
        assembly ("memory-safe") {
            let slot := shl(5, gt(a, b))
            mstore(slot, a)
            mstore(xor(slot, 0x20), b)
            parent := keccak256(0x00, 0x40)
        }
    }

    /// @dev Whether `proof` leads from `leaf` to `node`, hashing each pair sorted like OpenZeppelin's
    /// `MerkleProof.verifyCalldata`; written out in assembly because it runs for every level of every claim.
    function _proves(bytes32[] calldata proof, bytes32 node, bytes32 leaf) private pure returns (bool valid) {
        assembly ("memory-safe") {
            let hash := leaf
            if proof.length {
                let p := proof.offset
                let end := add(p, shl(5, proof.length))
                for {} 1 {} {
                    let sibling := calldataload(p)
                    // The smaller hash goes first: at 0x00 when hash < sibling, else at 0x20.
                    let slot := shl(5, gt(hash, sibling))
                    mstore(slot, hash)
                    mstore(xor(slot, 0x20), sibling)
                    hash := keccak256(0x00, 0x40)
                    p := add(p, 0x20)
                    if iszero(lt(p, end)) { break }
                }
            }
            valid := eq(hash, node)
        }
    }
}
