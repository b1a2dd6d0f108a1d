"""iCalendar for the CalDAV adapter: occurrences -> BusyEvent, MeetingEvent -> a resource.

Pure functions over text (no I/O), so they are cheap to test on their own.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import recurring_ical_events
from icalendar import Calendar, Event

from parlay.providers.dto import BusyEvent, EventStatus, MeetingEvent

PRODID = "-//Parlay//Parlay Scheduling 1//EN"
MEETING_PROPERTY = "X-PARLAY-MEETING-ID"
_SAFE_ID = re.compile(r"^[A-Za-z0-9_.-]{1,80}$")
_STATUS: dict[str, EventStatus] = {
    "CONFIRMED": "confirmed",
    "TENTATIVE": "tentative",
    "CANCELLED": "cancelled",
}


def meeting_uid(meeting_id: str) -> str:
    """The UID Parlay gives a meeting everywhere (the same as in its .ics downloads)."""
    return f"{meeting_id}@parlay"


def resource_name(meeting_id: str) -> str:
    """The resource name a meeting's event gets in any calendar collection."""
    if _SAFE_ID.match(meeting_id):
        return f"parlay-{meeting_id}.ics"
    return f"parlay-{hashlib.sha256(meeting_id.encode()).hexdigest()[:40]}.ics"


def build_event(event: MeetingEvent, *, stamp: datetime | None = None) -> str:
    """A calendar object resource (no METHOD, RFC 4791) for a meeting."""
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    vevent = Event()
    vevent.add("uid", meeting_uid(event.meeting_id))
    vevent.add("dtstamp", stamp or datetime.now(UTC))
    vevent.add("dtstart", event.start.astimezone(UTC))
    vevent.add("dtend", event.end.astimezone(UTC))
    vevent.add("summary", event.title)
    vevent.add("sequence", event.sequence)
    vevent.add("status", "CONFIRMED")
    vevent.add("transp", "OPAQUE")
    if event.description:
        vevent.add("description", event.description)
    if event.location:
        vevent.add("location", event.location)
    if event.url:
        vevent.add("url", event.url)
    vevent.add(MEETING_PROPERTY, event.meeting_id)
    calendar.add_component(vevent)
    return calendar.to_ical().decode()


def _instant(value: date | datetime, zone: ZoneInfo) -> datetime:
    if isinstance(value, datetime):
        if value.tzinfo is None:  # floating time: the calendar's own zone
            value = value.replace(tzinfo=zone)
        return value.astimezone(UTC)
    return datetime.combine(value, time(), zone).astimezone(UTC)


def _declined(component: Event, addresses: frozenset[str]) -> bool:
    attendees = component.get("ATTENDEE")
    if attendees is None or not addresses:
        return False
    for attendee in attendees if isinstance(attendees, list) else [attendees]:
        address = str(attendee).lower().removeprefix("mailto:")
        if address in addresses:
            return str(attendee.params.get("PARTSTAT", "")).upper() == "DECLINED"
    return False


def busy_from_ics(
    data: str,
    start: datetime,
    end: datetime,
    *,
    zone: ZoneInfo,
    addresses: frozenset[str] = frozenset(),
) -> list[BusyEvent]:
    """Every VEVENT occurrence of one resource overlapping [start, end), recurrences expanded.

    All-day events span midnight to midnight in ``zone`` (the calendar's zone); ``addresses``
    are the account's own e-mail addresses, to recognise an invitation it declined.
    Raises ValueError for text that is not iCalendar.
    """
    calendar = Calendar.from_ical(data)
    found: list[BusyEvent] = []
    for occurrence in recurring_ical_events.of(calendar).between(start, end):
        if occurrence.name != "VEVENT" or "DTSTART" not in occurrence:
            continue
        first = occurrence["DTSTART"].dt
        all_day = not isinstance(first, datetime)
        if "DTEND" in occurrence:
            last = occurrence["DTEND"].dt
        elif "DURATION" in occurrence:
            last = first + occurrence["DURATION"].dt
        else:
            last = first + timedelta(days=1) if all_day else first
        begins, ends = _instant(first, zone), _instant(last, zone)
        if ends <= start or begins >= end:
            continue
        meeting = occurrence.get(MEETING_PROPERTY)
        found.append(
            BusyEvent(
                start=begins,
                end=ends,
                all_day=all_day,
                transparent=str(occurrence.get("TRANSP", "OPAQUE")).upper() == "TRANSPARENT",
                status=_STATUS.get(str(occurrence.get("STATUS", "CONFIRMED")).upper(), "confirmed"),
                declined=_declined(occurrence, addresses),
                parlay_meeting_id=str(meeting) if meeting is not None else None,
                uid=str(occurrence.get("UID", "")) or None,
            )
        )
    return found


def calendar_zone(vtimezone_text: str | None, fallback: ZoneInfo) -> ZoneInfo:
    """The zone a CALDAV:calendar-timezone property names (its TZID), else ``fallback``."""
    if not vtimezone_text:
        return fallback
    try:
        calendar = Calendar.from_ical(vtimezone_text)
        for component in calendar.walk("VTIMEZONE"):
            return ZoneInfo(str(component["TZID"]).removeprefix("/"))
    except (ValueError, KeyError):
        return fallback
    return fallback
