"""Google Calendar adapter: Calendar API v3 and the OpenID userinfo endpoint over httpx.

Busy times come from ``events.list`` with ``singleEvents=true`` (recurrences expanded by
Google), incremental through sync tokens; a changed recurring series is read again whole
through ``events.instances``, so the busy mirror can key it by series.  A meeting's event
gets an id derived from the meeting id, so a retried insert answers 409 instead of writing
a duplicate; the 409 then becomes a patch to the wanted state.  Refreshing tokens is the base
class's work: every 401 surfaces as :class:`AuthExpired`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx

from parlay.providers.base import DEFAULT_TIMEOUT, CalendarProvider, RefreshCallback
from parlay.providers.dto import (
    BusyEvent,
    CalendarInfo,
    Credentials,
    EventRef,
    MeetingEvent,
    SyncResult,
)
from parlay.providers.errors import NotSupported, ProviderError, SyncTokenExpired, Transient
from parlay.providers.google_events import (
    busy_in,
    event_body,
    event_ids,
    rfc3339,
    series_key,
    zone_named,
)
from parlay.providers.google_http import GoogleAPIError, borrowed, classify, raise_for, restorable

PAGE_SIZE = "2500"  # events.list's maximum
MAX_PAGES = 200
NO_MAIL = {"sendUpdates": "none"}  # rule 3: Google sends no invitations of its own


class GoogleProvider(CalendarProvider):
    key = "google"

    def __init__(
        self,
        credentials: Credentials,
        *,
        connection_id: str = "",
        refresh: RefreshCallback | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        api_url: str = "https://www.googleapis.com",
        userinfo_url: str = "https://openidconnect.googleapis.com/v1/userinfo",
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(credentials, connection_id=connection_id, refresh=refresh, timeout=timeout)
        self._v3 = api_url.rstrip("/") + "/calendar/v3"
        self._userinfo_url = userinfo_url
        self._transport = transport

    # ---- HTTP -------------------------------------------------------------------------------

    @asynccontextmanager
    async def _client(self) -> AsyncIterator[httpx.AsyncClient]:
        """One client per hook call: nothing outlives the call, nothing to close later."""
        transport = borrowed(self._transport) if self._transport else None
        async with httpx.AsyncClient(transport=transport, timeout=self.timeout) as client:
            yield client

    async def _send(
        self,
        client: httpx.AsyncClient,
        method: str,
        url: str,
        *,
        params: dict[str, str] | None = None,
        json: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        # The token is read at each request: after a refresh the base calls the hook again.
        headers = {"Authorization": f"Bearer {self.credentials.access_token or ''}"}
        answer = await client.request(method, url, params=params, json=json, headers=headers)
        raise_for(answer)
        if answer.status_code == 204 or not answer.content:
            return {}
        body = answer.json()
        if not isinstance(body, dict):
            raise ValueError("a JSON object was expected")
        return body

    async def _list(
        self, client: httpx.AsyncClient, url: str, params: dict[str, str]
    ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """Every item over all pages, and the last page (it holds ``nextSyncToken``)."""
        items: list[dict[str, Any]] = []
        query = params
        for _ in range(MAX_PAGES):
            page = await self._send(client, "GET", url, params=query)
            items.extend(i for i in page.get("items") or [] if isinstance(i, dict) and "id" in i)
            token = page.get("nextPageToken")
            if not token:
                return items, page
            query = {**params, "pageToken": str(token)}
        raise Transient("events.list: too many pages")

    def _events_url(self, calendar_id: str, event_id: str | None = None) -> str:
        url = f"{self._v3}/calendars/{quote(calendar_id, safe='')}/events"
        return f"{url}/{quote(event_id, safe='')}" if event_id else url

    def _classify(self, exc: Exception) -> ProviderError | None:
        return classify(exc)

    # ---- identity and calendars -------------------------------------------------------------

    async def _account_email(self) -> str:
        async with self._client() as client:
            try:
                info = await self._send(client, "GET", self._userinfo_url)
                if info.get("email"):
                    return str(info["email"])
            except GoogleAPIError as exc:
                if exc.status == 401:
                    raise
            # No e-mail scope or no userinfo: the primary calendar's id is the account's e-mail.
            primary = await self._send(client, "GET", f"{self._v3}/calendars/primary")
            return str(primary["id"])

    async def _list_calendars(self) -> list[CalendarInfo]:
        async with self._client() as client:
            entries, _ = await self._list(
                client, f"{self._v3}/users/me/calendarList", {"maxResults": "250"}
            )
        return [
            CalendarInfo(
                external_id=str(e["id"]),
                name=str(e.get("summaryOverride") or e.get("summary") or e["id"]),
                primary=bool(e.get("primary")),
            )
            for e in entries
        ]

    # ---- busy times -------------------------------------------------------------------------

    def _window(self, start: datetime, end: datetime) -> dict[str, str]:
        return {
            "singleEvents": "true",
            "maxResults": PAGE_SIZE,
            "timeMin": rfc3339(start),
            "timeMax": rfc3339(end),
        }

    async def _busy_events(
        self, calendar_id: str, start: datetime, end: datetime
    ) -> list[BusyEvent]:
        async with self._client() as client:
            params = self._window(start, end) | {"showDeleted": "false"}
            items, page = await self._list(client, self._events_url(calendar_id), params)
        return busy_in(items, zone_named(page.get("timeZone")), start, end)

    async def _sync_busy(
        self, calendar_id: str, start: datetime, end: datetime, sync_token: str | None
    ) -> SyncResult:
        # Google refuses timeMin/timeMax beside a syncToken; all else stays as in the full list.
        params = self._window(start, end)
        if sync_token is not None:
            params = {"singleEvents": "true", "maxResults": PAGE_SIZE, "syncToken": sync_token}
        async with self._client() as client:
            try:
                items, page = await self._list(client, self._events_url(calendar_id), params)
            except GoogleAPIError as exc:
                if exc.status == 410:
                    raise SyncTokenExpired(exc.reason or "fullSyncRequired") from exc
                raise
            zone = zone_named(page.get("timeZone"))
            changed: dict[str, tuple[BusyEvent, ...]] = {}
            removed: set[str] = set()
            series: set[str] = set()
            for item in items:
                key = series_key(item)
                if sync_token is not None and (
                    item.get("recurringEventId") or "recurrence" in item
                ):
                    series.add(key)  # one instance changed: read the whole series again
                elif item.get("status") == "cancelled":
                    removed.add(key)
                else:
                    changed[key] = changed.get(key, ()) + tuple(busy_in([item], zone, start, end))
            for key in series - removed:
                instances = await self._instances(client, calendar_id, key, start, end)
                if instances is None:
                    removed.add(key)
                else:
                    changed[key] = tuple(busy_in(instances, zone, start, end))
        for key in removed:
            changed.pop(key, None)
        return SyncResult(
            full=sync_token is None,
            changed=changed,
            removed=frozenset(removed),
            next_token=str(page["nextSyncToken"]) if page.get("nextSyncToken") else None,
        )

    async def _instances(
        self,
        client: httpx.AsyncClient,
        calendar_id: str,
        series: str,
        start: datetime,
        end: datetime,
    ) -> list[dict[str, Any]] | None:
        """A recurring series' live instances in the window; None when the series is gone."""
        params = {"timeMin": rfc3339(start), "timeMax": rfc3339(end), "maxResults": PAGE_SIZE}
        url = self._events_url(calendar_id, series) + "/instances"
        try:
            items, _ = await self._list(client, url, params)
        except GoogleAPIError as exc:
            if exc.status in (404, 410):
                return None
            raise
        return [i for i in items if i.get("status") != "cancelled"]

    # ---- the meeting's event ----------------------------------------------------------------

    async def _create_event(self, calendar_id: str, event: MeetingEvent) -> EventRef:
        async with self._client() as client:
            return await self._place(client, calendar_id, event)

    async def _place(
        self, client: httpx.AsyncClient, calendar_id: str, event: MeetingEvent
    ) -> EventRef:
        """Insert under the derived id; a 409 (a retry, or a deleted event Google keeps under
        that id) becomes a patch to the wanted state, ``status: confirmed`` included.  If Google
        will not restore a deleted event, the next derived id is tried."""
        body = event_body(event)
        for event_id in event_ids(event.meeting_id):
            try:
                url = self._events_url(calendar_id)
                made = await self._send(
                    client, "POST", url, params=NO_MAIL, json={"id": event_id} | body
                )
                return EventRef(external_id=str(made.get("id", event_id)), etag=made.get("etag"))
            except GoogleAPIError as exc:
                if exc.status != 409:
                    raise
            try:
                url = self._events_url(calendar_id, event_id)
                patched = await self._send(client, "PATCH", url, params=NO_MAIL, json=body)
                return EventRef(external_id=event_id, etag=patched.get("etag"))
            except GoogleAPIError as exc:
                if not restorable(exc):
                    raise
        raise NotSupported("every event id derived from this meeting is taken")

    async def _update_event(
        self, calendar_id: str, event: MeetingEvent, ref: EventRef | None
    ) -> EventRef:
        event_id = ref.external_id if ref else event_ids(event.meeting_id)[0]
        async with self._client() as client:
            try:
                url = self._events_url(calendar_id, event_id)
                patched = await self._send(
                    client, "PATCH", url, params=NO_MAIL, json=event_body(event)
                )
                return EventRef(external_id=event_id, etag=patched.get("etag"))
            except GoogleAPIError as exc:
                if exc.status not in (404, 410):
                    raise
            return await self._place(client, calendar_id, event)  # deleted meanwhile: again

    async def _delete_event(self, calendar_id: str, meeting_id: str, ref: EventRef | None) -> None:
        candidates = event_ids(meeting_id)
        if ref and ref.external_id not in candidates:
            candidates.insert(0, ref.external_id)
        async with self._client() as client:
            for event_id in candidates:
                try:
                    url = self._events_url(calendar_id, event_id)
                    await self._send(client, "DELETE", url, params=NO_MAIL)
                    return
                except GoogleAPIError as exc:
                    if exc.status == 404:
                        return  # never written under this id: nothing further either
                    if exc.status != 410:
                        raise
                    # 410: deleted before; a later derived id may hold the live event


__all__ = ["GoogleProvider"]
