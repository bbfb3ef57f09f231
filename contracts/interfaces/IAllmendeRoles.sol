// SPDX-License-Identifier: AGPL-3.0-or-later
pragma solidity ^0.8.24;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";

/// @title Allmende role registry
/// @notice One registry holds every role of the system; all other contracts ask it.
/// Role ids are `keccak256` of the role's name, except the admin role, which is OpenZeppelin's
/// `DEFAULT_ADMIN_ROLE` (zero).
interface IAllmendeRoles is IAccessControl {
    /// @notice Mints euro tokens against received fiat and handles pay-outs.
    function TREASURER_ROLE() external view returns (bytes32);

    /// @notice Deposits money as lots and earmarks it.
    function FUNDER_ROLE() external view returns (bytes32);

    /// @notice Runs programs, requests tranches and disburses.
    function NGO_ROLE() external view returns (bytes32);

    /// @notice Approves tranches (the checker in maker-checker).
    function APPROVER_ROLE() external view returns (bytes32);

    /// @notice Allocates unearmarked money from the fund to programs (admins, budget rounds).
    function ALLOCATOR_ROLE() external view returns (bytes32);

    /// @notice Reads and attests audits.
    function AUDITOR_ROLE() external view returns (bytes32);

    /// @notice Submits users' signed requests through the forwarder.
    function RELAYER_ROLE() external view returns (bytes32);
}
