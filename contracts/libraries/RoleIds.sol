// SPDX-License-Identifier: AGPL-3.0-or-later
pragma solidity ^0.8.24;

/// @title Allmende role ids
/// @notice The ids the role registry stores, as compile-time constants for the contracts that check them.
library RoleIds {
    bytes32 internal constant ADMIN = 0x00; // OpenZeppelin's DEFAULT_ADMIN_ROLE
    bytes32 internal constant TREASURER = keccak256("TREASURER_ROLE");
    bytes32 internal constant FUNDER = keccak256("FUNDER_ROLE");
    bytes32 internal constant NGO = keccak256("NGO_ROLE");
    bytes32 internal constant APPROVER = keccak256("APPROVER_ROLE");
    bytes32 internal constant ALLOCATOR = keccak256("ALLOCATOR_ROLE");
    bytes32 internal constant AUDITOR = keccak256("AUDITOR_ROLE");
    bytes32 internal constant RELAYER = keccak256("RELAYER_ROLE");
}
