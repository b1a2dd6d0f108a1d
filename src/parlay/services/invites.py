"""Invites: share availability in a room, list its dates and slots, withdraw it."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from parlay.db.models import Message, User
from parlay.db.scheduling_models import Invite
from parlay.domain.availability import parse_time_zone, weekly_to_dict
from parlay.domain.errors import InvalidInput, InviteClosed, NotHost
from parlay.domain.intervals import Interval
from parlay.domain.invites import InviteTerms, check_invite_terms
from parlay.domain.slots import (
    compute_invite_dates,
    compute_invite_slots,
    compute_local_day_window,
)
from parlay.services.access import access_invite, access_room, read_invite
from parlay.services.busy import external_busy, read_meeting_busy
from parlay.services.context import Context
from parlay.services.messages import add_message, emit_message_updated
from parlay.services.scheduling_views import InviteRead, invite_read
from parlay.services.uow import unit_of_work

MAX_RANGE_DAYS = 92
#: Dates outside these years are refused (a 422, not an overflow deep in date arithmetic).
SUPPORTED_YEARS = range(2000, 2200)


def _check_date(day: date, field: str) -> None:
    if day.year not in SUPPORTED_YEARS:
        raise InvalidInput("Pick a date between the years 2000 and 2199.", field=field)


def terms_of(invite: Invite) -> InviteTerms:
    return check_invite_terms(
        invite.time_zone,
        invite.weekly,
        invite.duration_minutes,
        invite.horizon_days,
        invite.min_notice_minutes,
    )


async def do_create_invite(
    ctx: Context,
    user: User,
    room_id: str,
    *,
    time_zone: str,
    weekly: dict[str, Any],
    duration_minutes: int,
    horizon_days: int,
    min_notice_minutes: int,
) -> InviteRead:
    terms = check_invite_terms(
        time_zone, weekly, duration_minutes, horizon_days, min_notice_minutes
    )
    async with unit_of_work(ctx) as uow:
        room = await access_room(uow.session, room_id, user)
        invite = Invite(
            room_id=room.id,
            host_id=user.id,
            time_zone=terms.zone_name,
            weekly=weekly_to_dict(terms.rules),
            duration_minutes=duration_minutes,
            horizon_days=horizon_days,
            min_notice_minutes=min_notice_minutes,
            status="open",
            created_at=uow.now,
        )
        uow.session.add(invite)
        await uow.session.flush()
        body = f"{user.display_name} shared their availability for a {duration_minutes}-minute meeting."
        message = await add_message(
            uow, room, sender=user, kind="meeting_invite", body=body, invite_id=invite.id
        )
        invite.message_id = message.id
        return await invite_read(uow.session, invite, ctx.base_url)


async def get_invite(ctx: Context, user: User, invite_id: str) -> InviteRead:
    async with ctx.db.read() as session:
        invite = await access_invite(session, invite_id, user)
        return await invite_read(session, invite, ctx.base_url)


async def _availability(
    ctx: Context, user: User, invite_id: str, window: Interval
) -> tuple[InviteTerms, list[Interval]]:
    """The terms of an open or booked invite and its host's busy time around ``window``.
    Direct reads, each its own snapshot: a booking that lands between them at worst hides
    its own slot one request early; booking itself re-checks in a write transaction.  The
    invite's own meeting does not count as busy, which is what Reschedule needs."""
    invite = await read_invite(ctx.db, invite_id, user)
    if invite.status == "withdrawn":
        raise InviteClosed()
    terms = terms_of(invite)
    busy_window = Interval(window.start, window.end + terms.duration)
    busy = await read_meeting_busy(ctx.db, invite.host_id, busy_window, exclude=invite.meeting_id)
    busy += await external_busy(ctx.busy_sources, invite.host_id, busy_window)
    return terms, busy


def _engine_args(
    terms: InviteTerms, busy: list[Interval], ctx: Context, window: Interval
) -> dict[str, Any]:
    return {
        "rules": terms.rules,
        "zone": terms.zone,
        "duration": terms.duration,
        "busy": busy,
        "now": ctx.now(),
        "min_notice": terms.min_notice,
        "horizon": terms.horizon,
        "window_start": window.start,
        "window_end": window.end,
    }


def _viewer_zone(user: User, tz: str | None) -> ZoneInfo:
    return parse_time_zone(tz if tz is not None else user.time_zone, field="tz")


async def list_dates(
    ctx: Context, user: User, invite_id: str, first: date, last: date, tz: str | None
) -> list[date]:
    zone = _viewer_zone(user, tz)
    _check_date(first, "from")
    _check_date(last, "to")
    if last < first:
        raise InvalidInput("'to' must not be before 'from'.", field="to")
    if (last - first).days > MAX_RANGE_DAYS:
        raise InvalidInput(f"Ask for at most {MAX_RANGE_DAYS} days at once.", field="to")
    window = Interval(
        compute_local_day_window(first, zone).start,
        compute_local_day_window(last + timedelta(days=1), zone).start,
    )
    terms, busy = await _availability(ctx, user, invite_id, window)
    return compute_invite_dates(**_engine_args(terms, busy, ctx, window), viewer=zone)


async def list_slots(
    ctx: Context, user: User, invite_id: str, day: date, tz: str | None
) -> tuple[ZoneInfo, list[Interval]]:
    """The viewer's zone (``tz`` or their own) and the slots starting on ``day`` there."""
    zone = _viewer_zone(user, tz)
    _check_date(day, "date")
    window = compute_local_day_window(day, zone)
    terms, busy = await _availability(ctx, user, invite_id, window)
    return zone, compute_invite_slots(**_engine_args(terms, busy, ctx, window))


async def do_withdraw(ctx: Context, user: User, invite_id: str) -> None:
    async with unit_of_work(ctx) as uow:
        invite = await access_invite(uow.session, invite_id, user, lock=True)
        if invite.host_id != user.id:
            raise NotHost()
        if invite.status != "open":
            raise InviteClosed()
        invite.status = "withdrawn"
        if invite.message_id is not None:
            message = await uow.session.get(Message, invite.message_id)
            if message is not None:
                await emit_message_updated(uow, message)
