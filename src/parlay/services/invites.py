"""Invites: share availability in a room, list its dates and slots, withdraw it."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, func, select

from parlay.db.base import UTCDateTime
from parlay.db.direct import DirectQuery
from parlay.db.models import Message, RoomMember, User
from parlay.db.scheduling_models import Invite, Meeting
from parlay.domain.availability import WeeklyRules, parse_time_zone, weekly_to_dict
from parlay.domain.errors import InvalidInput, InviteClosed, NotAMember, NotHost
from parlay.domain.intervals import Interval
from parlay.domain.invites import DURATIONS, InviteTerms, check_invite_terms
from parlay.domain.slots import (
    compute_invite_dates,
    compute_invite_slots,
    compute_local_day_window,
    minute_ceiling,
)
from parlay.services.access import access_invite, access_room, membership
from parlay.services.busy import busy_condition, external_busy, viewer_busy
from parlay.services.context import Context
from parlay.services.messages import add_message, emit_message_updated
from parlay.services.scheduling_views import InviteRead, invite_read
from parlay.services.uow import retrying, unit_of_work

MAX_RANGE_DAYS = 92
#: Dates outside these years are refused (a 422, not an overflow deep in date arithmetic).
SUPPORTED_YEARS = range(2000, 2200)


def _check_date(day: date, field: str) -> None:
    if day.year not in SUPPORTED_YEARS:
        raise InvalidInput("Pick a date between the years 2000 and 2199.", field=field)


#: The columns an invite's terms are parsed from.
_TERM_COLUMNS = (
    Invite.id,
    Invite.time_zone,
    Invite.weekly,
    Invite.duration_minutes,
    Invite.horizon_days,
    Invite.min_notice_minutes,
)
#: Parsed terms by invite id.  An invite's terms never change once it is shared (a meeting
#: moves, the invite does not), so a hit is always right; parsing costs ~0.1 ms a request.
_TERMS: dict[str, InviteTerms] = {}
_TERMS_KEPT = 4096


def _terms(fields: Mapping[str, Any]) -> InviteTerms:
    """The terms of the invite whose ``_TERM_COLUMNS`` are ``fields`` (a row, say)."""
    terms = _TERMS.get(fields["id"])
    if terms is None:
        terms = check_invite_terms(
            fields["time_zone"],
            fields["weekly"],
            fields["duration_minutes"],
            fields["horizon_days"],
            fields["min_notice_minutes"],
        )
        if len(_TERMS) >= _TERMS_KEPT:
            _TERMS.pop(next(iter(_TERMS)))  # forget the oldest
        _TERMS[fields["id"]] = terms
    return terms


def terms_of(invite: Invite) -> InviteTerms:
    return _terms({column.key: getattr(invite, column.key) for column in _TERM_COLUMNS})


@retrying
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


#: An invite (if the caller is a member of its room) and, one row each, its host's busy
#: meetings around a window: what showing availability reads, in one statement.
_AVAILABILITY = DirectQuery(
    select(
        *_TERM_COLUMNS,
        Invite.status,
        Invite.host_id,
        Invite.meeting_id,
        Meeting.start,
        Meeting.end,
    )
    .join(RoomMember, membership(Invite, bindparam("user_id")))
    .outerjoin(
        Meeting,
        busy_condition(
            Invite.host_id,
            bindparam("window_start", type_=UTCDateTime()),
            bindparam("window_end", type_=UTCDateTime()),
            func.coalesce(Invite.meeting_id, ""),
        ),
    )
    .where(Invite.id == bindparam("invite_id"))
)
#: Busy time is read this far past the window: the longest slot that starts inside it.
_BUSY_MARGIN = timedelta(minutes=max(DURATIONS))


async def _availability(
    ctx: Context, user: User, invite_id: str, window: Interval
) -> tuple[InviteTerms, list[Interval], str | None]:
    """The terms of an open or booked invite and its host's busy time around ``window``.
    A direct read (parlay.db.direct), outside any transaction: a booking that lands just
    before it is seen, one that lands just after is caught when the slot is booked (booking
    re-checks in its write transaction).  The invite's own meeting does not count as busy,
    which is what Reschedule needs."""
    busy_window = Interval(window.start, window.end + _BUSY_MARGIN)
    rows = await ctx.db.direct.fetch(
        _AVAILABILITY,
        invite_id=invite_id,
        user_id=user.id,
        window_start=busy_window.start,
        window_end=busy_window.end,
    )
    if not rows:
        raise NotAMember("Invite not found.")
    invite = rows[0]
    if invite["status"] == "withdrawn":
        raise InviteClosed()
    terms = _terms(invite)
    busy = [Interval(row["start"], row["end"]) for row in rows if row["start"] is not None]
    busy += await external_busy(ctx.busy_sources, invite["host_id"], busy_window)
    return terms, busy, invite["meeting_id"]


# ``_dates`` and ``_slots`` are the slot engine memoized on its exact inputs, with ``now``
# rounded up to its minute (the engine cannot tell instants of one minute apart, see
# ``minute_ceiling``): people looking at one invite within a minute share a computation.
# Hosts with more busy intervals than ``_MEMO_MAX_BUSY`` in the window are computed afresh
# each time, so the memo's keys stay small (at most ~512 x 500 intervals; a linked calendar
# with a dozen events a day has ~350 in a month, and the mirror shares those Interval objects).
_MEMO_MAX_BUSY = 500


_EngineArgs = tuple[
    WeeklyRules,
    ZoneInfo,
    timedelta,
    tuple[Interval, ...],
    datetime,
    timedelta,
    timedelta,
    datetime,
    datetime,
]


def _engine_args(
    terms: InviteTerms, busy: tuple[Interval, ...], now: datetime, window: Interval
) -> _EngineArgs:
    """The slot engine's arguments, in its order, for ``terms`` over ``window``."""
    return (
        terms.rules,
        terms.zone,
        terms.duration,
        busy,
        now,
        terms.min_notice,
        terms.horizon,
        window.start,
        window.end,
    )


