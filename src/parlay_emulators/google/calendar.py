"""Calendar API v3 routes: calendarList, calendars.get, events, freeBusy."""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from . import events as ev
from .errors import GoogleError, invalid
from .recurrence import BadTime, instance, is_recurring, occurrences, parse_instant, zone
from .store import Calendar, Grant, Store, rfc3339

_CAL = "https://www.googleapis.com/auth/calendar"
LIST_SCOPES = {_CAL, f"{_CAL}.readonly"}
READ_SCOPES = LIST_SCOPES | {
    f"{_CAL}.events",
    f"{_CAL}.events.readonly",
    f"{_CAL}.events.owned",
    f"{_CAL}.events.owned.readonly",
}
WRITE_SCOPES = {_CAL, f"{_CAL}.events", f"{_CAL}.events.owned"}
FREEBUSY_SCOPES = LIST_SCOPES | {f"{_CAL}.events.freebusy", f"{_CAL}.freebusy"}
# Without timeMax, recurring events are expanded this far ahead.
HORIZON = timedelta(days=366)
_SYNC_EXCLUSIVE = (
    "iCalUID",
    "orderBy",
    "privateExtendedProperty",
    "q",
    "sharedExtendedProperty",
    "timeMin",
    "timeMax",
    "updatedMin",
)


def _store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


def authorize(request: Request, store: Store, scopes: set[str]) -> Grant:
    auth = request.headers.get("authorization", "")
    grant = store.grant_for_access_token(auth[7:]) if auth[:7].lower() == "bearer " else None
    if grant is None:
        raise GoogleError(
            401,
            "authError",
            "Invalid Credentials",
            location="Authorization",
            location_type="header",
        )
    if not scopes.intersection(grant.scopes):
        raise GoogleError(
            403,
            "insufficientPermissions",
            "Request had insufficient authentication scopes.",
            domain="global",
        )
    return grant


def _calendar(store: Store, grant: Grant, calendar_id: str) -> Calendar:
    cal = store.calendars.get(grant.account if calendar_id == "primary" else calendar_id)
    if cal is None or cal.owner != grant.account:
        raise GoogleError(404)
    return cal


