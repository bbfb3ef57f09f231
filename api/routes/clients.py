"""NGOs register clients and hand out vouchers; clients sign in with voucher code + PIN."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Query, Request, Response
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import BaseModel, Field

from api.deps import ClaimsDep, ClientsDep, CurrentClient, GatewayDep, Ngo, bearer
from api.personal import Personal
from api.schemas import ClientMe, ClientRecord, ReceiptPublic, Strict, euros
from api.services.voucher_sheets import HeldSheet, SheetLabel, SheetLanguage, SheetRequest

router = APIRouter(prefix="/v1", tags=["clients"])

Pin = Annotated[str, Field(pattern=r"^[0-9]{4,8}$", description="4 to 8 digits")]


def sheet_request(
    voucherSheet: Annotated[
        bool,
        Query(
            description="Also hold the vouchers issued by this request as a printable PDF (cards to cut "
            "out, eight to an A4 page) for one download from `voucherSheet.href`, for a few minutes. "
            "The codes are not stored: the sheet can be fetched once, and only now."
        ),
    ] = False,
    sheetTitle: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=120,
            pattern=r"^[^\x00-\x1f\x7f]*$",
            description="Printed on every card (e.g. the program's name); default: your NGO's name",
        ),
    ] = None,
    sheetLabel: Annotated[
        SheetLabel,
        Query(description="`name` prints each client's name on their card; by default nothing personal"),
    ] = "none",
    sheetLanguage: Annotated[
        SheetLanguage,
        Query(description="The client's language: the cards' words in it next to German (default: German)"),
    ] = "de",
) -> SheetRequest | None:
    """What to print, when the NGO asks for a voucher sheet."""
    return SheetRequest(sheetTitle, sheetLabel, sheetLanguage) if voucherSheet else None


SheetDep = Annotated[SheetRequest | None, Depends(sheet_request)]


class VoucherSheetLink(BaseModel):
    sheetId: str
    href: str = Field(description="GET it once with your API key: the PDF of the voucher cards")
    cards: int
    expiresIn: int = Field(description="Seconds until the sheet is forgotten")


def _link(held: HeldSheet | None) -> VoucherSheetLink | None:
    if held is None:
        return None
    return VoucherSheetLink(
        sheetId=held.sheet_id,
        href=f"/v1/ngo/voucher-sheets/{held.sheet_id}",
        cards=held.cards,
        expiresIn=held.expires_in,
    )


class ClientCreate(Strict):
    personal: Personal
    pin: Pin | None = Field(default=None, description="Chosen by the client; omitted: one is issued")


class ClientCreated(BaseModel):
    clientId: str
    voucherCode: str = Field(description="Shown once: hand it to the client")
    recoveryCode: str = Field(description="Shown once: keep it in the client's paper file for PIN resets")
    pin: str | None = Field(description="The issued PIN, when none was chosen")
    account: str = Field(description="The client's pseudonymous account address")
    voucherSheet: VoucherSheetLink | None = Field(
        default=None, description="The printable voucher card, when asked for with `voucherSheet=true`"
    )


class SignIn(Strict):
    voucherCode: Annotated[str, Field(min_length=1, max_length=40)]
    pin: Annotated[str, Field(min_length=1, max_length=16)]


class SessionCreated(BaseModel):
    token: str
    clientId: str
    assistedBy: str | None
    assistedByPerson: str | None = None
    expiresIn: int


class AssistedSignIn(Strict):
    pin: Annotated[str, Field(min_length=1, max_length=16)]


class PinReset(Strict):
    recoveryCode: Annotated[str, Field(min_length=1, max_length=40)]
    newPin: Pin


class PinResetDone(BaseModel):
    voucherCode: str
    voucherSheet: VoucherSheetLink | None = Field(
        default=None, description="The printable voucher card, when asked for with `voucherSheet=true`"
    )


class ImportReport(BaseModel):
    created: list[dict[str, Any]] = Field(
        description="Row, clientId, voucherCode, recoveryCode, pin and account of each client created: "
        "shown once"
    )
    duplicates: list[dict[str, Any]]
    errors: list[dict[str, Any]]
    voucherSheet: VoucherSheetLink | None = Field(
        default=None,
        description="The printable voucher cards of the clients created, when asked for with "
        "`voucherSheet=true` (none when nobody was created)",
    )


SheetId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
PDF_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The voucher cards as a PDF, eight to an A4 page",
        "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
    }
}


@router.post("/ngo/clients", status_code=201, response_model=ClientCreated)
def register_client(
    body: ClientCreate, clients: ClientsDep, principal: Ngo, sheet: SheetDep
) -> ClientCreated:
    """Register a client; personal data is encrypted in the gateway and never goes on chain."""
    reg = clients.register(principal.organisation_id, body.personal.model_dump(), body.pin)
    held = None
    if sheet is not None:
        held = clients.hold_sheet(principal.organisation_id, sheet, [(reg.voucher_code, body.personal.name)])
    return ClientCreated(
        clientId=reg.client_id,
        voucherCode=reg.voucher_code,
        recoveryCode=reg.recovery_code,
        pin=reg.pin,
        account=reg.account,
        voucherSheet=_link(held),
    )


@router.post("/ngo/clients/import", response_model=ImportReport)
def import_clients(
    clients: ClientsDep,
    principal: Ngo,
    csv_text: Annotated[str, Body(media_type="text/csv", max_length=5_000_000)],
    sheet: SheetDep,
) -> ImportReport:
    """Register many clients from CSV (header: name, birthDate, address, phone, notes), de-duplicated."""
    report = clients.import_csv(principal.organisation_id, csv_text, sheet)
    return ImportReport(
        created=report["created"],
        duplicates=report["duplicates"],
        errors=report["errors"],
        voucherSheet=_link(report["voucherSheet"]),
    )


@router.get("/ngo/voucher-sheets/{sheet_id}", response_class=Response, responses=PDF_RESPONSE)
def voucher_sheet(sheet_id: SheetId, clients: ClientsDep, principal: Ngo) -> Response:
    """The printable voucher cards held by a registration, import or PIN reset, once: the first
    download forgets them (a second one, or one after a few minutes, is a 404)."""
    pdf = clients.sheets.take(principal.organisation_id, sheet_id)
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": 'attachment; filename="vouchers.pdf"', "Cache-Control": "no-store"},
    )


@router.get("/ngo/clients")
def list_clients(
    clients: ClientsDep,
    principal: Ngo,
    after: Annotated[str | None, Query(max_length=64, description="the last id of the page before")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 500,
) -> list[str]:
    """Ids of your NGO's clients, oldest first, a page at a time: ask again with `after` set to the
    last id you got until a page comes back shorter than `limit`."""
    return clients.list_ids(principal.organisation_id, after, limit)


@router.get("/ngo/clients/{client_id}", response_model=ClientRecord, response_model_exclude_none=True)
def get_client(client_id: str, clients: ClientsDep, principal: Ngo) -> ClientRecord:
    """A client's record with decrypted personal data (your NGO's clients only)."""
    return ClientRecord(**clients.describe(principal.organisation_id, client_id))


@router.post("/ngo/clients/{client_id}/assisted-session", status_code=201, response_model=SessionCreated)
def assisted_session(
    client_id: str, body: AssistedSignIn, request: Request, clients: ClientsDep, principal: Ngo
) -> SessionCreated:
    """Staff-assisted mode: act for a client who is present and types their PIN; records say so."""
    source = request.client.host if request.client else "unknown"
    token, session = clients.assisted_session(
        principal.organisation_id, client_id, body.pin, source, principal.person_id
    )
    return SessionCreated(
        token=token,
        clientId=session.client_id,
        assistedBy=session.assisted_by,
        assistedByPerson=session.assisted_person,
        expiresIn=clients.settings.session_ttl_s,
    )


@router.post("/ngo/clients/{client_id}/pin-reset", status_code=201, response_model=PinResetDone)
def reset_pin(
    client_id: str, body: PinReset, clients: ClientsDep, principal: Ngo, sheet: SheetDep
) -> PinResetDone:
    """Set a new PIN with the recovery code from the client's file; the old voucher code stops working."""
    ngo_id = principal.organisation_id
    code = clients.reset_pin(ngo_id, client_id, body.recoveryCode, body.newPin)
    held = None
    if sheet is not None:
        name = clients.describe(ngo_id, client_id)["personal"].get("name") if sheet.label == "name" else None
        held = clients.hold_sheet(ngo_id, sheet, [(code, name)])
    return PinResetDone(voucherCode=code, voucherSheet=_link(held))


