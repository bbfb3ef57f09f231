"""The checks: each kind of record recomputed from events and sources, and compared with the chain."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

from eth_utils import to_checksum_address

from api.verification.records import Records
from api.verification.report import Report, Section
from governance.lineage import UNFUNDED, build_lineage
from governance.merkle import hash_pair
from governance.qv_verify import verify_rounds
from ledger.chain_reading import immutable_values, mask_immutables
from ledger.compiler import ReferenceCode
from ledger.events import Event
from ledger.fund_events import rebuild_fund_state, refunds, replay_consent, trace_payments
from ledger.roles import Role

ZERO = "0x" + "00" * 20
WIRED = (
    "EuroToken",
    "FundLedger",
    "ClaimPrograms",
    "ParticipatoryBudget",
    "AuditAttestations",
    "ProviderRegistry",
    "Payouts",
)
"""The contracts that hold the role registry's and the forwarder's addresses as immutables."""


def verify(records: Records, build: Mapping[str, ReferenceCode]) -> Report:
    """Every check over `records`, against the reproducible `build` of the committed sources."""
    report = Report(records.chain_id, records.block_number, records.block_hash, len(records.events))
    report.sections = [
        check_code(records, build),
        check_roles(records),
        check_funds(records),
        check_rounds(records),
        check_claims(records),
        check_token(records),
        check_providers(records),
        check_lineage(records),
        check_payouts(records),
    ]
    return report


def _exact_match(on_chain: bytes, reference: ReferenceCode) -> bool:
    """Sourcify's exact match: equal byte for byte, metadata hash included, immutables masked."""
    if len(on_chain) != len(reference.runtime):
        return False
    return mask_immutables(on_chain, reference.immutables) == mask_immutables(
        reference.runtime, reference.immutables
    )


def check_code(records: Records, build: Mapping[str, ReferenceCode]) -> Section:
    """The code at every book address (and every claim program) is the build of the sources."""
    section = Section("Deployed code")
    for name, deployment in sorted(records.book.contracts.items()):
        reference = build.get(name)
        code = records.code.get(deployment.address, b"")
        if reference is None:
            section.add(f"{name} at {deployment.address}", False, "the sources build no such contract")
            continue
        same = _exact_match(code, reference)
        section.add(
            f"{name} at {deployment.address}",
            same,
            "exact match (metadata hash included, immutables masked)"
            if same
            else f"{len(code)} bytes of code, not the build of the sources ({len(reference.runtime)} bytes)",
        )
        if same and name in WIRED:
            values = {
                to_checksum_address(v[12:])
                for v in immutable_values(code, reference.immutables).values()
                if not any(v[:12])
            }
            wanted = {records.book.address("AllmendeRoles"), records.book.address("AllmendeForwarder")}
            section.add(
                f"{name} trusts the book's role registry and forwarder",
                wanted <= values,
                "" if wanted <= values else f"missing {sorted(wanted - values)}",
            )
    claim_reference = build.get("ClaimProgram")
    for e in records.events:
        if e.name != "ClaimProgramCreated":
            continue
        address = e.args["program"]
        same = claim_reference is not None and _exact_match(records.code.get(address, b""), claim_reference)
        section.add(
            f"claim program {e.args['claimProgramId']} at {address}",
            same,
            "exact match" if same else "not the build of the sources",
        )
    return section


def check_roles(records: Records) -> Section:
    """Role holders rebuilt from the registry's events agree with its views and with the book."""
    section = Section("Roles")
    by_id = {r.id: r for r in Role}
    registry = records.book.address("AllmendeRoles")
    holders: dict[str, set[str]] = {r.name: set() for r in Role}
    for e in records.events:
        if e.address != registry or e.name not in ("RoleGranted", "RoleRevoked"):
            continue
        role = by_id.get(bytes(e.args["role"]))
        if role is None:
            section.add(f"role 0x{bytes(e.args['role']).hex()}", False, "a role the system does not know")
            continue
        if e.name == "RoleGranted":
            holders[role.name].add(e.args["account"])
        else:
            holders[role.name].discard(e.args["account"])
    disagree = [
        f"{name} {account}: events {account in holders[name]}, view {held}"
        for (name, account), held in sorted(records.has_role.items())
        if held != (account in holders[name])
    ]
    section.add(
        "every role holder the events give is one the registry reports", not disagree, "; ".join(disagree)
    )
    budget = records.book.address("ParticipatoryBudget")
    section.add("the participatory budget may allocate", budget in holders["ALLOCATOR"], budget)
    for name, named in sorted(records.book_roles.items()):
        wanted = {to_checksum_address(a) for a in named}
        found = holders.get(name.upper().removesuffix("_ROLE"), set())
        section.add(
            f"{name} holders are as the book says",
            wanted == found,
            "" if wanted == found else f"book {sorted(wanted)}, chain {sorted(found)}",
        )
    for name, accounts in holders.items():
        section.figures[f"{name} holders"] = len(accounts) * 1_000_000
    return section


