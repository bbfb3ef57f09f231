// SPDX-License-Identifier: AGPL-3.0-or-later
pragma solidity 0.8.37;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IAllmendeRoles} from "./interfaces/IAllmendeRoles.sol";
import {IClaimProgram} from "./interfaces/IClaimProgram.sol";
import {IClaimPrograms} from "./interfaces/IClaimPrograms.sol";
import {IEuroToken} from "./interfaces/IEuroToken.sol";
import {IFundLedger} from "./interfaces/IFundLedger.sol";
import {IProviderRegistry, ITransferRules} from "./interfaces/IProviderRegistry.sol";
import {RoleIds} from "./libraries/RoleIds.sol";
import {Permissioned} from "./Permissioned.sol";

/// @title Allmende provider registry
/// @notice Accepted providers, programs' spending rules, and the restricted accounts a token checks.
/// @dev Who may do what: admitting needs the NGO or admin role; changing a provider needs the NGO that
/// admitted it or an admin; a program's rule and the accounts marked before a disbursement belong to the
/// program's NGO as the fund ledger records it; `markRecipient` only to claim programs the claim-program
/// registry lists, each marking in its own fund program and token. `checkTransfer` is a view.
contract ProviderRegistry is IProviderRegistry, Permissioned {
    IFundLedger private immutable _fundLedger;
    IClaimPrograms private immutable _claimPrograms;

    mapping(address account => Provider) private _providers;
    mapping(uint48 fundProgramId => uint64) private _rules;
    mapping(address program => Source) private _sources;
    mapping(address token => mapping(address account => Restriction)) private _restricted;

    constructor(IAllmendeRoles roles_, address forwarder, IFundLedger fundLedger_, IClaimPrograms claimPrograms_)
        Permissioned(roles_, forwarder)
    {
        _fundLedger = fundLedger_;
        _claimPrograms = claimPrograms_;
    }

    /// @inheritdoc IProviderRegistry
    function admitProvider(address account, uint64 categories, bytes32 metadataHash) external {
        address sender = _msgSender();
        if (account == address(0)) revert ProviderRegistryZeroAccount();
        if (categories == 0) revert ProviderRegistryNoCategories();
        Provider storage p = _providers[account];
        if (p.status == ProviderStatus.None) {
            if (!roles.hasRole(RoleIds.NGO, sender)) _requireRole(RoleIds.ADMIN, sender);
            p.ngo = sender;
        } else {
            _requireProviderNgo(p, account, sender);
        }
        p.categories = categories;
        p.status = ProviderStatus.Admitted;
        emit ProviderAdmitted(account, p.ngo, categories, metadataHash);
    }

    /// @inheritdoc IProviderRegistry
    function suspendProvider(address account, bytes32 reasonHash) external {
        address sender = _msgSender();
        Provider storage p = _providers[account];
        if (p.status != ProviderStatus.Admitted) revert ProviderRegistryNotAdmitted(account);
        _requireProviderNgo(p, account, sender);
        p.status = ProviderStatus.Suspended;
        emit ProviderSuspended(account, sender, reasonHash);
    }

    /// @inheritdoc IProviderRegistry
    function setProgramRule(uint48 fundProgramId, uint64 categories) external {
        _requireProgramNgo(fundProgramId);
        _rules[fundProgramId] = categories;
        emit ProgramRuleSet(fundProgramId, categories);
    }

    /// @inheritdoc IProviderRegistry
    function markRecipient(address recipient) external {
        Source memory source = _sources[msg.sender];
        if (source.fundProgramId == 0) source = _recognise(msg.sender);
        if (recipient == address(0) || _providers[recipient].status != ProviderStatus.None) return;
        _mark(source.token, recipient, source.fundProgramId, msg.sender);
    }

    /// @inheritdoc IProviderRegistry
    function restrictAccounts(uint48 fundProgramId, address[] calldata accounts) external {
        address token = _requireProgramNgo(fundProgramId);
        for (uint256 i; i < accounts.length; ++i) {
            address account = accounts[i];
            if (account == address(0)) revert ProviderRegistryZeroAccount();
            if (_providers[account].status != ProviderStatus.None) revert ProviderRegistryAccountIsProvider(account);
            _mark(token, account, fundProgramId, address(0));
        }
    }

    /// @inheritdoc ITransferRules
    function checkTransfer(address from, address to, uint256) external view {
        uint48 fundProgramId = _restricted[msg.sender][from].fundProgramId;
        if (fundProgramId != 0) _requireMayPay(from, to, fundProgramId);
    }

    /// @inheritdoc ITransferRules
    function checkReceipt(address from, address to, uint256) external view {
        Restriction memory r = _restricted[msg.sender][to];
        if (r.fundProgramId == 0) return;
        if (r.markedBy != address(0)) {
            if (from == r.markedBy) return; // the claim program that marked it pays a claim
        } else if (from == address(_fundLedger)) {
            if (_fundLedger.payingProgram() == r.fundProgramId) return; // its own program disburses
        }
        // A provider gives back a payment at the counter (the account may have paid it).
        if (from != address(0) && _providers[from].status != ProviderStatus.None) return;
        revert ProviderRegistryAccountBound(to, r.fundProgramId, from);
    }

    /// @inheritdoc ITransferRules
    function checkReclaim(address program, address[] calldata accounts) external view {
        uint256 count = accounts.length;
        if (count == 0) return;
        mapping(address account => Restriction) storage restricted = _restricted[msg.sender];
        for (uint256 i; i < count; ++i) {
            address markedBy = restricted[accounts[i]].markedBy;
            if (markedBy != program) revert ProviderRegistryNotMarkedBy(accounts[i], program, markedBy);
        }
        // `program` marked an account, so it is a claim program the claim-program registry lists.
        uint48 fundProgramId = _sources[program].fundProgramId;
        if (_rules[fundProgramId] == 0) revert ProviderRegistryProgramIsCash(fundProgramId);
        uint48 expiry = IClaimProgram(program).info().expiry;
        if (block.timestamp < expiry) revert ProviderRegistryNotExpired(program, expiry);
    }

    /// @inheritdoc ITransferRules
    function checkSweep(address caller, uint48 fundProgramId, address[] calldata accounts) external view {
        if (caller != address(_fundLedger)) revert ProviderRegistryNotFundLedger(caller);
        if (_rules[fundProgramId] == 0) revert ProviderRegistryProgramIsCash(fundProgramId);
        mapping(address account => Restriction) storage restricted = _restricted[msg.sender];
        uint256 count = accounts.length;
        for (uint256 i; i < count; ++i) {
            Restriction memory r = restricted[accounts[i]];
            if (r.fundProgramId != fundProgramId || r.markedBy != address(0)) {
                revert ProviderRegistryNotSweepable(accounts[i], fundProgramId, r.fundProgramId, r.markedBy);
            }
        }
    }

    /// @inheritdoc IProviderRegistry
    function provider(address account) external view returns (Provider memory) {
        return _providers[account];
    }

    /// @inheritdoc IProviderRegistry
    function programRule(uint48 fundProgramId) external view returns (uint64) {
        return _rules[fundProgramId];
    }

    /// @inheritdoc IProviderRegistry
    function restrictionOf(address token, address account) external view returns (uint48) {
        return _restricted[token][account].fundProgramId;
    }

    /// @inheritdoc IProviderRegistry
    function restriction(address token, address account) external view returns (Restriction memory) {
        return _restricted[token][account];
    }

    /// @inheritdoc IProviderRegistry
    function sourceOf(address program) external view returns (Source memory) {
        return _sources[program];
    }

    /// @inheritdoc IProviderRegistry
    function mayPay(address token, address from, address to) external view returns (bool) {
        uint48 fundProgramId = _restricted[token][from].fundProgramId;
        if (fundProgramId == 0) return true;
        uint64 allowed = _rules[fundProgramId];
        Provider storage p = _providers[to];
        return allowed == 0 || (p.status == ProviderStatus.Admitted && p.categories & allowed != 0);
    }

    /// @dev Reverts unless restricted `from` may pay `to` under fund program `fundProgramId`'s rule now.
    function _requireMayPay(address from, address to, uint48 fundProgramId) private view {
        uint64 allowed = _rules[fundProgramId];
        if (allowed == 0) return; // the program is cash (again)
        Provider storage p = _providers[to];
        if (p.status != ProviderStatus.Admitted || p.categories & allowed == 0) {
            revert ProviderRegistryRestrictedTransfer(from, to, fundProgramId, allowed);
        }
    }

    /// @dev Marks `account` restricted by `fundProgramId` in `token` on behalf of claim program `markedBy`
    /// (zero: the program's NGO), unless it is already; refuses an account marked by another program or
    /// marker or holding money, which marking would lock against its will (or let another program's
    /// expiry take back).
    function _mark(address token, address account, uint48 fundProgramId, address markedBy) private {
        Restriction memory currentRestriction = _restricted[token][account];
        uint48 current = currentRestriction.fundProgramId;
        if (current == fundProgramId && currentRestriction.markedBy == markedBy) return;
        // Only plain accounts are marked: a contract could pass marked money on.
        if (account.code.length != 0) revert ProviderRegistryAccountIsContract(account);
        uint256 balance = IERC20(token).balanceOf(account);
        if (current != 0 || balance != 0) {
            revert ProviderRegistryAccountNotFresh(account, fundProgramId, current, balance);
        }
        _restricted[token][account] = Restriction({fundProgramId: fundProgramId, markedBy: markedBy});
        // The token keeps the mark next to the balance, so it asks these rules only for marked accounts.
        IEuroToken(token).restrictAccount(account, fundProgramId);
        emit AccountRestricted(token, account, fundProgramId);
    }

    /// @dev Checks that `program` is a claim program of the claim-program registry and remembers its
    /// fund program and token.
    function _recognise(address program) private returns (Source memory source) {
        if (program.code.length == 0) revert ProviderRegistryNotClaimProgram(program);
        IClaimProgram.Info memory info = IClaimProgram(program).info();
        if (_claimPrograms.programAt(info.claimProgramId) != program) revert ProviderRegistryNotClaimProgram(program);
        source = Source({fundProgramId: info.fundProgramId, token: info.token});
        _sources[program] = source;
        emit ClaimProgramRecognised(info.claimProgramId, program, info.fundProgramId, info.token);
    }

    /// @dev Reverts unless `sender` admitted provider `p` (at `account`) or is an admin.
    function _requireProviderNgo(Provider storage p, address account, address sender) private view {
        if (p.ngo != sender && !roles.hasRole(RoleIds.ADMIN, sender)) {
            revert ProviderRegistryNotProviderNgo(account, sender);
        }
    }

    /// @dev Reverts unless the sender runs fund program `fundProgramId`; returns the program's token.
    function _requireProgramNgo(uint48 fundProgramId) private view returns (address token) {
        IFundLedger.Program memory p = _fundLedger.getProgram(fundProgramId);
        address sender = _msgSender();
        if (p.ngo != sender) revert ProviderRegistryNotProgramNgo(fundProgramId, sender);
        return p.token;
    }
}
