// SPDX-License-Identifier: AGPL-3.0-or-later
pragma solidity 0.8.37;

import {ERC2771Forwarder} from "@openzeppelin/contracts/metatx/ERC2771Forwarder.sol";
import {IAllmendeForwarder} from "./interfaces/IAllmendeForwarder.sol";
import {IAllmendeRoles} from "./interfaces/IAllmendeRoles.sol";
import {RoleIds} from "./libraries/RoleIds.sol";

/// @title Allmende request forwarder
/// @notice Executes requests that users signed with their own keys; only accounts with the
/// relayer role may submit them, so on a permissioned chain nobody else pays gas for users.
contract AllmendeForwarder is ERC2771Forwarder, IAllmendeForwarder {
    /// @notice The role registry that names the relayers.
    IAllmendeRoles public immutable roles;

    constructor(IAllmendeRoles roles_) ERC2771Forwarder("AllmendeForwarder") {
        roles = roles_;
    }

    /// @inheritdoc ERC2771Forwarder
    function execute(ForwardRequestData calldata request) public payable override {
        _requireRelayer();
        super.execute(request);
    }

    /// @inheritdoc ERC2771Forwarder
    function executeBatch(
        ForwardRequestData[] calldata requests,
        address payable refundReceiver
    ) public payable override {
        _requireRelayer();
        super.executeBatch(requests, refundReceiver);
    }

    /// @inheritdoc IAllmendeForwarder
    function simulate(address from, address to, uint256 gas, bytes calldata data) external {
        (bool success, bytes memory result) = to.call{gas: gas}(abi.encodePacked(data, from));
        if (!success) {
            assembly ("memory-safe") {
                revert(add(result, 0x20), mload(result))
            }
        }
        revert AllmendeForwarderSimulated(result);
    }

    function _requireRelayer() private view {
        if (!roles.hasRole(RoleIds.RELAYER, msg.sender)) {
            revert AllmendeForwarderUnauthorizedRelayer(msg.sender);
        }
    }
}
