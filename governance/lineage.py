"""The lineage of every euro, rebuilt from the chain's events alone: which funders' lots paid for what
was bought at each provider, per category, and for what was paid out to bank accounts.

The fund ledger keeps its own account by lot; its replay (`ledger.fund_events`) says which lots paid
each disbursement (to a person or to a claim program), each refund to a funder, and which lots a claim
program's unclaimed rest went back to. Everywhere else the euro token's `Transfer` events move money
between plain accounts and contracts, and `governance.lineage_model` follows it first in, first out
per account: a claim pays the oldest money its program holds, a payment at a provider the oldest money
the client holds, a payout (a burn) the oldest money the provider or client holds. A provider's refund
to an account that paid it gives back the lots of that account's payments first (newest first), as
far as the provider still holds them, then its oldest money: a marked account holds only its program's
money, so what it gets back is its program's again and that program's end takes back its own lots.

Money the fund ledger sends out enters the lineage from the fund events, not from its `Transfer`s; the
two must agree per transaction and recipient (`unmatched_outflows`), and what the lineage says each
account holds must be its `balanceOf` (`Lineage.differences`). Money minted straight to an account
belongs to no lot (`UNFUNDED`). Only the euro token is followed; lots in other tokens are left out.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from governance.lineage_model import UNFUNDED, LineageModel, LineageShortfall
from ledger.events import Event
from ledger.exceptions import InconsistentEvents
from ledger.fund_events import FundReplay

ZERO = "0x" + "00" * 20

__all__ = ["UNFUNDED", "Lineage", "LotLineage", "build_lineage", "sweep_pool"]


@dataclass(frozen=True)
class LotLineage:
    """Where one lot's euros are now and where they went."""

    lot_id: int
    funder: str
    deposited: int
    in_fund_ledger: int  # not yet paid out of the fund ledger
    refunded: int  # sent back to the funder by the fund ledger
    in_claim_programs: int  # paid to claim programs, not yet claimed
    held: int  # held by people (clients, funders, anyone but providers and claim programs)
    held_by_providers: int  # at providers, not yet paid out
    spent: dict[tuple[str, int], int]  # (provider, its categories mask when paid) -> amount
    refunded_by_providers: int  # given back by providers (a refund at the counter)
    paid_out: dict[str, int]  # holder -> burned (paid out to a bank account)
    paid_out_by_providers: int
    paid_out_to_others: int
    deposited_again: int  # came back to its funder and went into the fund ledger again
    providers: frozenset[str]  # every account named here that is a provider

    @property
    def spent_total(self) -> int:
        """Everything this lot paid at providers."""
        return sum(self.spent.values())


@dataclass
class Lineage:
    """The lineage model after every event, with what the events say about the accounts in it."""

    model: LineageModel
    lots: dict[int, tuple[str, int]]  # lot -> (funder, deposited), euro token lots only
    pool: Counter[int]  # lot -> still in the fund ledger
    refunded: Counter[int]  # lot -> refunded to its funder
    providers: dict[str, int]  # provider -> categories mask (latest)
    receivers: set[str]  # claim programs (and other receiver contracts)
    fund_ledger: str
    spent: Counter[tuple[int, str, int]] = field(default_factory=Counter)  # (lot, provider, mask)
    problems: list[str] = field(default_factory=list)  # events the lineage could not follow
    _every_lot: dict[int, LotLineage] | None = field(default=None, repr=False, compare=False)

    def lot(self, lot_id: int) -> LotLineage:
        """Lot `lot_id`'s lineage (KeyError for a lot the events do not name)."""
        return self.every_lot()[lot_id]

    def every_lot(self) -> dict[int, LotLineage]:
        """Every lot's lineage, in one pass over the model (read once the lineage is built)."""
        if self._every_lot is not None:
            return self._every_lot
        held_by: dict[int, dict[str, int]] = {lot: {} for lot in self.lots}
        paid_out: dict[int, dict[str, int]] = {lot: {} for lot in self.lots}
        spent: dict[int, dict[tuple[str, int], int]] = {lot: {} for lot in self.lots}
        given_back, deposited_again = Counter[int](), Counter[int]()
        for (lot, account), n in self.model.held().items():
            held_by.get(lot, {})[account] = n
        for (lot, account), n in self.model.paid_out.items():
            paid_out.get(lot, {})[account] = n
        for (lot, provider, mask), n in self.spent.items():
            spent.get(lot, {})[(provider, mask)] = n
        for (lot, source, target), n in self.model.moved.items():
            if source in self.providers and target not in self.providers:
                given_back[lot] += n
        for (lot, account), n in self.model.debited.items():
            if account not in self.receivers:  # a receiver's return goes back to the lot itself
                deposited_again[lot] += n
        out = {}
        for lot_id, (funder, deposited) in self.lots.items():
            held, paid = held_by[lot_id], paid_out[lot_id]
            out[lot_id] = LotLineage(
                lot_id=lot_id,
                funder=funder,
                deposited=deposited,
                in_fund_ledger=self.pool[lot_id],
                refunded=self.refunded[lot_id],
                in_claim_programs=sum(n for a, n in held.items() if a in self.receivers),
                held=sum(n for a, n in held.items() if a not in self.receivers and a not in self.providers),
                held_by_providers=sum(n for a, n in held.items() if a in self.providers),
                spent=spent[lot_id],
                refunded_by_providers=given_back[lot_id],
                paid_out=paid,
                paid_out_by_providers=sum(n for a, n in paid.items() if a in self.providers),
                paid_out_to_others=sum(n for a, n in paid.items() if a not in self.providers),
                deposited_again=deposited_again[lot_id],
                providers=frozenset(a for a in (*held, *paid) if a in self.providers),
            )
        self._every_lot = out
        return out

    def differences(self, balances: Mapping[str, int], fund_ledger_balance: int) -> list[str]:
        """Where the lineage disagrees with the token's views: each account's `balanceOf` (`balances`,
        every account a Transfer names) and the fund ledger's balance; empty when all agree."""
        out = list(self.problems)
        accounts = set(balances) | set(self.model.queues)
        accounts.discard(self.fund_ledger)
        for account in sorted(accounts):
            traced, held = self.model.balance(account), balances.get(account, 0)
            if traced != held:
                out.append(f"{account}: the lineage traces {traced}, balanceOf says {held}")
        pooled = sum(self.pool.values())
        if pooled != fund_ledger_balance:
            out.append(f"fund ledger: the lots hold {pooled}, balanceOf says {fund_ledger_balance}")
        return out


