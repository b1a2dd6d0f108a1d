"""Typical availability, invites (share, dates, slots, book, withdraw) and meetings."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Response
from fastapi.responses import JSONResponse

from parlay.domain.errors import InvalidInput
from parlay.services import bookings, invites, meetings, typical_availability
from parlay.services.scheduling_views import InviteRead, MeetingRead
from parlay.web.deps import CtxDep, UserDep
from parlay.web.pagination import CursorParam, Limit, decode_cursor, encode_cursor
from parlay.web.schemas.scheduling import (
    AvailabilityIn,
    BookIn,
    CancelIn,
    Day,
    Instant,
    InviteIn,
    RescheduleIn,
    check_instant,
)

router = APIRouter(prefix="/api/v1", tags=["scheduling"])
TzParam = Annotated[str | None, Query(max_length=64)]
IdempotencyKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", min_length=1, max_length=200, pattern=r"^[\x21-\x7e]+$"),
]


@router.get("/me/availability")
async def get_availability(ctx: CtxDep, user: UserDep) -> dict[str, Any]:
    return await typical_availability.get_typical(ctx, user)


@router.put("/me/availability")
async def put_availability(body: AvailabilityIn, ctx: CtxDep, user: UserDep) -> dict[str, Any]:
    return await typical_availability.do_save_typical(
        ctx, user, body.time_zone, body.weekly.as_dict()
    )


@router.post("/rooms/{room_id}/invites", status_code=201, response_model=InviteRead)
async def create_invite(room_id: str, body: InviteIn, ctx: CtxDep, user: UserDep) -> InviteRead:
    return await invites.do_create_invite(
        ctx,
        user,
        room_id,
        time_zone=body.time_zone,
        weekly=body.weekly.as_dict(),
        duration_minutes=body.duration_minutes,
        horizon_days=body.horizon_days,
        min_notice_minutes=body.min_notice_minutes,
    )


@router.get("/invites/{invite_id}", response_model=InviteRead)
async def get_invite(invite_id: str, ctx: CtxDep, user: UserDep) -> InviteRead:
    return await invites.get_invite(ctx, user, invite_id)


@router.get("/invites/{invite_id}/dates")
async def invite_dates(
    invite_id: str,
    ctx: CtxDep,
    user: UserDep,
    first: Annotated[Day, Query(alias="from")],
    last: Annotated[Day, Query(alias="to")],
    tz: TzParam = None,
) -> dict[str, list[str]]:
    found = await invites.list_dates(ctx, user, invite_id, first, last, tz)
    return {"dates": [d.isoformat() for d in found]}


@router.get("/invites/{invite_id}/slots")
async def invite_slots(
    invite_id: str,
    ctx: CtxDep,
    user: UserDep,
    day: Annotated[Day, Query(alias="date")],
    tz: TzParam = None,
) -> dict[str, Any]:
    zone, found = await invites.list_slots(ctx, user, invite_id, day, tz)
    return {
        "time_zone": zone.key,
        "slots": [
            {
                "start": s.start.astimezone(zone).isoformat(),
                "end": s.end.astimezone(zone).isoformat(),
                "viewer_busy": busy,
            }
            for s, busy in found
        ],
    }


@router.post("/invites/{invite_id}/book", status_code=201, response_model=MeetingRead)
async def book(
    invite_id: str,
    body: BookIn,
    ctx: CtxDep,
    user: UserDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    status, result = await bookings.do_book(ctx, user, invite_id, body.start, idempotency_key)
    return JSONResponse(result, status_code=status)


@router.delete("/invites/{invite_id}", status_code=204)
async def withdraw(invite_id: str, ctx: CtxDep, user: UserDep) -> Response:
    await invites.do_withdraw(ctx, user, invite_id)
    return Response(status_code=204)


@router.get("/meetings")
async def list_meetings(
    ctx: CtxDep,
    user: UserDep,
    start_from: Annotated[Instant | None, Query(alias="from")] = None,
    start_to: Annotated[Instant | None, Query(alias="to")] = None,
    room_id: Annotated[str | None, Query(max_length=64)] = None,
    cursor: CursorParam = None,
    limit: Limit = 50,
) -> dict[str, Any]:
    for name, value in (("from", start_from), ("to", start_to)):
        if value is not None:
            try:
                check_instant(value)
            except ValueError as exc:
                raise InvalidInput(str(exc), field=name) from None
    page, after = await meetings.list_meetings(
        ctx,
        user,
        start_from=start_from,
        start_to=start_to,
        room_id=room_id,
        after=decode_cursor(cursor, str, str),
        limit=limit,
    )
    return {
        "meetings": [m.model_dump(mode="json") for m in page],
        "next_cursor": encode_cursor(list(after) if after else None),
    }


@router.get("/meetings/{meeting_id}", response_model=MeetingRead)
async def get_meeting(meeting_id: str, ctx: CtxDep, user: UserDep) -> MeetingRead:
    return await meetings.get_meeting(ctx, user, meeting_id)


@router.post("/meetings/{meeting_id}/reschedule", response_model=MeetingRead)
async def reschedule(
    meeting_id: str, body: RescheduleIn, ctx: CtxDep, user: UserDep
) -> MeetingRead:
    return await bookings.do_reschedule(ctx, user, meeting_id, body.start, body.reason or None)


@router.post("/meetings/{meeting_id}/cancel", response_model=MeetingRead)
async def cancel(
    meeting_id: str, ctx: CtxDep, user: UserDep, body: CancelIn | None = None
) -> MeetingRead:
    reason = body.reason if body is not None else None
    return await bookings.do_cancel(ctx, user, meeting_id, reason or None)


@router.get("/meetings/{meeting_id}/ics")
async def meeting_ics(meeting_id: str, ctx: CtxDep, user: UserDep) -> Response:
    content = await meetings.get_meeting_ics(ctx, user, meeting_id)
    return Response(
        content,
        media_type="text/calendar; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="meeting.ics"'},
    )
