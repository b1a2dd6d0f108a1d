"""Rooms and messages."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import TypeAdapter

from parlay.services import messages, rooms
from parlay.services.context import Context
from parlay.services.views import MessageRead, RoomRead
from parlay.web.deps import CtxDep, UserDep, require_user
from parlay.web.hand_read import json_body, openapi_parameters, path_param
from parlay.web.pagination import CursorParam, Limit, decode_cursor, encode_cursor
from parlay.web.schemas.rooms import MemberIn, MessageIn, RoomIn

#: A room's messages, the routes a chat calls most: the app includes this router first.  FastAPI
#: tries the routes of each included router in turn (~2.5 us each, and the router that matches
#: twice), so a route's place is CPU on every request: posting a message after the 19 routes
#: before it cost ~60 us, first ~5 us (measured on the reference machine).
messages_router = APIRouter(prefix="/api/v1/rooms", tags=["rooms"])
router = APIRouter(prefix="/api/v1/rooms", tags=["rooms"])


_MESSAGE_IN = TypeAdapter(MessageIn)


# The hottest write of a chat reads its body by hand (parlay.web.hand_read says why).
@messages_router.post(
    "/{room_id}/messages",
    status_code=201,
    response_model=MessageRead,
    openapi_extra=openapi_parameters(["room_id"], {}, body=MessageIn),
)
async def post_message(request: Request) -> Response:
    await request.body()  # read first, as FastAPI does: an oversized body is a 413 for anyone
    user = await require_user(request)
    body = await json_body(request, _MESSAGE_IN)
    ctx: Context = request.app.state.ctx
    message = await messages.do_post_message(ctx, user, path_param(request, "room_id"), body.body)
    return Response(message.model_dump_json(), status_code=201, media_type="application/json")


@messages_router.get("/{room_id}/messages")
async def list_messages(
    room_id: str, ctx: CtxDep, user: UserDep, cursor: CursorParam = None, limit: Limit = 50
) -> dict[str, Any]:
    page, before, live_cursor = await messages.list_messages(
        ctx, user, room_id, before=decode_cursor(cursor, int), limit=limit
    )
    return {
        "messages": [m.model_dump(mode="json") for m in page],
        "next_cursor": encode_cursor(before),
        # Open the WebSocket with ?since=<live_cursor> to miss nothing after this page.
        "live_cursor": str(live_cursor),
    }


@router.post("", status_code=201, response_model=RoomRead)
async def create_room(body: RoomIn, ctx: CtxDep, user: UserDep) -> RoomRead:
    return await rooms.do_create_room(ctx, user, title=body.title, member_emails=body.member_emails)


@router.get("")
async def list_rooms(
    ctx: CtxDep, user: UserDep, cursor: CursorParam = None, limit: Limit = 50
) -> dict[str, Any]:
    page, after = await rooms.list_rooms(
        ctx, user, after=decode_cursor(cursor, int, str), limit=limit
    )
    return {"rooms": [r.model_dump(mode="json") for r in page], "next_cursor": encode_cursor(after)}


@router.get("/{room_id}", response_model=RoomRead)
async def get_room(room_id: str, ctx: CtxDep, user: UserDep) -> RoomRead:
    return await rooms.get_room(ctx, user, room_id)


@router.post("/{room_id}/members", status_code=201, response_model=RoomRead)
async def add_member(room_id: str, body: MemberIn, ctx: CtxDep, user: UserDep) -> RoomRead:
    return await rooms.do_add_member(ctx, user, room_id, body.email)
