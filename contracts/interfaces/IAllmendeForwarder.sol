// SPDX-License-Identifier: AGPL-3.0-or-later
pragma solidity ^0.8.24;

/// @title Allmende request forwarder
/// @notice OpenZeppelin's ERC-2771 forwarder, restricted to the gateway's relayers.
interface IAllmendeForwarder {
    /// @notice `relayer` submitted forwarded requests without holding the relayer role.
    /// @param relayer The transaction sender.
    error AllmendeForwarderUnauthorizedRelayer(address relayer);
}
