// SPDX-License-Identifier: AGPL-3.0-or-later
pragma solidity ^0.8.24;

import {IFundsReceiver} from "./IFundsReceiver.sol";

/// @title One pseudonymous claim program
/// @notice Holds the money one NGO set aside in the fund ledger for clients who claim it with a voucher.
/// The NGO publishes Merkle trees over `(uint256 index, address claimKey, uint256 amount)` leaves in
/// OpenZeppelin's standard (double-hashed) format. It publishes a tree's cap, the 2^k nodes at depth
/// k (k <= 8; k = 0 is the root alone): the contract hashes the cap up to the root, keeps the cap
/// nodes, and a claim proves its leaf only up to its cap node, k sibling hashes fewer than a proof
/// to the root (each saves ~600 gas per claim). A client's claim is an EIP-712 `Claim` signed by the
/// claim key, which binds the recipient, so whoever relays it cannot redirect the money. Indices form one
/// space per program with one bitmap, so a new root may repeat earlier clients without letting them
/// claim twice, and earlier roots stay valid. After the expiry the NGO returns the unclaimed rest to the
/// fund ledger, credited back to the lots it came from. Nothing on chain names a person: a claim key and
/// a recipient are fresh for every client in every program. When the fund program's rule (in the
/// provider registry bound to the token) is restricted at opening, every recipient is marked there
/// before it is paid, and can then pay only accepted providers of the program's categories; what such an
/// account has not spent by the program's expiry anyone may send back the same way (`reclaimExpired`).
interface IClaimProgram is IFundsReceiver {
    /// @notice One disbursement of the fund ledger into this program, and how much of it went back.
    struct Funding {
        uint48 batchId;
        uint128 amount;
        uint128 returned;
    }

    /// @notice The program's settings and totals.
    struct Info {
        uint48 claimProgramId;
        uint48 fundProgramId;
        address ngo;
        address token;
        uint48 expiry;
        uint128 funded;
        uint128 returned;
        uint256 rootCount;
    }

    /// @notice Fund-ledger batch `batchId` paid `amount` into this program.
    event ClaimProgramFunded(uint48 indexed batchId, uint128 amount);
    /// @notice The NGO published the tree with root `root` as root `rootId` (ids start at 1), keeping
    /// `cap`, its nodes at depth log2(cap.length), for claims to prove against.
    event ClaimRootAdded(uint256 indexed rootId, bytes32 root, bytes32[] cap);
    /// @notice The client at `index` claimed `amount`, paid to `recipient`.
    event Claimed(uint256 indexed index, address indexed recipient, uint256 amount);
    /// @notice `amount` unclaimed went back to the fund ledger against batch `batchId`.
    event UnclaimedReturned(uint48 indexed batchId, uint128 amount);
    /// @notice After expiry, `amount` that `account` was paid by this program and had not spent came back.
    event ExpiredAidReclaimed(address indexed account, uint256 amount);

    /// @notice Only the fund ledger pays into a claim program; `caller` is not it.
    error ClaimProgramNotFundLedger(address caller);
    /// @notice Fund-ledger program `fundProgramId` paid, but this claim program belongs to `expected`.
    error ClaimProgramWrongFundProgram(uint48 fundProgramId, uint48 expected);
    /// @notice `account` is not the NGO running this claim program.
    error ClaimProgramNotNgo(address account);
    /// @notice The program expired at `expiry` (now is `now_`): no more funding, roots or claims.
    error ClaimProgramExpired(uint48 expiry, uint256 now_);
    /// @notice The program runs until `expiry` (now is `now_`): its rest cannot be returned yet.
    error ClaimProgramNotExpired(uint48 expiry, uint256 now_);
    /// @notice The claim signature was valid until `deadline` only (now is `now_`).
    error ClaimProgramSignatureExpired(uint256 deadline, uint256 now_);
    /// @notice Root `rootId` has no cap node at `position` (or there is no such root).
    error ClaimProgramUnknownNode(uint256 rootId, uint256 position);
    /// @notice A cap must hold 1, 2, 4, ... or 512 nodes, none of them zero; it held `length`.
    error ClaimProgramBadCap(uint256 length);
    /// @notice The client at `index` has claimed already.
    error ClaimProgramAlreadyClaimed(uint256 index);
    /// @notice The signature does not recover to any key.
    error ClaimProgramInvalidSignature();
    /// @notice Root `rootId` has no leaf `(index, signer, amount)`; `signer` is the key that signed.
    /// @dev A bad proof or amount, and a signature by another key or over other data (recipient,
    /// deadline, program, chain) all end here: the latter recover to another `signer`.
    error ClaimProgramInvalidProof(uint256 rootId, uint256 index, address signer);
    /// @notice Nothing is left to return.
    error ClaimProgramNothingToReturn();
    /// @notice At most `max` accounts are reclaimed in one call; `count` were given.
    error ClaimProgramTooManyAccounts(uint256 count, uint256 max);
    /// @notice The program pays cash (its fund program was not restricted at opening): nothing it paid expires.
    error ClaimProgramNotRestricted();

