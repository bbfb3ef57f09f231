// SPDX-License-Identifier: AGPL-3.0-or-later
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {ITransferRules} from "./IProviderRegistry.sol";

/// @title Allmende euro
/// @notice A euro-denominated token (6 decimals, 1 unit = 1 micro-euro), minted by a treasurer
/// against received fiat and burned when a holder is paid out to a bank account.
interface IEuroToken is IERC20 {
    /// @notice The treasurer minted `amount` to `to` against the fiat receipt `fiatReference`.
    /// @param to The credited account.
    /// @param amount Micro-euros minted.
    /// @param fiatReference Hash of the bank receipt kept off-chain.
    event Minted(address indexed to, uint256 amount, bytes32 indexed fiatReference);

    /// @notice `holder` burned `amount` to be paid out in fiat under `payoutReference`.
    /// @param holder The account paid out.
    /// @param amount Micro-euros burned.
    /// @param payoutReference Hash of the pay-out instruction kept off-chain.
    event Redeemed(address indexed holder, uint256 amount, bytes32 indexed payoutReference);

    /// @notice The admin bound the token to the transfer rules at `rules` (the provider registry), once.
    event TransferRulesSet(address indexed rules);

    /// @notice A zero amount was given where money must move.
    error EuroTokenZeroAmount();
    /// @notice The transfer rules are bound already (to `rules`) and cannot be replaced.
    error EuroTokenTransferRulesAlreadySet(address rules);
    /// @notice No transfer rules are bound, so no money is restricted and none expires.
    error EuroTokenNoTransferRules();
    /// @notice Only the bound transfer rules restrict accounts; `caller` is not them.
    error EuroTokenNotTransferRules(address caller);
    /// @notice `account` holds `balance` or is restricted by fund program `fundProgramId` already.
    error EuroTokenAccountNotFresh(address account, uint256 balance, uint48 fundProgramId);
    /// @notice Minting would raise the supply to `supply`, beyond what a balance can hold (2^208 - 1).
    error EuroTokenSupplyTooLarge(uint256 supply);

    /// @notice Mints `amount` to `to` against received fiat. Treasurer only.
    function mint(address to, uint256 amount, bytes32 fiatReference) external;

    /// @notice Burns `amount` of the sender's tokens for a fiat pay-out.
    function redeem(uint256 amount, bytes32 payoutReference) external;

    /// @notice Binds the token to `rules`, asked before every balance change. The admin only, once:
    /// afterwards nobody can lift the restrictions by unbinding them.
    function setTransferRules(ITransferRules rules_) external;

    /// @notice Moves the whole balance of each of `accounts` to the caller, a claim program whose restricted
    /// aid expired, when the transfer rules allow it (`ITransferRules.checkReclaim`: the caller marked every
    /// one of them, has expired, and its fund program is still restricted); anything else reverts.
    /// An account holding nothing is skipped, so asking twice moves nothing twice.
    /// @return amounts What each account held and the caller received (zero when it held nothing).
    function reclaimRestricted(address[] calldata accounts) external returns (uint256[] memory amounts);

    /// @notice Moves `amounts[i]` from each of `accounts` to the caller, the fund ledger sweeping fund program
    /// `fundProgramId` after its end, when the transfer rules allow it (`ITransferRules.checkSweep`: the
    /// caller is the fund ledger, the program is still restricted and its NGO marked every account);
    /// anything else reverts (an amount above the balance with `ERC20InsufficientBalance`).
    function sweepRestricted(uint48 fundProgramId, address[] calldata accounts, uint256[] calldata amounts) external;

    /// @notice Restricts `account`'s money by fund program `fundProgramId` from now on: every transfer out of
    /// it and into it asks the transfer rules (`checkTransfer`, `checkReceipt`). The bound transfer rules
    /// only, for a fresh account (no balance, not restricted); a zero program changes nothing.
    function restrictAccount(address account, uint48 fundProgramId) external;

    /// @notice The fund program restricting `account` (zero: none).
    function restrictionOf(address account) external view returns (uint48);

    /// @notice The transfer rules the token asks (zero before they are bound).
    function transferRules() external view returns (address);
}
