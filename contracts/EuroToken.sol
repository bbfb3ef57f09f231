// SPDX-License-Identifier: AGPL-3.0-or-later
pragma solidity 0.8.37;

import {Context} from "@openzeppelin/contracts/utils/Context.sol";
import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {ERC2771Context} from "@openzeppelin/contracts/metatx/ERC2771Context.sol";
import {IAllmendeRoles} from "./interfaces/IAllmendeRoles.sol";
import {RoleIds} from "./libraries/RoleIds.sol";
import {IEuroToken} from "./interfaces/IEuroToken.sol";
import {ITransferRules} from "./interfaces/IProviderRegistry.sol";
import {Permissioned} from "./Permissioned.sol";

/// @title Allmende euro
/// @notice ERC-20 with 6 decimals; every token is backed by euros the treasurer received.
/// @dev Keeps its own balances instead of OpenZeppelin's: each account's balance and the fund program
/// restricting it share one storage word (balance in the low 208 bits, program in the high 48), so a
/// transfer learns whether either side is restricted from the words it updates anyway, and asks the
/// transfer rules only then. Money into or out of an unrestricted account costs no call and no read.
contract EuroToken is ERC20, Permissioned, IEuroToken {
    uint256 private constant _PROGRAM_SHIFT = 208;
    uint256 private constant _BALANCE_MASK = (1 << _PROGRAM_SHIFT) - 1;

    ITransferRules private _transferRules;
    mapping(address account => uint256) private _words; // balance | restricting fund program << 208
    uint256 private _supply; // at most _BALANCE_MASK, so no balance can overflow its bits

    constructor(IAllmendeRoles roles_, address forwarder)
        ERC20("Allmende Euro", "EURA")
        Permissioned(roles_, forwarder)
    {}

    /// @notice Six decimals: one token unit is one micro-euro, like the euro's cent with room.
    function decimals() public pure override returns (uint8) {
        return 6;
    }

    /// @inheritdoc IEuroToken
    function mint(address to, uint256 amount, bytes32 fiatReference) external {
        _requireRole(RoleIds.TREASURER, _msgSender());
        if (amount == 0) revert EuroTokenZeroAmount();
        _mint(to, amount);
        emit Minted(to, amount, fiatReference);
    }

    /// @inheritdoc IEuroToken
    function redeem(uint256 amount, bytes32 payoutReference) external {
        if (amount == 0) revert EuroTokenZeroAmount();
        address holder = _msgSender();
        _burn(holder, amount);
        emit Redeemed(holder, amount, payoutReference);
    }

    /// @inheritdoc IEuroToken
    function setTransferRules(ITransferRules rules_) external {
        _requireRole(RoleIds.ADMIN, _msgSender());
        if (address(_transferRules) != address(0)) revert EuroTokenTransferRulesAlreadySet(address(_transferRules));
        _transferRules = rules_;
        emit TransferRulesSet(address(rules_));
    }

    /// @inheritdoc IEuroToken
    function reclaimRestricted(address[] calldata accounts) external returns (uint256[] memory amounts) {
        ITransferRules rules_ = _transferRules;
        if (address(rules_) == address(0)) revert EuroTokenNoTransferRules();
        // The caller itself, never a forwarded signer: only the claim program that marked the accounts
        // passes the rules, and it is a contract that signs nothing.
        address program = msg.sender;
        rules_.checkReclaim(program, accounts);
        uint256 count = accounts.length;
        amounts = new uint256[](count);
        for (uint256 i; i < count; ++i) {
            address account = accounts[i];
            uint256 balance = balanceOf(account);
            if (balance == 0) continue;
            amounts[i] = balance;
            // Past the spending check on purpose: the rules just allowed this move and no other.
            _move(account, program, balance);
        }
    }

    /// @inheritdoc IEuroToken
    function sweepRestricted(uint48 fundProgramId, address[] calldata accounts, uint256[] calldata amounts)
        external
    {
        ITransferRules rules_ = _transferRules;
        if (address(rules_) == address(0)) revert EuroTokenNoTransferRules();
        // The caller itself, never a forwarded signer: the rules allow only the fund ledger, a contract.
        address ledger = msg.sender;
        rules_.checkSweep(ledger, fundProgramId, accounts);
        uint256 count = accounts.length;
        for (uint256 i; i < count; ++i) {
            uint256 amount = amounts[i];
            // Past the spending check on purpose: the rules just allowed this move and no other.
            if (amount != 0) _move(accounts[i], ledger, amount);
        }
    }

    /// @inheritdoc IEuroToken
    function transferRules() external view returns (address) {
        return address(_transferRules);
    }

    /// @inheritdoc IEuroToken
    function restrictAccount(address account, uint48 fundProgramId) external {
        if (msg.sender != address(_transferRules)) revert EuroTokenNotTransferRules(msg.sender);
        uint256 word = _words[account];
        // The rules mark only fresh accounts; a balance here would be restricted against its holder's will.
        if (word != 0) revert EuroTokenAccountNotFresh(account, word & _BALANCE_MASK, uint48(word >> _PROGRAM_SHIFT));
        if (fundProgramId == 0) return;
        _words[account] = uint256(fundProgramId) << _PROGRAM_SHIFT;
    }

    /// @inheritdoc IEuroToken
    function restrictionOf(address account) external view returns (uint48) {
        return uint48(_words[account] >> _PROGRAM_SHIFT);
    }

    /// @inheritdoc IERC20
    function balanceOf(address account) public view override(ERC20, IERC20) returns (uint256) {
        return _words[account] & _BALANCE_MASK;
    }

    /// @inheritdoc IERC20
    function totalSupply() public view override(ERC20, IERC20) returns (uint256) {
        return _supply;
    }

    /// @dev Money leaving a restricted account asks the transfer rules first (restricted aid may reach
    /// only accepted providers), and money reaching one asks them too (a restricted account takes money
    /// only from its own program, so its program's end takes back nothing else); they revert with their
    /// own typed error when the move is not allowed. Unrestricted accounts ask nothing. Each side's word
    /// is read once: the rules are views, so they cannot change it in between.
    function _update(address from, address to, uint256 value) internal override {
        if (from == address(0)) {
            _mintSupply(value);
        } else {
            uint256 word = _words[from];
            if (word >> _PROGRAM_SHIFT != 0) _transferRules.checkTransfer(from, to, value);
            uint256 balance = word & _BALANCE_MASK;
            if (balance < value) revert ERC20InsufficientBalance(from, balance, value);
            // Cannot underflow: value <= balance, and only the balance bits change.
            unchecked {
                _words[from] = word - value;
            }
        }
        if (to == address(0)) {
            // Cannot underflow: value <= the sender's balance <= supply.
            unchecked {
                _supply -= value;
            }
        } else {
            uint256 word = _words[to];
            if (word >> _PROGRAM_SHIFT != 0) _transferRules.checkReceipt(from, to, value);
            // Cannot overflow into the program bits: every balance is at most the supply <= _BALANCE_MASK.
            unchecked {
                _words[to] = word + value;
            }
        }
        emit Transfer(from, to, value);
    }

    /// @dev Raises the supply by `value`, refusing a supply a balance could not hold.
    function _mintSupply(uint256 value) private {
        uint256 supply = _supply + value;
        if (supply > _BALANCE_MASK) revert EuroTokenSupplyTooLarge(supply);
        _supply = supply;
    }

    /// @dev Moves `value` from account `from` to account `to` without asking the rules (a reclaim or a
    /// sweep the rules allowed as a whole), as OpenZeppelin's `ERC20._update` would: same error, same event.
    function _move(address from, address to, uint256 value) private {
        uint256 word = _words[from];
        uint256 balance = word & _BALANCE_MASK;
        if (balance < value) revert ERC20InsufficientBalance(from, balance, value);
        // Cannot underflow (value <= balance) nor overflow into the program bits (balances <= supply).
        unchecked {
            _words[from] = word - value;
            _words[to] += value;
        }
        emit Transfer(from, to, value);
    }

    function _msgSender() internal view override(Context, ERC2771Context) returns (address) {
        return ERC2771Context._msgSender();
    }

    function _msgData() internal view override(Context, ERC2771Context) returns (bytes calldata) {
        return ERC2771Context._msgData();
    }

    function _contextSuffixLength() internal view override(Context, ERC2771Context) returns (uint256) {
        return ERC2771Context._contextSuffixLength();
    }
}
