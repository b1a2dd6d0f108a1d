"""Typical availability, invites (share, dates, slots, book, withdraw) and meetings."""

from __future__ import annotations

import json
from datetime import date
from functools import lru_cache
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import StringConstraints, TypeAdapter

from parlay.domain.errors import InvalidInput
from parlay.services import bookings, invites, meetings, typical_availability
from parlay.services.context import Context
from parlay.services.scheduling_views import InviteRead, MeetingRead
from parlay.web.deps import CtxDep, UserDep, require_user
from parlay.web.hand_read import openapi_parameters, path_param, query_value
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
IdempotencyKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", min_length=1, max_length=200, pattern=r"^[\x21-\x7e]+$"),
]


# The two reads people poll most (each change of week or day in the picker) come first, and
# read their parameters by hand (parlay.web.hand_read says why): same types, same 422s.
_DAY = TypeAdapter(Day)
_TZ = TypeAdapter(Annotated[str, StringConstraints(max_length=64)])
_DAY_SCHEMA = {"type": "string", "format": "date"}
_TZ_SCHEMA = {"type": "string", "maxLength": 64}


@router.get(
    "/invites/{invite_id}/dates",
    openapi_extra=openapi_parameters(
        ["invite_id"],
        {"from": (_DAY_SCHEMA, True), "to": (_DAY_SCHEMA, True), "tz": (_TZ_SCHEMA, False)},
    ),
)
async def invite_dates(request: Request) -> Response:
    user = await require_user(request)
    first = query_value(request, "from", _DAY)
    last = query_value(request, "to", _DAY)
    tz = query_value(request, "tz", _TZ, required=False)
    ctx: Context = request.app.state.ctx
    found = await invites.list_dates(ctx, user, path_param(request, "invite_id"), first, last, tz)
    return Response(_dates_body(found), media_type="application/json")


@lru_cache(maxsize=1024)
def _dates_body(found: tuple[date, ...]) -> bytes:
    """The JSON of a dates answer; the memoized answers of ``list_dates`` are few and asked
    for again and again (one per invite terms, window and zone)."""
    return json.dumps({"dates": [d.isoformat() for d in found]}, separators=(",", ":")).encode()


@router.get(
    "/invites/{invite_id}/slots",
    openapi_extra=openapi_parameters(
        ["invite_id"], {"date": (_DAY_SCHEMA, True), "tz": (_TZ_SCHEMA, False)}
    ),
)
async def invite_slots(request: Request) -> Response:
    user = await require_user(request)
    day = query_value(request, "date", _DAY)
    tz = query_value(request, "tz", _TZ, required=False)
    ctx: Context = request.app.state.ctx
    zone, found = await invites.list_slots(ctx, user, path_param(request, "invite_id"), day, tz)
    return JSONResponse(
        {
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
    )


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
