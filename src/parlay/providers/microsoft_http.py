"""How Microsoft Graph says no: its error envelope mapped onto the provider taxonomy.

Kept apart from the adapter so the calendarView delta reader (``microsoft_delta``) maps errors
the same way without importing the adapter.
"""

from __future__ import annotations

import email.utils
from collections.abc import Mapping
from datetime import UTC, datetime

import httpx

from parlay.providers.errors import (
    AuthExpired,
    MailboxNotSupported,
    NotFound,
    NotSupported,
    ProviderError,
    RateLimited,
    Transient,
)

# Graph's ways of saying "this mailbox is not in Exchange Online" (calendar-apis.md §1.2).
MAILBOX_CODES = frozenset(
    {"mailboxnotenabledforrestapi", "mailboxnotsupportedforrestapi", "extensionerror"}
)


def _retry_after(response: httpx.Response) -> float | None:
    raw = response.headers.get("retry-after", "").strip()
    if not raw:
        return None
    if raw.isdigit():
        return float(raw)
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def error_code(response: httpx.Response) -> tuple[str, str]:
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        return "", ""
    if not isinstance(error, Mapping):
        return "", ""
    return str(error.get("code") or ""), str(error.get("message") or "")


def graph_error(op: str, response: httpx.Response) -> ProviderError:
    """A Graph answer that is not a success, as the taxonomy names it (codes before statuses:
    the mailbox refusal comes as a 404 that must not read as "calendar gone")."""
    status = response.status_code
    code, _ = error_code(response)
    what = f"{op}: HTTP {status} {code}".rstrip()
    if code.lower() in MAILBOX_CODES:
        return MailboxNotSupported("mailbox_not_supported")
    if status == 401:
        return AuthExpired(what)
    if status == 429:
        return RateLimited(what, retry_after=_retry_after(response))
    if status in (503, 504) and _retry_after(response) is not None:
        return RateLimited(what, retry_after=_retry_after(response))
    if status >= 500 or status in (408, 409):
        return Transient(what)
    if status in (404, 410):
        return NotFound(what)
    return NotSupported(what)
