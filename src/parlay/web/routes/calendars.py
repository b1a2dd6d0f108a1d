"""Linked calendars (API.md "Calendars"): CalDAV linking, list, change, sync, disconnect."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from parlay.domain.errors import SessionRequired
from parlay.services.calendar_oauth import CalendarOAuth
from parlay.services.calendars import CalendarService
from parlay.web.deps import PrincipalDep, UserDep
from parlay.web.pagination import CursorParam, Limit, decode_cursor, encode_cursor
from parlay.web.schemas.calendars import (
    AuthorizeOut,
    CaldavIn,
    ConnectIn,
    ConnectionList,
    ConnectionPatch,
    ConnectionRead,
    ProviderList,
    ProviderRead,
)

router = APIRouter(prefix="/api/v1/calendars", tags=["calendars"])


def _service(request: Request) -> CalendarService:
    service: CalendarService = request.app.state.container.calendars
    return service


@router.get("", response_model=ConnectionList)
async def list_connections(
    request: Request, user: UserDep, cursor: CursorParam = None, limit: Limit = 50
) -> ConnectionList:
    page, after = await _service(request).list_connections(
        user.id, after=decode_cursor(cursor, str), limit=limit
    )
    return ConnectionList(
        calendars=[ConnectionRead.of(view) for view in page], next_cursor=encode_cursor(after)
    )


def _oauth(request: Request) -> CalendarOAuth:
    oauth: CalendarOAuth = request.app.state.container.calendar_oauth
    return oauth


@router.get("/providers", response_model=ProviderList)
async def list_providers(request: Request, user: UserDep) -> ProviderList:
    """What this server can link: the OAuth providers whose client id is set, and CalDAV."""
    offered = [ProviderRead.of(key) for key in _oauth(request).offered()]
    return ProviderList(providers=[*offered, ProviderRead.of("caldav")])


@router.post("/{provider}/connect", response_model=AuthorizeOut)
async def connect(
    provider: str, request: Request, principal: PrincipalDep, body: ConnectIn | None = None
) -> AuthorizeOut:
    # The callback is accepted only in the browser session that started it, so only a
    # browser session may start one.
    if not principal.via_session:
        raise SessionRequired()
    url = await _oauth(request).start(
        user_id=principal.user.id,
        session_key=principal.key,
        provider=provider,
        return_to=body.return_to if body is not None else None,
    )
    return AuthorizeOut(authorize_url=url)


@router.post("/caldav", status_code=201, response_model=ConnectionRead)
async def link_caldav(body: CaldavIn, request: Request, user: UserDep) -> ConnectionRead:
    view = await _service(request).link_caldav(user.id, body.url, body.username, body.password)
    return ConnectionRead.of(view)


@router.patch("/{connection_id}", response_model=ConnectionRead)
async def update_connection(
    connection_id: str, body: ConnectionPatch, request: Request, user: UserDep
) -> ConnectionRead:
    changes = [entry.change() for entry in body.calendars]
    return ConnectionRead.of(await _service(request).update(user.id, connection_id, changes))


@router.post("/{connection_id}/sync", status_code=202)
async def sync_connection(connection_id: str, request: Request, user: UserDep) -> Response:
    await _service(request).request_sync(user.id, connection_id)
    return Response(status_code=202)


@router.delete("/{connection_id}", status_code=204)
async def disconnect(connection_id: str, request: Request, user: UserDep) -> Response:
    await _service(request).disconnect(user.id, connection_id)
    return Response(status_code=204)
