"""The chain's read-only JSON-RPC endpoint: any Ethereum tool reads the chain through the gateway.

Public and read-only: `ledger.json_rpc` answers only reading methods and refuses every other one.
The body is bounded (`MAX_BODY_BYTES`) before it is parsed; JSON-RPC errors come back as JSON-RPC
error objects (HTTP 200, as nodes answer them), a body too large as HTTP 413 with one.
"""

from __future__ import annotations

import json
from typing import Any, Final

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from api.deps import GatewayDep
from ledger.json_rpc import INVALID_REQUEST, LIMIT_EXCEEDED, PARSE_ERROR, ReadOnlyRpc, RpcError

MAX_BODY_BYTES: Final = 256 * 1024

router = APIRouter(tags=["public"])

REQUEST_BODY: dict[str, Any] = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {"oneOf": [{"type": "object"}, {"type": "array", "items": {"type": "object"}}]},
            "example": {"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber", "params": []},
        }
    },
}


@router.post("/rpc", openapi_extra={"requestBody": REQUEST_BODY})
async def rpc(request: Request, gateway: GatewayDep) -> JSONResponse:
    """Ethereum JSON-RPC, reading methods only (blocks, receipts, logs, calls, code, balances)."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            error = RpcError(LIMIT_EXCEEDED, f"a request body holds at most {MAX_BODY_BYTES} bytes")
            return JSONResponse({"jsonrpc": "2.0", "id": None, "error": error.to_json()}, status_code=413)
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        error = RpcError(PARSE_ERROR if body else INVALID_REQUEST, "the body is not JSON")
        return JSONResponse({"jsonrpc": "2.0", "id": None, "error": error.to_json()})
    answer = await run_in_threadpool(ReadOnlyRpc(gateway.chain).answer, payload)
    return JSONResponse(answer)
