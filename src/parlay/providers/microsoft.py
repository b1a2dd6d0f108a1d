"""Microsoft Graph v1.0 adapter (Outlook calendars of personal and work/school accounts).

Busy times come from ``calendarView`` (the one read every account type supports; getSchedule
refuses personal accounts), asked for in UTC.  Meetings are written without attendees (Graph
mails invitations as soon as an event has any) and with ``transactionId = "parlay-" +
meeting_id``: Graph answers a retried create with the event the first attempt made, and the
same property marks our own events when they are read back.  Every hook opens its own httpx
client for its calls and closes it, so nothing outlives the base class's timeout.
"""

from __future__ import annotations

import email.utils
import secrets
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import httpx

from parlay.providers import microsoft_events as mev
from parlay.providers.base import DEFAULT_TIMEOUT, CalendarProvider, RefreshCallback
from parlay.providers.dto import BusyEvent, CalendarInfo, Credentials, EventRef, MeetingEvent
from parlay.providers.errors import (
    AuthExpired,
    MailboxNotSupported,
    NotFound,
    NotSupported,
    ProviderError,
    RateLimited,
    Transient,
)

GRAPH_URL = "https://graph.microsoft.com/v1.0"
PREFER_UTC = 'outlook.timezone="UTC"'
PAGE_SIZE = 250
SCAN_PAGES = 40  # a lookup by transactionId reads at most this many pages of one calendar
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


def _error_code(response: httpx.Response) -> tuple[str, str]:
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
    code, _ = _error_code(response)
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


