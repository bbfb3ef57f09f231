"""Every error the gateway raises: one tree rooted in `GatewayError`, with no HTTP in it.

Each error carries a stable `code` (the `code` of the RFC 9457 problem a client sees) and a `kind`
that `api/problems.py` maps to an HTTP status in one place. Services raise these; routes never
build HTTP errors for domain failures themselves.
"""

from __future__ import annotations

from typing import Any


class GatewayError(Exception):
    """A domain error of the gateway, with a stable code and an HTTP-agnostic kind."""

    kind = "conflict"  # conflict | not_found | forbidden | invalid | locked | unavailable

    def __init__(self, code: str, detail: str, **fields: Any) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.fields = fields


class NotFound(GatewayError):
    """The thing asked for does not exist (or is not visible to the caller)."""

    kind = "not_found"


class Forbidden(GatewayError):
    """The caller may not do this."""

    kind = "forbidden"


class Invalid(GatewayError):
    """The request is malformed in a way the schema cannot express."""

    kind = "invalid"


class Unavailable(GatewayError):
    """The chain did not take the request; retrying later may work."""

    kind = "unavailable"


class Unauthorized(GatewayError):
    """No credentials, or credentials of the wrong kind."""

    kind = "unauthorized"
    bearer_error: str | None = None  # the `error` of the `WWW-Authenticate: Bearer` challenge


class InvalidCredentials(Unauthorized):
    """Credentials that name nobody: an unknown, forged or revoked API key (RFC 6750 §3.1)."""

    bearer_error = "invalid_token"
