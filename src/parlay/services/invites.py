"""Invites: share availability in a room, list its dates and slots, withdraw it."""

from __future__ import annotations

import json
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any, Generic, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import Text, bindparam, cast, func, select

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
from parlay.services.busy import (
    BusySnapshot,
    busy_condition,
    external_busy,
    external_snapshots,
    viewer_busy,
)
from parlay.services.calendar_busy import conflict_stamps, read_stamps
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
    """The terms of the invite whose ``_TERM_COLUMNS`` are ``fields`` (a row, say; its
    ``weekly`` may be the stored JSON text, decoded only when the terms are not known yet)."""
    terms = _TERMS.get(fields["id"])
    if terms is None:
        weekly = fields["weekly"]
        terms = check_invite_terms(
            fields["time_zone"],
            json.loads(weekly) if isinstance(weekly, str) else weekly,
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


#: An invite (if the caller is a member of its room), its host's calendar stamps (so the
#: calendar mirror need not read them: one round trip) and, one row each, the host's busy
#: meetings around a window: what showing availability reads, in one statement.
_AVAILABILITY = DirectQuery(
    select(
        *(c for c in _TERM_COLUMNS if c is not Invite.weekly),
        # As stored: decoded only when the terms are not already known (``_terms``).
        cast(Invite.weekly, Text).label("weekly"),
        Invite.status,
        Invite.host_id,
        Invite.meeting_id,
        Meeting.start,
        Meeting.end,
        conflict_stamps(Invite.host_id).label("calendar_stamps"),
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


@dataclass(frozen=True)
class _Availability:
    """An invite's terms and its host's busy time around a window: their Parlay meetings, and
    either snapshots of the external sources or (a source that takes none) their intervals."""

    terms: InviteTerms
    meeting_id: str | None
    busy_window: Interval
    meetings: tuple[Interval, ...]
    snapshots: tuple[BusySnapshot, ...] | None
    external: tuple[Interval, ...]

    def busy(self) -> tuple[Interval, ...]:
        if self.snapshots is None:
            return self.meetings + self.external
        found = list(self.meetings)
        for snapshot in self.snapshots:
            found += snapshot.overlapping(self.busy_window)
        return tuple(found)

    def memo_key(self) -> Hashable | None:
        """What the busy time depends on, small enough to hash on every request; None when
        it would not be (the engine then runs afresh)."""
        if len(self.meetings) + len(self.external) > _MEMO_MAX_BUSY:
            return None
        sources = None if self.snapshots is None else tuple(s.key for s in self.snapshots)
        return (self.terms, self.meetings, sources, self.external, self.busy_window)


async def _availability(
    ctx: Context, user: User, invite_id: str, window: Interval
) -> _Availability:
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
    meetings = tuple(Interval(r["start"], r["end"]) for r in rows if r["start"] is not None)
    host = invite["host_id"]
    snapshots = await external_snapshots(
        ctx.busy_sources, host, calendar_stamps=read_stamps(invite["calendar_stamps"])
    )
    external = (
        ()
        if snapshots is not None
        else tuple(await external_busy(ctx.busy_sources, host, busy_window))
    )
    return _Availability(
        _terms(invite), invite["meeting_id"], busy_window, meetings, snapshots, external
    )


# The slot engine is memoized on what its inputs depend on (``_Availability.memo_key``: the
# invite's terms, the host's meetings, the external sources' snapshot keys), the window, the
# viewer's zone and ``now`` rounded up to its minute (the engine cannot tell instants of one
# minute apart, see ``minute_ceiling``): people looking at one invite within a minute share a
# computation.  A booking changes the meetings read, a calendar sync or disconnect the
# snapshot, so the next read after either misses.  Hosts with more than ``_MEMO_MAX_BUSY``
# meetings (or intervals from a source without snapshots) in the window are computed afresh.
_MEMO_MAX_BUSY = 500
_MEMO_KEPT = 512

T = TypeVar("T")


class _Memo(Generic[T]):
    """At most ``_MEMO_KEPT`` results by key; the oldest goes first."""

    def __init__(self) -> None:
        self._found: dict[Hashable, T] = {}

    def get(self, key: Hashable | None, compute: Callable[[], T]) -> T:
        if key is None:
            return compute()
        found = self._found.get(key)
        if found is None:
            found = compute()
            if len(self._found) >= _MEMO_KEPT:
                self._found.pop(next(iter(self._found)), None)
            self._found[key] = found
        return found


_DATES: _Memo[tuple[date, ...]] = _Memo()
_SLOTS: _Memo[tuple[Interval, ...]] = _Memo()


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


def _viewer_zone(user: User, tz: str | None) -> ZoneInfo:
    return parse_time_zone(tz if tz is not None else user.time_zone, field="tz")


@lru_cache(maxsize=4096)
def _midnight(day: date, zone: ZoneInfo) -> datetime:
    """Local midnight of ``day`` in ``zone``, in UTC: the edges of the windows people ask
    about, the same few days over and over (``compute_local_day_window``'s, kept)."""
    return compute_local_day_window(day, zone).start


async def list_dates(
    ctx: Context, user: User, invite_id: str, first: date, last: date, tz: str | None
) -> tuple[date, ...]:
    zone = _viewer_zone(user, tz)
    _check_date(first, "from")
    _check_date(last, "to")
    if last < first:
        raise InvalidInput("'to' must not be before 'from'.", field="to")
    if (last - first).days > MAX_RANGE_DAYS:
        raise InvalidInput(f"Ask for at most {MAX_RANGE_DAYS} days at once.", field="to")
    window = Interval(_midnight(first, zone), _midnight(last + timedelta(days=1), zone))
    found = await _availability(ctx, user, invite_id, window)
    now = minute_ceiling(ctx.now())
    key = found.memo_key()
    return _DATES.get(
        None if key is None else (key, now, window, zone),
        lambda: tuple(
            compute_invite_dates(*_engine_args(found.terms, found.busy(), now, window), zone)
        ),
    )


async def list_slots(
    ctx: Context, user: User, invite_id: str, day: date, tz: str | None
) -> tuple[ZoneInfo, list[tuple[Interval, bool]]]:
    """The viewer's zone (``tz`` or their own) and the slots starting on ``day`` there, each
    with whether it overlaps the viewer's own busy time (API rule 6, "mutual availability")."""
    zone = _viewer_zone(user, tz)
    _check_date(day, "date")
    window = Interval(_midnight(day, zone), _midnight(day + timedelta(days=1), zone))
    availability = await _availability(ctx, user, invite_id, window)
    own_meeting = availability.meeting_id
    now = minute_ceiling(ctx.now())
    key = availability.memo_key()
    found = _SLOTS.get(
        None if key is None else (key, now, window),
        lambda: tuple(
            compute_invite_slots(
                *_engine_args(availability.terms, availability.busy(), now, window)
            )
        ),
    )
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
