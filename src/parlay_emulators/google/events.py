"""Building and changing Event resources (insert, patch, update, delete) in the store."""

from __future__ import annotations

import copy
import re
import secrets
from typing import Any

from .errors import GoogleError, invalid
from .recurrence import BadTime, is_recurring, span_of
from .store import Calendar, Store, StoredEvent, new_id, rfc3339

_ID = re.compile(r"^[a-v0-9]{5,1024}$")
# Fields a client may write; everything else on an Event is read-only.
WRITABLE = (
    "summary",
    "description",
    "location",
    "colorId",
    "start",
    "end",
    "recurrence",
    "attendees",
    "reminders",
    "extendedProperties",
    "transparency",
    "visibility",
    "status",
    "guestsCanModify",
    "guestsCanInviteOthers",
    "guestsCanSeeOtherGuests",
    "anyoneCanAddSelf",
    "source",
    "eventType",
    "endTimeUnspecified",
    "conferenceData",
)


def _etag(store: Store) -> str:
    return f'"{int(store.now().timestamp() * 1000)}{secrets.randbelow(1000):03d}"'


def _validate(event: dict[str, Any], calendar: Calendar) -> None:
    if not event.get("start"):
        raise invalid(
            "Start and end times must either both be date or both be dateTime.", "start", "required"
        )
    if not event.get("end"):
        raise GoogleError(400, "required", "Missing end time.")
    try:
        span = span_of(event, calendar.time_zone)
    except (BadTime, ValueError, TypeError) as exc:
        raise GoogleError(400, "invalid", f"Invalid start or end time: {exc}") from exc
    if span.end < span.start:
        raise GoogleError(
            400, "timeRangeEmpty", "The specified time range is empty.", domain="calendar"
        )
    if is_recurring(event) and "dateTime" in event["start"] and not event["start"].get("timeZone"):
        raise GoogleError(400, "invalid", "Missing time zone definition for start time.")
    for field_name, allowed in (
        ("status", ("confirmed", "tentative", "cancelled")),
        ("transparency", ("opaque", "transparent")),
        ("visibility", ("default", "public", "private", "confidential")),
    ):
        if field_name in event and event[field_name] not in allowed:
            raise invalid(f"Invalid value for: {field_name}", field_name)
    for attendee in event.get("attendees") or []:
        if not isinstance(attendee, dict) or not attendee.get("email"):
            raise GoogleError(400, "required", "Missing attendee email.")


def _finish(event: dict[str, Any], calendar: Calendar, conference_version: int) -> None:
    organizer = event["organizer"]["email"]
    for attendee in event.get("attendees") or []:
        attendee.setdefault("responseStatus", "needsAction")
        if attendee["email"].lower() == organizer:
            attendee["organizer"] = True
            attendee["self"] = True
    conference = event.get("conferenceData")
    if conference is not None and conference_version < 1:
        event.pop("conferenceData")
    elif conference and "createRequest" in conference and "conferenceId" not in conference:
        code = "-".join(
            "".join(secrets.choice("abcdefghijkmnopqrstuvwxyz") for _ in range(n))
            for n in (3, 4, 3)
        )
        request = dict(conference["createRequest"])
        request["status"] = {"statusCode": "success"}
        event["conferenceData"] = {
            "createRequest": request,
            "entryPoints": [
                {
                    "entryPointType": "video",
                    "uri": f"https://meet.google.com/{code}",
                    "label": f"meet.google.com/{code}",
                }
            ],
            "conferenceSolution": {
                "key": {"type": "hangoutsMeet"},
                "name": "Google Meet",
                "iconUri": "https://fonts.gstatic.com/s/i/productlogos/meet_2020q4/v6/web-512dp/logo_meet_2020q4_color_2x_web_512dp.png",
            },
            "conferenceId": code,
        }
        event["hangoutLink"] = f"https://meet.google.com/{code}"


def insert(
    store: Store, calendar: Calendar, body: dict[str, Any], conference_version: int = 0
) -> dict[str, Any]:
    event_id = body.get("id")
    if event_id is not None:
        if not isinstance(event_id, str) or not _ID.match(event_id):
            raise invalid("Invalid resource id value.", "id")
        if (calendar.id, event_id) in store.events:
            raise GoogleError(409, "duplicate", "The requested identifier already exists.")
    else:
        event_id = new_id()
    _validate(body, calendar)
    now = rfc3339(store.now())
    account = store.accounts[calendar.owner]
    person = {"email": calendar.id, "self": True}
    if not calendar.primary:
        person["displayName"] = calendar.summary
    event: dict[str, Any] = {
        "kind": "calendar#event",
        "etag": _etag(store),
        "id": event_id,
        "status": "confirmed",
        "htmlLink": f"https://www.google.com/calendar/event?eid={event_id}",
        "created": now,
        "updated": now,
        "creator": {"email": account.email, "self": True},
        "organizer": person,
        "iCalUID": body.get("iCalUID") or f"{event_id}@google.com",
        "sequence": 0,
        "reminders": {"useDefault": True},
        "eventType": "default",
    }
    event.update({k: copy.deepcopy(body[k]) for k in WRITABLE if k in body})
    _finish(event, calendar, conference_version)
    store.events[(calendar.id, event_id)] = StoredEvent(calendar.id, store.bump(calendar), event)
    return event


def _merge(target: dict[str, Any], patch: dict[str, Any]) -> None:
    """Google's patch semantics: objects merge, arrays and scalars replace, null clears."""
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif (
            isinstance(value, dict)
            and isinstance(target.get(key), dict)
            and key
            not in (
                "start",
                "end",
            )
        ):
            _merge(target[key], value)
        else:
            target[key] = copy.deepcopy(value)


def get_live(store: Store, calendar: Calendar, event_id: str, if_match: str | None) -> StoredEvent:
    stored = store.events.get((calendar.id, event_id))
    if stored is None:
        raise GoogleError(404)
    if stored.deleted:
        raise GoogleError(410, "deleted", "Resource has been deleted")
    if if_match and if_match not in ("*", stored.data["etag"]):
        raise GoogleError(
            412,
            "conditionNotMet",
            "Precondition Failed",
            location="If-Match",
            location_type="header",
        )
    return stored


def change(
    store: Store,
    calendar: Calendar,
    event_id: str,
    body: dict[str, Any],
    *,
    replace: bool,
    if_match: str | None,
    conference_version: int = 0,
) -> dict[str, Any]:
    stored = get_live(store, calendar, event_id, if_match)
    old = stored.data
    new = copy.deepcopy(old)
    writable = {k: v for k, v in body.items() if k in WRITABLE}
    if replace:
        for key in WRITABLE:
            new.pop(key, None)
        new.update(copy.deepcopy({k: v for k, v in writable.items() if v is not None}))
        new.setdefault("status", "confirmed")
    else:
        _merge(new, writable)
    _validate(new, calendar)
    if any(new.get(k) != old.get(k) for k in ("start", "end", "recurrence", "location")):
        new["sequence"] = int(old.get("sequence", 0)) + 1
    new["etag"] = _etag(store)
    new["updated"] = rfc3339(store.now())
    _finish(new, calendar, conference_version if "conferenceData" in writable else 1)
    stored.data = new
    stored.seq = store.bump(calendar)
    return new


def delete(store: Store, calendar: Calendar, event_id: str, if_match: str | None) -> None:
    stored = get_live(store, calendar, event_id, if_match)
    stored.data = stored.data | {
        "status": "cancelled",
        "etag": _etag(store),
        "updated": rfc3339(store.now()),
    }
    stored.seq = store.bump(calendar)
