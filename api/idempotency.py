"""`Idempotency-Key` on POST: a retried request gets the first response and never acts twice.

Only an authenticated caller (a live API key or client session) gets a record: a request without
credentials, or with credentials that name nobody, goes on to its route (which refuses it) and
leaves nothing in the database. A record is replayed for `idempotency_ttl_s` (a setting, a day by
default); after that the key may be used afresh, and expired records are deleted as new ones come.

The first request with a key claims it in the database before doing anything; a concurrent
duplicate waits for that first one to finish and then replays its response. Reusing a key with a
different request is refused. Server errors release the key so the request can be retried.

The response is kept sealed under the master key: it may carry secrets shown only once (API keys,
voucher and recovery codes, PINs, session tokens), which must not sit in the database in plain.

The operations a request causes are recorded under it. If the gateway dies while serving it, the
restart releases the key, and the retry finds every operation the chain already executed instead of
executing it again, so it completes the request exactly once (with the same operations and events).
"""

from __future__ import annotations

import hashlib
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from api.errors import GatewayError
from api.models import IdempotencyRecord
from api.operations import IDEMPOTENT_REQUEST
from api.problems import problem
from api.services.clients import SESSION_PREFIX
from ledger.custody import Sealer

WAIT_FOR_FIRST_S = 120.0
PURGE_EVERY_S = 60.0
MAX_KEY_LENGTH = 200


class IdempotencyMiddleware(BaseHTTPMiddleware):
    """Stores and replays responses to POST requests that carry an `Idempotency-Key`."""

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        key = request.headers.get("idempotency-key")
        if request.method != "POST" or key is None:
            return await call_next(request)
        if not key or len(key) > MAX_KEY_LENGTH:
            return problem(422, "InvalidIdempotencyKey", "invalid Idempotency-Key", "use 1 to 200 characters")
        authorization = request.headers.get("authorization", "")
        body = await request.body()  # bounded by the app's BodyLimitMiddleware
        principal = hashlib.sha256(authorization.encode()).hexdigest()[:64]
        digest = hashlib.sha256(
            b"|".join([request.method.encode(), request.url.path.encode(), request.url.query.encode(), body])
        ).hexdigest()
        gateway = request.app.state.gateway
        db, sealer = gateway.db, gateway.master
        await run_in_threadpool(_expire, db, gateway.settings.idempotency_ttl_s, principal, key)
        if not await run_in_threadpool(_authenticated, gateway, authorization):
            # Nothing is written for a caller who does not authenticate. A response kept for these
            # very credentials is still replayed: a retried key rotation must find its new key.
            kept = await run_in_threadpool(_kept, db, sealer, principal, key, digest)
            return kept if kept is not None else await call_next(request)
        claimed = await run_in_threadpool(_claim, db, sealer, principal, key, digest)
        if claimed is not None:
            return claimed
        token = IDEMPOTENT_REQUEST.set(request_key(principal, key, digest))
        try:
            response = await call_next(request)
        finally:
            IDEMPOTENT_REQUEST.reset(token)
        chunks = [chunk async for chunk in response.body_iterator]  # type: ignore[attr-defined]
        content = b"".join(c if isinstance(c, bytes) else c.encode() for c in chunks)
        await run_in_threadpool(_store, db, sealer, principal, key, response.status_code, content)
        return Response(content, response.status_code, dict(response.headers), response.media_type)


def _authenticated(gateway: Any, authorization: str) -> bool:
    """Whether the `Authorization` header names a live API key or client session."""
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return False
    token = token.strip()
    try:
        if token.startswith(SESSION_PREFIX):
            gateway.clients.session(token)
        else:
            gateway.authenticate(token)
    except GatewayError:
        return False
    return True


_purge_lock = threading.Lock()
_next_purge = [0.0]


def _expire(db: Any, ttl_s: int, principal: str, key: str) -> None:
    """Forget this key's record once its window has passed, and (at most every PURGE_EVERY_S)
    every other record whose window has passed, so the table holds only live records."""
    cutoff = datetime.now(UTC) - timedelta(seconds=ttl_s)
    done = IdempotencyRecord.status_code.is_not(None)
    with db.session() as s:
        s.execute(
            delete(IdempotencyRecord).where(
                IdempotencyRecord.principal == principal,
                IdempotencyRecord.key == key,
                IdempotencyRecord.created_at < cutoff,
                done,
            )
        )
    now = time.monotonic()
    with _purge_lock:
        if now < _next_purge[0]:
            return
        _next_purge[0] = now + PURGE_EVERY_S
    with db.session() as s:
        s.execute(delete(IdempotencyRecord).where(IdempotencyRecord.created_at < cutoff, done))


def request_key(principal: str, key: str, digest: str) -> str:
    """The key an idempotent request's operations are recorded under (`Operation.request_key`)."""
    return hashlib.sha256(f"{principal}\n{key}\n{digest}".encode()).hexdigest()


def sealing_context(principal: str, key: str) -> str:
    """What a kept response is bound to: its record (a ciphertext moved to another does not open)."""
    return f"idempotency:{principal}:{key}"


def _claim(db: Any, sealer: Sealer, principal: str, key: str, digest: str) -> Response | None:
    """None when this request owns the key now; else the response to give (a replay or an error)."""
    try:
        with db.session() as s:
            s.add(
                IdempotencyRecord(
                    principal=principal,
                    key=key,
                    request_hash=digest,
                    request_key=request_key(principal, key, digest),
                )
            )
        return None
    except IntegrityError:
        pass
    deadline = time.monotonic() + WAIT_FOR_FIRST_S
    while True:
        with db.session() as s:
            record = s.get(IdempotencyRecord, (principal, key))
        if record is None:  # the first request failed and released the key: take it
            return _claim(db, sealer, principal, key, digest)
        if record.request_hash != digest:
            return problem(
                422,
                "IdempotencyKeyReused",
                "Idempotency-Key reused",
                "this key was used for a different request",
            )
        if record.status_code is not None:
            return _replay(record, sealer, principal, key)
        if time.monotonic() > deadline:
            return problem(
                409,
                "IdempotentRequestInProgress",
                "request in progress",
                "the first request with this key has not finished",
                retryAfter=1,
            )
        time.sleep(0.02)


def _replay(record: IdempotencyRecord, sealer: Sealer, principal: str, key: str) -> Response:
    """The kept response of a finished request, marked as replayed."""
    assert record.status_code is not None
    headers = {"Idempotent-Replayed": "true"}
    media_type = "application/problem+json" if record.status_code >= 400 else "application/json"
    if record.body_sealed is not None:
        content = sealer.open(record.body_sealed, sealing_context(principal, key))
        return Response(content, record.status_code, headers, media_type)
    return JSONResponse(  # kept in plain by a version before sealing
        record.body, status_code=record.status_code, headers=headers, media_type=media_type
    )


def _kept(db: Any, sealer: Sealer, principal: str, key: str, digest: str) -> Response | None:
    """The kept response of this very request, if its record is finished (else None; writes nothing)."""
    with db.session() as s:
        record = s.get(IdempotencyRecord, (principal, key))
    if record is None or record.status_code is None or record.request_hash != digest:
        return None
    return _replay(record, sealer, principal, key)


def _store(db: Any, sealer: Sealer, principal: str, key: str, status: int, content: bytes) -> None:
    with db.session() as s:
        record = s.get(IdempotencyRecord, (principal, key))
        if record is None:
            return
        if status >= 500:
            s.delete(record)
            return
        record.body = None
        record.body_sealed = sealer.seal(content, sealing_context(principal, key))
        record.status_code = status
