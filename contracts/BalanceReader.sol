// SPDX-License-Identifier: AGPL-3.0-or-later
pragma solidity 0.8.37;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IBalanceReader} from "./interfaces/IBalanceReader.sol";

/// @title Many ERC-20 balances in one `eth_call`
/// @notice Never deployed. An `eth_call` without a `to` runs this contract's creation code with
/// the constructor arguments appended, and answers what the constructor returns: here
/// `abi.encode(balances)`, the token's own `balanceOf` answer for each account, in order. A call
/// changes no state, so nothing is stored, and nothing of the caller's is trusted: the figures are
/// those one `eth_call` of `balanceOf` each would get, for one call's setup and one round trip.
/// @dev The returned bytes are, to the EVM, the code of the contract created: they count against
/// the 24,576-byte code size limit (EIP-170) and cost code-deposit gas (200 a byte), which bounds
/// how many accounts one read takes (the Python side sends at most 500: 16,064 bytes). EIP-3541
/// refuses created code whose first byte is 0xEF; the first word returned is the ABI offset of the
/// array, 0x20, so the first byte is always 0x00.
contract BalanceReader is IBalanceReader {
    /// @notice Reads `token.balanceOf(account)` for each of `accounts` and returns
    /// `abi.encode(uint256[] balances)` as the "created code". Any call that fails or answers other
    /// than exactly 32 bytes reverts the whole read with `BalanceReaderBadAnswer`.
    /// @dev A low-level `staticcall` with a length check, not `IERC20(token).balanceOf` in a
    /// try/catch: the high-level call accepts an answer longer than one word (it decodes the first)
    /// and an undecodable answer reverts outside the catch. `staticcall` to an address without code
    /// succeeds with no answer, which the length check refuses.
    constructor(IERC20 token, address[] memory accounts) {
        uint256[] memory balances = new uint256[](accounts.length);
        for (uint256 i = 0; i < accounts.length; ++i) {
            (bool ok, bytes memory answer) =
                address(token).staticcall(abi.encodeCall(IERC20.balanceOf, (accounts[i])));
            if (!ok || answer.length != 32) revert BalanceReaderBadAnswer(address(token), accounts[i]);
            balances[i] = abi.decode(answer, (uint256));
        }
        bytes memory encoded = abi.encode(balances);
        assembly ("memory-safe") {
            return(add(encoded, 0x20), mload(encoded))
        }
    }
}
