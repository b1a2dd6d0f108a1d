"""Read models of invites and meetings, the calendar entry of a meeting, and the embedding of
both in room messages (so a reloaded room shows their current state)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from parlay.db.models import Message, User
from parlay.db.scheduling_models import Invite, Meeting, MeetingHistory, MeetingParticipant
from parlay.mail.ics import CalendarEntry, Person, google_link, outlook_link
from parlay.services.views import MemberRead, NoticeRead


class HistoryRead(BaseModel):
    action: str
    at: datetime
    by: MemberRead
    reason: str | None = None
    from_start: datetime | None = None
    to_start: datetime | None = None


class MeetingRead(BaseModel):
    id: str
    room_id: str
    invite_id: str
    title: str
    host: MemberRead
    booked_by: MemberRead
    participants: list[MemberRead]
    start: datetime
    end: datetime
    duration_minutes: int
    status: str
    sequence: int
    join_url: str
    ics_url: str
    google_url: str
    outlook_url: str
    history: list[HistoryRead]


class InviteRead(BaseModel):
    id: str
    room_id: str
    host: MemberRead
    time_zone: str
    weekly: dict[str, Any]
    duration_minutes: int
    horizon_days: int
    min_notice_minutes: int
    status: str
    schedule_url: str
    created_at: datetime
    meeting: MeetingRead | None = None


def meeting_title(host: User, booker: User) -> str:
    return f"Meeting: {host.display_name} and {booker.display_name}"


async def _users(session: AsyncSession, ids: list[str]) -> dict[str, User]:
    rows = await session.scalars(select(User).where(User.id.in_(set(ids))))
    return {u.id: u for u in rows}


async def participants_of(session: AsyncSession, meeting_id: str) -> list[User]:
    rows = await session.scalars(
        select(User)
        .join(MeetingParticipant, MeetingParticipant.user_id == User.id)
        .where(MeetingParticipant.meeting_id == meeting_id)
        .order_by(User.display_name)
    )
    return list(rows)


def join_url(base_url: str, meeting: Meeting) -> str:
    return f"{base_url}/m/{meeting.join_token}"


def calendar_entry(
    meeting: Meeting, host: User, booker: User, people: list[User], base_url: str, stamp: datetime
) -> CalendarEntry:
    url = join_url(base_url, meeting)
    return CalendarEntry(
        uid=f"{meeting.id}@parlay",
        sequence=meeting.sequence,
        start=meeting.start,
        end=meeting.end,
        summary=meeting_title(host, booker),
        description=f"Join the video meeting: {url}\nRoom: {base_url}/rooms/{meeting.room_id}",
        location=url,
        url=url,
        organizer=Person(host.display_name, host.email),
        attendees=tuple(Person(u.display_name, u.email) for u in people if u.id != host.id),
        cancelled=meeting.status == "cancelled",
        stamp=stamp,
    )


async def meeting_read(session: AsyncSession, meeting: Meeting, base_url: str) -> MeetingRead:
    history = list(
        await session.scalars(
            select(MeetingHistory)
            .where(MeetingHistory.meeting_id == meeting.id)
            .order_by(MeetingHistory.id)
        )
    )
    people = await participants_of(session, meeting.id)
    users = await _users(
        session, [meeting.host_id, meeting.booked_by, *(h.by_user_id for h in history)]
    )
    host, booker = users[meeting.host_id], users[meeting.booked_by]
    entry = calendar_entry(meeting, host, booker, people, base_url, meeting.created_at)
    return MeetingRead(
        id=meeting.id,
        room_id=meeting.room_id,
        invite_id=meeting.invite_id,
        title=entry.summary,
        host=MemberRead.of(host),
        booked_by=MemberRead.of(booker),
        participants=[MemberRead.of(u) for u in people],
        start=meeting.start,
        end=meeting.end,
        duration_minutes=int((meeting.end - meeting.start).total_seconds() // 60),
        status=meeting.status,
        sequence=meeting.sequence,
        join_url=entry.url,
        ics_url=f"/api/v1/meetings/{meeting.id}/ics",
        google_url=google_link(entry),
        outlook_url=outlook_link(entry),
        history=[
            HistoryRead(
                action=h.action,
                at=h.at,
                by=MemberRead.of(users[h.by_user_id]),
                reason=h.reason,
                from_start=h.from_start,
                to_start=h.to_start,
            )
            for h in history
        ],
    )


async def invite_read(session: AsyncSession, invite: Invite, base_url: str) -> InviteRead:
    host = await session.get(User, invite.host_id)
    assert host is not None
    meeting = await session.get(Meeting, invite.meeting_id) if invite.meeting_id else None
    return InviteRead(
        id=invite.id,
        room_id=invite.room_id,
        host=MemberRead.of(host),
        time_zone=invite.time_zone,
        weekly=invite.weekly,
        duration_minutes=invite.duration_minutes,
        horizon_days=invite.horizon_days,
        min_notice_minutes=invite.min_notice_minutes,
        status=invite.status,
        schedule_url=f"/rooms/{invite.room_id}?invite={invite.id}",
        created_at=invite.created_at,
        meeting=await meeting_read(session, meeting, base_url) if meeting else None,
    )


def notice_of(message: Message) -> NoticeRead | None:
    """The structured notice of a meeting message (None for older rows or unreadable data)."""
    if message.kind not in ("meeting", "meeting_update") or not message.data:
        return None
    try:
        return NoticeRead.model_validate(message.data)
    except ValidationError:
        return None


def notice_data(
    action: str,
    actor: User,
    *,
    host: User | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    from_start: datetime | None = None,
    to_start: datetime | None = None,
    reason: str | None = None,
) -> dict[str, Any]:
    """The ``messages.data`` of a meeting notice: JSON with RFC 3339 UTC instants."""
    notice = NoticeRead(
        action=action,  # type: ignore[arg-type]
        actor=MemberRead.of(actor),
        host=MemberRead.of(host) if host else None,
        start=start,
        end=end,
        from_start=from_start,
        to_start=to_start,
        reason=reason,
    )
    return notice.model_dump(mode="json", exclude_none=True)


async def embedded_state(session: AsyncSession, message: Message, base_url: str) -> dict[str, Any]:
    """The current invite or meeting a room message shows (a reloaded room shows the truth),
    and a meeting notice's structured data."""
    if message.kind == "meeting_invite" and message.invite_id:
        invite = await session.get(Invite, message.invite_id)
        if invite is not None:
            return {"meeting_invite": (await invite_read(session, invite, base_url)).model_dump()}
    extra: dict[str, Any] = {}
    if message.kind in ("meeting", "meeting_update") and message.meeting_id:
        meeting = await session.get(Meeting, message.meeting_id)
        if meeting is not None:
            extra["meeting"] = (await meeting_read(session, meeting, base_url)).model_dump()
    notice = notice_of(message)
    if notice is not None:
        extra["notice"] = notice
    return extra
