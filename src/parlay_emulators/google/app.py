"""The ASGI app: routes, injected faults and the request log around every Google route."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from . import calendar, control, oauth
from .errors import GoogleError, oauth_error
from .idtoken import Signer
from .store import Fault, Store

Handler = Callable[[Request], Awaitable[Response]]
_V3 = "/calendar/v3"


def _fault_response(operation: str, fault: Fault, status: int) -> Response:
    headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
    if operation.startswith("oauth."):
        error = "rate_limit_exceeded" if status == 429 else "internal_failure"
        return oauth_error(fault.reason or error, "Injected fault", status, headers)
    return GoogleError(status, fault.reason, headers=headers).response()


async def _hold(fault: Fault | None, after: bool) -> None:
    """A fault's delay, at its place: before the work (nothing stored yet while the caller
    waits) or after it (stored, the answer not yet sent)."""
    if fault is not None and fault.after == after and fault.delay_seconds > 0:
        await asyncio.sleep(fault.delay_seconds)


def _google(operation: str, handler: Handler) -> Handler:
    async def endpoint(request: Request) -> Response:
        store: Store = request.app.state.store
        with store.lock:
            fault = store.take_fault(operation)
        if fault is not None and fault.delay_seconds > 0:
            await request.body()  # the call has arrived whole: held, it is still carried out
        await _hold(fault, after=False)
        if fault is not None and fault.status is not None and not fault.after:
            response = _fault_response(operation, fault, fault.status)
        else:
            try:
                response = await handler(request)
            except GoogleError as exc:
                response = exc.response()
            await _hold(fault, after=True)
            if fault is not None and fault.status is not None:
                response = _fault_response(operation, fault, fault.status)
        with store.lock:
            store.requests.append(
                {
                    "operation": operation,
                    "method": request.method,
                    "path": request.url.path,
                    "query": dict(request.query_params),
                    "status": response.status_code,
                }
            )
        return response

    return endpoint


def _control(handler: Handler) -> Handler:
    async def endpoint(request: Request) -> Response:
        try:
            return await handler(request)
        except GoogleError as exc:
            return exc.response()
        except (KeyError, TypeError, ValueError) as exc:
            return GoogleError(400, "badRequest", f"bad control request: {exc}").response()

    return endpoint


def create_app(store: Store | None = None) -> Starlette:
    """A fresh emulator. Its state lives in ``app.state.store``."""
    g = _google
    c = _control
    routes = [
        Route("/o/oauth2/v2/auth", g("oauth.authorize", oauth.authorize), methods=["GET"]),
        Route("/o/oauth2/auth", g("oauth.authorize", oauth.authorize), methods=["GET"]),
        Route("/o/oauth2/v2/auth", g("oauth.consent", oauth.consent), methods=["POST"]),
        Route("/o/oauth2/auth", g("oauth.consent", oauth.consent), methods=["POST"]),
        Route("/token", g("oauth.token", oauth.token), methods=["POST"]),
        Route("/revoke", g("oauth.revoke", oauth.revoke), methods=["POST"]),
        Route("/v1/userinfo", g("oauth.userinfo", oauth.userinfo), methods=["GET"]),
        Route("/oauth2/v3/userinfo", g("oauth.userinfo", oauth.userinfo), methods=["GET"]),
        Route("/.well-known/openid-configuration", oauth.openid_configuration),
        Route("/oauth2/v3/certs", oauth.jwks),
        Route(
            f"{_V3}/users/me/calendarList",
            g("calendar.calendarList.list", calendar.calendar_list),
            methods=["GET"],
        ),
        Route(
            f"{_V3}/calendars/{{calendarId}}",
            g("calendar.calendars.get", calendar.calendar_get),
            methods=["GET"],
        ),
        Route(
            f"{_V3}/calendars/{{calendarId}}/events",
            g("calendar.events.list", calendar.events_list),
            methods=["GET"],
        ),
        Route(
            f"{_V3}/calendars/{{calendarId}}/events",
            g("calendar.events.insert", calendar.events_insert),
            methods=["POST"],
        ),
        Route(
            f"{_V3}/calendars/{{calendarId}}/events/{{eventId}}/instances",
            g("calendar.events.instances", calendar.events_instances),
            methods=["GET"],
        ),
        Route(
            f"{_V3}/calendars/{{calendarId}}/events/{{eventId}}",
            g("calendar.events.get", calendar.events_get),
            methods=["GET"],
        ),
        Route(
            f"{_V3}/calendars/{{calendarId}}/events/{{eventId}}",
            g("calendar.events.patch", calendar.events_patch),
            methods=["PATCH"],
        ),
        Route(
            f"{_V3}/calendars/{{calendarId}}/events/{{eventId}}",
            g("calendar.events.update", calendar.events_update),
            methods=["PUT"],
        ),
        Route(
            f"{_V3}/calendars/{{calendarId}}/events/{{eventId}}",
            g("calendar.events.delete", calendar.events_delete),
            methods=["DELETE"],
        ),
        Route(f"{_V3}/freeBusy", g("calendar.freebusy.query", calendar.freebusy), methods=["POST"]),
        Route("/_emulator/reset", c(control.reset), methods=["POST"]),
        Route("/_emulator/accounts", c(control.add_account), methods=["POST"]),
        Route("/_emulator/accounts", c(control.list_accounts), methods=["GET"]),
        Route("/_emulator/clients", c(control.add_client), methods=["POST"]),
        Route("/_emulator/calendars", c(control.add_calendar), methods=["POST"]),
        Route("/_emulator/calendars/{calendarId}/events", c(control.seed_event), methods=["POST"]),
        Route(
            "/_emulator/calendars/{calendarId}/events", c(control.stored_events), methods=["GET"]
        ),
        Route(
            "/_emulator/calendars/{calendarId}/invalidate-sync-tokens",
            c(control.invalidate_sync_tokens),
            methods=["POST"],
        ),
        Route("/_emulator/revoke", c(control.revoke), methods=["POST"]),
        Route("/_emulator/faults", c(control.add_fault), methods=["POST"]),
        Route("/_emulator/faults", c(control.clear_faults), methods=["DELETE"]),
        Route("/_emulator/faults", c(control.pending_faults), methods=["GET"]),
        Route("/_emulator/clock", c(control.clock), methods=["POST"]),
        Route("/_emulator/requests", c(control.requests_log), methods=["GET"]),
    ]

    async def not_found(request: Request, exc: Exception) -> Response:
        return GoogleError(404).response()

    app = Starlette(routes=routes, exception_handlers={404: not_found})
    app.state.store = store or Store()
    app.state.signer = Signer()
    return app
