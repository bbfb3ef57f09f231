"""Paying at providers' counters: the cashier asks, the client confirms (on the counter with voucher code
+ PIN, or signed in on their own phone), the provider sees its day and refunds."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, Field

from api.deps import CurrentClient, PaymentsDep, Provider
from api.schemas import NO_NUL, Euros, Strict, euros, micro
from api.services.payments import DayHistory, PaymentView

router = APIRouter(prefix="/v1", tags=["payments"])

PaymentCode = Annotated[
    str, Path(pattern=r"^[0-9A-Za-z]{8}$", description="A payment's code, as the counter shows it")
]


class PaymentCreate(Strict):
    amount: Euros
    note: Annotated[str, Field(max_length=200, pattern=NO_NUL)] = ""


class CounterConfirmation(Strict):
    voucherCode: Annotated[str, Field(min_length=1, max_length=40)]
    pin: Annotated[str, Field(min_length=1, max_length=16)]


class PaymentLeg(BaseModel):
    account: str
    amount: str
    restricted: bool


class PaymentPublic(BaseModel):
    code: str
    providerId: str
    providerName: str
    amount: str
    note: str
    status: str = Field(description="open, paying, paid or refunded")
    createdAt: datetime
    paidAt: datetime | None
    refundedAt: datetime | None
    legs: list[PaymentLeg] = Field(description="The transfers out of the client's accounts")


class CounterDay(BaseModel):
    day: date
    total: str = Field(description="What the payments of the day still paid (refunds left out)")
    payments: list[PaymentPublic]


def _public(view: PaymentView) -> PaymentPublic:
    return PaymentPublic(
        code=view.code,
        providerId=view.provider_id,
        providerName=view.provider_name,
        amount=euros(view.amount),
        note=view.note,
        status=view.status,
        createdAt=view.created_at,
        paidAt=view.paid_at,
        refundedAt=view.refunded_at,
        legs=[
            PaymentLeg(account=leg["account"], amount=euros(int(leg["amount"])), restricted=leg["restricted"])
            for leg in view.legs
        ],
    )


def _day(history: DayHistory) -> CounterDay:
    return CounterDay(
        day=history.day, total=euros(history.total), payments=[_public(v) for v in history.payments]
    )


@router.post("/provider/payments", status_code=201, response_model=PaymentPublic)
def request_payment(body: PaymentCreate, payments: PaymentsDep, principal: Provider) -> PaymentPublic:
    """Ask for a payment at the counter; the answer's code is what the client confirms."""
    return _public(payments.request(principal, micro(body.amount), body.note))


@router.get("/provider/payments", response_model=CounterDay)
def counter_day(
    payments: PaymentsDep, principal: Provider, day: Annotated[date | None, Query()] = None
) -> CounterDay:
    """The payments paid on one day of the operator's time zone (today by default) and their total."""
    return _day(payments.history(principal, day or payments.today()))


@router.get("/provider/payments/{code}", response_model=PaymentPublic)
def provider_payment(code: PaymentCode, payments: PaymentsDep, principal: Provider) -> PaymentPublic:
    """One of the provider's payments."""
    return _public(payments.for_provider(principal, code))


@router.post("/provider/payments/{code}/counter-confirmation", response_model=PaymentPublic)
def confirm_at_counter(
    code: PaymentCode, body: CounterConfirmation, request: Request, payments: PaymentsDep, principal: Provider
) -> PaymentPublic:
    """The client confirms on the counter device with voucher code and PIN."""
    source = request.client.host if request.client else "unknown"
    return _public(payments.pay_at_counter(principal, code, body.voucherCode, body.pin, source))


@router.post("/provider/payments/{code}/refund", response_model=PaymentPublic)
def refund_payment(code: PaymentCode, payments: PaymentsDep, principal: Provider) -> PaymentPublic:
    """Send a paid payment back to the client's accounts it came from."""
    return _public(payments.refund(principal, code))


@router.get("/client/payments", response_model=list[PaymentPublic])
def my_payments(payments: PaymentsDep, session: CurrentClient) -> list[PaymentPublic]:
    """What the signed-in client paid at providers (their receipts), newest first."""
    return [_public(v) for v in payments.mine(session)]


@router.get("/client/payments/{code}", response_model=PaymentPublic)
def client_payment(code: PaymentCode, payments: PaymentsDep, session: CurrentClient) -> PaymentPublic:
    """A payment to confirm (open) or one the client made."""
    return _public(payments.for_client(session, code))


@router.post("/client/payments/{code}", response_model=PaymentPublic)
def pay(code: PaymentCode, payments: PaymentsDep, session: CurrentClient) -> PaymentPublic:
    """Confirm and pay a payment from the signed-in client's aid."""
    return _public(payments.pay(session, code))
