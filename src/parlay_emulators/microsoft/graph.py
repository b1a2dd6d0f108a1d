"""Microsoft Graph v1.0: ``/me``, calendars, calendarView and events, for the signed-in user."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import delta
from . import events as ev
from . import timezones as tz
from .errors import GRAPH_JSON, GraphError, request_ids
from .store import Account, Calendar, Event, Store, now

READ_SCOPES = {
    "calendars.read",
    "calendars.readwrite",
    "calendars.read.shared",
    "calendars.readwrite.shared",
}
WRITE_SCOPES = {"calendars.readwrite", "calendars.readwrite.shared"}
USER_SCOPES = {
    "user.read",
    "user.readwrite",
    "user.readbasic.all",
    "user.read.all",
    "directory.read.all",
}
MAX_PAGE = 1000


def _store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def reply(
    request: Request, body: dict[str, Any], status: int = 200, extra: dict[str, str] | None = None
) -> Response:
    request_id, client_request_id = request_ids(request)
    headers = {"request-id": request_id, "client-request-id": client_request_id, **(extra or {})}
    return JSONResponse(body, status_code=status, headers=headers, media_type=GRAPH_JSON)


def authenticate(request: Request, needs: set[str]) -> Account:
    header = request.headers.get("authorization", "")
    if not header.lower().startswith("bearer ") or not header[7:].strip():
        raise GraphError(401, "InvalidAuthenticationToken", "Access token is empty.")
    token = _store(request).access_tokens.get(header[7:].strip())
    if token is None:
        raise GraphError(
            401,
            "InvalidAuthenticationToken",
            "IDX14100: JWT is not well formed, there are no dots (.).",
        )
    if token.revoked or token.expires <= now():
        raise GraphError(
            401, "InvalidAuthenticationToken", "Lifetime validation failed, the token is expired."
        )
    account = _store(request).accounts.get(token.account_id)
    if account is None:
        raise GraphError(
            401, "InvalidAuthenticationToken", "The user of this token no longer exists."
        )
    scopes = set(token.scopes)
    if ".default" not in scopes and not (scopes & needs):
        if needs is USER_SCOPES:
            raise GraphError(
                403,
                "Authorization_RequestDenied",
                "Insufficient privileges to complete the operation.",
            )
        raise GraphError(
            403, "ErrorAccessDenied", "Access is denied. Check credentials and try again."
        )
    return account


def mailbox(request: Request, needs: set[str]) -> Account:
    """The caller's account, for a calendar route: its mailbox must be in Exchange Online."""
    account = authenticate(request, needs)
    if account.on_premises:
        raise GraphError(
            404, "MailboxNotEnabledForRESTAPI", "REST API is not yet supported for this mailbox."
        )
    return account


def _calendar(request: Request, account: Account) -> Calendar:
    calendar_id = request.path_params.get("calendar_id")
    store = _store(request)
    if calendar_id is None:
        return store.default_calendar(account)
    calendar = store.calendars.get(calendar_id)
    if calendar is None or calendar.account_id != account.id:
        raise GraphError(
            404, "ErrorItemNotFound", "The specified object was not found in the store."
        )
    return calendar


def _event(request: Request, account: Account) -> Event:
    event_id = request.path_params["event_id"]
    if not re.fullmatch(r"AAMk[A-Za-z0-9_\-]+=*", event_id):
        raise GraphError(400, "ErrorInvalidIdMalformed", "Id is malformed.")
    event = _store(request).events.get(event_id)
    if event is None or event.deleted or event.account_id != account.id:
        raise GraphError(
            404, "ErrorItemNotFound", "The specified object was not found in the store."
        )
    return event


def _prefer(request: Request) -> tuple[str | None, int | None]:
    header = request.headers.get("prefer", "")
    zone_match = re.search(
        r'outlook\.timezone\s*=\s*"([^"]*)"|outlook\.timezone\s*=\s*([^,;\s]+)', header
    )
    zone_name = None
    if zone_match:
        candidate = zone_match.group(1) or zone_match.group(2)
        try:
            tz.zone(candidate)
            zone_name = candidate
        except tz.UnknownTimeZone:
            zone_name = None  # an unknown zone falls back to UTC
    size_match = re.search(r"odata\.maxpagesize\s*=\s*(\d+)", header)
    return zone_name, int(size_match.group(1)) if size_match else None


def _applied(zone_name: str | None, size: int | None) -> dict[str, str]:
    parts = []
    if zone_name:
        parts.append(f'outlook.timezone="{zone_name}"')
    if size:
        parts.append(f"odata.maxpagesize={size}")
    return {"Preference-Applied": ", ".join(parts)} if parts else {}


