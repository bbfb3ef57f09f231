// SPDX-License-Identifier: AGPL-3.0-or-later
pragma solidity ^0.8.24;

/// @title Allmende request forwarder
/// @notice OpenZeppelin's ERC-2771 forwarder, restricted to the gateway's relayers.
interface IAllmendeForwarder {
    /// @notice `relayer` submitted forwarded requests without holding the relayer role.
    /// @param relayer The transaction sender.
    error AllmendeForwarderUnauthorizedRelayer(address relayer);

    /// @notice A simulated request succeeded; `returnData` is what its call returned.
    /// @param returnData The inner call's return data.
    error AllmendeForwarderSimulated(bytes returnData);

    /// @notice Runs the call of `request` exactly as `execute` would (from this forwarder, the
    /// signer's address appended) and always reverts, so it changes nothing: with the inner call's
    /// own error when that fails, with `AllmendeForwarderSimulated` when it succeeds. The signature
    /// is not checked here; `execute` checks it. Lets a gateway learn the typed error of a request
    /// that OpenZeppelin's `execute` would report only as `FailedCall`.
    function simulate(address from, address to, uint256 gas, bytes calldata data) external;
}
