"""Reading meetings: one, a list of the caller's, and the .ics file."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime

from sqlalchemy import literal, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from parlay.db.models import User
from parlay.db.scheduling_models import Meeting, MeetingHistory, MeetingParticipant
from parlay.domain.errors import InvalidInput
from parlay.mail.ics import CalendarEntry, build_ics, google_link, outlook_link
from parlay.services.access import access_meeting, is_member
from parlay.services.context import Context
from parlay.services.scheduling_views import (
    MeetingRead,
    calendar_entry,
    meeting_read,
    meeting_reads,
    participants_of,
)


async def get_meeting(ctx: Context, user: User, meeting_id: str) -> MeetingRead:
    async with ctx.db.read() as session:
        meeting = await access_meeting(session, meeting_id, user)
        return await meeting_read(session, meeting, ctx.base_url)


async def get_meeting_ics(ctx: Context, user: User, meeting_id: str) -> bytes:
    async with ctx.db.read() as session:
        meeting = await access_meeting(session, meeting_id, user)
        people = await participants_of(session, meeting.id)
        by_id = {u.id: u for u in people}
        host = by_id.get(meeting.host_id) or await session.get(User, meeting.host_id)
        booker = by_id.get(meeting.booked_by) or await session.get(User, meeting.booked_by)
        assert host is not None and booker is not None
    entry = calendar_entry(meeting, host, booker, people, ctx.base_url, ctx.now())
    return build_ics(entry)


async def list_meetings(
    ctx: Context,
    user: User,
    *,
    start_from: datetime | None,
    start_to: datetime | None,
    room_id: str | None,
    after: tuple[str, str] | None,
    limit: int,
) -> tuple[list[MeetingRead], tuple[str, str] | None]:
    """Meetings the caller takes part in (host included), any status, by start."""
    async with ctx.db.read() as session:
        query = (
            select(Meeting)
            .join(MeetingParticipant, MeetingParticipant.meeting_id == Meeting.id)
            .where(MeetingParticipant.user_id == user.id)
        )
        if start_from is not None:
            query = query.where(Meeting.start >= start_from)
        if start_to is not None:
            query = query.where(Meeting.start < start_to)
        if room_id is not None:
            query = query.where(Meeting.room_id == room_id)
        if after is not None:
            try:
                after_start = datetime.fromisoformat(after[0])
            except ValueError:
                raise InvalidInput("The cursor is not valid.", field="cursor") from None
            if after_start.tzinfo is None:
                raise InvalidInput("The cursor is not valid.", field="cursor")
            query = query.where(
                tuple_(Meeting.start, Meeting.id)
                > tuple_(literal(after_start, Meeting.start.type), after[1])
            )
        rows = list(
            (
                await session.scalars(query.order_by(Meeting.start, Meeting.id).limit(limit + 1))
            ).all()
        )
        more = len(rows) > limit
        rows = rows[:limit]
        page = await meeting_reads(session, rows, ctx.base_url)
    cursor = (rows[-1].start.isoformat(), rows[-1].id) if more and rows else None
    return page, cursor


@dataclass(frozen=True)
class JoinDetails:
    """What the join page shows to whoever holds the link (no room access needed).

    The room (its id in ``room_id``, the "Room:" line of the calendar links) is shown only to
    a signed-in member of the meeting's room; anyone else gets calendar links without it and
    the .ics from the join link itself (``/m/{token}/meeting.ics``)."""

    host: str
    start: str  # UTC, "2026-12-01T08:30:00Z"; the page shows it in the viewer's zone
    end: str
    status: str
    duration_minutes: int
    title: str
    ics_url: str
    google_url: str
    outlook_url: str
    room_id: str | None = None  # only for a member of the meeting's room
    cancelled_by: str | None = None  # display name of who cancelled it
    cancel_reason: str | None = None
    cancelled_at: str | None = None  # UTC, like ``start``


def _utc(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _guest_entry(entry: CalendarEntry) -> CalendarEntry:
    """The calendar entry for someone outside the room: no room link, no attendee list."""
    return replace(entry, description=f"Join the video meeting: {entry.url}", attendees=())


async def _by_token(session: AsyncSession, join_token: str) -> Meeting | None:
    if not join_token or len(join_token) > 64:
        return None
    return await session.scalar(select(Meeting).where(Meeting.join_token == join_token))


async def _entry(
    session: AsyncSession, meeting: Meeting, base_url: str, stamp: datetime
) -> CalendarEntry:
    people = await participants_of(session, meeting.id)
    by_id = {u.id: u for u in people}
    host = by_id.get(meeting.host_id) or await session.get(User, meeting.host_id)
    booker = by_id.get(meeting.booked_by) or await session.get(User, meeting.booked_by)
    assert host is not None and booker is not None
    return calendar_entry(meeting, host, booker, people, base_url, stamp)


async def get_join_details(
    ctx: Context, join_token: str, viewer: User | None = None
) -> JoinDetails | None:
    """The meeting behind a join link, as ``viewer`` (None: signed out) may see it."""
    async with ctx.db.read() as session:
        meeting = await _by_token(session, join_token)
        if meeting is None:
            return None
        entry = await _entry(session, meeting, ctx.base_url, meeting.created_at)
        member = viewer is not None and await is_member(session, meeting.room_id, viewer.id)
        cancellation = None
        if meeting.status == "cancelled":
            cancellation = (
                await session.execute(
                    select(MeetingHistory, User.display_name)
                    .join(User, User.id == MeetingHistory.by_user_id)
                    .where(
                        MeetingHistory.meeting_id == meeting.id,
                        MeetingHistory.action == "cancelled",
                    )
                    .order_by(MeetingHistory.id.desc())
                    .limit(1)
                )
            ).first()
    if member:
        ics_url = f"/api/v1/meetings/{meeting.id}/ics"  # the meeting card's very links
    else:
        entry = _guest_entry(entry)
        ics_url = f"/m/{join_token}/meeting.ics"
    minutes = int((meeting.end - meeting.start).total_seconds() // 60)
    details = JoinDetails(
        host=entry.organizer.name,
        start=_utc(meeting.start),
        end=_utc(meeting.end),
        status=meeting.status,
        duration_minutes=minutes,
        title=entry.summary,
        ics_url=ics_url,
        google_url=google_link(entry),
        outlook_url=outlook_link(entry),
        room_id=meeting.room_id if member else None,
    )
    if cancellation is not None:
        history, by_name = cancellation
        details = replace(
            details,
            cancelled_by=by_name,
            cancel_reason=history.reason or None,
            cancelled_at=_utc(history.at),
        )
    return details


async def get_join_ics(ctx: Context, join_token: str) -> bytes | None:
    """The .ics behind a join link, for whoever holds it (no room link, no attendee list)."""
    async with ctx.db.read() as session:
        meeting = await _by_token(session, join_token)
        if meeting is None:
            return None
        entry = await _entry(session, meeting, ctx.base_url, ctx.now())
    return build_ics(_guest_entry(entry))
