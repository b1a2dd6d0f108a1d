"""In-app notifications and notification preferences."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from parlay.services import notification_preferences as preferences
from parlay.services import notifications
from parlay.services.notification_preferences import PreferencesRead
from parlay.web.deps import CtxDep, UserDep
from parlay.web.pagination import CursorParam, Limit, decode_cursor, encode_cursor
from parlay.web.schemas.notifications import MarkReadIn, PreferencesIn

router = APIRouter(prefix="/api/v1", tags=["notifications"])


@router.get("/notifications")
async def list_notifications(
    ctx: CtxDep,
    user: UserDep,
    unread: bool = False,
    cursor: CursorParam = None,
    limit: Limit = 50,
) -> dict[str, Any]:
    page, before, counts = await notifications.list_notifications(
        ctx, user, unread=unread, before=decode_cursor(cursor, int), limit=limit
    )
    return {
        "notifications": [n.model_dump(mode="json") for n in page],
        "next_cursor": encode_cursor(before),
        **counts.model_dump(),
    }


@router.post("/notifications/read", status_code=204)
async def mark_read(body: MarkReadIn, ctx: CtxDep, user: UserDep) -> Response:
    await notifications.do_mark_read(
        ctx, user, ids=body.ids, room_id=body.room_id, everything=bool(body.all)
    )
    return Response(status_code=204)


@router.get("/me/preferences", response_model=PreferencesRead)
async def get_preferences(ctx: CtxDep, user: UserDep) -> PreferencesRead:
    return await preferences.get_preferences(ctx, user)


@router.patch("/me/preferences", response_model=PreferencesRead)
async def update_preferences(body: PreferencesIn, ctx: CtxDep, user: UserDep) -> PreferencesRead:
    return await preferences.do_update_preferences(
        ctx,
        user,
        email=body.email,
        reminders=body.reminders,
        reminder_minutes=body.reminder_minutes,
    )