def _int_param(request: Request, name: str, default: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not raw.isdigit():
        raise GraphError(400, "BadRequest", f"Invalid value '{raw}' for query option '{name}'.")
    return int(raw)


def page(
    request: Request, items: list[dict[str, Any]], context: str, default_top: int = 10
) -> Response:
    """One page of a collection; ``@odata.nextLink`` (followed verbatim) points to the next."""
    _, max_size = _prefer(request)
    top = min(_int_param(request, "$top", max_size or default_top), MAX_PAGE) or default_top
    skip = _int_param(request, "$skip", 0)
    body: dict[str, Any] = {
        "@odata.context": f"{_base(request)}/v1.0/$metadata#{context}",
        "value": items[skip : skip + top],
    }
    if skip + top < len(items):
        query = dict(request.query_params)
        query["$skip"] = str(skip + top)
        if "$top" in request.query_params:
            query["$top"] = str(top)
        body["@odata.nextLink"] = f"{_base(request)}{request.url.path}?{urlencode(query)}"
    return reply(request, body, extra=_applied(*_prefer(request)))


def render_calendar(calendar: Calendar, account: Account) -> dict[str, Any]:
    return {
        "id": calendar.id,
        "name": calendar.name,
        "color": calendar.color,
        "hexColor": "",
        "isDefaultCalendar": calendar.is_default,
        "changeKey": calendar.change_key,
        "canShare": True,
        "canViewPrivateItems": True,
        "canEdit": True,
        "allowedOnlineMeetingProviders": ["teamsForBusiness"]
        if account.kind == "work"
        else ["skypeForConsumer"],
        "defaultOnlineMeetingProvider": "teamsForBusiness"
        if account.kind == "work"
        else "skypeForConsumer",
        "isTallyingResponses": True,
        "isRemovable": not calendar.is_default,
        "owner": {"name": account.display_name, "address": account.address},
    }


async def me(request: Request) -> Response:
    account = authenticate(request, USER_SCOPES)
    name = account.display_name.split(" ", 1)
    body: dict[str, Any] = {
        "@odata.context": f"{_base(request)}/v1.0/$metadata#users/$entity",
        "businessPhones": [],
        "displayName": account.display_name,
        "givenName": name[0],
        "jobTitle": None,
        "mail": account.mail,
        "mobilePhone": None,
        "officeLocation": None,
        "preferredLanguage": "en-US",
        "surname": name[1] if len(name) > 1 else None,
        "userPrincipalName": account.user_principal_name,
        "id": account.id,
    }
    return reply(request, body)


async def list_calendars(request: Request) -> Response:
    account = mailbox(request, READ_SCOPES)
    items = [render_calendar(c, account) for c in _store(request).calendars_of(account)]
    return page(request, items, "users('me')/calendars")


async def get_calendar(request: Request) -> Response:
    account = mailbox(request, READ_SCOPES)
    body = render_calendar(_calendar(request, account), account)
    return reply(
        request,
        {
            "@odata.context": f"{_base(request)}/v1.0/$metadata#users('me')/calendars/$entity",
            **body,
        },
    )


def _sorted(events: list[Event]) -> list[Event]:
    return sorted(events, key=lambda e: (e.start, e.end, e.created, e.id))


async def calendar_view(request: Request) -> Response:
    account = mailbox(request, READ_SCOPES)
    calendar = _calendar(request, account) if "calendar_id" in request.path_params else None
    raw_start = request.query_params.get("startDateTime")
    raw_end = request.query_params.get("endDateTime")
    if not raw_start or not raw_end:
        raise GraphError(
            400,
            "ErrorInvalidParameter",
            "This request requires a time window specified by the query string parameters StartDateTime and EndDateTime.",
        )
    try:
        start, end = tz.parse_instant(raw_start), tz.parse_instant(raw_end)
    except ValueError as exc:
        raise GraphError(
            400, "ErrorInvalidParameter", "The value of StartDateTime or EndDateTime is not valid."
        ) from exc
    fields = ev.parse_select(request.query_params.get("$select"))
    zone_name, _ = _prefer(request)
    store = _store(request)
    if calendar is None and request.url.path.endswith("/calendar/calendarView"):
        calendar = store.default_calendar(account)
    found = [e for e in store.live_events(account, calendar) if ev.overlaps(e, start, end)]
    items = [
        ev.select(ev.render(e, zone_name or "UTC", _base(request)), fields) for e in _sorted(found)
    ]
    return page(request, items, "users('me')/calendarView")


async def calendar_view_delta(request: Request) -> Response:
    """``GET .../calendarView/delta``: one page of a delta round (see delta.py)."""
    account = mailbox(request, READ_SCOPES)
    calendar = _calendar(request, account) if "calendar_id" in request.path_params else None
    if calendar is None and request.url.path.endswith("/calendar/calendarView/delta"):
        calendar = _store(request).default_calendar(account)
    zone_name, size = _prefer(request)
    body = delta.delta_page(request, account, calendar, zone_name, size)
    return reply(request, body, extra=_applied(zone_name, size))


async def list_events(request: Request) -> Response:
    account = mailbox(request, READ_SCOPES)
    store = _store(request)
    calendar = _calendar(request, account) if "calendar_id" in request.path_params else None
    if calendar is None and request.url.path.endswith("/calendar/events"):
        calendar = store.default_calendar(account)
    fields = ev.parse_select(request.query_params.get("$select"))
    zone_name, _ = _prefer(request)
    events = sorted(
        store.live_events(account, calendar), key=lambda e: (e.created, e.id), reverse=True
    )
    items = [ev.select(ev.render(e, zone_name or "UTC", _base(request)), fields) for e in events]
    return page(request, items, "users('me')/events")


async def _json(request: Request) -> Any:
    try:
        return json.loads(await request.body() or b"null")
    except ValueError as exc:
        raise GraphError(400, "RequestBodyRead", "Invalid JSON in the request body.") from exc


async def create_event(request: Request) -> Response:
    account = mailbox(request, WRITE_SCOPES)
    store = _store(request)
    calendar = _calendar(request, account)
    body = await _json(request)
    zone_name, _ = _prefer(request)
    transaction_id = body.get("transactionId") if isinstance(body, dict) else None
    if isinstance(transaction_id, str):
        for existing in store.live_events(account):
            if existing.transaction_id == transaction_id:  # a retried create: no duplicate
                return _event_reply(request, existing, zone_name, 201)
    event = ev.create(account, calendar, body)
    store.events[event.id] = event
    return _event_reply(request, event, zone_name, 201)


def _event_reply(
    request: Request, event: Event, zone_name: str | None, status: int = 200
) -> Response:
    data = ev.render(event, zone_name, _base(request))
    body = {"@odata.context": f"{_base(request)}/v1.0/$metadata#users('me')/events/$entity", **data}
    extra = _applied(zone_name, None)
    if status == 201:
        extra["Location"] = f"{_base(request)}/v1.0/me/events/{event.id}"
    extra["ETag"] = event.etag
    return reply(request, body, status, extra)


async def get_event(request: Request) -> Response:
    account = mailbox(request, READ_SCOPES)
    event = _event(request, account)
    zone_name, _ = _prefer(request)
    fields = ev.parse_select(request.query_params.get("$select"))
    data = ev.select(ev.render(event, zone_name or "UTC", _base(request)), fields)
    body = {"@odata.context": f"{_base(request)}/v1.0/$metadata#users('me')/events/$entity", **data}
    return reply(request, body, extra=_applied(zone_name, None))


def _check_etag(request: Request, event: Event) -> None:
    wanted = request.headers.get("if-match")
    if wanted and wanted.strip() not in ("*", event.etag):
        raise GraphError(412, "ErrorIrresolvableConflict")


async def patch_event(request: Request) -> Response:
    account = mailbox(request, WRITE_SCOPES)
    event = _event(request, account)
    _check_etag(request, event)
    ev.update(event, await _json(request))
    zone_name, _ = _prefer(request)
    return _event_reply(request, event, zone_name)


async def delete_event(request: Request) -> Response:
    account = mailbox(request, WRITE_SCOPES)
    event = _event(request, account)
    _check_etag(request, event)
    event.deleted = True
    event.touch()
    request_id, client_request_id = request_ids(request)
    return Response(
        status_code=204, headers={"request-id": request_id, "client-request-id": client_request_id}
    )


def routes() -> list[Route]:
    v = "/v1.0/me"
    return [
        Route(v, me, methods=["GET"]),
        Route(f"{v}/calendars", list_calendars, methods=["GET"]),
        Route(f"{v}/calendar", get_calendar, methods=["GET"]),
        Route(v + "/calendars/{calendar_id}", get_calendar, methods=["GET"]),
        Route(f"{v}/calendarView", calendar_view, methods=["GET"]),
        Route(f"{v}/calendar/calendarView", calendar_view, methods=["GET"]),
        Route(v + "/calendars/{calendar_id}/calendarView", calendar_view, methods=["GET"]),
        Route(f"{v}/calendarView/delta", calendar_view_delta, methods=["GET"]),
        Route(f"{v}/calendar/calendarView/delta", calendar_view_delta, methods=["GET"]),
        Route(
            v + "/calendars/{calendar_id}/calendarView/delta", calendar_view_delta, methods=["GET"]
        ),
        Route(f"{v}/events", list_events, methods=["GET"]),
        Route(f"{v}/events", create_event, methods=["POST"]),
        Route(f"{v}/calendar/events", list_events, methods=["GET"]),
        Route(f"{v}/calendar/events", create_event, methods=["POST"]),
        Route(v + "/calendars/{calendar_id}/events", list_events, methods=["GET"]),
        Route(v + "/calendars/{calendar_id}/events", create_event, methods=["POST"]),
        Route(v + "/events/{event_id}", get_event, methods=["GET"]),
        Route(v + "/events/{event_id}", patch_event, methods=["PATCH"]),
        Route(v + "/events/{event_id}", delete_event, methods=["DELETE"]),
    ]