def check_funds(records: Records) -> Section:
    """The fund ledger rebuilt from events equals its views, and every euro of every lot is placed."""
    section = Section("Fund ledger")
    rebuilt = rebuild_fund_state(records.events)
    section.add("state rebuilt from events equals the contract's views", rebuilt == records.fund_state)
    consent = replay_consent(records.events).differences(records.consent_views)
    section.add(
        "money moved and tranches decided only with the funders' consent, as the consent views say",
        not consent,
        "; ".join(consent[:5]),
    )
    payments = trace_payments(records.events)
    untraced = [
        f"batch {p.batch_id} to {p.recipient}"
        for p in payments
        if sum(s.amount for s in p.sources) != p.amount - p.returned
    ]
    section.add("every payment is paid by lots, euro for euro", not untraced, "; ".join(untraced[:5]))
    deposited = sum(lot.amount for lot in records.fund_state.lots.values())
    paid = sum(s.amount for p in payments for s in p.sources)
    refunded = sum(r.amount for r in refunds(records.events))
    held = deposited - paid - refunded
    section.add(
        "deposited = paid out + refunded + still in the fund ledger",
        held == records.fund_ledger_balance,
        f"{deposited} - {paid} - {refunded} = {held}; the fund ledger holds {records.fund_ledger_balance}",
    )
    section.figures = {
        "deposited": deposited,
        "paid out": paid,
        "refunded": refunded,
        "held": records.fund_ledger_balance,
    }
    receivers = {e.args["program"] for e in records.events if e.name == "ClaimProgramCreated"}
    for program_id, program in sorted(records.fund_state.programs.items()):
        mine = [p for p in payments if p.program_id == program_id]
        direct = [p for p in mine if p.recipient not in receivers]
        to_receivers = sum(p.amount for p in mine if p.recipient in receivers)
        returned = sum(p.returned for p in mine)
        to_people = sum(p.amount for p in direct)
        section.add(
            f"program {program_id}: disbursed = paid to recipients + paid to claim programs",
            program.disbursed == to_people + to_receivers,
            f"{_eur(program.disbursed)} = {_eur(to_people)} to {len(direct)} recipients + "
            f"{_eur(to_receivers)} to claim programs, of which {_eur(returned)} came back unclaimed",
        )
    return section


def _eur(micro: int) -> str:
    return f"{micro / 1_000_000:,.2f} €"


def check_rounds(records: Records) -> Section:
    """Every budget round recomputed from its events; the contract's winners are the recomputed ones."""
    section = Section("Participatory budget rounds")
    audit = verify_rounds(records.events)
    section.add(
        "ballots, tallies, winners and payouts recomputed from events agree",
        audit.ok,
        "; ".join(audit.mismatches),
    )
    for rid, stored in sorted(records.round_winners.items()):
        round_audit = audit.rounds.get(rid)
        recomputed = list(round_audit.winners) if round_audit is not None and round_audit.finalised else []
        section.add(
            f"round {rid}: stored winners are the recomputed ones",
            stored == recomputed,
            f"stored {stored}, recomputed {recomputed}",
        )
    for rid, round_audit in sorted(audit.rounds.items()):
        section.figures[f"round {rid} awarded"] = round_audit.allocated
    return section