class _Builder:
    def __init__(self, token: str, fund_ledger: str, registry: str | None) -> None:
        self.token, self.fund_ledger, self.registry = token, fund_ledger, registry
        self.funds = FundReplay()
        self.lineage = Lineage(LineageModel(), {}, Counter(), Counter(), {}, set(), fund_ledger)
        self.outflows: Counter[tuple[str, str]] = Counter()  # (transaction, recipient) by Transfer
        self.credits: Counter[tuple[str, str]] = Counter()  # (transaction, recipient) by fund events
        self.sweeping: Counter[tuple[str, str]] = Counter()  # (transaction, account) announced, not yet moved
        self.sweep_pools: dict[tuple[str, str], str] = {}  # (transaction, account) -> its program's pool
        self.restricted: dict[int, dict[str, None]] = {}  # fund program -> accounts marked for it, in order
        # (account, provider) -> lot -> what the account paid the provider and has not had back
        self.paid_to_providers: defaultdict[tuple[str, str], Counter[int]] = defaultdict(Counter)

    def apply(self, e: Event) -> None:
        try:
            if e.address == self.token and e.name == "Transfer":
                self._transfer(e)
            elif e.address == self.fund_ledger:
                self._fund_event(e)
            elif e.address == self.registry:
                self._registry_event(e)
        except (
            LineageShortfall,
            InconsistentEvents,
            KeyError,
            IndexError,
        ) as exc:  # a broken replay is reported
            self.lineage.problems.append(f"{e.transaction_hash} {e.name}: {exc}")

    def _registry_event(self, e: Event) -> None:
        if e.name == "ProviderAdmitted":
            self.lineage.providers[e.args["provider"]] = int(e.args["categories"])
        elif e.name == "AccountRestricted" and e.args["token"] == self.token:
            self.restricted.setdefault(int(e.args["fundProgramId"]), {})[e.args["account"]] = None

    def _transfer(self, e: Event) -> None:
        m, lineage = self.lineage.model, self.lineage
        source, target, value = e.args["from"], e.args["to"], int(e.args["value"])
        if source == self.fund_ledger:  # enters the lineage from the fund events
            self.outflows[(e.transaction_hash, target)] += value
        elif target == self.fund_ledger:
            key = (e.transaction_hash, source)
            if self.sweeping[key] >= value:  # swept after its program's end: the returns name its lots
                self.sweeping[key] -= value
                m.move(source, self.sweep_pools[key], value)
            elif source not in lineage.receivers:  # a deposit; a receiver's return names its lots
                m.debit(source, value)
        elif source == ZERO:
            m.credit(target, UNFUNDED, value)
        elif target == ZERO:
            m.burn(source, value)
        else:
            self._between_accounts(source, target, value)

    def _between_accounts(self, source: str, target: str, value: int) -> None:
        """A payment between two accounts; a provider's to an account that paid it gives back the lots of
        those payments first."""
        m, lineage = self.lineage.model, self.lineage
        if source in lineage.providers and target not in lineage.providers:
            owed = self.paid_to_providers[(target, source)]
            for lot, part in m.give_back(source, target, value, owed):
                owed[lot] -= min(owed[lot], part)
            return
        slices = m.move(source, target, value)
        mask = lineage.providers.get(target)
        if mask is not None and source not in lineage.providers:
            for lot, part in slices:
                lineage.spent[(lot, target, mask)] += part
                self.paid_to_providers[(source, target)][lot] += part

    def _credit(self, e: Event, account: str, lot: int, amount: int) -> None:
        if lot not in self.lineage.lots or not amount:
            return
        self.lineage.model.credit(account, lot, amount)
        self.lineage.pool[lot] -= amount
        self.credits[(e.transaction_hash, account)] += amount

    def _fund_event(self, e: Event) -> None:
        lineage, a = self.lineage, e.args
        traced = len(self.funds.traced)
        self.funds.apply(e)
        if e.name == "LotDeposited" and a["token"] == self.token:
            lineage.lots[a["lotId"]] = (a["funder"], int(a["amount"]))
            lineage.pool[a["lotId"]] += int(a["amount"])
        elif e.name == "ReceiverFunded":
            lineage.receivers.add(a["receiver"])
        elif e.name == "LotRefunded":
            self._credit(e, a["funder"], a["lotId"], int(a["amount"]))
            lineage.refunded[a["lotId"]] += int(a["amount"]) if a["lotId"] in lineage.lots else 0
        elif e.name == "ReservationReleased" and a["toFunder"]:
            self._refund(e, a["lotId"], int(a["amount"]))
        elif e.name == "ExpiredAidSwept":
            self._announce_sweep(e)
        elif e.name == "FundsReturned" and a["lotId"] in lineage.lots:
            self._returned(e)
        for payment in self.funds.traced[traced:]:  # a batch just completed: its payments, as paid
            for src in payment.sources:
                self._credit(e, payment.recipient, src.lot_id, src.amount)

    def _announce_sweep(self, e: Event) -> None:
        """`ExpiredAidSwept` comes before the token moves the money: it goes to the program's pool, whose
        returns (`FundsReturned` of the program's recorded disbursements) take back the lots they name."""
        pool = sweep_pool(int(e.args["programId"]))
        self.lineage.receivers.add(pool)
        self.sweeping[(e.transaction_hash, e.args["account"])] += int(e.args["amount"])
        self.sweep_pools[(e.transaction_hash, e.args["account"])] = pool

    def _returned(self, e: Event) -> None:
        """A receiver's return, or a sweep's, goes back to the lot `FundsReturned` names."""
        a = e.args
        batch = self.funds.state.receiver_batches.get(a["batchId"])
        receiver = batch.receiver if batch is not None else sweep_pool(int(a["programId"]))
        amount = int(a["amount"])
        if batch is None:
            self._cover(receiver, int(a["programId"]), a["lotId"], amount)
        self.lineage.model.take_back(receiver, a["lotId"], amount)
        self.lineage.pool[a["lotId"]] += amount
        if a["toFunder"]:
            self._refund(e, a["lotId"], amount)

    def _cover(self, pool: str, program: int, lot: int, amount: int) -> None:
        """The fund ledger credits a sweep to the program's draws last drawn first, not to the lots the
        swept accounts held first in first out: where the pool holds less of `lot` than comes back, the
        program's other marked accounts still holding `lot` swap it for the pool's other lots (balances
        and every lot's total stay; the program's restricted money is one pot at its end)."""
        m = self.lineage.model
        short = amount - sum(n for held, n in m.slices(pool) if held == lot)
        for account in self.restricted.get(program, {}):
            if short <= 0:
                return
            give = min(short, sum(n for held, n in m.slices(account) if held == lot))
            while give:
                others = [(held, n) for held, n in reversed(m.slices(pool)) if held != lot]
                if not others:
                    return
                other, n = others[0]
                part = min(give, n)
                m.relabel(pool, other, lot, part)
                m.relabel(account, lot, other, part)
                give, short = give - part, short - part

    def _refund(self, e: Event, lot: int, amount: int) -> None:
        if lot in self.lineage.lots:
            self._credit(e, self.lineage.lots[lot][0], lot, amount)
            self.lineage.refunded[lot] += amount

    def finish(self) -> Lineage:
        for key in sorted(set(self.outflows) | set(self.credits)):
            if self.outflows[key] != self.credits[key]:
                tx, recipient = key
                self.lineage.problems.append(
                    f"{tx}: the fund ledger sent {recipient} {self.outflows[key]}, "
                    f"its events account for {self.credits[key]}"
                )
        return self.lineage


def sweep_pool(program_id: int) -> str:
    """The lineage's name for the money swept back from fund program `program_id`'s accounts after its end,
    between the token's move and the fund ledger's returns (a holder like a claim program, not an account)."""
    return f"swept:{program_id}"


def build_lineage(
    events: Iterable[Event], token: str, fund_ledger: str, provider_registry: str | None = None
) -> Lineage:
    """The lineage of every euro of `token` from `events` (every Allmende event, in chain order)."""
    builder = _Builder(token, fund_ledger, provider_registry)
    for e in events:
        builder.apply(e)
    return builder.finish()
