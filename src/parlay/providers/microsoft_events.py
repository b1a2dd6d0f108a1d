"""Pure mapping between Microsoft Graph ``event`` resources and Parlay's provider values.

Kept apart from the HTTP adapter so the rules (which events make someone busy, how an all-day
event is placed, how we recognise our own events) read in one place and test without a server.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from parlay.providers.dto import BusyEvent, EventStatus, MeetingEvent

try:  # CLDR's windowsZones table, shipped with icalendar (a dependency already)
    from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON
except ImportError:  # pragma: no cover - older icalendar
    WINDOWS_TO_OLSON = {
        "Pacific Standard Time": "America/Los_Angeles",
        "Eastern Standard Time": "America/New_York",
        "Central Standard Time": "America/Chicago",
        "GMT Standard Time": "Europe/London",
        "W. Europe Standard Time": "Europe/Berlin",
        "Romance Standard Time": "Europe/Paris",
    }

TRANSACTION_PREFIX = "parlay-"
"""``transactionId = "parlay-" + meeting_id`` marks the events Parlay wrote (rule 1) and makes
a retried create return the event the first attempt made (rule 3)."""

BUSY_FIELDS = (
    "start,end,isAllDay,showAs,isCancelled,responseStatus,type,transactionId,"
    "originalStartTimeZone,originalEndTimeZone"
)
# Graph's spellings of UTC that are not IANA names.
_UTC_NAMES = {"utc", "tzone://microsoft/utc", "coordinated universal time", "z"}
_NOT_BUSY = {"free", "unknown"}  # calendar-apis.md §3.2: skip free and unknown
_TENTATIVE_ANSWERS = {"tentativelyaccepted", "notresponded"}


def zone_named(name: object) -> ZoneInfo:
    """The zone a Graph ``timeZone`` names (Windows or IANA); UTC when we cannot tell."""
    if not isinstance(name, str) or not name.strip():
        return ZoneInfo("UTC")
    text = name.strip()
    if text.lower() in _UTC_NAMES:
        return ZoneInfo("UTC")
    try:
        return ZoneInfo(WINDOWS_TO_OLSON.get(text, text))
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")  # e.g. "tzone://Microsoft/Custom": a zone only Outlook knows


def _local(value: object) -> tuple[datetime, ZoneInfo]:
    """A ``dateTimeTimeZone`` as (naive wall-clock time, its zone)."""
    if not isinstance(value, Mapping) or not isinstance(value.get("dateTime"), str):
        raise ValueError("dateTimeTimeZone without dateTime")
    moment = datetime.fromisoformat(value["dateTime"].strip().replace("Z", "+00:00"))
    zone = zone_named(value.get("timeZone"))
    if moment.tzinfo is not None:  # an offset, though Graph sends none: it wins
        return moment.astimezone(zone).replace(tzinfo=None), zone
    return moment, zone


def instant(value: object) -> datetime:
    """A ``dateTimeTimeZone`` (wall-clock time + zone, no offset) as an aware UTC instant."""
    moment, zone = _local(value)
    return moment.replace(tzinfo=zone).astimezone(UTC)


def _all_day_bound(value: object, original_zone: object) -> datetime:
    """An all-day bound: a midnight of the event's own zone.

    With ``Prefer: outlook.timezone="UTC"`` Graph answers all-day events as floating midnights
    labelled with the preferred zone; the zone they belong to is ``originalStartTimeZone``.  A
    bound that is not a midnight was converted already and is an instant as it stands.
    """
    moment, zone = _local(value)
    if moment.time() != time():
        return moment.replace(tzinfo=zone).astimezone(UTC)
    day: date = moment.date()
    return datetime.combine(day, time(), tzinfo=zone_named(original_zone)).astimezone(UTC)


def meeting_id_of(transaction_id: object) -> str | None:
    if not isinstance(transaction_id, str) or not transaction_id.startswith(TRANSACTION_PREFIX):
        return None
    meeting_id = transaction_id[len(TRANSACTION_PREFIX) :].split("~", 1)[0]
    return meeting_id or None


def transaction_id(meeting_id: str, attempt: str = "") -> str:
    """Our ``transactionId`` for a meeting; ``attempt`` only for a deliberate second event."""
    return f"{TRANSACTION_PREFIX}{meeting_id}" + (f"~{attempt}" if attempt else "")


def busy_event(item: Mapping[str, Any]) -> BusyEvent | None:
    """One calendarView occurrence as a BusyEvent (None for a series master, never busy)."""
    if item.get("type") == "seriesMaster":
        return None
    all_day = bool(item.get("isAllDay"))
    if all_day:
        start = _all_day_bound(item.get("start"), item.get("originalStartTimeZone"))
        end = _all_day_bound(
            item.get("end"), item.get("originalEndTimeZone") or item.get("originalStartTimeZone")
        )
    else:
        start, end = instant(item.get("start")), instant(item.get("end"))
    show_as = str(item.get("showAs") or "busy").lower()
    answer = item.get("responseStatus")
    response = str(answer.get("response") or "").lower() if isinstance(answer, Mapping) else ""
    status: EventStatus = "confirmed"
    if item.get("isCancelled"):
        status = "cancelled"
    elif show_as == "tentative" or response in _TENTATIVE_ANSWERS:
        status = "tentative"
    uid = item.get("id")
    return BusyEvent(
        start=start,
        end=end,
        all_day=all_day,
        transparent=show_as in _NOT_BUSY,
        status=status,
        declined=response == "declined",
        parlay_meeting_id=meeting_id_of(item.get("transactionId")),
        uid=str(uid) if uid else None,
    )


def _utc_local(moment: datetime) -> dict[str, str]:
    return {"dateTime": moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"}


def _content(event: MeetingEvent) -> str:
    text = event.description.strip()
    if event.url and event.url not in text:
        text = f"{text}\n\n{event.url}".strip()
    return text


def event_body(event: MeetingEvent) -> dict[str, Any]:
    """What we write for a meeting (PATCH sends it whole; POST adds the transactionId).

    No attendees, so Graph mails no invitations: each participant gets their own copy.
    """
    return {
        "subject": event.title,
        "body": {"contentType": "text", "content": _content(event)},
        "location": {"displayName": event.location or event.url},
        "start": _utc_local(event.start),
        "end": _utc_local(event.end),
        "showAs": "busy",
        "isAllDay": False,
    }


def _text(markup: object) -> str:
    plain = html.unescape(re.sub(r"<[^>]+>", " ", str(markup or "")))
    return re.sub(r"\s+", " ", plain).strip()


def differs(stored: Mapping[str, Any], event: MeetingEvent) -> bool:
    """Does an event Graph returned differ from the meeting's state (a deduplicated create
    hands back the first attempt's event, which may predate a reschedule)?"""
    try:
        start, end = instant(stored.get("start")), instant(stored.get("end"))
    except (ValueError, TypeError):
        return True
    location = stored.get("location")
    place = location.get("displayName") if isinstance(location, Mapping) else None
    body = stored.get("body")
    content = body.get("content") if isinstance(body, Mapping) else None
    wanted = event_body(event)
    return (
        start != event.start.astimezone(UTC)
        or end != event.end.astimezone(UTC)
        or stored.get("subject") != event.title
        or (place or "") != wanted["location"]["displayName"]
        or _text(content) != _text(html.escape(_content(event)))
    )
