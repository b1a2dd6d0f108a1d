"""The control API under /_emulator/ (not part of Microsoft's): seed, revoke, fail, inspect.

``{account}`` is an account's id, e-mail or userPrincipalName.

| route | body | effect |
|---|---|---|
| POST /_emulator/reset | | forget everything |
| POST /_emulator/accounts | `{userPrincipalName, mail?, displayName?, kind?: personal or work, on_premises?, time_zone?, id?, calendars?: [name]}` | an account with its default calendar "Calendar" (+ the named ones); `on_premises` mailboxes answer `MailboxNotEnabledForRESTAPI` on calendar routes |
| GET /_emulator/accounts | | the accounts and their calendars |
| PATCH /_emulator/accounts/{account} | `{on_premises?, displayName?}` | change it |
| POST /_emulator/accounts/{account}/calendars | `{name}` | another calendar |
| POST /_emulator/accounts/{account}/events | a Graph event (as for `POST /me/events`) + `calendar_id?`, `isCancelled`, `responseStatus`, `organizer`, `type`; start/end may be RFC 3339 strings (dates when all-day) | stored |
| GET /_emulator/accounts/{account}/events | | every stored event in UTC, with `calendar_id` and `deleted` |
| POST /_emulator/revoke | `{account, access_tokens?}` or `{refresh_token}` / `{access_token}` | refresh tokens die (`invalid_grant`); access tokens too if asked (401) |
| POST /_emulator/clients | `{client_id, client_secret?, redirect_uris?}` | that client must then authenticate (unregistered ones are accepted as they come) |
| POST /_emulator/config | `{access_token_seconds}` | lifetime of the access tokens issued from now on |
| POST /_emulator/faults | `{path (glob), method?, status, count?, retry_after?, code?, message?, when?: before or after}` (`after: true` = `when: after`) | the next `count` matching calls fail; `after`: the call is carried out and its answer lost |
| GET, DELETE /_emulator/faults | | the pending faults; no more faults |
| GET /_emulator/requests | | the calls received: method, path, query, status |
| POST /_emulator/calendars/{calendar_id}/delta/expire | `{code?: syncStateNotFound or resyncRequired}` | every calendarView delta token (and round in progress) over that calendar answers 410 Gone with that code from now on |
| POST /_emulator/delta | `{partial_updates: bool}` | a changed event in a later delta round comes as its id + the changed properties only (the docs allow it) instead of whole |
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import delta
from . import events as ev
from .errors import GraphError
from .faults import parse_fault
from .store import Account, Client, Store


def _store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


def _problem(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": "emulator", "message": message}}, status_code=status)


async def _body(request: Request) -> Any:
    try:
        return json.loads(await request.body() or b"{}")
    except ValueError:
        return None


def _account(request: Request) -> Account | None:
    return _store(request).find_account(request.path_params["account"])


def _account_view(store: Store, account: Account) -> dict[str, Any]:
    calendars = [
        {"id": c.id, "name": c.name, "isDefaultCalendar": c.is_default}
        for c in store.calendars_of(account)
    ]
    return {**account.public(), "calendars": calendars}


async def create_account(request: Request) -> Response:
    store = _store(request)
    body = await _body(request)
    if not isinstance(body, dict):
        return _problem(400, "a JSON object is expected")
    upn = body.get("userPrincipalName") or body.get("mail")
    if not isinstance(upn, str) or "@" not in upn:
        return _problem(400, "userPrincipalName (or mail) is required")
    kind = body.get("kind", "personal")
    if kind not in ("personal", "work"):
        return _problem(400, "kind is personal or work")
    try:
        account = store.add_account(
            upn,
            mail=body.get("mail", upn),
            display_name=body.get("displayName"),
            kind=kind,
            on_premises=bool(body.get("on_premises", False)),
            time_zone=body.get("time_zone", "UTC"),
            account_id=body.get("id"),
        )
    except ValueError as exc:
        return _problem(409, str(exc))
    for name in body.get("calendars", []):
        store.add_calendar(account, str(name))
    return JSONResponse(_account_view(store, account), status_code=201)


async def list_accounts(request: Request) -> Response:
    store = _store(request)
    return JSONResponse({"accounts": [_account_view(store, a) for a in store.accounts.values()]})


async def patch_account(request: Request) -> Response:
    account = _account(request)
    body = await _body(request)
    if account is None:
        return _problem(404, "no such account")
    if not isinstance(body, dict):
        return _problem(400, "a JSON object is expected")
    if "on_premises" in body:
        account.on_premises = bool(body["on_premises"])
    if "displayName" in body:
        account.display_name = str(body["displayName"])
    return JSONResponse(_account_view(_store(request), account))


async def create_calendar(request: Request) -> Response:
    account = _account(request)
    body = await _body(request)
    if account is None:
        return _problem(404, "no such account")
    if not isinstance(body, dict) or not isinstance(body.get("name"), str):
        return _problem(400, "name is required")
    calendar = _store(request).add_calendar(account, body["name"])
    return JSONResponse(
        {"id": calendar.id, "name": calendar.name, "isDefaultCalendar": False}, status_code=201
    )


async def seed_event(request: Request) -> Response:
    """Body as for ``POST /me/events``, plus isCancelled/responseStatus/type/organizer, and
    ``calendar_id``; start/end may also be plain RFC 3339 instants (or dates when all-day)."""
    store = _store(request)
    account = _account(request)
    body = await _body(request)
    if account is None:
        return _problem(404, "no such account")
    if not isinstance(body, dict):
        return _problem(400, "a JSON object is expected")
    calendar_id = body.pop("calendar_id", None)
    calendar = store.calendars.get(calendar_id) if calendar_id else store.default_calendar(account)
    if calendar is None or calendar.account_id != account.id:
        return _problem(404, "no such calendar")
    try:
        event = ev.create(account, calendar, body, seeding=True)
    except GraphError as exc:
        return _problem(400, exc.message)
    store.events[event.id] = event
    return JSONResponse(_stored(request, event), status_code=201)


def _stored(request: Request, event: ev.Event) -> dict[str, Any]:
    data = ev.render(event, "UTC", str(request.base_url).rstrip("/"))
    return {**data, "calendar_id": event.calendar_id, "deleted": event.deleted}


async def list_stored_events(request: Request) -> Response:
    """Everything stored for an account, deleted events included (``deleted: true``)."""
    account = _account(request)
    if account is None:
        return _problem(404, "no such account")
    found = [e for e in _store(request).events.values() if e.account_id == account.id]
    found.sort(key=lambda e: (e.start, e.id))
    return JSONResponse({"events": [_stored(request, e) for e in found]})


async def revoke(request: Request) -> Response:
    """Revoke every refresh token of an account (``{"access_tokens": true}``: access tokens too)."""
    account = _account(request)
    body = await _body(request)
    if account is None:
        return _problem(404, "no such account")
    count = _store(request).revoke_account(
        account, access_tokens=bool((body or {}).get("access_tokens"))
    )
    return JSONResponse({"revoked": count})


async def revoke_token(request: Request) -> Response:
    body = await _body(request) or {}
    store = _store(request)
    if isinstance(body, dict) and body.get("account"):
        account = store.find_account(str(body["account"]))
        if account is None:
            return _problem(404, "no such account")
        count = store.revoke_account(account, access_tokens=bool(body.get("access_tokens")))
        return JSONResponse({"revoked": count})
    refresh = store.refresh_tokens.get(str(body.get("refresh_token", "")))
    access = store.access_tokens.get(str(body.get("access_token", "")))
    if refresh is None and access is None:
        return _problem(404, "no such token")
    if refresh is not None:
        refresh.status = "revoked"
    if access is not None:
        access.revoked = True
    return JSONResponse({"revoked": 1})


async def add_fault(request: Request) -> Response:
    store = _store(request)
    try:
        fault = parse_fault(await _body(request), secrets.token_hex(6))
    except (ValueError, TypeError) as exc:
        return _problem(400, str(exc))
    store.faults.append(fault)
    return JSONResponse(fault.public(), status_code=201)


async def list_faults(request: Request) -> Response:
    return JSONResponse({"faults": [f.public() for f in _store(request).faults]})


async def clear_faults(request: Request) -> Response:
    _store(request).faults.clear()
    return Response(status_code=204)


async def add_client(request: Request) -> Response:
    body = await _body(request)
    if not isinstance(body, dict) or not isinstance(body.get("client_id"), str):
        return _problem(400, "client_id is required")
    client = Client(
        body["client_id"], body.get("client_secret"), list(body.get("redirect_uris", []))
    )
    _store(request).clients[client.client_id] = client
    return JSONResponse(
        {"client_id": client.client_id, "redirect_uris": client.redirect_uris}, status_code=201
    )


async def config(request: Request) -> Response:
    store = _store(request)
    body = await _body(request)
    if isinstance(body, dict) and "access_token_seconds" in body:
        store.access_token_seconds = int(body["access_token_seconds"])
    return JSONResponse({"access_token_seconds": store.access_token_seconds})


async def requests_log(request: Request) -> Response:
    return JSONResponse({"requests": _store(request).requests})


async def expire_delta(request: Request) -> Response:
    """Expire the calendar's delta tokens, as Graph does when it drops a sync state."""
    store = _store(request)
    calendar = store.calendars.get(request.path_params["calendar_id"])
    body = await _body(request)
    if calendar is None:
        return _problem(404, "no such calendar")
    code = (body or {}).get("code", "syncStateNotFound") if isinstance(body, dict) else None
    if code not in ("syncStateNotFound", "resyncRequired"):
        return _problem(400, "code is syncStateNotFound or resyncRequired")
    return JSONResponse({"expired": delta.expire(store, calendar, code)})


