"""RFC 9457 problem details: every error the gateway can meet becomes a 4xx with a stable `code`.

Contract reverts keep the Solidity error's name as `code` and its decoded arguments as `args`.
Each revert has an explicit status below; a test fails when a contract error is missing here.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.errors import GatewayError, Unauthorized
from ledger.exceptions import ContractRevert, LedgerError

FORBIDDEN, NOT_FOUND, CONFLICT, UNPROCESSABLE = 403, 404, 409, 422

REVERT_STATUS: dict[str, int] = {
    # who may do what
    "AccessControlBadConfirmation": FORBIDDEN,
    "AccessControlUnauthorizedAccount": FORBIDDEN,
    "AllmendeForwarderUnauthorizedRelayer": FORBIDDEN,
    "ERC2771ForwarderInvalidSigner": FORBIDDEN,
    "ERC2771UntrustfulTarget": FORBIDDEN,
    "FundLedgerNotLotAllocator": FORBIDDEN,
    "FundLedgerNotLotFunder": FORBIDDEN,
    "FundLedgerNotProgramApprover": FORBIDDEN,
    "FundLedgerNotProgramFunder": FORBIDDEN,
    "FundLedgerNotProgramNgo": FORBIDDEN,
    "FundLedgerNotReservationHolder": FORBIDDEN,
    "FundLedgerNotBatchReceiver": FORBIDDEN,
    "FundLedgerSelfApproval": FORBIDDEN,
    # what does not exist
    "FundLedgerUnknownLot": NOT_FOUND,
    "FundLedgerUnknownProgram": NOT_FOUND,
    "FundLedgerUnknownReservation": NOT_FOUND,
    "FundLedgerUnknownTranche": NOT_FOUND,
    # what the ledger's state does not allow now
    "ERC20InsufficientAllowance": CONFLICT,
    "ERC20InsufficientBalance": CONFLICT,
    "ERC2771ForwarderExpiredRequest": CONFLICT,
    "InvalidAccountNonce": CONFLICT,
    "FundLedgerInsufficientFunds": CONFLICT,
    "FundLedgerDrawTooLong": CONFLICT,
    "FundLedgerLotAlreadyRefunded": CONFLICT,
    "FundLedgerLotExpired": CONFLICT,
    "FundLedgerLotNotExpired": CONFLICT,
    "FundLedgerTrancheNotPending": CONFLICT,
    "FundLedgerReceiverRejected": CONFLICT,
    "FundLedgerProgramNotEnded": CONFLICT,
    "FundLedgerProgramEnded": CONFLICT,
    "FundLedgerEndEarlier": CONFLICT,
    "FundLedgerEndAfterPayment": CONFLICT,
    "FundLedgerNothingToSweep": CONFLICT,
    "FundLedgerTooManyAccounts": UNPROCESSABLE,
    "InsufficientBalance": CONFLICT,
    "ReentrancyGuardReentrantCall": CONFLICT,
    "SafeERC20FailedOperation": CONFLICT,
    "FailedCall": CONFLICT,
    # what is malformed
    "EuroTokenZeroAmount": UNPROCESSABLE,
    "FundLedgerZeroAmount": UNPROCESSABLE,
    "FundLedgerZeroAccount": UNPROCESSABLE,
    "FundLedgerZeroRecipient": UNPROCESSABLE,
    "FundLedgerBadBatch": UNPROCESSABLE,
    "FundLedgerAmountOverflow": UNPROCESSABLE,
    "FundLedgerEarmarkMismatch": UNPROCESSABLE,
    "FundLedgerExpiryInPast": UNPROCESSABLE,
    "FundLedgerTokenMismatch": UNPROCESSABLE,
    "FundLedgerTokenNotAllowed": UNPROCESSABLE,
    "ERC20InvalidApprover": UNPROCESSABLE,
    "ERC20InvalidReceiver": UNPROCESSABLE,
    "ERC20InvalidSender": UNPROCESSABLE,
    "ERC20InvalidSpender": UNPROCESSABLE,
    "ERC2771ForwarderMismatchedValue": UNPROCESSABLE,
    "ERC2771ForwarderNoRefundReceiver": UNPROCESSABLE,
    "InvalidShortString": UNPROCESSABLE,
    "StringTooLong": UNPROCESSABLE,
    # a simulation that succeeded is never an error to a caller; listed for completeness
    "AllmendeForwarderSimulated": CONFLICT,
    # provider registry and restricted aid
    "ProviderRegistryNotProviderNgo": FORBIDDEN,
    "ProviderRegistryNotProgramNgo": FORBIDDEN,
    "ProviderRegistryRestrictedTransfer": FORBIDDEN,
    "ProviderRegistryNotClaimProgram": FORBIDDEN,
    "ProviderRegistryNotAdmitted": CONFLICT,
    "ProviderRegistryAccountNotFresh": CONFLICT,
    "ProviderRegistryAccountIsProvider": CONFLICT,
    "ProviderRegistryAccountIsContract": CONFLICT,
    "EuroTokenTransferRulesAlreadySet": CONFLICT,
    "EuroTokenNoTransferRules": CONFLICT,
    "ProviderRegistryNotMarkedBy": CONFLICT,
    "ProviderRegistryNotExpired": CONFLICT,
    "ProviderRegistryProgramIsCash": CONFLICT,
    "ProviderRegistryNotSweepable": CONFLICT,
    "ProviderRegistryAccountBound": CONFLICT,
    "FundLedgerRecipientNotMarked": CONFLICT,
    "EuroTokenAccountNotFresh": CONFLICT,
    "EuroTokenNotTransferRules": FORBIDDEN,
    "EuroTokenSupplyTooLarge": UNPROCESSABLE,
    "ProviderRegistryNotFundLedger": FORBIDDEN,
    "ProviderRegistryZeroAccount": UNPROCESSABLE,
    "ProviderRegistryNoCategories": UNPROCESSABLE,
    # payouts in euros
    "PayoutsRestrictedMoney": FORBIDDEN,
    "PayoutsReferenceUsed": CONFLICT,
    "PayoutsNotPending": CONFLICT,
    "PayoutsBatchNotOpen": CONFLICT,
    "PayoutsZeroAmount": UNPROCESSABLE,
    "PayoutsZeroReference": UNPROCESSABLE,
    "PayoutsBadBatchSize": UNPROCESSABLE,
    "PayoutsAmountTooLarge": UNPROCESSABLE,
    "SafeCastOverflowedUintDowncast": UNPROCESSABLE,  # a batch total beyond 128 bits
    # claim programs
    "ClaimProgramNotFundLedger": FORBIDDEN,
    "ClaimProgramNotNgo": FORBIDDEN,
    "ClaimProgramsNotProgramNgo": FORBIDDEN,
    "ClaimProgramInvalidProof": FORBIDDEN,
    "ClaimProgramInvalidSignature": FORBIDDEN,
    "ClaimProgramsUnknownProgram": NOT_FOUND,
    "ClaimProgramUnknownNode": NOT_FOUND,
    "ClaimProgramAlreadyClaimed": CONFLICT,
    "ClaimProgramExpired": CONFLICT,
    "ClaimProgramNotExpired": CONFLICT,
    "ClaimProgramNothingToReturn": CONFLICT,
    "ClaimProgramNotRestricted": CONFLICT,
    "ClaimProgramTooManyAccounts": UNPROCESSABLE,
    "ClaimProgramSignatureExpired": CONFLICT,
    "ClaimProgramWrongFundProgram": UNPROCESSABLE,
    "ClaimProgramBadCap": UNPROCESSABLE,
    "ClaimProgramsExpiryInPast": UNPROCESSABLE,
    # audit attestations
    "AuditAttestationsUnknownAttestation": NOT_FOUND,
    "AuditAttestationsFutureBlock": UNPROCESSABLE,
    "AuditAttestationsWrongBlockHash": UNPROCESSABLE,
    # many balances in one read: the token did not answer balanceOf with one word
    "BalanceReaderBadAnswer": CONFLICT,
    # participatory budget
    "ParticipatoryBudgetNotEligible": FORBIDDEN,
    "ParticipatoryBudgetNoConsent": FORBIDDEN,
    "ParticipatoryBudgetNotCanceller": FORBIDDEN,
    "ParticipatoryBudgetProgramNotAllowed": FORBIDDEN,
    "ParticipatoryBudgetNotCancellable": CONFLICT,
    "ParticipatoryBudgetScheduleTooLong": UNPROCESSABLE,
    "ParticipatoryBudgetCostBelowMinimum": UNPROCESSABLE,
    "ParticipatoryBudgetBadDeployment": UNPROCESSABLE,
    "ParticipatoryBudgetNotProposer": FORBIDDEN,
    "ParticipatoryBudgetUnauthorizedCreator": FORBIDDEN,
    "ParticipatoryBudgetUnknownProposal": NOT_FOUND,
    "ParticipatoryBudgetUnknownRound": NOT_FOUND,
    "ParticipatoryBudgetAlreadySettled": CONFLICT,
    "ParticipatoryBudgetCreditsExceeded": CONFLICT,
    "ParticipatoryBudgetFundingNotExpired": CONFLICT,
    "ParticipatoryBudgetProposalNotActive": CONFLICT,
    "ParticipatoryBudgetRoundAbandoned": CONFLICT,
    "ParticipatoryBudgetTooManyProposals": CONFLICT,
    "ParticipatoryBudgetWrongPhase": CONFLICT,
    "ParticipatoryBudgetAmountOverflow": UNPROCESSABLE,
    "ParticipatoryBudgetBadBallot": UNPROCESSABLE,
    "ParticipatoryBudgetBadCostBounds": UNPROCESSABLE,
    "ParticipatoryBudgetBadFunding": UNPROCESSABLE,
    "ParticipatoryBudgetBadOrderLength": UNPROCESSABLE,
    "ParticipatoryBudgetBadProposalCap": UNPROCESSABLE,
    "ParticipatoryBudgetBadSchedule": UNPROCESSABLE,
    "ParticipatoryBudgetBallotNotAscending": UNPROCESSABLE,
    "ParticipatoryBudgetCostOutOfBounds": UNPROCESSABLE,
    "ParticipatoryBudgetFundingExpiresTooSoon": UNPROCESSABLE,
    "ParticipatoryBudgetOrderNotSorted": UNPROCESSABLE,
    "ParticipatoryBudgetTokenMismatch": UNPROCESSABLE,
    "ParticipatoryBudgetZeroCredits": UNPROCESSABLE,
    "ParticipatoryBudgetZeroVotes": UNPROCESSABLE,
    # built-in reverts
    "RevertWithReason": CONFLICT,
    "Panic": CONFLICT,
    "UnknownRevert": CONFLICT,
}

GATEWAY_STATUS = {
    "conflict": 409,
    "not_found": 404,
    "forbidden": 403,
    "invalid": 422,
    "locked": 429,
    "unavailable": 503,
    "unauthorized": 401,
}


class Problem(BaseModel):
    """An RFC 9457 problem document; `code` is stable, further members depend on it (e.g. `args`)."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str
    code: str


