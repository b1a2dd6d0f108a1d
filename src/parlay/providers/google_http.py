"""Google's HTTP: bearer-token requests, paging, and answers -> the error taxonomy.

Google wraps every Calendar API failure in ``{"error": {"code", "message", "errors":
[{"domain", "reason", ...}]}}``; the reason, not only the status, tells a rate limit (403
``rateLimitExceeded``) from a refusal (403 ``forbidden``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote

import httpx

from parlay.providers.errors import (
    AuthExpired,
    NotFound,
    NotSupported,
    ProviderError,
    RateLimited,
    Transient,
)

MAX_PAGES = 200
RATE_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded", "quotaExceeded"})


class GoogleAPIError(Exception):
    """A non-2xx answer; hooks catch the statuses they expect, ``classify`` maps the rest."""

    def __init__(self, status: int, reason: str, message: str, retry_after: float | None):
        super().__init__(f"{status} {reason}: {message}".strip())
        self.status = status
        self.reason = reason
        self.message = message
        self.retry_after = retry_after


def retry_after(value: str | None) -> float | None:
    """``Retry-After`` as seconds: delta-seconds or an HTTP date (RFC 9110 §10.2.3)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def raise_for(answer: httpx.Response) -> None:
    if answer.status_code < 400:
        return
    reason, message = "", ""
    try:
        error = answer.json().get("error")
    except ValueError:
        error = None
    if isinstance(error, dict):
        message = str(error.get("message") or "")
        details = error.get("errors")
        if isinstance(details, list) and details and isinstance(details[0], dict):
            reason = str(details[0].get("reason") or "")
    elif isinstance(error, str):  # the OAuth shape, from the userinfo endpoint
        reason = error
    raise GoogleAPIError(
        answer.status_code, reason, message[:200], retry_after(answer.headers.get("Retry-After"))
    )


def restorable(exc: GoogleAPIError) -> bool:
    """True when a patch of an id Google holds failed because that event is deleted for good
    (410 ``deleted``, 404, or a 403 that is not a rate limit): try the next derived id."""
    if exc.status == 403:
        return exc.reason not in RATE_REASONS
    return exc.status in (404, 410)


def classify(exc: Exception) -> ProviderError | None:
    if isinstance(exc, GoogleAPIError):
        status, what = exc.status, f"Google {exc.status} {exc.reason}".strip()
        if status == 401:
            return AuthExpired(what)
        if status == 429 or (status == 403 and exc.reason in RATE_REASONS):
            return RateLimited(what, retry_after=exc.retry_after)
        if status in (404, 410):
            return NotFound(what)
        if status == 408 or status >= 500:
            return Transient(what)
        return NotSupported(what)  # 400 (our request), 403 forbidden, 409, 412
    if isinstance(exc, httpx.HTTPError | ValueError):
        return Transient(f"Google: {type(exc).__name__}")
    return None


class _Borrowed(httpx.AsyncBaseTransport):
    """An injected transport lent to a short-lived client: closing the client keeps it open."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self._inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        """The owner of the transport closes it."""


def borrowed(transport: httpx.AsyncBaseTransport) -> httpx.AsyncBaseTransport:
    return _Borrowed(transport)


class GoogleSession:
    """One hook call's HTTP: the bearer token, Calendar v3 URLs, JSON, pages, errors."""

    def __init__(self, client: httpx.AsyncClient, v3: str, access_token: str) -> None:
        self.v3 = v3
        self._client = client
        self._auth = {"Authorization": f"Bearer {access_token}"}

    def events_url(self, calendar_id: str, event_id: str | None = None) -> str:
        url = f"{self.v3}/calendars/{quote(calendar_id, safe='')}/events"
        return f"{url}/{quote(event_id, safe='')}" if event_id else url

    async def send(
        self,
        method: str,
        url: str,
        *,
        params: dict[str, str] | None = None,
        json: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        answer = await self._client.request(
            method, url, params=params, json=json, headers=self._auth
        )
        raise_for(answer)
        if answer.status_code == 204 or not answer.content:
            return {}
        body = answer.json()
        if not isinstance(body, dict):
            raise ValueError("a JSON object was expected")
        return body

    async def pages(
        self, url: str, params: dict[str, str]
    ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """Every item over all pages, and the last page (it holds ``nextSyncToken``)."""
        items: list[dict[str, Any]] = []
        query = params
        for _ in range(MAX_PAGES):
            page = await self.send("GET", url, params=query)
            items.extend(i for i in page.get("items") or [] if isinstance(i, dict) and "id" in i)
            token = page.get("nextPageToken")
            if not token:
                return items, page
            query = {**params, "pageToken": str(token)}
        raise Transient("Google: too many pages")
