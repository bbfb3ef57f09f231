// SPDX-License-Identifier: AGPL-3.0-or-later
pragma solidity 0.8.37;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IFundLedger} from "../interfaces/IFundLedger.sol";
import {IFundsReceiver} from "../interfaces/IFundsReceiver.sol";

/// @title Test receiver of program money
/// @notice Used by the tests of `FundLedger.disburseTo` and `returnFunds`: records what it was
/// told, accepts or refuses the money, and gives money back on request. Not deployed in production.
contract FundsReceiverProbe is IFundsReceiver {
    IFundLedger public immutable ledger;
    bool public accept = true;
    uint48 public lastProgramId;
    uint48 public lastBatchId;
    uint128 public lastAmount;
    bytes public lastData;

    constructor(IFundLedger ledger_) {
        ledger = ledger_;
    }

    /// @notice Whether later payments are accepted.
    function setAccept(bool accept_) external {
        accept = accept_;
    }

    /// @inheritdoc IFundsReceiver
    function onFundsReceived(uint48 programId, uint48 batchId, uint128 amount, bytes calldata data)
        external
        returns (bytes4)
    {
        lastProgramId = programId;
        lastBatchId = batchId;
        lastAmount = amount;
        lastData = data;
        return accept ? IFundsReceiver.onFundsReceived.selector : bytes4(0);
    }

    /// @notice Returns `amount` of batch `batchId` to the ledger.
    function giveBack(IERC20 token, uint48 batchId, uint128 amount) external {
        token.approve(address(ledger), amount);
        ledger.returnFunds(batchId, amount);
    }
}
