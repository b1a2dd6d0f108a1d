"""In-app notifications: written in the transaction of the change they tell of, read per user.

``notify_meeting_change`` is called by booking, rescheduling and cancelling inside their unit of
work: every participant (the room's members at booking time, ``meeting_participants``) but the
one who acted gets one row, worded in their own zone, and a live ``notification.created``.  The
rows and the change commit together or not at all, and a ``(user, dedupe_key)`` unique key makes
"one notification per person per change" hold even if a change were announced twice.  The same
transaction queues the change's e-mails (``parlay.services.notification_mail``), its webhook
deliveries (``parlay.services.webhooks``) and, while the meeting stands, a reminder scan
(``parlay.services.reminders``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from parlay.db.calendar_models import CalendarConnection
from parlay.db.models import Room, User
from parlay.db.notification_models import Notification
from parlay.db.scheduling_models import Meeting, MeetingParticipant
from parlay.services import notification_texts as texts
from parlay.services.context import Context
from parlay.services.notification_mail import enqueue_meeting_mail
from parlay.services.push import enqueue_push
from parlay.services.reminder_scans import ensure_scanning
from parlay.services.uow import UnitOfWork, retrying, unit_of_work
from parlay.services.webhooks import enqueue_meeting_webhooks


class NotificationRead(BaseModel):
    id: int
    kind: str
    room_id: str | None
    meeting_id: str | None
    title: str
    body: str
    created_at: datetime
    read_at: datetime | None

    @classmethod
    def of(cls, row: Notification) -> NotificationRead:
        return cls(
            id=row.id,
            kind=row.kind,
            room_id=row.room_id,
            meeting_id=row.meeting_id,
            title=row.title,
            body=row.body,
            created_at=row.created_at,
            read_at=row.read_at,
        )


class UnreadCounts(BaseModel):
    unread_count: int
    #: Unread notifications per room (rooms with none are absent): the room list's markers.
    unread_by_room: dict[str, int]


async def _insert_new(session: AsyncSession, rows: list[dict[str, Any]]) -> list[Notification]:
    """Insert ``rows``, skipping any whose (user, dedupe_key) exists; the rows inserted."""
    if not rows:
        return []
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = (
        insert(Notification)
        .values(rows)
        .on_conflict_do_nothing(index_elements=["user_id", "dedupe_key"])
        .returning(Notification)
    )
    result = await session.scalars(
        select(Notification).from_statement(statement).execution_options(populate_existing=True)
    )
    return sorted(result.all(), key=lambda row: row.id)


async def add_notifications(uow: UnitOfWork, rows: list[dict[str, Any]]) -> list[Notification]:
    """Store ``rows`` (those not there yet), tell each recipient live, with their new unread
    count, and queue a Web Push of each to the recipient's devices; the rows inserted."""
    created = await _insert_new(uow.session, rows)
    if not created:
        return created
    await enqueue_push(uow, created)  # and to their devices (parlay.services.push)
    counts = await _unread_totals(uow.session, {row.user_id for row in created})
    for row in created:
        data = NotificationRead.of(row).model_dump(mode="json")
        data["unread_count"] = counts.get(row.user_id, 0)
        await uow.emit("notification.created", data, {row.user_id})
    return created


async def notify_meeting_change(
    uow: UnitOfWork, meeting: Meeting, actor: User, kind: str, data: dict[str, Any]
) -> None:
    """One notification of ``kind`` (meeting.scheduled|rescheduled|cancelled) for each
    participant but ``actor``; ``data`` is the room notice's data (times, reason)."""
    await uow.session.flush()  # the participants, when the booking just added them
    recipients = list(
        await uow.session.scalars(
            select(User)
            .join(MeetingParticipant, MeetingParticipant.user_id == User.id)
            .where(MeetingParticipant.meeting_id == meeting.id, User.id != actor.id)
            .order_by(User.id)
        )
    )
    room = await uow.session.get(Room, meeting.room_id)
    title = texts.meeting_title(kind, room.title if room else "a room")
    key = f"{kind}:{meeting.id}:{meeting.sequence}"
    rows = [
        {
            "user_id": user.id,
            "kind": kind,
            "room_id": meeting.room_id,
            "meeting_id": meeting.id,
            "title": title,
            "body": texts.meeting_body(kind, actor.display_name, data, user.time_zone),
            "dedupe_key": key,
            "created_at": uow.now,
        }
        for user in recipients
    ]
    await add_notifications(uow, rows)
    await enqueue_meeting_mail(uow, meeting, actor, kind, data)  # everyone, the actor too
    await enqueue_meeting_webhooks(uow, meeting, kind)
    if meeting.status == "scheduled":
        await ensure_scanning(uow)  # its reminders