async def _json(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError as exc:
        raise GoogleError(400, "parseError", "Parse Error") from exc
    if not isinstance(body, dict):
        raise GoogleError(400, "parseError", "Parse Error")
    return body


def _int_param(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise invalid(f"Invalid value for: {name}", name) from exc
    if not low <= value <= high:
        raise invalid(f"Invalid value for: {name}", name)
    return value


def _bool_param(request: Request, name: str) -> bool:
    return request.query_params.get(name, "false").lower() == "true"


def _send_updates(request: Request) -> None:
    value = request.query_params.get("sendUpdates")
    if value is not None and value not in ("all", "externalOnly", "none"):
        raise invalid(f"Invalid value for: sendUpdates: {value}", "sendUpdates")


# -- calendarList and calendars -------------------------------------------------------------
def _list_entry(cal: Calendar) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "kind": "calendar#calendarListEntry",
        "etag": f'"{cal.seq:016d}"',
        "id": cal.id,
        "summary": cal.summary,
        "timeZone": cal.time_zone,
        "colorId": "14",
        "backgroundColor": "#9fe1e7",
        "foregroundColor": "#000000",
        "selected": True,
        "accessRole": "owner",
        "defaultReminders": [{"method": "popup", "minutes": 10}] if cal.primary else [],
        "conferenceProperties": {"allowedConferenceSolutionTypes": ["hangoutsMeet"]},
    }
    if cal.primary:
        entry["primary"] = True
    return entry


async def calendar_list(request: Request) -> Response:
    store = _store(request)
    with store.lock:
        grant = authorize(request, store, LIST_SCOPES)
        items = [_list_entry(c) for c in store.calendars_of(grant.account)]
    return JSONResponse(
        {
            "kind": "calendar#calendarList",
            "etag": f'"{secrets.token_hex(8)}"',
            "nextSyncToken": "CL" + secrets.token_urlsafe(12),
            "items": items,
        }
    )


async def calendar_get(request: Request) -> Response:
    store = _store(request)
    with store.lock:
        grant = authorize(request, store, LIST_SCOPES)
        cal = _calendar(store, grant, request.path_params["calendarId"])
        return JSONResponse(
            {
                "kind": "calendar#calendar",
                "etag": f'"{cal.seq:016d}"',
                "id": cal.id,
                "summary": cal.summary,
                "timeZone": cal.time_zone,
                "conferenceProperties": {"allowedConferenceSolutionTypes": ["hangoutsMeet"]},
            }
        )


# -- events ---------------------------------------------------------------------------------
async def events_insert(request: Request) -> Response:
    store = _store(request)
    body = await _json(request)
    with store.lock:
        grant = authorize(request, store, WRITE_SCOPES)
        cal = _calendar(store, grant, request.path_params["calendarId"])
        _send_updates(request)
        version = _int_param(request, "conferenceDataVersion", 0, 0, 1)
        return JSONResponse(ev.insert(store, cal, body, version))


async def events_get(request: Request) -> Response:
    store = _store(request)
    with store.lock:
        grant = authorize(request, store, READ_SCOPES)
        cal = _calendar(store, grant, request.path_params["calendarId"])
        stored = store.events.get((cal.id, request.path_params["eventId"]))
        if stored is None:
            raise GoogleError(404)
        if request.headers.get("if-none-match") == stored.data["etag"]:
            return Response(status_code=304)
        return JSONResponse(stored.data)


async def events_patch(request: Request) -> Response:
    return await _change(request, replace=False)


async def events_update(request: Request) -> Response:
    return await _change(request, replace=True)


async def _change(request: Request, *, replace: bool) -> Response:
    store = _store(request)
    body = await _json(request)
    with store.lock:
        grant = authorize(request, store, WRITE_SCOPES)
        cal = _calendar(store, grant, request.path_params["calendarId"])
        _send_updates(request)
        version = _int_param(request, "conferenceDataVersion", 0, 0, 1)
        return JSONResponse(
            ev.change(
                store,
                cal,
                request.path_params["eventId"],
                body,
                replace=replace,
                if_match=request.headers.get("if-match"),
                conference_version=version,
            )
        )


async def events_delete(request: Request) -> Response:
    store = _store(request)
    with store.lock:
        grant = authorize(request, store, WRITE_SCOPES)
        cal = _calendar(store, grant, request.path_params["calendarId"])
        _send_updates(request)
        ev.delete(store, cal, request.path_params["eventId"], request.headers.get("if-match"))
    return Response(status_code=204)


def _matches(request: Request, data: dict[str, Any]) -> bool:
    params = request.query_params
    if "iCalUID" in params and data.get("iCalUID") != params["iCalUID"]:
        return False
    if "q" in params:
        text = " ".join(str(data.get(k, "")) for k in ("summary", "description", "location"))
        if not all(word.lower() in text.lower() for word in params["q"].split()):
            return False
    for kind in ("private", "shared"):
        props = (data.get("extendedProperties") or {}).get(kind) or {}
        for pair in params.getlist(f"{kind}ExtendedProperty"):
            key, _, value = pair.partition("=")
            if props.get(key) != value:
                return False
    return not ("updatedMin" in params and data["updated"] < _instant(params, "updatedMin"))


def _instant(params: Any, name: str) -> str:
    try:
        return rfc3339(parse_instant(params[name]))
    except BadTime as exc:
        raise invalid(f"Bad Request: invalid {name}", name) from exc


def _window(request: Request) -> tuple[datetime | None, datetime | None]:
    params = request.query_params
    out: list[datetime | None] = []
    for name in ("timeMin", "timeMax"):
        try:
            out.append(parse_instant(params[name]) if name in params else None)
        except BadTime as exc:
            raise invalid("Bad Request", name, "badRequest") from exc
    lo, hi = out
    if lo and hi and hi <= lo:
        raise GoogleError(
            400,
            "timeRangeEmpty",
            "The specified time range is empty.",
            domain="calendar",
            location="timeMax",
        )
    return lo, hi


def _deleted_stub(data: dict[str, Any]) -> dict[str, Any]:
    keys = ("kind", "etag", "id", "status", "updated", "recurringEventId", "originalStartTime")
    return {k: data[k] for k in keys if k in data}


def _items(
    request: Request, store: Store, cal: Calendar, since: int | None
) -> list[tuple[dict[str, Any], datetime]]:
    """The (item, start) pairs the query selects; `since` is a sync token's sequence."""
    lo, hi = _window(request)
    single = _bool_param(request, "singleEvents")
    show_deleted = since is not None or _bool_param(request, "showDeleted")
    until = hi or (lo or store.now()) + HORIZON
    out: list[tuple[dict[str, Any], datetime]] = []
    for stored in store.calendar_events(cal.id):
        data = stored.data
        if since is not None and stored.seq <= since:
            continue
        if stored.deleted and not show_deleted:
            continue
        if since is None and not _matches(request, data):
            continue
        occs = occurrences(data, cal.time_zone, until)
        hits = [o for o in occs if (lo is None or o.end > lo) and (hi is None or o.start < hi)]
        gone_in_sync = stored.deleted and since is not None
        if not hits and (lo or hi or not occs) and not gone_in_sync:
            continue
        first = hits[0].start if hits else occs[0].start if occs else store.now()
        if stored.deleted and since is not None:
            out.append((_deleted_stub(data), first))
        elif single and is_recurring(data):
            out.extend((instance(data, o), o.start) for o in hits)
        else:
            out.append((data, first))
    order = request.query_params.get("orderBy")
    if order == "startTime":
        if not single:
            raise invalid(
                "The requested ordering is not available for the particular query.", "orderBy"
            )
        out.sort(key=lambda pair: pair[1])
    elif order == "updated":
        out.sort(key=lambda pair: pair[0].get("updated", ""))
    elif order is not None:
        raise invalid(f"Invalid value for: orderBy: {order}", "orderBy")
    return out


async def events_list(request: Request) -> Response:
    store = _store(request)
    params = request.query_params
    with store.lock:
        grant = authorize(request, store, READ_SCOPES)
        cal = _calendar(store, grant, request.path_params["calendarId"])
        max_results = _int_param(request, "maxResults", 250, 1, 2500)
        if "pageToken" in params:
            page = store.page_tokens.get(params["pageToken"])
            if page is None or page["calendar"] != cal.id:
                raise invalid("Invalid page token value.", "pageToken")
            items, sync_seq = page["items"], page["seq"]
        else:
            since: int | None = None
            if "syncToken" in params:
                clash = [p for p in _SYNC_EXCLUSIVE if p in params]
                if clash:
                    raise invalid(f"Sync token cannot be used with: {clash[0]}", "syncToken")
                found = store.sync_tokens.get(params["syncToken"])
                if found is None or found[0] != cal.id or found[2] != cal.sync_generation:
                    raise GoogleError(
                        410,
                        "fullSyncRequired",
                        "Sync token is no longer valid, a full sync is required.",
                        domain="calendar",
                        location="syncToken",
                    )
                since = found[1]
            items = [item for item, _ in _items(request, store, cal, since)]
            sync_seq = cal.seq
        body: dict[str, Any] = {
            "kind": "calendar#events",
            "etag": f'"{cal.seq:016d}"',
            "summary": cal.summary,
            "description": "",
            "updated": rfc3339(store.now()),
            "timeZone": cal.time_zone,
            "accessRole": "owner",
            "defaultReminders": [{"method": "popup", "minutes": 10}] if cal.primary else [],
        }
        if len(items) > max_results:
            token = "EP" + secrets.token_urlsafe(18)
            store.page_tokens[token] = {
                "calendar": cal.id,
                "items": items[max_results:],
                "seq": sync_seq,
            }
            body["nextPageToken"] = token
        else:
            body["nextSyncToken"] = store.new_sync_token(cal, sync_seq)
        body["items"] = items[:max_results]
        return JSONResponse(body)


async def events_instances(request: Request) -> Response:
    """events.instances: a recurring event's instances in [timeMin, timeMax) (no paging)."""
    store = _store(request)
    with store.lock:
        grant = authorize(request, store, READ_SCOPES)
        cal = _calendar(store, grant, request.path_params["calendarId"])
        stored = store.events.get((cal.id, request.path_params["eventId"]))
        if stored is None:
            raise GoogleError(404)
        if stored.deleted:
            raise GoogleError(410, "deleted", "Resource has been deleted")
        lo, hi = _window(request)
        data = stored.data
        until = hi or (lo or store.now()) + HORIZON
        hits = [
            o
            for o in occurrences(data, cal.time_zone, until)
            if (lo is None or o.end > lo) and (hi is None or o.start < hi)
        ]
        items = [instance(data, o) for o in hits] if is_recurring(data) else [data][: len(hits)]
        return JSONResponse(
            {
                "kind": "calendar#events",
                "etag": f'"{cal.seq:016d}"',
                "summary": cal.summary,
                "updated": rfc3339(store.now()),
                "timeZone": cal.time_zone,
                "accessRole": "owner",
                "defaultReminders": [],
                "items": items,
            }
        )


# -- freeBusy -------------------------------------------------------------------------------
def _fmt(instant: datetime, tz: ZoneInfo) -> str:
    local = instant.astimezone(tz)
    text = local.strftime("%Y-%m-%dT%H:%M:%S")
    offset = local.utcoffset() or timedelta(0)
    if offset == timedelta(0):
        return text + "Z"
    sign = "-" if offset < timedelta(0) else "+"
    minutes = abs(int(offset.total_seconds())) // 60
    return f"{text}{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def _busy(
    store: Store, cal: Calendar, lo: datetime, hi: datetime
) -> list[tuple[datetime, datetime]]:
    spans: list[tuple[datetime, datetime]] = []
    for stored in store.calendar_events(cal.id):
        data = stored.data
        if stored.deleted or data.get("transparency") == "transparent":
            continue
        me = [a for a in data.get("attendees") or [] if a.get("email", "").lower() == cal.id]
        if me and me[0].get("responseStatus") == "declined":
            continue
        for occ in occurrences(data, cal.time_zone, hi):
            if occ.end > lo and occ.start < hi:
                spans.append((max(occ.start, lo), min(occ.end, hi)))
    merged: list[tuple[datetime, datetime]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


async def freebusy(request: Request) -> Response:
    store = _store(request)
    body = await _json(request)
    with store.lock:
        grant = authorize(request, store, FREEBUSY_SCOPES)
        for name in ("timeMin", "timeMax"):
            if not body.get(name):
                raise GoogleError(400, "required", "Required", location=name)
        try:
            lo, hi = parse_instant(body["timeMin"]), parse_instant(body["timeMax"])
            tz = zone(body.get("timeZone"), "UTC")
        except BadTime as exc:
            raise GoogleError(400, "badRequest", "Bad Request") from exc
        if hi <= lo:
            raise GoogleError(
                400,
                "timeRangeEmpty",
                "The specified time range is empty.",
                domain="calendar",
                location="timeMax",
            )
        items = body.get("items") or []
        if int(body.get("calendarExpansionMax", 50)) > 50:
            raise invalid("Invalid value for: calendarExpansionMax", "calendarExpansionMax")
        calendars: dict[str, Any] = {}
        for index, item in enumerate(items):
            cal_id = str((item or {}).get("id", ""))
            key = grant.account if cal_id == "primary" else cal_id
            cal = store.calendars.get(key)
            visible = cal is not None and (cal.owner == grant.account or cal.primary)
            if index >= 50:
                calendars[cal_id] = {
                    "errors": [{"domain": "global", "reason": "tooManyCalendarsRequested"}],
                    "busy": [],
                }
            elif cal is None or not visible:
                calendars[cal_id] = {
                    "errors": [{"domain": "global", "reason": "notFound"}],
                    "busy": [],
                }
            else:
                calendars[cal_id] = {
                    "busy": [
                        {"start": _fmt(s, tz), "end": _fmt(e, tz)}
                        for s, e in _busy(store, cal, lo, hi)
                    ]
                }
    return JSONResponse(
        {
            "kind": "calendar#freeBusy",
            "timeMin": rfc3339(lo.astimezone(UTC)),
            "timeMax": rfc3339(hi.astimezone(UTC)),
            "calendars": calendars,
        }
    )
