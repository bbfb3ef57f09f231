// SPDX-License-Identifier: AGPL-3.0-or-later
pragma solidity 0.8.37;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {ClaimProgram} from "./ClaimProgram.sol";
import {IAllmendeRoles} from "./interfaces/IAllmendeRoles.sol";
import {IClaimPrograms} from "./interfaces/IClaimPrograms.sol";
import {IFundLedger} from "./interfaces/IFundLedger.sol";
import {Permissioned} from "./Permissioned.sol";

/// @title Allmende claim programs
/// @notice Opens claim programs for fund-ledger programs and lists them.
contract ClaimPrograms is IClaimPrograms, Permissioned {
    IFundLedger private immutable _fundLedger;
    address private immutable _forwarder;
    address[] private _programs;

    constructor(IAllmendeRoles roles_, address forwarder, IFundLedger fundLedger_) Permissioned(roles_, forwarder) {
        _fundLedger = fundLedger_;
        _forwarder = forwarder;
    }

    /// @inheritdoc IClaimPrograms
    function createProgram(uint48 fundProgramId, uint48 expiry, bytes32 metadataHash)
        external
        returns (uint48 claimProgramId, address program)
    {
        address ngo = _msgSender();
        IFundLedger.Program memory p = _fundLedger.getProgram(fundProgramId);
        if (p.ngo != ngo) revert ClaimProgramsNotProgramNgo(fundProgramId, ngo);
        if (expiry <= block.timestamp) revert ClaimProgramsExpiryInPast(expiry, block.timestamp);
        claimProgramId = uint48(_programs.length + 1); // fits: one contract per id, far fewer than 2^48
        program = address(
            new ClaimProgram(
                roles, _forwarder, _fundLedger, IERC20(p.token), claimProgramId, fundProgramId, ngo, expiry
            )
        );
        _programs.push(program);
        emit ClaimProgramCreated(claimProgramId, fundProgramId, ngo, program, expiry, metadataHash);
    }

    /// @inheritdoc IClaimPrograms
    function programAt(uint48 claimProgramId) external view returns (address) {
        if (claimProgramId == 0 || claimProgramId > _programs.length) {
            revert ClaimProgramsUnknownProgram(claimProgramId);
        }
        return _programs[claimProgramId - 1];
    }

    /// @inheritdoc IClaimPrograms
    function programs() external view returns (address[] memory) {
        return _programs;
    }

    /// @inheritdoc IClaimPrograms
    function programCount() external view returns (uint48) {
        return uint48(_programs.length);
    }

    /// @inheritdoc IClaimPrograms
    function fundLedger() external view returns (address) {
        return address(_fundLedger);
    }
}
