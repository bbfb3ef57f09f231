// SPDX-License-Identifier: AGPL-3.0-or-later
pragma solidity 0.8.37;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {ERC2771Context} from "@openzeppelin/contracts/metatx/ERC2771Context.sol";
import {IAllmendeRoles} from "./interfaces/IAllmendeRoles.sol";

/// @title Base of every user-facing Allmende contract
/// @notice Trusts the Allmende forwarder (ERC-2771), so the acting person's own pseudonymous
/// address is the sender even when a relayer pays the gas, and checks roles in the registry.
abstract contract Permissioned is ERC2771Context {
    /// @notice The role registry this contract asks.
    IAllmendeRoles public immutable roles;

    constructor(IAllmendeRoles roles_, address forwarder) ERC2771Context(forwarder) {
        roles = roles_;
    }

    /// @dev Reverts with OpenZeppelin's `AccessControlUnauthorizedAccount` unless `account` has `role`.
    function _requireRole(bytes32 role, address account) internal view {
        if (!roles.hasRole(role, account)) {
            revert IAccessControl.AccessControlUnauthorizedAccount(account, role);
        }
    }
}