def _root_of_cap(cap: list[bytes]) -> bytes:
    level = [bytes(node) for node in cap]
    while len(level) > 1:
        level = [hash_pair(level[i], level[i + 1]) for i in range(0, len(level), 2)]
    return level[0]


def check_claims(records: Records) -> Section:
    """Per claim program: funded + reclaimed = claimed + returned + held (reclaimed: restricted aid its
    recipients had not spent by its expiry, taken back), each index once, every cap its root."""
    section = Section("Claim programs")
    created = sorted(
        (int(e.args["claimProgramId"]), e.args["program"])
        for e in records.events
        if e.name == "ClaimProgramCreated"
    )
    section.add(
        "the registry lists exactly the programs its events created",
        [a for _, a in created] == records.claim_program_view,
        f"events {[a for _, a in created]}, view {records.claim_program_view}",
    )
    for program_id, address in created:
        mine: list[Event] = [e for e in records.events if e.address == address]
        view = records.claim_programs.get(address)
        if view is None:
            section.add(f"claim program {program_id}", False, "no views read")
            continue
        funded = sum(int(e.args["amount"]) for e in mine if e.name == "ClaimProgramFunded")
        returned = sum(int(e.args["amount"]) for e in mine if e.name == "UnclaimedReturned")
        claims = [e for e in mine if e.name == "Claimed"]
        claimed = sum(int(e.args["amount"]) for e in claims)
        reclaimed = sum(int(e.args["amount"]) for e in mine if e.name == "ExpiredAidReclaimed")
        section.add(
            f"claim program {program_id}: funded + reclaimed = claimed + returned + held",
            funded == view.info.funded
            and returned == view.info.returned
            and funded + reclaimed == claimed + returned + view.balance,
            f"funded {funded} (view {view.info.funded}), reclaimed {reclaimed}, claimed {claimed}, "
            f"returned {returned} (view {view.info.returned}), held {view.balance}",
        )
        twice = [i for i, n in Counter(int(e.args["index"]) for e in claims).items() if n > 1]
        unmarked = [i for i, marked in view.claimed.items() if not marked]
        section.add(
            f"claim program {program_id}: no index claimed twice, every claim marked",
            not twice and not unmarked,
            f"twice {twice}, unmarked {unmarked}",
        )
        for e in mine:
            if e.name != "ClaimRootAdded":
                continue
            rid, root, cap = int(e.args["rootId"]), bytes(e.args["root"]), list(e.args["cap"])
            ok = bool(cap) and _root_of_cap(cap) == root and view.roots.get(rid) == root
            section.add(
                f"claim program {program_id}: root {rid} is its published cap's root", ok, "0x" + root.hex()
            )
        section.figures[f"program {program_id} claimed"] = claimed
        section.figures[f"program {program_id} returned"] = returned
        section.figures[f"program {program_id} held"] = view.balance
    return section


def check_token(records: Records) -> Section:
    """minted - burned = total supply = the sum of the balances the Transfer events give."""
    section = Section("Euro token")
    token = records.book.address("EuroToken")
    balances: Counter[str] = Counter()
    minted = burned = 0
    for e in records.events:
        if e.address != token or e.name != "Transfer":
            continue
        source, target, value = e.args["from"], e.args["to"], int(e.args["value"])
        if source == ZERO:
            minted += value
        else:
            balances[source] -= value
        if target == ZERO:
            burned += value
        else:
            balances[target] += value
    mint_events = sum(
        int(e.args["amount"]) for e in records.events if e.address == token and e.name == "Minted"
    )
    section.add(
        "every mint is a treasurer's Minted against fiat",
        mint_events == minted,
        f"Minted {mint_events}, from zero {minted}",
    )
    section.add(
        "minted - burned = total supply",
        minted - burned == records.total_supply,
        f"{minted} - {burned} vs {records.total_supply}",
    )
    section.add("total supply = sum of balances from events", sum(balances.values()) == records.total_supply)
    differ = [
        f"{a}: events {balances[a]}, balanceOf {b}" for a, b in records.balances.items() if balances[a] != b
    ]
    section.add("every balance from events is the contract's balanceOf", not differ, "; ".join(differ[:5]))
    section.figures = {"minted": minted, "burned": burned, "total supply": records.total_supply}
    return section


