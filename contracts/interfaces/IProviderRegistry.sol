// SPDX-License-Identifier: AGPL-3.0-or-later
pragma solidity ^0.8.24;

/// @title Rules a token asks before it moves money
/// @notice A token that enforces spending rules calls `checkTransfer` before it moves money out of a
/// restricted account and `checkReceipt` before it moves money into one (the token learns which accounts
/// are restricted from `restrictAccount`, called by these rules when they mark one). The rules keep
/// restrictions per token (the caller), so asking on behalf of another token reads nothing of this one.
interface ITransferRules {
    /// @notice Reverts (with `ProviderRegistryRestrictedTransfer`) when the calling token may not move
    /// `amount` from `from` to `to` (zero for a burn) under the rules.
    function checkTransfer(address from, address to, uint256 amount) external view;

    /// @notice Reverts (with `ProviderRegistryAccountBound`) when the calling token may not move `amount`
    /// from `from` (zero for a mint) into `to`, an account restricted by a fund program: such an account
    /// takes money only from its own program (the fund ledger disbursing for it, or the claim program that
    /// marked it) and from providers giving back a payment, so the program's end takes back nothing else.
    function checkReceipt(address from, address to, uint256 amount) external view;

    /// @notice Reverts unless the calling token may move the whole balances of `accounts` to `program`
    /// because their aid expired: `program` is the claim program that marked each of them, it has expired,
    /// and its fund program is still restricted (money a loosened, cash program paid is its holder's).
    function checkReclaim(address program, address[] calldata accounts) external view;

    /// @notice Reverts unless the calling token may move what `accounts` hold to `caller` because fund
    /// program `fundProgramId` ended: `caller` is the fund ledger (which checks the end), the program is
    /// still restricted, and its NGO marked every one of the accounts for it (`restrictAccounts`; accounts a
    /// claim program marked expire with that claim program).
    function checkSweep(address caller, uint48 fundProgramId, address[] calldata accounts) external view;
}

/// @title Allmende provider registry
/// @notice Accepted providers (Akzeptanzstellen: shops, clubs, services) and how programs' aid
/// may be used. An NGO (or the admin) admits a provider's account with a set of categories
/// (a bitmask: bit i is the i-th category of the gateway's published, append-only list) and may
/// suspend it; only the NGO that admitted a provider, or the admin, changes it afterwards.
/// A program's NGO sets the program's rule: zero categories is "cash" (free to use and to pay
/// out), anything else is "restricted to these categories". A claim program opened while its fund
/// program is restricted marks every account it pays (`markRecipient`); before a direct disbursement
/// the NGO marks the accounts itself (`restrictAccounts`). A marked account may send only to admitted
/// providers with one of the program's categories: not to another account, not to a suspended
/// provider, not to a bank pay-out (a burn). The rule is read when the money moves, so loosening a
/// program to cash frees its accounts at once. When a claim program that marked accounts expires while
/// its fund program is still restricted, the token moves what those accounts still hold back to that claim
/// program (`checkReclaim`), which returns it to the lots it came from; a fund program with an end
/// sweeps the accounts its NGO marked (`checkSweep`). A marked account takes money only from its own
/// program (the fund ledger paying for it, the claim program that marked it) and from providers giving a
/// payment back (`checkReceipt`), so an end takes back no other program's money. Restricted accounts
/// are plain accounts, never contracts (a contract could pass marked money on). The token keeps each
/// account's mark next to its balance and asks only for marked accounts, so money between unmarked
/// accounts costs no call. Nothing here names a person: accounts are pseudonymous, a provider's name
/// and address are public and kept off chain behind `metadataHash`.
interface IProviderRegistry is ITransferRules {
    /// @notice A provider's state.
    enum ProviderStatus {
        None,
        Admitted,
        Suspended
    }

    /// @notice One provider: its categories, state and the NGO that admitted it.
    struct Provider {
        address ngo;
        uint64 categories;
        ProviderStatus status;
    }

    /// @notice How one account's money in one token is restricted, in one slot: the fund program whose
    /// rule applies and the claim program that marked it (zero when the program's NGO marked it before a
    /// direct disbursement; such money does not expire yet).
    struct Restriction {
        uint48 fundProgramId;
        address markedBy;
    }

    /// @notice A claim program that marked a recipient: its fund program and token.
    struct Source {
        uint48 fundProgramId;
        address token;
    }

    /// @notice `ngo` admitted (or re-admitted) `provider` for `categories`; its public record hashes to `metadataHash`.
    event ProviderAdmitted(address indexed provider, address indexed ngo, uint64 categories, bytes32 metadataHash);
    /// @notice `by` suspended `provider`; the reason kept off chain hashes to `reasonHash`.
    event ProviderSuspended(address indexed provider, address indexed by, bytes32 reasonHash);
    /// @notice The NGO of fund program `fundProgramId` set its rule: `categories` zero is cash.
    event ProgramRuleSet(uint48 indexed fundProgramId, uint64 categories);
    /// @notice Claim program `claimProgramId` at `program` marked its first recipient: it pays for fund
    /// program `fundProgramId` in `token`, and the accounts it pays are restricted by that program's rule.
    event ClaimProgramRecognised(
        uint48 indexed claimProgramId, address indexed program, uint48 indexed fundProgramId, address token
    );
    /// @notice `account`'s money in `token` may be used only as fund program `fundProgramId`'s rule says.
    event AccountRestricted(address indexed token, address indexed account, uint48 indexed fundProgramId);

