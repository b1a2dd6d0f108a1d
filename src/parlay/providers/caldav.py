"""CalDAV adapter (RFC 4791, discovery per RFC 6764/5397) on the ``caldav`` library.

Linking takes a URL (server root, principal or a calendar collection), a user name and an app
password.  Busy times come from a calendar-query with a time-range, recurrences expanded here
with ``recurring-ical-events``; events are written with our own conditional PUTs on a path
derived from the meeting id (``If-None-Match: *`` to create, ``If-Match`` to update), because
the library's create is a lookup followed by a PUT.  The library blocks, so every hook runs in
a thread (``asyncio.to_thread``) under the base class's timeout, and the HTTP client carries
the same timeout.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit
from zoneinfo import ZoneInfo

import niquests
from caldav.collection import Calendar as DAVCalendar
from caldav.collection import Principal
from caldav.davclient import DAVClient
from caldav.elements import cdav
from caldav.lib import error as dav_error
from lxml import etree

from parlay.providers.base import DEFAULT_TIMEOUT, CalendarProvider, RefreshCallback
from parlay.providers.caldav_ics import (
    build_event,
    busy_from_ics,
    calendar_zone,
    resource_name,
)
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
    NotFound,
    NotSupported,
    ProviderError,
    RateLimited,
    SyncTokenExpired,
    Transient,
)

#: Events fetched per calendar-multiget REPORT during a sync.
MULTIGET_BATCH = 200

log = logging.getLogger("parlay.providers.caldav")
ICS_TYPE = "text/calendar; charset=utf-8"


def _path(url: str) -> str:
    path = urlsplit(url).path or "/"
    return path if path.endswith("/") else path + "/"


def _item_key(url: object) -> str:
    """An event resource's key, whatever the server percent-encodes (servers differ between
    their sync report and their multiget answers, e.g. ``@`` vs ``%40`` in UID-named files)."""
    return unquote(_path(str(url)).rstrip("/"))


def _status_error(op: str, status: int) -> ProviderError:
    if status == 401:
        return AuthExpired(f"{op}: 401")
    if status == 404:
        return NotFound(f"{op}: 404")
    if status == 429:
        return RateLimited(f"{op}: 429")
    if status >= 500:
        return Transient(f"{op}: {status}")
    return NotSupported(f"{op}: unexpected status {status}")


class CalDAVProvider(CalendarProvider):
    key = "caldav"

    def __init__(
        self,
        credentials: Credentials,
        *,
        connection_id: str = "",
        refresh: RefreshCallback | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        zone: str = "UTC",
    ) -> None:
        """``zone`` places all-day events whose calendar names no time zone of its own."""
        super().__init__(credentials, connection_id=connection_id, refresh=refresh, timeout=timeout)
        if not credentials.url or not credentials.username:
            raise ValueError("CalDAV needs url and username")
        self._zone = ZoneInfo(zone)

    # ---- plumbing ---------------------------------------------------------------------------

    def _client(self, url: str | None = None) -> DAVClient:
        creds = self.credentials
        return DAVClient(
            url=url or creds.url,
            username=creds.username,
            password=creds.password or "",
            timeout=max(1, int(self.timeout)),
            enable_rfc6764=False,
        )

    def _principal(self, client: DAVClient) -> Principal:
        """The user's principal, found from whatever URL was given (RFC 5397, then RFC 6764)."""
        try:
            principal = client.principal()
            principal.calendar_home_set  # noqa: B018 - proves this is a CalDAV principal
            return principal
        except dav_error.AuthorizationError:
            raise
        except Exception:
            well_known = urljoin(str(client.url), "/.well-known/caldav")
            if _path(str(client.url)) == "/.well-known/caldav/":
                raise
            fallback = self._client(well_known)
            try:
                principal = fallback.principal()
                principal.calendar_home_set  # noqa: B018
            except Exception:
                fallback.close()
                raise
            return principal

    def _calendar(self, client: DAVClient, calendar_id: str) -> DAVCalendar:
        return DAVCalendar(client=client, url=urljoin(str(client.url), calendar_id))

    def _addresses(self) -> frozenset[str]:
        username = (self.credentials.username or "").lower()
        return frozenset({username}) if "@" in username else frozenset()

    def _zone_of(self, calendar: DAVCalendar) -> ZoneInfo:
        try:
            props: Any = calendar.get_properties([cdav.CalendarTimeZone()])
        except dav_error.DAVError:
            return self._zone
        value = props.get(cdav.CalendarTimeZone.tag)
        return calendar_zone(str(value) if value else None, self._zone)

    async def _run(self, fn: Any, *args: Any) -> Any:
        return await asyncio.to_thread(fn, *args)

    def _classify(self, exc: Exception) -> ProviderError | None:
        if isinstance(exc, dav_error.RateLimitError):
            return RateLimited("rate limited", retry_after=exc.retry_after_seconds)
        if isinstance(exc, dav_error.AuthorizationError):
            if exc.status == 403:
                return NotSupported("forbidden")
            return AuthExpired("credentials refused")
        if isinstance(exc, dav_error.NotFoundError):
            return NotFound("not found")
        if isinstance(exc, dav_error.DAVError | etree.LxmlError | niquests.RequestException):
            return Transient(f"CalDAV: {type(exc).__name__}")
        return None

    # ---- hooks ------------------------------------------------------------------------------

    async def _account_email(self) -> str:
        return str(await self._run(self._blocking_account))

    def _blocking_account(self) -> str:
        with self._client() as client:
            self._principal(client)
        return self.credentials.username or ""

    async def _list_calendars(self) -> list[CalendarInfo]:
        result: list[CalendarInfo] = await self._run(self._blocking_calendars)
        return result

    def _blocking_calendars(self) -> list[CalendarInfo]:
        given = _path(self.credentials.url or "")
        with self._client() as client:
            calendars: Any = self._principal(client).calendars()
            found = []
            for calendar in calendars:
                path = _path(str(calendar.url))
                name = calendar.get_display_name() or path.rstrip("/").rsplit("/", 1)[-1]
                found.append((path, str(name)))
        if not found:
            raise NotSupported("no calendars in this account's calendar home")
        primary = given if any(path == given for path, _ in found) else found[0][0]
        return [CalendarInfo(external_id=p, name=n, primary=p == primary) for p, n in found]

    async def _busy_events(
        self, calendar_id: str, start: datetime, end: datetime
    ) -> list[BusyEvent]:
        result: list[BusyEvent] = await self._run(self._blocking_busy, calendar_id, start, end)
        return result

    def _blocking_busy(self, calendar_id: str, start: datetime, end: datetime) -> list[BusyEvent]:
        with self._client() as client:
            calendar = self._calendar(client, calendar_id)
            zone = self._zone_of(calendar)
            objects: Any = calendar.search(start=start, end=end, event=True, expand=False)
            texts = [(str(obj.url), obj.data) for obj in objects]
        events: list[BusyEvent] = []
        for href, text in texts:
            events.extend(self._parse(href, text, start, end, zone))
        return events

    def _parse(
        self, href: str, text: str | None, start: datetime, end: datetime, zone: ZoneInfo
    ) -> list[BusyEvent]:
        if not text:
            return []
        try:
            return busy_from_ics(text, start, end, zone=zone, addresses=self._addresses())
        except ValueError:
            log.warning(
                "connection=%s skipped an unreadable resource %s",
                self.connection_id or "-",
                _path(href).rstrip("/"),
            )
            return []

    async def _sync_busy(
        self, calendar_id: str, start: datetime, end: datetime, sync_token: str | None
    ) -> SyncResult:
        result: SyncResult = await self._run(
            self._blocking_sync, calendar_id, start, end, sync_token
        )
        return result

    def _blocking_sync(
        self, calendar_id: str, start: datetime, end: datetime, sync_token: str | None
    ) -> SyncResult:
        with self._client() as client:
            calendar = self._calendar(client, calendar_id)
            zone = self._zone_of(calendar)
            try:
                # Hrefs only: their data then comes in calendar-multiget REPORTs (RFC 4791
                # 7.9, which every CalDAV server has) instead of one GET per event.
                batch: Any = calendar.get_objects_by_sync_token(
                    sync_token, load_objects=False, disable_fallback=sync_token is not None
                )
            except dav_error.DAVError as exc:
                if (
                    sync_token is not None
                    and any("valid-sync-token" in p for p in exc.preconditions)
                    or (sync_token is not None and exc.status in (403, 409, 412))
                ):
                    raise SyncTokenExpired("sync token expired") from exc
                raise
            deleted = {_item_key(url) for url in batch.deleted_urls}
            wanted = {href: obj.url for obj in batch if (href := _item_key(obj.url)) not in deleted}
            changed: dict[str, tuple[BusyEvent, ...]] = {}
            urls = list(wanted.values())
            for first in range(0, len(urls), MULTIGET_BATCH):
                found: Any = calendar.multiget(urls[first : first + MULTIGET_BATCH])  # sync client
                for obj in found:
                    href = _item_key(obj.url)
                    changed[href] = tuple(self._parse(href, obj.data, start, end, zone))
            # Listed by the sync report but gone by the time we asked for it: deleted meanwhile.
            deleted |= set(wanted) - set(changed)
            token = batch.sync_token
        return SyncResult(
            full=sync_token is None,
            changed=changed,
            removed=frozenset(deleted),
            next_token=str(token) if token else None,
        )

    async def _create_event(self, calendar_id: str, event: MeetingEvent) -> EventRef:
        result: EventRef = await self._run(self._blocking_write, calendar_id, event, None, True)
        return result

    async def _update_event(
        self, calendar_id: str, event: MeetingEvent, ref: EventRef | None
    ) -> EventRef:
        etag = ref.etag if ref else None
        result: EventRef = await self._run(self._blocking_write, calendar_id, event, etag, False)
        return result

    def _blocking_write(
        self, calendar_id: str, event: MeetingEvent, etag: str | None, create: bool
    ) -> EventRef:
        body = build_event(event)
        with self._client() as client:
            url = urljoin(urljoin(str(client.url), calendar_id), resource_name(event.meeting_id))
            for _ in range(3):
                if create:
                    conditions = {"If-None-Match": "*"}
                else:
                    etag = etag or self._current_etag(client, url)
                    conditions = {"If-Match": etag} if etag else {"If-None-Match": "*"}
                answer = client.request(url, "PUT", body, {"Content-Type": ICS_TYPE, **conditions})
                if answer.status in (200, 201, 204):
                    new_etag = answer.headers.get("ETag") or self._current_etag(client, url)
                    return EventRef(external_id=_path(url).rstrip("/"), etag=new_etag)
                if answer.status != 412:
                    raise _status_error("put", answer.status)
                # 412: it exists (create) or changed/vanished (update): look again, then update
                create, etag = False, None
        raise Transient("put: the event kept changing under us")

    def _current_etag(self, client: DAVClient, url: str) -> str | None:
        answer = client.request(url, "GET")
        if answer.status == 404:
            return None
        if answer.status != 200:
            raise _status_error("get", answer.status)
        etag = answer.headers.get("ETag")
        return str(etag) if etag else None

    async def _delete_event(self, calendar_id: str, meeting_id: str, ref: EventRef | None) -> None:
        await self._run(self._blocking_delete, calendar_id, meeting_id)

    def _blocking_delete(self, calendar_id: str, meeting_id: str) -> None:
        with self._client() as client:
            url = urljoin(urljoin(str(client.url), calendar_id), resource_name(meeting_id))
            answer = client.request(url, "DELETE")
        if answer.status in (200, 204, 404, 410):
            return
        raise _status_error("delete", answer.status)


__all__ = ["CalDAVProvider"]
