"""Google's error envelopes: the Calendar API's JSON error and the OAuth token endpoint's."""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse

# google.rpc status names for the HTTP codes the Calendar API answers with. Google's Calendar
# errors for 410 and 412 carry no `status`; clients must not rely on it.
_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ALREADY_EXISTS",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    501: "NOT_IMPLEMENTED",
    502: "UNAVAILABLE",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}

# (domain, reason, message) Google uses for a bare status, e.g. an injected fault.
DEFAULT_REASONS: dict[int, tuple[str, str, str]] = {
    400: ("global", "badRequest", "Bad Request"),
    401: ("global", "authError", "Invalid Credentials"),
    403: ("usageLimits", "rateLimitExceeded", "Rate Limit Exceeded"),
    404: ("global", "notFound", "Not Found"),
    409: ("global", "conflict", "Conflict"),
    410: ("global", "deleted", "Resource has been deleted"),
    412: ("global", "conditionNotMet", "Precondition Failed"),
    429: ("usageLimits", "rateLimitExceeded", "Rate Limit Exceeded"),
    500: ("global", "backendError", "Backend Error"),
    502: ("global", "backendError", "Bad Gateway"),
    503: ("global", "backendError", "Service Unavailable"),
    504: ("global", "backendError", "Deadline Exceeded"),
}


class GoogleError(Exception):
    """Raised by handlers; rendered as Google's JSON error envelope."""

    def __init__(
        self,
        code: int,
        reason: str | None = None,
        message: str | None = None,
        *,
        domain: str | None = None,
        location: str | None = None,
        location_type: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        d_domain, d_reason, d_message = DEFAULT_REASONS.get(
            code, ("global", "backendError", "Backend Error")
        )
        self.code = code
        self.reason = reason or d_reason
        self.message = message or d_message
        self.domain = domain or d_domain
        self.location = location
        self.location_type = location_type
        self.headers = headers or {}
        super().__init__(self.message)

    def response(self) -> JSONResponse:
        item: dict[str, Any] = {
            "domain": self.domain,
            "reason": self.reason,
            "message": self.message,
        }
        if self.location:
            item["locationType"] = self.location_type or "parameter"
            item["location"] = self.location
        body: dict[str, Any] = {"code": self.code, "message": self.message, "errors": [item]}
        if self.code in _STATUS:
            body["status"] = _STATUS[self.code]
        headers = dict(self.headers)
        if self.code == 401:
            headers.setdefault("WWW-Authenticate", 'Bearer realm="https://accounts.google.com/"')
        return JSONResponse({"error": body}, status_code=self.code, headers=headers)


def invalid(message: str, location: str, reason: str = "invalid") -> GoogleError:
    return GoogleError(400, reason, message, location=location)


def not_found() -> GoogleError:
    return GoogleError(404)


def oauth_error(
    error: str, description: str, status: int = 400, headers: dict[str, str] | None = None
) -> JSONResponse:
    """The OAuth 2 token endpoint's shape (RFC 6749 §5.2)."""
    return JSONResponse(
        {"error": error, "error_description": description}, status_code=status, headers=headers
    )
