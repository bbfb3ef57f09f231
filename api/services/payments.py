"""Paying at the counter (an der Kasse): a provider's cashier asks for an amount, the client confirms,
the money moves from the client's pseudonymous accounts to the provider's account. No HTTP here.

A cashier (a person of a provider organisation with the `cashier` or `admin` role, or the provider's
API key) creates a payment request; it gets a short code. The client confirms it either on the
counter device with voucher code + PIN (the same attempt limits as signing in) or signed in on their
own phone. The legs come from `governance.payments.plan_payment` over the client's accounts that may
pay this provider now (the registry's `mayPay`): restricted accounts of matching categories first,
then cash. All legs are queued together (`Engine.execute_together`), so they travel in one relayed
batch where the relayer lanes allow. The provider can refund a paid payment: the same amounts go
back to the accounts they came from.

Invariants and crash safety:
- a payment is paid at most once: its status moves open -> paying -> paid (-> refunded) under a
  lock per payment, and the planned legs are stored before anything is sent; a confirmation after a
  crash or a failure resumes the stored legs, and each leg is journalled under its own request key
  (`pay:<payment>:<leg>`), so a leg the chain executed is found instead of sent again. Refund legs
  likewise (`refund:<payment>:<leg>`);
- no client id is stored with a payment: a client's payments are found from their own accounts,
  which only their secret derives (erasing the client makes them unlinkable);
- the chain decides: the token's transfer hook refuses restricted money to anyone else, and a
  suspended provider, before the gateway would.
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from eth_account import Account
from eth_account.signers.local import LocalAccount
from sqlalchemy import delete, select

from api.engine import Engine, SignedCall
from api.errors import Forbidden, GatewayError, Invalid, NotFound, Unavailable
from api.models import Payment, PaymentLeg, ProviderRecord
from api.principals import Principal
from api.services.claims import ClaimsService
from api.services.clients import Clients, ClientSession
from governance.payments import NotEnoughBalance, Source, plan_payment
from governance.pseudonyms import Purpose, pseudonym_key
from governance.vouchers import ALPHABET, ProgramRef, program_index
from ledger.providers import ProviderStatus

CODE_LENGTH = 8
MAX_AMOUNT = 10_000 * 10**6  # 10,000 euros: a counter takes no more in one payment
MICRO = 10**6
_TRANSFER = "EuroToken.transfer"  # the journal's kind of a leg


class PaymentConflict(GatewayError):
    """The payment cannot be made or refunded in its state, or the client's money does not allow it."""


@dataclass(frozen=True)
class PaymentView:
    """A payment as the cashier and the client see it."""

    code: str
    provider_id: str
    provider_name: str
    amount: int
    note: str
    status: str
    created_at: datetime
    paid_at: datetime | None
    refunded_at: datetime | None
    legs: list[dict[str, Any]]


@dataclass(frozen=True)
class DayHistory:
    """A provider's payments paid on one local day (the operator's time zone) and their total
    (refunded ones are listed, not counted)."""

    day: date
    payments: list[PaymentView]
    total: int