@lru_cache(maxsize=512)
def _dates(
    terms: InviteTerms,
    busy: tuple[Interval, ...],
    now: datetime,
    window: Interval,
    viewer: ZoneInfo,
) -> tuple[date, ...]:
    return tuple(compute_invite_dates(*_engine_args(terms, busy, now, window), viewer))


@lru_cache(maxsize=512)
def _slots(
    terms: InviteTerms, busy: tuple[Interval, ...], now: datetime, window: Interval
) -> tuple[Interval, ...]:
    return tuple(compute_invite_slots(*_engine_args(terms, busy, now, window)))


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
    terms, busy, _meeting = await _availability(ctx, user, invite_id, window)
    dates = _dates if len(busy) <= _MEMO_MAX_BUSY else _dates.__wrapped__
    return list(dates(terms, tuple(busy), minute_ceiling(ctx.now()), window, zone))


async def list_slots(
    ctx: Context, user: User, invite_id: str, day: date, tz: str | None
) -> tuple[ZoneInfo, list[tuple[Interval, bool]]]:
    """The viewer's zone (``tz`` or their own) and the slots starting on ``day`` there, each
    with whether it overlaps the viewer's own busy time (API rule 6, "mutual availability")."""
    zone = _viewer_zone(user, tz)
    _check_date(day, "date")
    window = compute_local_day_window(day, zone)
    terms, busy, own_meeting = await _availability(ctx, user, invite_id, window)
    slots = _slots if len(busy) <= _MEMO_MAX_BUSY else _slots.__wrapped__
    found = slots(terms, tuple(busy), minute_ceiling(ctx.now()), window)
    mine = await viewer_busy(
        ctx.db,
        ctx.busy_sources,
        user.id,
        Interval(window.start, window.end + _BUSY_MARGIN),
        exclude=own_meeting,
    )
    return zone, [(slot, any(slot.overlaps(b) for b in mine)) for slot in found]


@retrying
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
