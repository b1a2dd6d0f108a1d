"""iCalendar files and "add to calendar" links for a meeting, and the iMIP invitations e-mail
carries.

The downloadable file carries no METHOD while the meeting stands: it is a plain calendar
object (RFC 5545) with ORGANIZER and ATTENDEEs, which calendar apps import as an event and a
CalDAV server accepts as a resource (RFC 4791 forbids METHOD there), without turning it into
an RSVP invitation (RFC 5546 REQUEST).  Once cancelled it says METHOD:CANCEL with
STATUS:CANCELLED, the same UID and a higher SEQUENCE, so importing it removes the event.

An e-mailed invitation (``build_imip``, RFC 6047) always names its METHOD: REQUEST while the
meeting stands (a later REQUEST with a higher SEQUENCE updates the event in place), CANCEL once
it is cancelled.  It has no alarm: Parlay sends its own reminders.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlencode

from icalendar import Alarm, Calendar, Event, vCalAddress, vText

PRODID = "-//Parlay//Parlay Scheduling 1//EN"
REMINDER = timedelta(minutes=10)


@dataclass(frozen=True)
class Person:
    name: str
    email: str


@dataclass(frozen=True)
class CalendarEntry:
    uid: str
    sequence: int
    start: datetime
    end: datetime
    summary: str
    description: str
    location: str
    url: str
    organizer: Person
    attendees: tuple[Person, ...]
    cancelled: bool
    stamp: datetime


def _address(person: Person, *, attendee: bool) -> vCalAddress:
    address = vCalAddress(f"mailto:{person.email}")
    address.params["CN"] = vText(person.name)
    if attendee:
        address.params["ROLE"] = vText("REQ-PARTICIPANT")
        address.params["PARTSTAT"] = vText("ACCEPTED")
    return address


def build_ics(entry: CalendarEntry) -> bytes:
    """The downloadable file (no METHOD while the meeting stands; see above)."""
    return _build(entry, "CANCEL" if entry.cancelled else None, alarm=not entry.cancelled)


def imip_method(entry: CalendarEntry) -> str:
    return "CANCEL" if entry.cancelled else "REQUEST"


def build_imip(entry: CalendarEntry) -> bytes:
    """The invitation an e-mail carries: METHOD:REQUEST, or METHOD:CANCEL once cancelled."""
    return _build(entry, imip_method(entry), alarm=False)


def _build(entry: CalendarEntry, method: str | None, *, alarm: bool) -> bytes:
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    if method is not None:
        calendar.add("method", method)
    event = Event()
    event.add("uid", entry.uid)
    event.add("dtstamp", entry.stamp)
    event.add("sequence", entry.sequence)
    event.add("dtstart", entry.start)
    event.add("dtend", entry.end)
    event.add("summary", entry.summary)
    event.add("description", entry.description)
    event.add("location", entry.location)
    event.add("url", entry.url)
    event.add("organizer", _address(entry.organizer, attendee=False))
    for person in entry.attendees:
        event.add("attendee", _address(person, attendee=True), encode=False)
    event.add("status", "CANCELLED" if entry.cancelled else "CONFIRMED")
    event.add("transp", "OPAQUE")
    if alarm:
        valarm = Alarm()
        valarm.add("action", "DISPLAY")
        valarm.add("description", f"Reminder: {entry.summary}")
        valarm.add("trigger", -REMINDER)
        event.add_component(valarm)
    calendar.add_component(event)
    return bytes(calendar.to_ical())


def _utc_compact(instant: datetime) -> str:
    return instant.strftime("%Y%m%dT%H%M%SZ")


def google_link(entry: CalendarEntry) -> str:
    query = {
        "action": "TEMPLATE",
        "text": entry.summary,
        "dates": f"{_utc_compact(entry.start)}/{_utc_compact(entry.end)}",
        "details": entry.description,
        "location": entry.location,
    }
    return "https://calendar.google.com/calendar/render?" + urlencode(query)


def outlook_link(entry: CalendarEntry) -> str:
    query = {
        "path": "/calendar/action/compose",
        "rru": "addevent",
        "subject": entry.summary,
        "startdt": entry.start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "enddt": entry.end.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "body": entry.description,
        "location": entry.location,
    }
    return "https://outlook.live.com/calendar/0/deeplink/compose?" + urlencode(query)
