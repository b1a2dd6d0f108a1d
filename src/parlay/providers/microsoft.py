"""Microsoft Graph v1.0 adapter (Outlook calendars of personal and work/school accounts).

Busy times come from ``calendarView`` (the one read every account type supports; getSchedule
refuses personal accounts), asked for in UTC, and are synced incrementally through its delta
(``microsoft_delta``: the stored token is the round's deltaLink).  Meetings are written without attendees (Graph
mails invitations as soon as an event has any) and with ``transactionId = "parlay-" +
meeting_id``: Graph answers a retried create with the event the first attempt made, and the
same property marks our own events when they are read back.  Every hook opens its own httpx
client for its calls and closes it, so nothing outlives the base class's timeout.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx

from parlay.providers import microsoft_delta as mdelta
from parlay.providers import microsoft_events as mev
from parlay.providers.base import DEFAULT_TIMEOUT, CalendarProvider, RefreshCallback
from parlay.providers.dto import (
    BusyEvent,
    CalendarInfo,
    Credentials,
    EventRef,
    MeetingEvent,
    SyncResult,
)
from parlay.providers.errors import (
    AuthExpired,
    MailboxNotSupported,
    NotFound,
    NotSupported,
    ProviderError,
    SyncTokenExpired,
    Transient,
)
from parlay.providers.microsoft_http import graph_error

GRAPH_URL = "https://graph.microsoft.com/v1.0"
PREFER_UTC = 'outlook.timezone="UTC"'
PAGE_SIZE = 250
LOOKUP_ONE_BY_ONE = 4  # more items to read again than this: one calendarView instead
SCAN_PAGES = 40  # a lookup by transactionId reads at most this many pages of one calendar


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

    def _view(
        self, client: httpx.AsyncClient, calendar_id: str, start: datetime, end: datetime
    ) -> AsyncIterator[dict[str, Any]]:
        params = {
            "startDateTime": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "endDateTime": end.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "$select": mev.BUSY_FIELDS,
            "$top": str(self.page_size),
        }
        url = f"me/calendars/{self._path(calendar_id)}/calendarView"
        return self._pages(client, "calendarView", url, params, headers={"Prefer": PREFER_UTC})

    async def _busy_events(
        self, calendar_id: str, start: datetime, end: datetime
    ) -> list[BusyEvent]:
        async with self._client() as client:
            return [
                busy
                async for item in self._view(client, calendar_id, start, end)
                for busy in self._within(item, start, end)
            ]

    async def _sync_busy(
        self, calendar_id: str, start: datetime, end: datetime, sync_token: str | None
    ) -> SyncResult:
        """A calendarView delta round: from the window (no token) or from the stored
        deltaLink; its own deltaLink is the next token.  Items that cannot be judged as they
        came (see ``microsoft_delta.needs_lookup``) are read again before they count."""
        headers = {"Prefer": f"{PREFER_UTC}, odata.maxpagesize={self.page_size}"}
        if sync_token is None:
            url = f"me/calendars/{self._path(calendar_id)}/calendarView/delta"
            params: dict[str, str] | None = {
                "startDateTime": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "endDateTime": end.strftime("%Y-%m-%dT%H:%M:%SZ"),
            }
        elif mdelta.same_origin(sync_token, self.graph_url):
            url, params = sync_token, None
        else:  # a token for another Graph (the settings changed): start again
            raise SyncTokenExpired("delta link of another origin")
        try:
            return await self._delta_sync(calendar_id, start, end, url, params, headers)
        except (NotFound, NotSupported) as exc:
            if isinstance(exc, MailboxNotSupported):
                raise
            if sync_token is not None:  # the token's round is gone: start one again
                raise SyncTokenExpired(f"delta link refused: {exc}") from exc
        # No delta here (a Graph without it, or not for this calendar): read the window in
        # full, which also tells a calendar that is really gone (NotFound) from one that is not.
        return await super()._sync_busy(calendar_id, start, end, None)

    async def _delta_sync(
        self,
        calendar_id: str,
        start: datetime,
        end: datetime,
        url: str,
        params: dict[str, str] | None,
        headers: dict[str, str],
    ) -> SyncResult:
        changed: dict[str, tuple[BusyEvent, ...]] = {}
        removed: set[str] = set()
        async with self._client() as client:
            delta = await mdelta.read_round(client, url, params, headers)
            later: dict[str, None] = {}
            for item in delta.items:
                event_id = str(item.get("id") or "")
                if not event_id:
                    continue
                changed.pop(event_id, None)  # the last word on an item in a round counts
                removed.discard(event_id)
                later.pop(event_id, None)
                if mdelta.is_removed(item):
                    removed.add(event_id)
                elif mdelta.needs_lookup(item):
                    later[event_id] = None
                else:
                    changed[event_id] = self._within(item, start, end)
            found = await self._look_up(client, calendar_id, list(later), start, end)
        for event_id in later:
            if event_id in found:
                changed[event_id] = self._within(found[event_id], start, end)
            else:
                removed.add(event_id)  # gone meanwhile, or out of the window
        return SyncResult(
            full=params is not None,  # a round from the window (not a token) is a full one
            changed=changed,
            removed=frozenset(removed - set(changed)),
            next_token=delta.delta_link,
        )

    @staticmethod
    def _within(item: Mapping[str, Any], start: datetime, end: datetime) -> tuple[BusyEvent, ...]:
        busy = mev.busy_event(item)
        return (busy,) if busy is not None and busy.start < end and busy.end > start else ()

    async def _look_up(
        self,
        client: httpx.AsyncClient,
        calendar_id: str,
        event_ids: list[str],
        start: datetime,
        end: datetime,
    ) -> dict[str, dict[str, Any]]:
        """The busy fields of these events, by id (an event not found is left out): a GET
        each for a few, else one calendarView of the window (an event outside it adds no
        busy time anyway)."""
        if not event_ids:
            return {}
        headers = {"Prefer": PREFER_UTC}
        if len(event_ids) > LOOKUP_ONE_BY_ONE:
            wanted = set(event_ids)
            return {
                str(item["id"]): item
                async for item in self._view(client, calendar_id, start, end)
                if item.get("id") in wanted
            }
        found: dict[str, dict[str, Any]] = {}
        for event_id in event_ids:
            try:
                response = await self._send(
                    client,
                    "lookup",
                    "GET",
                    f"me/events/{self._path(event_id)}",
                    params={"$select": mev.BUSY_FIELDS},
                    headers=headers,
                )
            except NotFound:
                continue
            found[event_id] = response.json()
        return found

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
