"""Google Calendar v3 Event resources <-> Parlay values (pure functions, no I/O).

Kept apart from the HTTP adapter so rule 1's reading of an event (all-day in the calendar's
zone, transparency, the account's own answer to an invitation, Parlay's own events) can be
tested on plain dicts.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from parlay.providers.dto import BusyEvent, EventStatus, MeetingEvent

MEETING_KEY = "parlayMeetingId"
"""``extendedProperties.private`` key naming the Parlay meeting an event was written for."""

_EVENT_ID = re.compile(r"^[a-v0-9]{5,1024}$")  # Google's client-chosen ids: base32hex
# Working-location entries do not block time in Google's own free/busy.
_NEVER_BUSY_TYPES = frozenset({"workingLocation"})


def event_ids(meeting_id: str, count: int = 4) -> list[str]:
    """The ids a meeting's event may have in any Google calendar, in the order they are tried.

    The first is ``p`` + the meeting id's hex digits (a UUID's hex is valid base32hex); the
    others (suffix ``v1``..; ``v`` never occurs in hex, so no meeting's id collides with
    them) are used only when Google keeps a deleted event under an id it will not restore.
    """
    base = "p" + meeting_id.replace("-", "").lower()
    if not _EVENT_ID.match(base) or len(base) > 1000:
        base = "p" + hashlib.sha256(meeting_id.encode()).hexdigest()
    return [base] + [f"{base}v{n}" for n in range(1, count)]


def zone_named(name: str | None, fallback: ZoneInfo | None = None) -> ZoneInfo:
    try:
        return ZoneInfo(name) if name else fallback or ZoneInfo("UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return fallback or ZoneInfo("UTC")


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _instant(when: dict[str, Any], zone: ZoneInfo) -> tuple[datetime, bool]:
    """An EventDateTime as a UTC instant, and whether it was a date (all-day)."""
    if when.get("dateTime"):
        moment = datetime.fromisoformat(str(when["dateTime"]))
        if moment.tzinfo is None:  # only legal with a timeZone beside it
            moment = moment.replace(tzinfo=zone_named(when.get("timeZone"), zone))
        return moment.astimezone(UTC), False
    day = date.fromisoformat(str(when["date"]))
    return datetime.combine(day, time(), zone).astimezone(UTC), True


def _self_answer(item: dict[str, Any]) -> dict[str, Any] | None:
    for attendee in item.get("attendees") or []:
        if isinstance(attendee, dict) and attendee.get("self"):
            return attendee
    return None


def _status(item: dict[str, Any], me: dict[str, Any] | None) -> EventStatus:
    status = item.get("status", "confirmed")
    if status in ("cancelled", "tentative"):
        return "cancelled" if status == "cancelled" else "tentative"
    if me is not None and me.get("responseStatus") in ("tentative", "needsAction"):
        return "tentative"  # accepted tentatively, or an invitation not answered yet
    return "confirmed"


def busy_event(item: dict[str, Any], zone: ZoneInfo) -> BusyEvent | None:
    """One event (or expanded instance) as rule 1 judges it; None if it has no times."""
    start, end = item.get("start"), item.get("end")
    if not isinstance(start, dict) or not isinstance(end, dict):
        return None  # a deleted event's stub carries only its id
    try:
        begins, all_day = _instant(start, zone)
        ends, _ = _instant(end, zone)
    except (KeyError, ValueError, TypeError):
        return None
    me = _self_answer(item)
    private = (item.get("extendedProperties") or {}).get("private") or {}
    meeting = private.get(MEETING_KEY)
    return BusyEvent(
        start=begins,
        end=ends,
        all_day=all_day,
        transparent=item.get("transparency") == "transparent"
        or item.get("eventType") in _NEVER_BUSY_TYPES,
        status=_status(item, me),
        declined=me is not None and me.get("responseStatus") == "declined",
        parlay_meeting_id=str(meeting) if meeting else None,
        uid=str(item["id"]) if item.get("id") else None,
    )


def busy_in(
    items: list[dict[str, Any]], zone: ZoneInfo, start: datetime, end: datetime
) -> list[BusyEvent]:
    """The events among ``items`` that overlap [start, end)."""
    found = [busy_event(item, zone) for item in items]
    return [e for e in found if e is not None and e.end > start and e.start < end]


def series_key(item: dict[str, Any]) -> str:
    """What a sync groups an item under: its recurring series, else the event itself."""
    return str(item.get("recurringEventId") or item["id"])


def event_body(event: MeetingEvent) -> dict[str, Any]:
    """The full wanted state of a meeting's event (insert, or patch over whatever is there)."""
    body: dict[str, Any] = {
        "summary": event.title,
        "description": event.description,
        "location": event.location,
        "start": {"dateTime": rfc3339(event.start), "timeZone": "UTC"},
        "end": {"dateTime": rfc3339(event.end), "timeZone": "UTC"},
        "status": "confirmed",
        "transparency": "opaque",
        "extendedProperties": {"private": {MEETING_KEY: event.meeting_id}},
    }
    if event.url.startswith(("https://", "http://")):
        body["source"] = {"title": event.title, "url": event.url}
    return body
