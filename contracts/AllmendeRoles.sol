// SPDX-License-Identifier: AGPL-3.0-or-later
pragma solidity 0.8.37;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IAllmendeRoles} from "./interfaces/IAllmendeRoles.sol";
import {RoleIds} from "./libraries/RoleIds.sol";

/// @title Allmende role registry
/// @notice Admins grant and revoke roles here; every other Allmende contract checks them here.
contract AllmendeRoles is AccessControl, IAllmendeRoles {
    /// @inheritdoc IAllmendeRoles
    bytes32 public constant TREASURER_ROLE = RoleIds.TREASURER;
    /// @inheritdoc IAllmendeRoles
    bytes32 public constant FUNDER_ROLE = RoleIds.FUNDER;
    /// @inheritdoc IAllmendeRoles
    bytes32 public constant NGO_ROLE = RoleIds.NGO;
    /// @inheritdoc IAllmendeRoles
    bytes32 public constant APPROVER_ROLE = RoleIds.APPROVER;
    /// @inheritdoc IAllmendeRoles
    bytes32 public constant ALLOCATOR_ROLE = RoleIds.ALLOCATOR;
    /// @inheritdoc IAllmendeRoles
    bytes32 public constant AUDITOR_ROLE = RoleIds.AUDITOR;
    /// @inheritdoc IAllmendeRoles
    bytes32 public constant RELAYER_ROLE = RoleIds.RELAYER;

    /// @param admin The first administrator (the operator's deploy key).
    constructor(address admin) {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }
}
