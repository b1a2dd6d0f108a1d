"""The control API under /_emulator/ (not part of Google's): seed, revoke, fail, inspect.

| route | body | effect |
|---|---|---|
| POST /_emulator/reset | | forget everything |
| POST /_emulator/accounts | `{email, name?, time_zone?, hd?, sub?}` | an account with its primary calendar (id = email) |
| GET /_emulator/accounts | | the accounts |
| POST /_emulator/clients | `{client_id, client_secret?, redirect_uris?}` | once any client is registered, only registered clients are accepted |
| POST /_emulator/calendars | `{owner, summary, time_zone?, id?}` | a secondary calendar |
| POST /_emulator/calendars/{id}/events | a Google Event resource | stored as events.insert would |
| GET /_emulator/calendars/{id}/events | | every stored event, deleted ones too |
| POST /_emulator/calendars/{id}/invalidate-sync-tokens | | that calendar's sync tokens now answer 410 |
| POST /_emulator/revoke | `{refresh_token}` or `{account}` | the grant(s) die: invalid_grant, 401 |
| POST /_emulator/faults | `{operation, status?, count?, retry_after?, reason?, after?, delay_seconds?}` | the next `count` calls fail (status, default 503); with `after` the work is done first (a lost answer); `delay_seconds` holds each call that long, before the work or, with `after`, between the work and the answer; a delay with no status answers as usual |
| GET /_emulator/faults | | the faults not yet spent (a call takes its fault when it arrives) |
| DELETE /_emulator/faults | | no more faults |
| POST /_emulator/clock | `{advance_seconds}` | move the emulator's clock on (access tokens expire) |
| GET /_emulator/requests | | the calls received: operation, method, path, query, status |
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from . import events as ev
from .errors import GoogleError
from .store import Client, Fault, Store


def _store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


async def _body(request: Request) -> dict[str, Any]:
    body = await request.json() if await request.body() else {}
    if not isinstance(body, dict):
        raise GoogleError(400, "badRequest", "a JSON object is expected")
    return body


async def reset(request: Request) -> Response:
    request.app.state.store = Store()
    return Response(status_code=204)


async def add_account(request: Request) -> Response:
    body = await _body(request)
    if "@" not in str(body.get("email", "")):
        raise GoogleError(400, "required", "email is required")
    store = _store(request)
    with store.lock:
        account = store.add_account(
            body["email"],
            body.get("name"),
            body.get("time_zone", "UTC"),
            body.get("hd"),
            body.get("sub"),
        )
        return JSONResponse(account.public(), status_code=201)


async def list_accounts(request: Request) -> Response:
    store = _store(request)
    with store.lock:
        return JSONResponse({"accounts": [a.public() for a in store.accounts.values()]})


async def add_client(request: Request) -> Response:
    body = await _body(request)
    store = _store(request)
    with store.lock:
        client = Client(
            str(body["client_id"]), body.get("client_secret"), list(body.get("redirect_uris", []))
        )
        store.clients[client.client_id] = client
    return JSONResponse({"client_id": client.client_id}, status_code=201)


async def add_calendar(request: Request) -> Response:
    body = await _body(request)
    store = _store(request)
    with store.lock:
        if body.get("owner", "").lower() not in store.accounts:
            raise GoogleError(404, "notFound", "unknown owner")
        cal = store.add_calendar(
            body["owner"].lower(),
            body.get("summary", "Calendar"),
            body.get("time_zone"),
            body.get("id"),
        )
        return JSONResponse({"id": cal.id, "summary": cal.summary}, status_code=201)


def _calendar(store: Store, calendar_id: str) -> Any:
    cal = store.calendars.get(calendar_id.lower()) or store.calendars.get(calendar_id)
    if cal is None:
        raise GoogleError(404)
    return cal


async def seed_event(request: Request) -> Response:
    body = await _body(request)
    store = _store(request)
    with store.lock:
        cal = _calendar(store, request.path_params["calendarId"])
        return JSONResponse(ev.insert(store, cal, body, 1), status_code=201)


async def stored_events(request: Request) -> Response:
    store = _store(request)
    with store.lock:
        cal = _calendar(store, request.path_params["calendarId"])
        return JSONResponse({"items": [e.data for e in store.calendar_events(cal.id)]})


async def invalidate_sync_tokens(request: Request) -> Response:
    store = _store(request)
    with store.lock:
        _calendar(store, request.path_params["calendarId"]).sync_generation += 1
    return Response(status_code=204)


async def revoke(request: Request) -> Response:
    body = await _body(request)
    store = _store(request)
    revoked = 0
    with store.lock:
        for grant in store.grants.values():
            if (body.get("refresh_token") and grant.refresh_token == body["refresh_token"]) or (
                body.get("account") and grant.account == str(body["account"]).lower()
            ):
                grant.revoked = True
                revoked += 1
    return JSONResponse({"revoked": revoked})


async def add_fault(request: Request) -> Response:
    body = await _body(request)
    delay = float(body.get("delay_seconds") or 0)
    if not 0 <= delay <= 300:
        raise GoogleError(400, "badRequest", "delay_seconds must be within 0..300")
    status = body.get("status")
    fault = Fault(
        operation=str(body.get("operation", "*")),
        status=int(status) if status is not None else (None if delay else 503),
        remaining=int(body.get("count", 1)),
        retry_after=int(body["retry_after"]) if body.get("retry_after") is not None else None,
        reason=body.get("reason"),
        after=bool(body.get("after", False)),
        delay_seconds=delay,
    )
    store = _store(request)
    with store.lock:
        store.faults.append(fault)
    return JSONResponse({"operation": fault.operation, "count": fault.remaining}, status_code=201)


async def pending_faults(request: Request) -> Response:
    store = _store(request)
    with store.lock:
        faults = [
            {
                "operation": f.operation,
                "status": f.status,
                "remaining": f.remaining,
                "after": f.after,
                "delay_seconds": f.delay_seconds,
            }
            for f in store.faults
        ]
    return JSONResponse({"faults": faults})


async def clear_faults(request: Request) -> Response:
    store = _store(request)
    with store.lock:
        store.faults.clear()
    return Response(status_code=204)


async def clock(request: Request) -> Response:
    body = await _body(request)
    store = _store(request)
    with store.lock:
        store.clock_offset += timedelta(seconds=float(body.get("advance_seconds", 0)))
        return JSONResponse({"now": store.now().isoformat()})


async def requests_log(request: Request) -> Response:
    store = _store(request)
    with store.lock:
        return JSONResponse({"requests": list(store.requests)})
