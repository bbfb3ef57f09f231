// SPDX-License-Identifier: AGPL-3.0-or-later
pragma solidity ^0.8.24;

/// @title Many ERC-20 balances in one read
/// @notice Run as the creation code of an `eth_call` without a `to`: never deployed, it reads
/// `token.balanceOf` for every account it is given and returns the answers.
interface IBalanceReader {
    /// @notice `token.balanceOf(account)` failed or answered other than one word: the read fails.
    /// @dev The token has no code, reverted, or returned fewer or more than 32 bytes.
    /// @param token The token read.
    /// @param account The first account whose balance could not be read.
    error BalanceReaderBadAnswer(address token, address account);
}