async def notify_needs_reauth(
    uow: UnitOfWork, user_id: str, connection: CalendarConnection
) -> None:
    """Tell ``user_id`` that a linked calendar must be reconnected (call it on the transition
    into ``needs_reauth``; one notification per connection and transition instant)."""
    title, body = texts.needs_reauth_texts(connection.provider, connection.account_email)
    row = {
        "user_id": user_id,
        "kind": "calendar.needs_reauth",
        "room_id": None,
        "meeting_id": None,
        "title": title,
        "body": body,
        "dedupe_key": f"calendar.needs_reauth:{connection.id}:{uow.now.isoformat()}",
        "created_at": uow.now,
    }
    await add_notifications(uow, [row])


async def _unread_totals(session: AsyncSession, user_ids: set[str]) -> dict[str, int]:
    rows = await session.execute(
        select(Notification.user_id, func.count())
        .where(Notification.user_id.in_(user_ids), Notification.read_at.is_(None))
        .group_by(Notification.user_id)
    )
    return {user_id: int(count) for user_id, count in rows.tuples()}


async def unread_counts(session: AsyncSession, user_id: str) -> UnreadCounts:
    rows = await session.execute(
        select(Notification.room_id, func.count())
        .where(Notification.user_id == user_id, Notification.read_at.is_(None))
        .group_by(Notification.room_id)
    )
    by_room: dict[str, int] = {}
    total = 0
    for room_id, count in rows.tuples():
        total += int(count)
        if room_id is not None:
            by_room[room_id] = int(count)
    return UnreadCounts(unread_count=total, unread_by_room=by_room)


async def list_notifications(
    ctx: Context, user: User, *, unread: bool, before: int | None, limit: int
) -> tuple[list[NotificationRead], int | None, UnreadCounts]:
    """Newest first; the next page's cursor is the last id shown (None: no more)."""
    query = select(Notification).where(Notification.user_id == user.id)
    if unread:
        query = query.where(Notification.read_at.is_(None))
    if before is not None:
        query = query.where(Notification.id < before)
    async with ctx.db.read() as session:
        rows = list(await session.scalars(query.order_by(Notification.id.desc()).limit(limit + 1)))
        counts = await unread_counts(session, user.id)
    more = len(rows) > limit
    page = rows[:limit]
    return [NotificationRead.of(r) for r in page], (page[-1].id if more else None), counts


@retrying
async def do_mark_read(
    ctx: Context,
    user: User,
    *,
    ids: list[int] | None = None,
    room_id: str | None = None,
    everything: bool = False,
) -> None:
    """Mark the caller's unread notifications read: all of them, or those among ``ids`` and/or
    in ``room_id``.  Ids of other people's notifications match nothing (and say nothing).
    The caller's other tabs hear ``notification.read`` with the new counts."""
    query = update(Notification).where(
        Notification.user_id == user.id, Notification.read_at.is_(None)
    )
    if not everything:
        if ids is not None:
            query = query.where(Notification.id.in_(ids))
        if room_id is not None:
            query = query.where(Notification.room_id == room_id)
    async with unit_of_work(ctx) as uow:
        result = await uow.session.execute(
            query.values(read_at=uow.now).execution_options(synchronize_session=False)
        )
        if getattr(result, "rowcount", 0):
            counts = await unread_counts(uow.session, user.id)
            await uow.emit("notification.read", counts.model_dump(), {user.id})
