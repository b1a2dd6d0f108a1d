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
from parlay.providers.errors import NotSupported, ProviderError, SyncTokenExpired
from parlay.providers.google_events import (
    busy_in,
    event_body,
    event_ids,
    rfc3339,
    series_key,
    zone_named,
)
from parlay.providers.google_http import (
    GoogleAPIError,
    GoogleSession,
    borrowed,
    classify,
    restorable,
)

NO_MAIL = {"sendUpdates": "none"}  # rule 3: Google sends no invitations of its own


class GoogleProvider(CalendarProvider):
    key = "google"
    page_size = 2500  # events.list's maximum: fewest round trips

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

    @asynccontextmanager
    async def _session(self) -> AsyncIterator[GoogleSession]:
        """One client per hook call: nothing outlives the call, nothing to close later.  The
        token is read here: after a refresh the base calls the hook, so a new session, again."""
        transport = borrowed(self._transport) if self._transport else None
        async with httpx.AsyncClient(transport=transport, timeout=self.timeout) as client:
            yield GoogleSession(client, self._v3, self.credentials.access_token or "")

    def _classify(self, exc: Exception) -> ProviderError | None:
        return classify(exc)

    # ---- identity and calendars -------------------------------------------------------------

    async def _account_email(self) -> str:
        async with self._session() as api:
            try:
                info = await api.send("GET", self._userinfo_url)
                if info.get("email"):
                    return str(info["email"])
            except GoogleAPIError as exc:
                if exc.status == 401:
                    raise
            # No e-mail scope or no userinfo: the primary calendar's id is the account's e-mail.
            primary = await api.send("GET", f"{self._v3}/calendars/primary")
            return str(primary["id"])

    async def _list_calendars(self) -> list[CalendarInfo]:
        async with self._session() as api:
            entries, _ = await api.pages(f"{self._v3}/users/me/calendarList", {"maxResults": "250"})
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
            "maxResults": str(self.page_size),
            "timeMin": rfc3339(start),
            "timeMax": rfc3339(end),
        }

    async def _busy_events(
        self, calendar_id: str, start: datetime, end: datetime
    ) -> list[BusyEvent]:
        async with self._session() as api:
            params = self._window(start, end) | {"showDeleted": "false"}
            items, page = await api.pages(api.events_url(calendar_id), params)
        return busy_in(items, zone_named(page.get("timeZone")), start, end)

    async def _sync_busy(
        self, calendar_id: str, start: datetime, end: datetime, sync_token: str | None
    ) -> SyncResult:
        # Google refuses timeMin/timeMax beside a syncToken; all else stays as in the full list.
        params = self._window(start, end)
        if sync_token is not None:
            params = {
                "singleEvents": "true",
                "maxResults": str(self.page_size),
                "syncToken": sync_token,
            }
        async with self._session() as api:
            try:
                items, page = await api.pages(api.events_url(calendar_id), params)
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
                instances = await self._instances(api, calendar_id, key, start, end)
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
        api: GoogleSession,
        calendar_id: str,
        series: str,
        start: datetime,
        end: datetime,
    ) -> list[dict[str, Any]] | None:
        """A recurring series' live instances in the window; None when the series is gone."""
        params = {
            "timeMin": rfc3339(start),
            "timeMax": rfc3339(end),
            "maxResults": str(self.page_size),
        }
        url = api.events_url(calendar_id, series) + "/instances"
        try:
            items, _ = await api.pages(url, params)
        except GoogleAPIError as exc:
            if exc.status in (404, 410):
                return None
            raise
        return [i for i in items if i.get("status") != "cancelled"]

    # ---- the meeting's event ----------------------------------------------------------------

    async def _create_event(self, calendar_id: str, event: MeetingEvent) -> EventRef:
        async with self._session() as api:
            return await self._place(api, calendar_id, event)

    async def _place(self, api: GoogleSession, calendar_id: str, event: MeetingEvent) -> EventRef:
        """Insert under the derived id; a 409 (a retry, or a deleted event Google keeps under
        that id) becomes a patch to the wanted state, ``status: confirmed`` included.  If Google
        will not restore a deleted event, the next derived id is tried."""
        body = event_body(event)
        for event_id in event_ids(event.meeting_id):
            try:
                url = api.events_url(calendar_id)
                made = await api.send("POST", url, params=NO_MAIL, json={"id": event_id} | body)
                return EventRef(external_id=str(made.get("id", event_id)), etag=made.get("etag"))
            except GoogleAPIError as exc:
                if exc.status != 409:
                    raise
            try:
                url = api.events_url(calendar_id, event_id)
                patched = await api.send("PATCH", url, params=NO_MAIL, json=body)
                return EventRef(external_id=event_id, etag=patched.get("etag"))
            except GoogleAPIError as exc:
                if not restorable(exc):
                    raise
        raise NotSupported("every event id derived from this meeting is taken")

    async def _update_event(
        self, calendar_id: str, event: MeetingEvent, ref: EventRef | None
    ) -> EventRef:
        event_id = ref.external_id if ref else event_ids(event.meeting_id)[0]
        async with self._session() as api:
            try:
                url = api.events_url(calendar_id, event_id)
                patched = await api.send("PATCH", url, params=NO_MAIL, json=event_body(event))
                return EventRef(external_id=event_id, etag=patched.get("etag"))
            except GoogleAPIError as exc:
                if exc.status not in (404, 410):
                    raise
            return await self._place(api, calendar_id, event)  # deleted meanwhile: again

    async def _delete_event(self, calendar_id: str, meeting_id: str, ref: EventRef | None) -> None:
        candidates = event_ids(meeting_id)
        if ref and ref.external_id not in candidates:
            candidates.insert(0, ref.external_id)
        async with self._session() as api:
            for event_id in candidates:
                try:
                    url = api.events_url(calendar_id, event_id)
                    await api.send("DELETE", url, params=NO_MAIL)
                    return
                except GoogleAPIError as exc:
                    if exc.status == 404:
                        return  # never written under this id: nothing further either
                    if exc.status != 410:
                        raise
                    # 410: deleted before; a later derived id may hold the live event


__all__ = ["GoogleProvider"]
