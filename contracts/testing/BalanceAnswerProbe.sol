// SPDX-License-Identifier: AGPL-3.0-or-later
pragma solidity 0.8.37;

/// @title Test token whose `balanceOf` answers a chosen number of bytes
/// @notice Used by the tests of the many-balances read (`BalanceReader`): one word is a balance,
/// anything shorter or longer must fail the whole read. Not deployed in production.
contract BalanceAnswerProbe {
    /// @notice How many bytes `balanceOf` answers (at most 64).
    uint256 public answerLength;

    constructor(uint256 answerLength_) {
        answerLength = answerLength_;
    }

    /// @notice Answers `answerLength` bytes, every word of them 7, whoever is asked about.
    function balanceOf(address) external view returns (uint256) {
        uint256 length = answerLength;
        assembly ("memory-safe") {
            mstore(0x00, 7)
            mstore(0x20, 7)
            return(0x00, length)
        }
    }
}
