// SPDX-License-Identifier: AGPL-3.0-or-later
pragma solidity 0.8.37;

import {Context} from "@openzeppelin/contracts/utils/Context.sol";
import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC2771Context} from "@openzeppelin/contracts/metatx/ERC2771Context.sol";
import {IAllmendeRoles} from "./interfaces/IAllmendeRoles.sol";
import {RoleIds} from "./libraries/RoleIds.sol";
import {IEuroToken} from "./interfaces/IEuroToken.sol";
import {ITransferRules} from "./interfaces/IProviderRegistry.sol";
import {Permissioned} from "./Permissioned.sol";

/// @title Allmende euro
/// @notice ERC-20 with 6 decimals; every token is backed by euros the treasurer received.
contract EuroToken is ERC20, Permissioned, IEuroToken {
    ITransferRules private _transferRules;

    constructor(IAllmendeRoles roles_, address forwarder)
        ERC20("Allmende Euro", "EURA")
        Permissioned(roles_, forwarder)
    {}

    /// @notice Six decimals: one token unit is one micro-euro, like the euro's cent with room.
    function decimals() public pure override returns (uint8) {
        return 6;
    }

    /// @inheritdoc IEuroToken
    function mint(address to, uint256 amount, bytes32 fiatReference) external {
        _requireRole(RoleIds.TREASURER, _msgSender());
        if (amount == 0) revert EuroTokenZeroAmount();
        _mint(to, amount);
        emit Minted(to, amount, fiatReference);
    }

    /// @inheritdoc IEuroToken
    function redeem(uint256 amount, bytes32 payoutReference) external {
        if (amount == 0) revert EuroTokenZeroAmount();
        address holder = _msgSender();
        _burn(holder, amount);
        emit Redeemed(holder, amount, payoutReference);
    }

    /// @inheritdoc IEuroToken
    function setTransferRules(ITransferRules rules_) external {
        _requireRole(RoleIds.ADMIN, _msgSender());
        if (address(_transferRules) != address(0)) revert EuroTokenTransferRulesAlreadySet(address(_transferRules));
        _transferRules = rules_;
        emit TransferRulesSet(address(rules_));
    }

    /// @inheritdoc IEuroToken
    function reclaimRestricted(address[] calldata accounts) external returns (uint256[] memory amounts) {
        ITransferRules rules_ = _transferRules;
        if (address(rules_) == address(0)) revert EuroTokenNoTransferRules();
        // The caller itself, never a forwarded signer: only the claim program that marked the accounts
        // passes the rules, and it is a contract that signs nothing.
        address program = msg.sender;
        rules_.checkReclaim(program, accounts);
        uint256 count = accounts.length;
        amounts = new uint256[](count);
        for (uint256 i; i < count; ++i) {
            address account = accounts[i];
            uint256 balance = balanceOf(account);
            if (balance == 0) continue;
            amounts[i] = balance;
            // Past the spending check on purpose: the rules just allowed this move and no other.
            ERC20._update(account, program, balance);
        }
    }

    /// @inheritdoc IEuroToken
    function sweepRestricted(uint48 fundProgramId, address[] calldata accounts, uint256[] calldata amounts)
        external
    {
        ITransferRules rules_ = _transferRules;
        if (address(rules_) == address(0)) revert EuroTokenNoTransferRules();
        // The caller itself, never a forwarded signer: the rules allow only the fund ledger, a contract.
        address ledger = msg.sender;
        rules_.checkSweep(ledger, fundProgramId, accounts);
        uint256 count = accounts.length;
        for (uint256 i; i < count; ++i) {
            uint256 amount = amounts[i];
            // Past the spending check on purpose: the rules just allowed this move and no other.
            if (amount != 0) ERC20._update(accounts[i], ledger, amount);
        }
    }

    /// @inheritdoc IEuroToken
    function transferRules() external view returns (address) {
        return address(_transferRules);
    }

    /// @dev Money leaving a plain account asks the transfer rules first (restricted aid may reach only
    /// accepted providers); they revert with their own typed error when the move is not allowed. Only
    /// plain accounts are ever restricted, so money sent by a contract (a claim, a disbursement) skips
    /// the question and its gas.
    function _update(address from, address to, uint256 value) internal override {
        if (from != address(0) && from.code.length == 0) {
            ITransferRules rules_ = _transferRules;
            if (address(rules_) != address(0)) rules_.checkTransfer(from, to, value);
        }
        super._update(from, to, value);
    }

    function _msgSender() internal view override(Context, ERC2771Context) returns (address) {
        return ERC2771Context._msgSender();
    }

    function _msgData() internal view override(Context, ERC2771Context) returns (bytes calldata) {
        return ERC2771Context._msgData();
    }

    function _contextSuffixLength() internal view override(Context, ERC2771Context) returns (uint256) {
        return ERC2771Context._contextSuffixLength();
    }
}