def day_bounds(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """Local midnight of `day` and of the next day in `zone`, as naive UTC (how times are stored)."""
    start = datetime.combine(day, time.min, zone).astimezone(UTC).replace(tzinfo=None)
    end = datetime.combine(day + timedelta(days=1), time.min, zone).astimezone(UTC).replace(tzinfo=None)
    return start, end


def _euros(units: int) -> str:
    return f"{units // MICRO}.{units % MICRO:06d}"


def new_code() -> str:
    """A short payment code from the voucher alphabet (no look-alike symbols)."""
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


class PaymentService:
    """Payment requests, confirmations, refunds and histories, over one engine."""

    def __init__(self, engine: Engine, clients: Clients, claims: ClaimsService) -> None:
        self.gw = engine
        self.clients = clients
        self.claims = claims
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def _lock(self, payment_id: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(payment_id, threading.Lock())

    # --- the cashier -------------------------------------------------------------------------

    def request(self, principal: Principal, amount: int, note: str) -> PaymentView:
        """A new payment request of the caller's provider; returns it with its code."""
        provider = self._provider(principal.organisation_id)
        if provider.status != "admitted":
            raise PaymentConflict("ProviderSuspended", "this provider is suspended and cannot take payments")
        if not 0 < amount <= MAX_AMOUNT:
            raise Invalid("InvalidAmount", f"the amount must be above 0 and at most {_euros(MAX_AMOUNT)}")
        for _ in range(5):
            code = new_code()
            with self.gw.db.session() as s:
                if s.scalar(select(Payment.id).where(Payment.code == code)) is None:
                    s.add(
                        Payment(
                            code=code,
                            provider_id=principal.organisation_id,
                            amount=amount,
                            note=note,
                            status="open",
                            requested_by=principal.person_id,
                        )
                    )
                    break
        else:  # pragma: no cover - 31^8 codes
            raise PaymentConflict("PaymentCodeTaken", "no free payment code; try again")
        return self.for_provider(principal, code)

    def for_provider(self, principal: Principal, code: str) -> PaymentView:
        """One of the caller's provider's payments; `UnknownPayment` for another provider's."""
        row = self._row(code)
        if row.provider_id != principal.organisation_id:
            raise NotFound("UnknownPayment", f"there is no payment {code}")
        return self._view(row)

    def pay_at_counter(
        self, principal: Principal, code: str, voucher_code: str, pin: str, source: str
    ) -> PaymentView:
        """The client confirms on the counter device with voucher code + PIN (counted like a sign-in)."""
        self.for_provider(principal, code)  # another provider's code is unknown here
        token, session = self.clients.sign_in(voucher_code, pin, source)
        try:
            return self.pay(session, code)
        finally:
            self.clients.sign_out(token)

    def today(self) -> date:
        """Today in the operator's time zone: the counter's day."""
        return datetime.now(self.gw.settings.zone).date()

    def history(self, principal: Principal, day: date) -> DayHistory:
        """The provider's payments paid on `day`, from local midnight to local midnight in the
        operator's time zone (a 23- or 25-hour day when the clocks change), newest first, with the
        day's total."""
        start, end = day_bounds(day, self.gw.settings.zone)
        with self.gw.db.session() as s:
            rows = s.scalars(
                select(Payment)
                .where(
                    Payment.provider_id == principal.organisation_id,
                    Payment.paid_at >= start,
                    Payment.paid_at < end,
                )
                .order_by(Payment.paid_at.desc())
            ).all()
            for r in rows:
                s.expunge(r)
        views = [self._view(r) for r in rows]
        return DayHistory(day, views, sum(v.amount for v in views if v.status == "paid"))

    def refund(self, principal: Principal, code: str) -> PaymentView:
        """Send a paid payment back to the accounts it came from. A payment left partly paid (a leg
        the chain refused after others went through) is refunded as far as it was paid, once none of
        its legs is still on its way. Refunding a refunded payment changes nothing; an open one is
        `PaymentNotPaid`, one whose confirmation is still being sent `PaymentInProgress`."""
        row = self._row(code)
        if row.provider_id != principal.organisation_id:
            raise NotFound("UnknownPayment", f"there is no payment {code}")
        with self._lock(row.id):
            row = self._row(code)
            if row.status == "refunded":
                return self._view(row)
            if row.status not in ("paid", "paying") or not row.legs:
                raise PaymentConflict(
                    "PaymentNotPaid", "only a paid payment can be refunded", paymentStatus=row.status
                )
            legs = list(enumerate(row.legs))
            if row.status == "paying":
                legs = self._paid_legs(row.id, row.legs)
            provider = self.gw.organisation_account(self.gw.organisation(row.provider_id))
            calls = [
                SignedCall(
                    provider,
                    self.gw.system.token.transfer_call(leg["account"], int(leg["amount"])),
                    request_key=f"refund:{row.id}:{i}",
                )
                for i, leg in legs
            ]
            self.gw.execute_together(f"org:{row.provider_id}", calls)
            self._set(row.id, status="refunded", refunded_at=datetime.now(UTC).replace(tzinfo=None))
        return self._view(self._row(code))

    def _paid_legs(self, payment_id: str, legs: list[dict[str, Any]]) -> list[tuple[int, dict[str, Any]]]:
        """The legs of a partly paid payment the chain executed; `PaymentInProgress` while any leg
        may still execute (its outcome is not known yet), so nothing is refunded that is not paid."""
        keyed = [(i, leg, f"pay:{payment_id}:{i}") for i, leg in enumerate(legs)]
        if any(self.gw.in_flight(key, leg["account"], _TRANSFER) for _, leg, key in keyed):
            raise PaymentConflict(
                "PaymentInProgress",
                "this payment is still being sent; try the refund again in a minute",
                paymentStatus="paying",
            )
        return [(i, leg) for i, leg, key in keyed if self.gw.executed(key, leg["account"], _TRANSFER)]

    # --- the client --------------------------------------------------------------------------

    def for_client(self, session: ClientSession, code: str) -> PaymentView:
        """A payment the client is about to confirm (any open one) or made (from their accounts)."""
        row = self._row(code)
        view = self._view(row)
        if row.status in ("open",):
            return view
        mine = {a.address for a in self._keys(session).values()}
        if not row.legs or not {leg["account"] for leg in row.legs} <= mine:
            raise NotFound("UnknownPayment", f"there is no payment {code}")
        return view

    def mine(self, session: ClientSession) -> list[PaymentView]:
        """The payments made from the client's accounts (their receipts), newest first."""
        mine = {a.address for a in self._keys(session).values()}
        with self.gw.db.session() as s:
            rows = s.scalars(
                select(Payment)
                .where(
                    Payment.id.in_(select(PaymentLeg.payment_id).where(PaymentLeg.account.in_(mine))),
                    Payment.status.in_(("paid", "refunded")),
                )
                .order_by(Payment.paid_at.desc())
            ).all()
            found = [r for r in rows if r.legs and {leg["account"] for leg in r.legs} <= mine]
            for r in found:
                s.expunge(r)
        return [self._view(r) for r in found]

    def pay(self, session: ClientSession, code: str) -> PaymentView:
        """Pay the payment from the signed-in client's accounts that may pay its provider."""
        row = self._row(code)
        with self._lock(row.id):
            row = self._row(code)
            if row.status in ("paid", "refunded"):
                raise PaymentConflict(
                    "PaymentAlreadyPaid", "this payment has been paid already", paymentStatus=row.status
                )
            keys = self._keys(session)
            by_address = {a.address: a for a in keys.values()}
            if row.status == "paying" and row.legs:  # resume what an earlier attempt planned
                if not {leg["account"] for leg in row.legs} <= by_address.keys():
                    raise PaymentConflict("PaymentInProgress", "another client is paying this payment")
                legs = row.legs
            else:
                legs = self._plan(row, keys)
                self._store_legs(row.id, legs)
            shop = self.gw.organisation(row.provider_id).address
            calls = [
                SignedCall(
                    by_address[leg["account"]],
                    self.gw.system.token.transfer_call(shop, int(leg["amount"])),
                    request_key=f"pay:{row.id}:{i}",
                )
                for i, leg in enumerate(legs)
            ]
            try:
                self.gw.execute_together(
                    session.principal, calls, acting_for=session.client_id if session.assisted_by else None
                )
            except Unavailable:
                raise  # may have been executed after all: a retry resumes these legs
            except Exception:
                # refused on chain (typed): when no leg went through, the payment is open again and the
                # next confirmation plans afresh; otherwise it stays "paying" with its stored legs
                if not any(self.gw.executed(c.request_key or "", c.signer.address, _TRANSFER) for c in calls):
                    self._release_legs(row.id)
                raise
            self._set(row.id, status="paid", paid_at=datetime.now(UTC).replace(tzinfo=None))
        return self._view(self._row(code))

    def _plan(self, row: Payment, keys: dict[int | None, LocalAccount]) -> list[dict[str, Any]]:
        """The legs of a payment, or the precise refusal: provider suspended, aid expired, not enough."""
        system = self.gw.system
        provider_account = self.gw.organisation(row.provider_id).address
        if system.providers.provider(provider_account).status != ProviderStatus.ADMITTED:
            raise PaymentConflict("ProviderSuspended", "this provider is suspended and cannot take payments")
        token = system.token.address
        now = self.gw.chain.now()
        sources: list[Source] = []
        expired = 0
        for claim_program_id, account in keys.items():
            balance = system.balance(account.address)
            if balance == 0 or not system.providers.may_pay(token, account.address, provider_account):
                continue
            if claim_program_id is not None:
                expiry = system.claims.program(claim_program_id).info().expiry
                if 0 < expiry <= now:
                    expired += balance
                    continue
            fund_program = system.providers.restriction_of(token, account.address)
            restricted = fund_program != 0 and system.providers.program_rule(fund_program) != 0
            if (
                claim_program_id is None
                and restricted
                and 0 < system.funds.program(fund_program).ends_at <= now
            ):
                expired += balance  # paid directly by a restricted program that has ended: swept back soon
                continue
            sources.append(Source(account.address, balance, restricted))
        try:
            legs = plan_payment(row.amount, sources)
        except NotEnoughBalance as exc:
            if exc.available + expired >= row.amount:
                raise PaymentConflict(
                    "AidExpired", "the aid that could pay this has expired", expired=_euros(expired)
                ) from None
            raise PaymentConflict(
                "NotEnoughBalance",
                "your aid that may be used here does not cover this amount",
                needed=_euros(exc.needed),
                available=_euros(exc.available),
            ) from None
        return [{"account": leg.account, "amount": leg.amount, "restricted": leg.restricted} for leg in legs]

    def accounts(self, session: ClientSession) -> dict[int | None, LocalAccount]:
        """The client's accounts by claim program (None: the account disbursements go to)."""
        return self._keys(session)

    def _keys(self, session: ClientSession) -> dict[int | None, LocalAccount]:
        """The client's accounts by claim program (None: the account disbursements go to)."""
        out: dict[int | None, LocalAccount] = {
            None: Account.from_key(pseudonym_key(session.root, Purpose.ACCOUNT, 0))
        }
        for claim_program_id in sorted(set(self.claims.payout_addresses(session).values())):
            ref = ProgramRef(self.gw.chain.chain_id, self.gw.system.claims.address, claim_program_id)
            out[claim_program_id] = Account.from_key(
                pseudonym_key(session.root, Purpose.PAYOUT, program_index(ref))
            )
        return out

    # --- rows ----------------------------------------------------------------------------------

    def _provider(self, provider_id: str) -> ProviderRecord:
        with self.gw.db.session() as s:
            row = s.get(ProviderRecord, provider_id)
            if row is None:
                raise Forbidden("NotAProvider", "only an admitted provider takes payments")
            s.expunge(row)
        return row

    def _row(self, code: str) -> Payment:
        with self.gw.db.session() as s:
            row = s.scalar(select(Payment).where(Payment.code == code.strip().upper()))
            if row is None:
                raise NotFound("UnknownPayment", f"there is no payment {code}")
            s.expunge(row)
        return row

    def _store_legs(self, payment_id: str, legs: list[dict[str, Any]]) -> None:
        """The planned legs and their accounts' index, with the status "paying", in one transaction."""
        with self.gw.db.session() as s:
            row = s.get(Payment, payment_id)
            assert row is not None
            row.status, row.legs = "paying", legs
            s.add_all(
                PaymentLeg(payment_id=payment_id, leg_index=i, account=leg["account"])
                for i, leg in enumerate(legs)
            )

    def _release_legs(self, payment_id: str) -> None:
        """Forget planned legs none of which was executed: the payment is open again."""
        with self.gw.db.session() as s:
            row = s.get(Payment, payment_id)
            assert row is not None
            row.status, row.legs = "open", None
            s.execute(delete(PaymentLeg).where(PaymentLeg.payment_id == payment_id))

    def _set(self, payment_id: str, **values: Any) -> None:
        with self.gw.db.session() as s:
            row = s.get(Payment, payment_id)
            assert row is not None
            for name, value in values.items():
                setattr(row, name, value)

    def _view(self, row: Payment) -> PaymentView:
        provider = self._provider(row.provider_id)
        return PaymentView(
            code=row.code,
            provider_id=row.provider_id,
            provider_name=provider.name,
            amount=row.amount,
            note=row.note,
            status=row.status,
            created_at=row.created_at,
            paid_at=row.paid_at,
            refunded_at=row.refunded_at,
            legs=list(row.legs or []),
        )