async def delta_config(request: Request) -> Response:
    store = _store(request)
    body = await _body(request)
    if isinstance(body, dict) and "partial_updates" in body:
        store.partial_delta_updates = bool(body["partial_updates"])
    return JSONResponse({"partial_updates": store.partial_delta_updates})


async def reset(request: Request) -> Response:
    _store(request).reset()
    return Response(status_code=204)


def routes() -> list[Route]:
    c = "/_emulator"
    return [
        Route(f"{c}/accounts", create_account, methods=["POST"]),
        Route(f"{c}/accounts", list_accounts, methods=["GET"]),
        Route(c + "/accounts/{account}", patch_account, methods=["PATCH"]),
        Route(c + "/accounts/{account}/calendars", create_calendar, methods=["POST"]),
        Route(c + "/accounts/{account}/events", seed_event, methods=["POST"]),
        Route(c + "/accounts/{account}/events", list_stored_events, methods=["GET"]),
        Route(c + "/accounts/{account}/revoke", revoke, methods=["POST"]),
        Route(f"{c}/revoke", revoke_token, methods=["POST"]),
        Route(f"{c}/faults", add_fault, methods=["POST"]),
        Route(f"{c}/faults", list_faults, methods=["GET"]),
        Route(f"{c}/faults", clear_faults, methods=["DELETE"]),
        Route(f"{c}/clients", add_client, methods=["POST"]),
        Route(f"{c}/config", config, methods=["GET", "POST"]),
        Route(f"{c}/requests", requests_log, methods=["GET"]),
        Route(f"{c}/reset", reset, methods=["POST"]),
        Route(c + "/calendars/{calendar_id}/delta/expire", expire_delta, methods=["POST"]),
        Route(f"{c}/delta", delta_config, methods=["GET", "POST"]),
    ]
