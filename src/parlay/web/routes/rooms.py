"""Rooms and messages."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from parlay.services import messages, rooms
from parlay.services.views import MessageRead, RoomRead
from parlay.web.deps import CtxDep, UserDep
from parlay.web.pagination import CursorParam, Limit, decode_cursor, encode_cursor
from parlay.web.schemas.rooms import MemberIn, MessageIn, RoomIn

router = APIRouter(prefix="/api/v1/rooms", tags=["rooms"])


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


@router.get("/{room_id}/messages")
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


@router.post("/{room_id}/messages", status_code=201, response_model=MessageRead)
async def post_message(room_id: str, body: MessageIn, ctx: CtxDep, user: UserDep) -> MessageRead:
    return await messages.do_post_message(ctx, user, room_id, body.body)
