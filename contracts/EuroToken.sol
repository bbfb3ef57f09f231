// SPDX-License-Identifier: AGPL-3.0-or-later
pragma solidity 0.8.37;

import {Context} from "@openzeppelin/contracts/utils/Context.sol";
import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC2771Context} from "@openzeppelin/contracts/metatx/ERC2771Context.sol";
import {IAllmendeRoles} from "./interfaces/IAllmendeRoles.sol";
import {RoleIds} from "./libraries/RoleIds.sol";
import {IEuroToken} from "./interfaces/IEuroToken.sol";
import {Permissioned} from "./Permissioned.sol";

/// @title Allmende euro
/// @notice ERC-20 with 6 decimals; every token is backed by euros the treasurer received.
contract EuroToken is ERC20, Permissioned, IEuroToken {
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