_PROBLEM_CONTENT = {"application/problem+json": {"schema": Problem.model_json_schema()}}
RESPONSES: dict[int | str, dict[str, Any]] = {
    "4XX": {"description": "The request was refused; `code` says why.", "content": _PROBLEM_CONTENT},
    503: {"description": "The ledger did not take the request; retry later.", "content": _PROBLEM_CONTENT},
}
"""Error responses every operation may give, for the OpenAPI document."""


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 2**53:
        return str(value)
    return value


def problem(status: int, code: str, title: str, detail: str, **extra: Any) -> JSONResponse:
    """A problem-details response."""
    body = {"type": f"/problems/{code}", "title": title, "status": status, "detail": detail, "code": code}
    body.update({k: _jsonable(v) for k, v in extra.items()})
    headers = {"Retry-After": str(extra["retryAfter"])} if "retryAfter" in extra else None
    return JSONResponse(body, status_code=status, media_type="application/problem+json", headers=headers)


def revert_problem(exc: ContractRevert) -> JSONResponse:
    """The response for a contract revert."""
    name = type(exc).__name__
    status = REVERT_STATUS.get(name, CONFLICT)
    doc = (type(exc).__doc__ or "").strip().splitlines()[0] if type(exc).__doc__ else name
    args = {k: _jsonable(v) for k, v in exc.fields.items()}
    return problem(status, name, doc, f"the ledger refused the request: {name}", args=args)