class _RegistryReplay:
    """The provider registry's state rebuilt event by event: providers, programs' rules, marked accounts."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.providers: dict[str, tuple[int, bool]] = {}  # account -> (categories, admitted)
        self.rules: dict[int, int] = {}
        self.restricted: dict[str, int] = {}

    def apply(self, e: Event) -> None:
        if e.name == "ProviderAdmitted":
            self.providers[e.args["provider"]] = (int(e.args["categories"]), True)
        elif e.name == "ProviderSuspended":
            self.providers[e.args["provider"]] = (self.providers[e.args["provider"]][0], False)
        elif e.name == "ProgramRuleSet":
            self.rules[int(e.args["fundProgramId"])] = int(e.args["categories"])
        elif e.name == "AccountRestricted" and e.args["token"] == self.token:
            self.restricted[e.args["account"]] = int(e.args["fundProgramId"])

    def rule_of(self, account: str) -> int:
        """The categories `account`'s money is restricted to now (0: free)."""
        program = self.restricted.get(account)
        return 0 if program is None else self.rules.get(program, 0)

    def accepts(self, provider: str, rule: int) -> bool:
        """Whether `provider` is admitted now for one of `rule`'s categories."""
        categories, admitted = self.providers.get(provider, (0, False))
        return admitted and categories & rule != 0


def check_providers(records: Records) -> Section:
    """The euro token asks the book's provider registry, and restricted money, replayed from the events,
    went only to providers admitted at that moment for one of its program's categories at that moment."""
    section = Section("Providers and restricted aid")
    if "ProviderRegistry" not in records.book.contracts:  # a book from before providers
        return section
    registry, token = records.book.address("ProviderRegistry"), records.book.address("EuroToken")
    bound = [e.args["rules"] for e in records.events if e.address == token and e.name == "TransferRulesSet"]
    section.add("the euro token asks the book's provider registry", bound == [registry], f"bound to {bound}")
    replay = _RegistryReplay(token)
    # Restricted aid not spent by its claim program's expiry goes back to that claim program (which paid
    # the account): a token transfer matched by the program's `ExpiredAidReclaimed` in the same
    # transaction. The contracts allow that move and no other, so it is no payment. Likewise money a
    # fund program paid directly goes back to the fund ledger after the program's end, matched by the
    # ledger's `ExpiredAidSwept` for an account restricted to that program.
    fund_ledger = records.book.address("FundLedger")
    paid_by, reclaims, swept = _expired_moves(records, fund_ledger)
    spent, went_back, wrong = 0, 0, []
    for e in records.events:
        if e.address == registry:
            replay.apply(e)
        elif e.address == token and e.name == "Transfer" and (rule := replay.rule_of(e.args["from"])):
            sender, to, value = e.args["from"], e.args["to"], int(e.args["value"])
            if (e.transaction_hash, sender, to, value) in reclaims and paid_by.get(sender) == to:
                went_back += value
                continue
            program = replay.restricted.get(sender)
            if to == fund_ledger and (e.transaction_hash, sender, program, value) in swept:
                went_back += value
                continue
            spent += value
            if not replay.accepts(to, rule):
                wrong.append(f"{e.transaction_hash}: {sender} -> {to}")
    section.add(
        "restricted money reached only admitted providers of its program's categories",
        not wrong,
        "; ".join(wrong[:5]),
    )
    section.figures = {
        "restricted money spent at providers": spent,
        "restricted money that expired and went back": went_back,
    }
    return section


def _expired_moves(
    records: Records, fund_ledger: str
) -> tuple[dict[str, str], set[tuple[str, str, str, int]], set[tuple[str, str, int, int]]]:
    """Who paid each claim program recipient first, every `ExpiredAidReclaimed` (transaction, account,
    program, amount) and every `ExpiredAidSwept` (transaction, account, fund program, amount)."""
    paid_by: dict[str, str] = {}
    reclaims: set[tuple[str, str, str, int]] = set()
    swept: set[tuple[str, str, int, int]] = set()
    for e in records.events:
        if e.contract == "ClaimProgram" and e.name == "Claimed":
            paid_by.setdefault(e.args["recipient"], e.address)
        elif e.contract == "ClaimProgram" and e.name == "ExpiredAidReclaimed":
            reclaims.add((e.transaction_hash, e.args["account"], e.address, int(e.args["amount"])))
        elif e.address == fund_ledger and e.name == "ExpiredAidSwept":
            swept.add(
                (e.transaction_hash, e.args["account"], int(e.args["programId"]), int(e.args["amount"]))
            )
    return paid_by, reclaims, swept