class MicrosoftProvider(CalendarProvider):
    key = "microsoft"
    page_size = PAGE_SIZE  # calendarView's $top; Graph's own default page is about 10

    def __init__(
        self,
        credentials: Credentials,
        *,
        connection_id: str = "",
        refresh: RefreshCallback | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        graph_url: str = GRAPH_URL,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(credentials, connection_id=connection_id, refresh=refresh, timeout=timeout)
        self.graph_url = graph_url.rstrip("/")
        self._transport = transport

    # ---- plumbing ---------------------------------------------------------------------------

    @asynccontextmanager
    async def _client(self) -> AsyncIterator[httpx.AsyncClient]:
        """A client for one hook, carrying the credentials current at that moment."""
        token = self.credentials.access_token
        if not token:
            raise AuthExpired("no access token")
        async with httpx.AsyncClient(
            base_url=self.graph_url + "/",
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            timeout=self.timeout,
            transport=self._transport,
            follow_redirects=False,
        ) as client:
            yield client

    async def _send(
        self,
        client: httpx.AsyncClient,
        op: str,
        method: str,
        url: str,
        *,
        ok: tuple[int, ...] = (200,),
        **kwargs: Any,
    ) -> httpx.Response:
        response = await client.request(method, url, **kwargs)
        if response.status_code not in ok:
            raise graph_error(op, response)
        return response

    async def _pages(
        self,
        client: httpx.AsyncClient,
        op: str,
        url: str,
        params: Mapping[str, str],
        headers: Mapping[str, str] | None = None,
        max_pages: int | None = None,
    ) -> AsyncIterator[dict[str, Any]]:
        """Every item of a collection, following ``@odata.nextLink`` verbatim."""
        next_url: str | None = url
        query: Mapping[str, str] | None = params
        pages = 0
        while next_url and (max_pages is None or pages < max_pages):
            response = await self._send(client, op, "GET", next_url, params=query, headers=headers)
            body = response.json()
            pages += 1
            for item in body.get("value") or []:
                if isinstance(item, dict):
                    yield item
            link = body.get("@odata.nextLink")
            next_url, query = (str(link), None) if link else (None, None)

    @staticmethod
    def _path(external_id: str) -> str:
        return quote(external_id, safe="=")

    def _classify(self, exc: Exception) -> ProviderError | None:
        if isinstance(exc, httpx.TimeoutException):
            return Transient("Graph did not answer in time")
        if isinstance(exc, httpx.HTTPError):
            return Transient(f"Graph unreachable: {type(exc).__name__}")
        if isinstance(exc, ValueError | KeyError | TypeError):
            return Transient(f"Graph answered something unreadable: {type(exc).__name__}")
        return None

    # ---- identity and calendars -------------------------------------------------------------

    async def _account_email(self) -> str:
        async with self._client() as client:
            response = await self._send(
                client, "me", "GET", "me", params={"$select": "mail,userPrincipalName"}
            )
        me = response.json()
        address = me.get("mail") or me.get("userPrincipalName")
        if not isinstance(address, str) or not address:
            raise NotSupported("the account has neither mail nor userPrincipalName")
        return address

    async def _list_calendars(self) -> list[CalendarInfo]:
        params = {"$select": "id,name,isDefaultCalendar", "$top": "100"}
        async with self._client() as client:
            items = [c async for c in self._pages(client, "calendars", "me/calendars", params)]
        if not items:
            return []
        default = next((c for c in items if c.get("isDefaultCalendar") is True), None)
        if default is None:  # older mailboxes: the calendar named "Calendar", else the first
            default = next((c for c in items if c.get("name") == "Calendar"), items[0])
        return [
            CalendarInfo(
                external_id=str(c["id"]), name=str(c.get("name") or ""), primary=c is default
            )
            for c in items
        ]

    # ---- busy times -------------------------------------------------------------------------

    async def _busy_events(
        self, calendar_id: str, start: datetime, end: datetime
    ) -> list[BusyEvent]:
        params = {
            "startDateTime": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "endDateTime": end.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "$select": mev.BUSY_FIELDS,
            "$top": str(self.page_size),
        }
        url = f"me/calendars/{self._path(calendar_id)}/calendarView"
        found: list[BusyEvent] = []
        async with self._client() as client:
            async for item in self._pages(
                client, "calendarView", url, params, headers={"Prefer": PREFER_UTC}
            ):
                busy = mev.busy_event(item)
                if busy is not None and busy.start < end and busy.end > start:
                    found.append(busy)
        return found

    # _sync_busy: the base class's full read.  calendarView delta (§3.4) would be the
    # incremental path; it is not used until it can be exercised against an emulator.

    # ---- writes -----------------------------------------------------------------------------

    async def _post(
        self, client: httpx.AsyncClient, calendar_id: str, event: MeetingEvent, attempt: str = ""
    ) -> dict[str, Any]:
        body = {**mev.event_body(event), "transactionId": mev.transaction_id(event.meeting_id)}
        if attempt:
            body["transactionId"] = mev.transaction_id(event.meeting_id, attempt)
        response = await self._send(
            client,
            "create",
            "POST",
            f"me/calendars/{self._path(calendar_id)}/events",
            ok=(200, 201),
            json=body,
            headers={"Prefer": PREFER_UTC},
        )
        created: dict[str, Any] = response.json()
        return created

    async def _patch(
        self, client: httpx.AsyncClient, event_id: str, event: MeetingEvent
    ) -> dict[str, Any]:
        response = await self._send(
            client,
            "update",
            "PATCH",
            f"me/events/{self._path(event_id)}",
            json=mev.event_body(event),
            headers={"Prefer": PREFER_UTC},
        )
        patched: dict[str, Any] = response.json()
        return patched

    @staticmethod
    def _ref(item: Mapping[str, Any]) -> EventRef:
        etag = item.get("@odata.etag")
        return EventRef(external_id=str(item["id"]), etag=str(etag) if etag else None)

    async def _create_or_refresh(
        self, client: httpx.AsyncClient, calendar_id: str, event: MeetingEvent, gone: str = ""
    ) -> EventRef:
        """Create; a deduplicated create returns an older state of the event, so bring it up to
        date.  ``gone``: the id of an event just found deleted, which Graph must not hand back."""
        item = await self._post(client, calendar_id, event)
        if gone and item.get("id") == gone:
            item = await self._post(client, calendar_id, event, secrets.token_hex(4))
        if mev.differs(item, event):
            item = await self._patch(client, str(item["id"]), event)
        return self._ref(item)

    async def _create_event(self, calendar_id: str, event: MeetingEvent) -> EventRef:
        async with self._client() as client:
            return await self._create_or_refresh(client, calendar_id, event)

    async def _update_event(
        self, calendar_id: str, event: MeetingEvent, ref: EventRef | None
    ) -> EventRef:
        """PATCH the event we know; without a ref (the create's answer was lost) the create
        itself finds it, by its transactionId; if it was deleted meanwhile, create it again."""
        async with self._client() as client:
            if ref is None:
                return await self._create_or_refresh(client, calendar_id, event)
            try:
                return self._ref(await self._patch(client, ref.external_id, event))
            except NotFound:
                return await self._create_or_refresh(
                    client, calendar_id, event, gone=ref.external_id
                )

    async def _delete_event(self, calendar_id: str, meeting_id: str, ref: EventRef | None) -> None:
        """DELETE; one already gone is fine.  Without a ref, look for our transactionId in the
        calendar (Graph documents no filter on it) and delete what carries it."""
        async with self._client() as client:
            if ref is not None:
                ids = [ref.external_id]
            else:
                ids = await self._find(client, calendar_id, meeting_id)
            for event_id in ids:
                try:
                    await self._send(
                        client,
                        "delete",
                        "DELETE",
                        f"me/events/{self._path(event_id)}",
                        ok=(200, 202, 204),
                    )
                except NotFound:
                    continue

    async def _find(
        self, client: httpx.AsyncClient, calendar_id: str, meeting_id: str
    ) -> list[str]:
        params = {"$select": "transactionId", "$top": "500"}
        url = f"me/calendars/{self._path(calendar_id)}/events"
        return [
            str(item["id"])
            async for item in self._pages(client, "find", url, params, max_pages=SCAN_PAGES)
            if mev.meeting_id_of(item.get("transactionId")) == meeting_id and item.get("id")
        ]