async def _on_revert(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ContractRevert)
    return revert_problem(exc)


async def _on_gateway(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, GatewayError)
    status = GATEWAY_STATUS[exc.kind]
    response = problem(status, exc.code, exc.code, exc.detail, **exc.fields)
    if status == 401:  # RFC 9110 §15.5.2 and RFC 6750 §3.1: the scheme, and why the token failed
        error = exc.bearer_error if isinstance(exc, Unauthorized) else None
        challenge = f'Bearer realm="allmende", error="{error}"' if error else 'Bearer realm="allmende"'
        response.headers["WWW-Authenticate"] = challenge
    return response


async def _on_ledger(request: Request, exc: Exception) -> JSONResponse:
    return problem(503, type(exc).__name__, "ledger unavailable", "the ledger could not complete the request")


async def _on_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", "")} for e in exc.errors()]
    return problem(
        422, "ValidationFailed", "invalid request", "the request does not match the schema", errors=errors
    )


async def _on_http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = {401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 405: "MethodNotAllowed"}.get(
        exc.status_code, f"Http{exc.status_code}"
    )
    return problem(exc.status_code, code, code, str(exc.detail))


def install(app: Any) -> None:
    """Register the handlers on a FastAPI app."""
    app.add_exception_handler(ContractRevert, _on_revert)
    app.add_exception_handler(GatewayError, _on_gateway)
    app.add_exception_handler(LedgerError, _on_ledger)
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(StarletteHTTPException, _on_http)
