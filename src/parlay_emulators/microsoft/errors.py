"""Error bodies as Microsoft sends them: Graph's envelope and the identity platform's AADSTS form."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

GRAPH_JSON = "application/json; odata.metadata=minimal; odata.streaming=true; IEEE754Compatible=false; charset=utf-8"

# Default code and message per status (Graph / Outlook wording).
DEFAULTS: dict[int, tuple[str, str]] = {
    400: ("ErrorInvalidRequest", "The request is invalid."),
    401: ("InvalidAuthenticationToken", "Access token has expired or is not yet valid."),
    403: ("ErrorAccessDenied", "Access is denied. Check credentials and try again."),
    404: ("ErrorItemNotFound", "The specified object was not found in the store."),
    409: (
        "ErrorIrresolvableConflict",
        "The change key passed in the request does not match the current change key for the item.",
    ),
    412: (
        "ErrorIrresolvableConflict",
        "The change key passed in the request does not match the current change key for the item.",
    ),
    429: ("TooManyRequests", "Please retry again later."),
    500: ("generalException", "An internal server error occurred. The operation failed."),
    502: ("badGateway", "Bad gateway."),
    503: (
        "serviceNotAvailable",
        "The service is temporarily unavailable. Please retry again later.",
    ),
    504: ("gatewayTimeout", "The operation timed out."),
}


class GraphError(Exception):
    def __init__(
        self,
        status: int,
        code: str | None = None,
        message: str | None = None,
        *,
        retry_after: int | None = None,
    ) -> None:
        default_code, default_message = DEFAULTS.get(status, ("generalException", "Error."))
        self.status = status
        self.code = code or default_code
        self.message = message or default_message
        self.retry_after = retry_after
        super().__init__(self.code)


def request_ids(request: Request) -> tuple[str, str]:
    request_id = request.scope.setdefault("ms_request_id", str(uuid.uuid4()))
    client_request_id = request.headers.get("client-request-id") or request_id
    return request_id, client_request_id


def graph_error(request: Request, error: GraphError) -> JSONResponse:
    request_id, client_request_id = request_ids(request)
    body = {
        "error": {
            "code": error.code,
            "message": error.message,
            "innerError": {
                "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"),
                "request-id": request_id,
                "client-request-id": client_request_id,
            },
        }
    }
    headers = {"request-id": request_id, "client-request-id": client_request_id}
    if error.retry_after is not None:
        headers["Retry-After"] = str(error.retry_after)
    if error.status == 401:
        headers["WWW-Authenticate"] = (
            'Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", '
            'client_id="00000003-0000-0000-c000-000000000000"'
        )
    return JSONResponse(body, status_code=error.status, headers=headers, media_type=GRAPH_JSON)


class OAuthError(Exception):
    """A token-endpoint error: ``{"error", "error_description": "AADSTS...", "error_codes", ...}``."""

    def __init__(
        self,
        error: str,
        aadsts: int,
        description: str,
        *,
        status: int = 400,
        retry_after: int | None = None,
    ) -> None:
        self.error = error
        self.aadsts = aadsts
        self.description = description
        self.status = status
        self.retry_after = retry_after
        super().__init__(error)


def oauth_error(error: OAuthError) -> JSONResponse:
    trace_id, correlation_id = str(uuid.uuid4()), str(uuid.uuid4())
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    body: dict[str, Any] = {
        "error": error.error,
        "error_description": (
            f"AADSTS{error.aadsts}: {error.description}\r\nTrace ID: {trace_id}\r\n"
            f"Correlation ID: {correlation_id}\r\nTimestamp: {stamp}"
        ),
        "error_codes": [error.aadsts],
        "timestamp": stamp,
        "trace_id": trace_id,
        "correlation_id": correlation_id,
    }
    headers = {"Cache-Control": "no-store", "Pragma": "no-cache"}
    if error.retry_after is not None:
        headers["Retry-After"] = str(error.retry_after)
    return JSONResponse(body, status_code=error.status, headers=headers)
