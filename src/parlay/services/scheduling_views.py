"""Read models of invites and meetings, the calendar entry of a meeting, and the embedding of
both in room messages (so a reloaded room shows their current state)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, TypeVar

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
    if not ids:
        return {}
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


async def meeting_reads(
    session: AsyncSession, meetings: Sequence[Meeting], base_url: str
) -> list[MeetingRead]:
    """The API shapes of ``meetings`` in three queries however many there are (histories,
    participants, the people named): a page of 50 costs what a page of 5 does."""
    if not meetings:
        return []
    ids = [m.id for m in meetings]
    histories: dict[str, list[MeetingHistory]] = {i: [] for i in ids}
    for h in await session.scalars(
        select(MeetingHistory).where(MeetingHistory.meeting_id.in_(ids)).order_by(MeetingHistory.id)
    ):
        histories[h.meeting_id].append(h)
    people: dict[str, list[User]] = {i: [] for i in ids}
    for meeting_id, user in await session.execute(
        select(MeetingParticipant.meeting_id, User)
        .join(User, MeetingParticipant.user_id == User.id)
        .where(MeetingParticipant.meeting_id.in_(ids))
        .order_by(User.display_name)
    ):
        people[meeting_id].append(user)
    named = {u.id: u for found in people.values() for u in found}
    wanted = {m.host_id for m in meetings} | {m.booked_by for m in meetings}
    wanted |= {h.by_user_id for found in histories.values() for h in found}
    users = {**named, **await _users(session, list(wanted - named.keys()))}
    return [_meeting_read(m, histories[m.id], people[m.id], users, base_url) for m in meetings]


async def meeting_read(session: AsyncSession, meeting: Meeting, base_url: str) -> MeetingRead:
    return (await meeting_reads(session, [meeting], base_url))[0]


def _meeting_read(
    meeting: Meeting,
    history: list[MeetingHistory],
    people: list[User],
    users: dict[str, User],
    base_url: str,
) -> MeetingRead:
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


async def invite_reads(
    session: AsyncSession, invites: Sequence[Invite], base_url: str
) -> list[InviteRead]:
    """The API shapes of ``invites`` (with their meetings) in a fixed number of queries."""
    if not invites:
        return []
    meeting_ids = [i.meeting_id for i in invites if i.meeting_id]
    meetings = await _by_id(session, Meeting, meeting_ids)
    reads = {r.id: r for r in await meeting_reads(session, list(meetings.values()), base_url)}
    hosts = await _users(session, [i.host_id for i in invites])
    return [
        _invite_read(i, hosts[i.host_id], reads.get(i.meeting_id or ""), base_url) for i in invites
    ]


async def invite_read(session: AsyncSession, invite: Invite, base_url: str) -> InviteRead:
    return (await invite_reads(session, [invite], base_url))[0]


def _invite_read(
    invite: Invite, host: User, meeting: MeetingRead | None, base_url: str
) -> InviteRead:
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
        meeting=meeting,
    )


Keyed = TypeVar("Keyed", Invite, Meeting)


async def _by_id(session: AsyncSession, model: type[Keyed], ids: list[str]) -> dict[str, Keyed]:
    if not ids:
        return {}
    rows = await session.scalars(select(model).where(model.id.in_(set(ids))))
    return {row.id: row for row in rows}


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


async def embedded_states(
    session: AsyncSession, messages: Sequence[Message], base_url: str
) -> list[dict[str, Any]]:
    """For each message, the current invite or meeting it shows (a reloaded room shows the
    truth) and a meeting notice's structured data: a fixed number of queries for a whole page
    (invites, meetings, then what ``meeting_reads`` needs), never one round per message."""
    invite_ids = [m.invite_id for m in messages if m.kind == "meeting_invite" and m.invite_id]
    invites = await _by_id(session, Invite, invite_ids)
    meeting_ids = [
        m.meeting_id for m in messages if m.kind in ("meeting", "meeting_update") and m.meeting_id
    ]
    meeting_ids += [i.meeting_id for i in invites.values() if i.meeting_id]
    meetings = await _by_id(session, Meeting, meeting_ids)
    meeting_shapes = {
        r.id: r for r in await meeting_reads(session, list(meetings.values()), base_url)
    }
    hosts = await _users(session, [i.host_id for i in invites.values()])
    found: list[dict[str, Any]] = []
    for message in messages:
        invite = invites.get(message.invite_id or "")
        if message.kind == "meeting_invite" and invite is not None:
            shape = _invite_read(
                invite, hosts[invite.host_id], meeting_shapes.get(invite.meeting_id or ""), base_url
            )
            found.append({"meeting_invite": shape.model_dump()})
            continue
        extra: dict[str, Any] = {}
        meeting = meeting_shapes.get(message.meeting_id or "")
        if message.kind in ("meeting", "meeting_update") and meeting is not None:
            extra["meeting"] = meeting.model_dump()
        notice = notice_of(message)
        if notice is not None:
            extra["notice"] = notice
        found.append(extra)
    return found


async def embedded_state(session: AsyncSession, message: Message, base_url: str) -> dict[str, Any]:
    """``embedded_states`` of one message."""
    return (await embedded_states(session, [message], base_url))[0]
