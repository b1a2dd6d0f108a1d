"""Graph ``event`` resources: validate what a client writes, render what it reads."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time
from typing import Any

from . import timezones as tz
from .errors import GraphError
from .store import Account, Calendar, Event, graph_id

SHOW_AS = ("free", "tentative", "busy", "oof", "workingElsewhere", "unknown")
RESPONSES = ("none", "organizer", "tentativelyAccepted", "accepted", "declined", "notResponded")
NEVER = "0001-01-01T00:00:00Z"

# Every property of microsoft.graph.event in v1.0 (what $select may name).
PROPERTIES = (
    "allowNewTimeProposals", "attendees", "body", "bodyPreview", "categories", "changeKey",
    "createdDateTime", "end", "hasAttachments", "hideAttendees", "iCalUId", "id", "importance",
    "isAllDay", "isCancelled", "isDraft", "isOnlineMeeting", "isOrganizer", "isReminderOn",
    "lastModifiedDateTime", "location", "locations", "onlineMeeting", "onlineMeetingProvider",
    "onlineMeetingUrl", "organizer", "originalEndTimeZone", "originalStart",
    "originalStartTimeZone", "recurrence", "reminderMinutesBeforeStart", "responseRequested",
    "responseStatus", "sensitivity", "seriesMasterId", "showAs", "start", "subject",
    "transactionId", "type", "webLink",
)  # fmt: skip
# What a client may write; other known properties are read-only and ignored on write.
WRITABLE = {
    "allowNewTimeProposals": False, "attendees": [], "body": {"contentType": "html", "content": ""},
    "categories": [], "hideAttendees": False, "importance": "normal", "isAllDay": False,
    "isOnlineMeeting": False, "isReminderOn": True, "location": None, "locations": [],
    "onlineMeetingProvider": "unknown", "recurrence": None, "reminderMinutesBeforeStart": 15,
    "responseRequested": True, "sensitivity": "normal", "showAs": "busy", "subject": "",
}  # fmt: skip
# The emulator's control API may also set what only the server or another organizer would.
SEEDABLE = ("isCancelled", "responseStatus", "type", "organizer", "isOrganizer")


def _bad_body(message: str) -> GraphError:
    return GraphError(400, "RequestBodyRead", message)


def _when(value: object, all_day: bool, field: str) -> tuple[datetime, str, date | None]:
    """A start/end as written: a dateTimeTimeZone object (or, from the control API, a string)."""
    try:
        if isinstance(value, str):
            if all_day and len(value) == 10:
                day = date.fromisoformat(value)
                return datetime.combine(day, time(), tzinfo=UTC), "UTC", day
            return tz.parse_instant(value), "UTC", None
        instant, name = tz.parse_local(value)
    except tz.UnknownTimeZone as exc:
        raise GraphError(
            400,
            "TimeZoneNotSupportedException",
            f"A valid TimeZone value must be specified. The following TimeZone value is not supported: '{exc}'.",
        ) from exc
    except (ValueError, TypeError) as exc:
        raise _bad_body(f"Cannot read '{field}' as microsoft.graph.dateTimeTimeZone.") from exc
    local = instant.astimezone(tz.zone(name))
    return instant, name, local.date() if all_day else None


def _check_props(body: dict[str, Any], *, seeding: bool) -> None:
    for key, value in body.items():
        if key.startswith("@odata."):
            continue
        if key not in PROPERTIES:
            raise _bad_body(
                f"The property '{key}' does not exist on type 'microsoft.graph.event'. "
                "Make sure to only use property names that are defined by the type or mark the type as open type."
            )
        if key == "showAs" and value not in SHOW_AS:
            raise _bad_body(
                f"Cannot convert the literal '{value}' to the expected type 'microsoft.graph.freeBusyStatus'."
            )
        if (
            seeding
            and key == "responseStatus"
            and (not isinstance(value, dict) or value.get("response") not in RESPONSES)
        ):
            raise _bad_body("responseStatus.response must be one of " + ", ".join(RESPONSES))


def _apply_times(event: Event, body: dict[str, Any]) -> None:
    all_day = bool(event.props.get("isAllDay"))
    if "start" in body or "isAllDay" in body:
        start, event.start_tz, event.start_date = _when(
            body.get("start", _current(event, "start")), all_day, "start"
        )
        event.start = start
    if "end" in body or "isAllDay" in body:
        end, event.end_tz, event.end_date = _when(
            body.get("end", _current(event, "end")), all_day, "end"
        )
        event.end = end
    if all_day:
        for instant, name in ((event.start, event.start_tz), (event.end, event.end_tz)):
            if instant.astimezone(tz.zone(name)).time() != time():
                raise GraphError(
                    400,
                    "ErrorPropertyValidationFailure",
                    "An all-day event must start and end at midnight in its time zone.",
                )
        assert event.start_date is not None and event.end_date is not None
        event.start, event.end = tz.day_bounds(event.start_date, event.end_date, event.start_tz)
    if event.end < event.start:
        raise GraphError(400, "ErrorInvalidRequest", "The end of the event is before its start.")


def _current(event: Event, which: str) -> dict[str, str]:
    return tz.render(
        event.start if which == "start" else event.end,
        event.start_tz if which == "start" else event.end_tz,
    )


def create(
    account: Account, calendar: Calendar, body: dict[str, Any], *, seeding: bool = False
) -> Event:
    if not isinstance(body, dict):
        raise _bad_body("The request body must be a JSON object.")
    _check_props(body, seeding=seeding)
    if "start" not in body or "end" not in body:
        raise GraphError(400, "ErrorInvalidRequest", "An event needs a start and an end.")
    props: dict[str, Any] = {k: body.get(k, v) for k, v in WRITABLE.items()}
    props["isCancelled"] = False
    props["type"] = "singleInstance"
    me = {"emailAddress": {"name": account.display_name, "address": account.address}}
    props["organizer"] = me
    props["responseStatus"] = {"response": "organizer", "time": NEVER}
    if seeding:
        for key in SEEDABLE:
            if key in body:
                props[key] = body[key]
    props.setdefault("isOrganizer", props["responseStatus"].get("response") == "organizer")
    transaction_id = body.get("transactionId")
    placeholder = datetime.now(UTC)
    event = Event(
        id=graph_id(),
        account_id=account.id,
        calendar_id=calendar.id,
        start=placeholder,
        end=placeholder,
        start_tz="UTC",
        end_tz="UTC",
        props=props,
        transaction_id=transaction_id if isinstance(transaction_id, str) else None,
    )
    _apply_times(event, {"start": body["start"], "end": body["end"]})
    return event


def update(event: Event, body: dict[str, Any]) -> None:
    if not isinstance(body, dict):
        raise _bad_body("The request body must be a JSON object.")
    _check_props(body, seeding=False)
    if "transactionId" in body and body["transactionId"] != event.transaction_id:
        raise GraphError(
            400, "ErrorInvalidRequest", "The transactionId of an event cannot be changed."
        )
    for key in WRITABLE:
        if key in body:
            event.props[key] = body[key]
    if {"start", "end", "isAllDay"} & body.keys():
        _apply_times(event, body)
    event.touch()


def overlaps(event: Event, start: datetime, end: datetime) -> bool:
    return event.start < end and event.end > start


def _preview(body: object) -> str:
    content = body.get("content", "") if isinstance(body, dict) else ""
    text = re.sub(r"<[^>]+>", " ", str(content or ""))
    return re.sub(r"\s+", " ", text).strip()[:255]


def render(event: Event, zone_name: str | None, base: str) -> dict[str, Any]:
    """The event as Graph returns it; start/end in ``zone_name``, else its own zones."""
    p = event.props
    start_zone, end_zone = zone_name or event.start_tz, zone_name or event.end_tz
    if p.get("isAllDay") and event.start_date and event.end_date:
        start, end = (
            tz.render_date(event.start_date, start_zone),
            tz.render_date(event.end_date, end_zone),
        )
    else:
        start, end = tz.render(event.start, start_zone), tz.render(event.end, end_zone)
    data: dict[str, Any] = {
        "@odata.etag": event.etag,
        "id": event.id,
        "createdDateTime": tz.iso_utc(event.created),
        "lastModifiedDateTime": tz.iso_utc(event.modified),
        "changeKey": event.change_key,
        "categories": p["categories"],
        "originalStartTimeZone": event.start_tz,
        "originalEndTimeZone": event.end_tz,
        "iCalUId": event.ical_uid,
        "reminderMinutesBeforeStart": p["reminderMinutesBeforeStart"],
        "isReminderOn": p["isReminderOn"],
        "hasAttachments": False,
        "subject": p["subject"],
        "bodyPreview": _preview(p["body"]),
        "importance": p["importance"],
        "sensitivity": p["sensitivity"],
        "isAllDay": bool(p["isAllDay"]),
        "isCancelled": bool(p["isCancelled"]),
        "isOrganizer": bool(p["isOrganizer"]),
        "responseRequested": p["responseRequested"],
        "seriesMasterId": None,
        "showAs": p["showAs"],
        "type": p["type"],
        "webLink": f"{base}/owa/?itemid={event.id}&exvsurl=1&path=/calendar/item",
        "onlineMeetingUrl": None,
        "isOnlineMeeting": p["isOnlineMeeting"],
        "onlineMeetingProvider": p["onlineMeetingProvider"],
        "allowNewTimeProposals": p["allowNewTimeProposals"],
        "isDraft": False,
        "hideAttendees": p["hideAttendees"],
        "responseStatus": p["responseStatus"],
        "body": p["body"],
        "start": start,
        "end": end,
        "location": p["location"]
        or {
            "displayName": "",
            "locationType": "default",
            "uniqueIdType": "unknown",
            "address": {},
            "coordinates": {},
        },
        "locations": p["locations"],
        "recurrence": p["recurrence"],
        "attendees": p["attendees"],
        "organizer": p["organizer"],
        "onlineMeeting": None,
    }
    if event.transaction_id is not None:
        data["transactionId"] = event.transaction_id
    return data


def select(data: dict[str, Any], fields: list[str] | None) -> dict[str, Any]:
    if not fields:
        return data
    keep = {"@odata.etag", "id", *fields}
    return {k: v for k, v in data.items() if k in keep}


def parse_select(raw: str | None) -> list[str] | None:
    if not raw:
        return None
    fields = [f.strip() for f in raw.split(",") if f.strip()]
    for name in fields:
        if name not in PROPERTIES:
            raise GraphError(
                400,
                "RequestBroker--ParseUri",
                f"Could not find a property named '{name}' on type 'microsoft.graph.event'.",
            )
    return fields