@router.delete("/ngo/clients/{client_id}", status_code=204)
def erase_client(client_id: str, clients: ClientsDep, principal: Ngo) -> Response:
    """Erase a client (GDPR): their data key is destroyed; on chain only unlinkable pseudonyms remain."""
    clients.erase(principal.organisation_id, client_id)
    return Response(status_code=204)


@router.post("/client/session", status_code=201, response_model=SessionCreated)
def sign_in(body: SignIn, request: Request, clients: ClientsDep) -> SessionCreated:
    """Sign in with voucher code and PIN: no e-mail, no phone, no wallet."""
    source = request.client.host if request.client else "unknown"
    token, session = clients.sign_in(body.voucherCode, body.pin, source)
    return SessionCreated(
        token=token, clientId=session.client_id, assistedBy=None, expiresIn=clients.settings.session_ttl_s
    )


@router.delete("/client/session", status_code=204)
def sign_out(
    clients: ClientsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    _: CurrentClient,
) -> Response:
    """End the session."""
    assert credentials is not None
    clients.sign_out(credentials.credentials)
    return Response(status_code=204)


@router.get("/client/me", response_model=ClientMe, response_model_exclude_none=True)
def client_me(gateway: GatewayDep, claims: ClaimsDep, session: CurrentClient) -> ClientMe:
    """Your pseudonymous account, its balance and the payments you received: disbursements to the
    account and the aid you claimed (paid to a fresh pseudonym per claim program)."""
    account = claims.account(session)
    return ClientMe(
        clientId=session.client_id,
        account=account,
        balance=euros(gateway.system.balance(account)),
        receipts=[
            ReceiptPublic(
                kind=r.kind,
                programId=r.program_id,
                claimProgramId=r.claim_program_id,
                recipient=r.recipient,
                amount=euros(r.amount),
                transactionHash=r.transaction_hash,
                blockNumber=r.block_number,
            )
            for r in claims.receipts(session)
        ],
    )
