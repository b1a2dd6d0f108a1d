"""Reading meetings: one, a list of the caller's, and the .ics file."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import literal, select, tuple_

from parlay.db.models import User
from parlay.db.scheduling_models import Meeting, MeetingParticipant
from parlay.domain.errors import InvalidInput
from parlay.mail.ics import build_ics
from parlay.services.access import access_meeting
from parlay.services.context import Context
from parlay.services.scheduling_views import (
    MeetingRead,
    calendar_entry,
    meeting_read,
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
        page = [await meeting_read(session, m, ctx.base_url) for m in rows]
    cursor = (rows[-1].start.isoformat(), rows[-1].id) if more and rows else None
    return page, cursor


@dataclass(frozen=True)
class JoinDetails:
    """What the join page shows to whoever holds the link (no room access needed)."""

    host: str
    start: str  # UTC, "2026-12-01T08:30:00Z"; the page shows it in the viewer's zone
    end: str
    status: str
    duration_minutes: int


def _utc(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


async def get_join_details(ctx: Context, join_token: str) -> JoinDetails | None:
    if not join_token or len(join_token) > 64:
        return None
    async with ctx.db.read() as session:
        row = (
            await session.execute(
                select(Meeting, User.display_name)
                .join(User, User.id == Meeting.host_id)
                .where(Meeting.join_token == join_token)
            )
        ).first()
    if row is None:
        return None
    meeting, host = row
    minutes = int((meeting.end - meeting.start).total_seconds() // 60)
    return JoinDetails(host, _utc(meeting.start), _utc(meeting.end), meeting.status, minutes)