    /// @notice Pays `amount` to `recipient` for the client at `index` of root `rootId`. Anyone may send it
    /// (a relayer, typically); it succeeds only with the claim key's EIP-712 signature
    /// `Claim(uint256 program, uint256 index, address recipient, uint256 deadline)` over this program's id.
    /// @dev The five small numbers travel in one word, `rootId << 232 | position << 216 | index << 168 |
    /// amount << 48 | deadline`: as five words they were mostly zero bytes of calldata (~600 gas per claim).
    /// @param packed `rootId` (24 bits): the published root whose tree holds the client's leaf; `position`
    /// (16 bits): which node of the root's cap the proof ends at (0 when the cap is the root alone); `index`
    /// (48 bits): the client's index in this program; `amount` (120 bits): what the leaf grants; `deadline`
    /// (48 bits): the last timestamp at which the signature is accepted.
    /// @param recipient Who is paid; the signature binds it.
    /// @param r The signature's `r`.
    /// @param vs The signature's `s` with the parity of `v` in its top bit (ERC-2098).
    /// @param proof Sibling hashes from the leaf up to the cap node (the standard proof without its last k).
    function claim(uint256 packed, address recipient, bytes32 r, bytes32 vs, bytes32[] calldata proof) external;

    /// @notice Publishes another tree by its cap; earlier roots and claims stay valid. The NGO only, before expiry.
    /// @param cap The tree's 2^k nodes at depth k, left to right (the root alone for k = 0).
    function addRoot(bytes32[] calldata cap) external returns (uint256 rootId);

    /// @notice After expiry, gives everything not claimed back to the fund ledger, last funding first,
    /// so it is credited to the program and the lots it came from (or passed on to the funders of lots
    /// that have expired meanwhile). Anyone: the money can only go back, so nobody depends on the NGO acting.
    function returnUnclaimed() external returns (uint128 amount);

    /// @notice After expiry, takes back what `accounts` (at most `MAX_RECLAIM_ACCOUNTS`), each paid and
    /// marked restricted by this program, have not spent, then returns everything the program holds to the
    /// fund ledger as `returnUnclaimed` does: to the lots it came from. Anyone: the money can only go back.
    /// Reverts unless this program marked every account (`ProviderRegistryNotMarkedBy`) and its fund program
    /// is still restricted (`ProviderRegistryProgramIsCash`); an account holding nothing is skipped, and
    /// when nothing moves and nothing is left to return it reverts with `ClaimProgramNothingToReturn`.
    /// @return reclaimed What came back from the accounts.
    /// @return returned What went on to the fund ledger (it includes the unclaimed rest, if any).
    function reclaimExpired(address[] calldata accounts) external returns (uint256 reclaimed, uint128 returned);

    /// @notice Whether the client at `index` has claimed.
    function isClaimed(uint256 index) external view returns (bool);

    /// @notice Root `rootId` (zero when there is none).
    function root(uint256 rootId) external view returns (bytes32);

    /// @notice Node `position` of root `rootId`'s cap (zero when there is none).
    function capNode(uint256 rootId, uint256 position) external view returns (bytes32);

    /// @notice Settings and totals.
    function info() external view returns (Info memory);

    /// @notice The provider registry that marks every account this program pays as restricted, when its
    /// fund program was restricted at the program's opening; zero for cash.
    function restrictedBy() external view returns (address);

    /// @notice Every funding, oldest first.
    function fundings() external view returns (Funding[] memory);

    /// @notice The EIP-712 digest a claim key signs for `index`, `recipient` and `deadline`.
    function claimDigest(uint256 index, address recipient, uint256 deadline) external view returns (bytes32);
}