def check_lineage(records: Records) -> Section:
    """Every euro followed from the lot that paid it, first in first out per account, from events alone:
    what the lineage says each account holds is its balanceOf, and what the lots still hold is the fund
    ledger's balance."""
    section = Section("Lineage of every euro")
    book = records.book
    registry = book.address("ProviderRegistry") if "ProviderRegistry" in book.contracts else None
    lineage = build_lineage(records.events, book.address("EuroToken"), book.address("FundLedger"), registry)
    differ = lineage.differences(records.balances, records.fund_ledger_balance)
    section.add(
        "every account holds what the lineage traces to lots (balanceOf), the fund ledger what its lots hold",
        not differ,
        "; ".join(differ[:5]),
    )
    section.add(
        "every lot's euros are accounted for (credited = held + paid out + deposited)",
        lineage.model.conserved(),
    )
    lots = list(lineage.every_lot().values())
    section.figures = {
        "spent at providers from lots": sum(lot.spent_total for lot in lots),
        "paid out by providers from lots": sum(lot.paid_out_by_providers for lot in lots),
        "paid out to clients from lots": sum(lot.paid_out_to_others for lot in lots),
        "held by people from lots": sum(lot.held for lot in lots),
        "not from any lot (minted to an account)": sum(
            n for (lot, _), n in lineage.model.held().items() if lot == UNFUNDED
        ),
    }
    return section


def check_payouts(records: Records) -> Section:
    """Payouts replayed from the events: the payouts contract holds what was asked for and not yet sent,
    every batch sent burned its total exactly once under the bank's reference, and no payout was paid
    in two sent batches."""
    section = Section("Payouts in euros")
    if "Payouts" not in records.book.contracts:  # a book from before payouts
        return section
    payouts, token = records.book.address("Payouts"), records.book.address("EuroToken")
    requested: dict[int, int] = {}
    totals: dict[int, int] = {}
    sent: list[tuple[int, bytes, int]] = []
    for e in records.events:
        if e.address != payouts:
            continue
        if e.name == "PayoutRequested":
            requested[int(e.args["payoutId"])] = int(e.args["amount"])
        elif e.name == "BatchCreated":
            totals[int(e.args["batchId"])] = int(e.args["total"])
        elif e.name == "BatchSent":
            sent.append((int(e.args["batchId"]), bytes(e.args["bankReference"]), int(e.args["total"])))
    moves = [e for e in records.events if e.address == token and e.name == "Transfer"]
    held_in = sum(int(e.args["value"]) for e in moves if e.args["to"] == payouts)
    held_out = sum(int(e.args["value"]) for e in moves if e.args["from"] == payouts)
    burns = [
        (int(e.args["amount"]), bytes(e.args["payoutReference"]))
        for e in records.events
        if e.address == token and e.name == "Redeemed" and e.args["holder"] == payouts
    ]
    settled = sum(total for _, _, total in sent)
    section.add(
        "what the payouts contract took in is what payouts asked for",
        held_in == sum(requested.values()),
        f"took {held_in}, asked {sum(requested.values())}",
    )
    section.add(
        "each batch sent burned its total once, under the bank's reference",
        sorted(burns) == sorted((total, ref) for _, ref, total in sent) and held_out == settled,
        f"burned {held_out}, sent batches {settled}",
    )
    ids = [batch for batch, _, _ in sent]
    section.add("no batch was sent twice", len(ids) == len(set(ids)), f"sent {ids}")
    section.add(
        "every batch sent was created with that total",
        all(totals.get(batch) == total for batch, _, total in sent),
    )
    section.figures = {
        "asked to be paid out": sum(requested.values()),
        "paid out (burned)": settled,
        "held for payouts": held_in - held_out,
    }
    return section