    /// @notice A zero address was given for a provider or an account.
    error ProviderRegistryZeroAccount();
    /// @notice A provider needs at least one category.
    error ProviderRegistryNoCategories();
    /// @notice `account` is neither the NGO that admitted `provider` nor an admin.
    error ProviderRegistryNotProviderNgo(address provider, address account);
    /// @notice `provider` is not admitted (it is unknown or suspended).
    error ProviderRegistryNotAdmitted(address provider);
    /// @notice `account` does not run fund program `fundProgramId`.
    error ProviderRegistryNotProgramNgo(uint48 fundProgramId, address account);
    /// @notice `account` may pay only admitted providers of `categories` (fund program `fundProgramId`).
    /// @dev `to` is not one: another account, a suspended provider, another category, or a burn (zero).
    error ProviderRegistryRestrictedTransfer(address account, address to, uint48 fundProgramId, uint64 categories);
    /// @notice `account` is not fresh: restricted by program `current` already, or holding `balance`.
    /// @dev Marking it for `fundProgramId` would restrict money it holds against its holder's will.
    error ProviderRegistryAccountNotFresh(address account, uint48 fundProgramId, uint48 current, uint256 balance);
    /// @notice A provider's account is never restricted: `account` is one.
    error ProviderRegistryAccountIsProvider(address account);
    /// @notice Only plain accounts are restricted: `account` holds code.
    error ProviderRegistryAccountIsContract(address account);
    /// @notice `caller` is not a claim program of the claim-program registry.
    error ProviderRegistryNotClaimProgram(address caller);
    /// @notice `account` was marked by `markedBy` (zero: its NGO, or nobody), not by claim program `program`.
    /// @dev So `program` cannot take its money back at its expiry.
    error ProviderRegistryNotMarkedBy(address account, address program, address markedBy);
    /// @notice Claim program `program` runs until `expiry`: what its clients hold is theirs until then.
    error ProviderRegistryNotExpired(address program, uint48 expiry);
    /// @notice Fund program `fundProgramId` is cash (now): its clients' money is free and does not expire.
    error ProviderRegistryProgramIsCash(uint48 fundProgramId);
    /// @notice Only the fund ledger may sweep ended programs' accounts; `caller` asked.
    error ProviderRegistryNotFundLedger(address caller);
    /// @notice `account` takes money only from fund program `fundProgramId`, not from `from`.
    /// @dev Besides its program, providers may give a payment back; `from` zero is a mint.
    error ProviderRegistryAccountBound(address account, uint48 fundProgramId, address from);
    /// @notice `account` is not marked for fund program `fundProgramId` by its NGO.
    error ProviderRegistryNotSweepable(address account, uint48 fundProgramId, uint48 restrictedBy, address markedBy);

    /// @notice Admits `provider` for `categories`, or re-admits a suspended one (new categories and record).
    /// An NGO or the admin; once admitted, only the same NGO or the admin.
    /// @param provider The provider's account (it receives clients' payments).
    /// @param categories Bitmask of the categories it serves (bit i = category i of the published list).
    /// @param metadataHash Hash of its public record (name, address), kept off chain.
    function admitProvider(address provider, uint64 categories, bytes32 metadataHash) external;

    /// @notice Suspends `provider`: restricted accounts can no longer pay it. The NGO that admitted it or the admin.
    /// @param reasonHash Hash of the reason kept off chain.
    function suspendProvider(address provider, bytes32 reasonHash) external;

    /// @notice Sets how fund program `fundProgramId`'s aid may be used: `categories` zero is cash,
    /// otherwise restricted to providers of one of these categories. The program's NGO only.
    function setProgramRule(uint48 fundProgramId, uint64 categories) external;

    /// @notice Marks `recipient` restricted by the calling claim program's fund program, before the claim
    /// program pays it. Claim programs only (checked against the claim-program registry); a provider is
    /// left unmarked, an account restricted by another program or holding money is refused.
    function markRecipient(address recipient) external;

    /// @notice Marks `accounts` restricted by fund program `fundProgramId` in its token, before the NGO
    /// disburses to them directly. The program's NGO only; each account must be fresh (no balance and
    /// unmarked, or marked by this program already), a plain account and not a provider.
    function restrictAccounts(uint48 fundProgramId, address[] calldata accounts) external;

    /// @notice `provider`'s record (status `None` when unknown).
    function provider(address provider) external view returns (Provider memory);

    /// @notice Fund program `fundProgramId`'s categories (zero: cash).
    function programRule(uint48 fundProgramId) external view returns (uint64);

    /// @notice The fund program restricting `account`'s money in `token` (zero: none).
    function restrictionOf(address token, address account) external view returns (uint48);

    /// @notice How `account`'s money in `token` is restricted: fund program and marking claim program.
    function restriction(address token, address account) external view returns (Restriction memory);

    /// @notice The fund program and token of a claim program that has marked recipients (zero before).
    function sourceOf(address program) external view returns (Source memory);

    /// @notice Whether `from` may send money in `token` to `to` under the rules.
    function mayPay(address token, address from, address to) external view returns (bool);
}
