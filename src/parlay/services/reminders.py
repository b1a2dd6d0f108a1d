"""Reminders (API.md "Notifications"): ``reminder_minutes`` before a meeting starts, an in-app
notification and an e-mail to every participant with reminders on, linked calendar or not.

Exactly once per person and start time, whatever runs it and how often: a reminder is the
in-app row with dedupe key ``meeting.reminder:<meeting>:<start>``, unique per user, inserted
with "on conflict do nothing"; only the rows actually inserted get their e-mail queued, in the
same transaction.  Several workers scanning at once (PostgreSQL) therefore send each reminder
once.  A rescheduled meeting has a new start, hence new keys: its reminders move with it; a
cancelled one is no longer scanned: its reminders are dropped (and a reminder e-mail still
queued checks the meeting again before it is sent).

Two clocks: which reminders are due follows the user-facing clock (``ctx.now()``, pinnable with
``PARLAY_NOW`` and moved by ``POST /api/v1/test/clock``, which fires due reminders at once);
the scan's own schedule is outbox time.  The ``reminders.scan`` job runs a scan, then queues
its successor for the next reminder due (at most ``SCAN_SECONDS`` away), or stops when no
meeting lies ahead; booking restarts it (``parlay.services.reminder_scans``).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from parlay.db.models import Room, User
from parlay.db.notification_models import Notification, NotificationPreference
from parlay.db.scheduling_models import Meeting, MeetingParticipant
from parlay.services import notification_texts as texts
from parlay.services.context import Context
from parlay.services.notification_mail import enqueue_reminder_mail
from parlay.services.notification_preferences import DEFAULTS
from parlay.services.notifications import add_notifications
from parlay.services.outbox import Handler, Job
from parlay.services.reminder_scans import SCAN_KEY, SCAN_KIND
from parlay.services.uow import UnitOfWork, retrying, unit_of_work

KIND = "meeting.reminder"
#: The longest ``reminder_minutes`` allowed (API.md: 5..1440): how far ahead a scan looks.
HORIZON = timedelta(minutes=1440)
#: The longest a scan waits for the next one (so a preference changed meanwhile is seen).
SCAN_SECONDS = 60.0


def reminder_key(meeting: Meeting) -> str:
    return f"{KIND}:{meeting.id}:{meeting.start.isoformat()}"


def reminder_texts(room_title: str, meeting: Meeting, zone: str, now: datetime) -> tuple[str, str]:
    minutes = max(0, round((meeting.start - now).total_seconds() / 60))
    when = texts.when(meeting.start, zone)
    return (
        f"Meeting soon in {room_title}",
        f"Your meeting starts in {minutes} minutes: {when}.",
    )


async def _due(
    session: AsyncSession, now: datetime
) -> tuple[list[tuple[Meeting, User, bool]], datetime | None]:
    """(meeting, participant, wants e-mail) whose reminder is due and not yet sent, and the
    earliest reminder still to come.  Reads every participant of the meetings of the next
    ``HORIZON`` (one indexed range query; each person's ``reminder_minutes`` decides)."""
    rows = (
        await session.execute(
            select(Meeting, User, NotificationPreference)
            .join(MeetingParticipant, MeetingParticipant.meeting_id == Meeting.id)
            .join(User, User.id == MeetingParticipant.user_id)
            .outerjoin(NotificationPreference, NotificationPreference.user_id == User.id)
            .where(
                Meeting.status == "scheduled",
                Meeting.start > now,
                Meeting.start <= now + HORIZON,
            )
            .order_by(Meeting.start, Meeting.id, User.id)
        )
    ).tuples()
    candidates = list(rows)
    sent = await _already_sent(session, {m.id for m, _, _ in candidates})
    due: list[tuple[Meeting, User, bool]] = []
    upcoming: datetime | None = None
    for meeting, user, prefs in candidates:
        if not (prefs.reminders if prefs else DEFAULTS.reminders):
            continue
        if (user.id, reminder_key(meeting)) in sent:
            continue
        minutes = prefs.reminder_minutes if prefs else DEFAULTS.reminder_minutes
        at = meeting.start - timedelta(minutes=minutes)
        if at <= now:
            due.append((meeting, user, prefs.email if prefs else DEFAULTS.email))
        elif upcoming is None or at < upcoming:
            upcoming = at
    return due, upcoming


async def _already_sent(session: AsyncSession, meeting_ids: set[str]) -> set[tuple[str, str]]:
    if not meeting_ids:
        return set()
    rows = await session.execute(
        select(Notification.user_id, Notification.dedupe_key).where(
            Notification.kind == KIND, Notification.meeting_id.in_(meeting_ids)
        )
    )
    return {(user_id, key) for user_id, key in rows.tuples()}


async def _send(uow: UnitOfWork, due: list[tuple[Meeting, User, bool]]) -> int:
    rooms: dict[str, str] = {}
    rows: list[dict[str, Any]] = []
    wants_mail: dict[tuple[str, str], Meeting] = {}
    for meeting, user, email in due:
        if meeting.room_id not in rooms:
            room = await uow.session.get(Room, meeting.room_id)
            rooms[meeting.room_id] = room.title if room else "a room"
        title, body = reminder_texts(rooms[meeting.room_id], meeting, user.time_zone, uow.now)
        key = reminder_key(meeting)
        rows.append(
            {
                "user_id": user.id,
                "kind": KIND,
                "room_id": meeting.room_id,
                "meeting_id": meeting.id,
                "title": title,
                "body": body,
                "dedupe_key": key,
                "created_at": uow.now,
            }
        )
        if email:
            wants_mail[(user.id, key)] = meeting
    created = await add_notifications(uow, rows)
    for row in created:  # only reminders this scan inserted: another scan sent the rest
        mailed = wants_mail.get((row.user_id, row.dedupe_key))
        if mailed is not None:
            await enqueue_reminder_mail(uow, mailed, row.user_id)
    return len(created)


@retrying
async def do_send_due_reminders(ctx: Context) -> tuple[int, float | None]:
    """Send every reminder due at ``ctx.now()`` not sent yet; (how many were sent, seconds
    until the next one is due, or None when no meeting lies ahead)."""
    async with unit_of_work(ctx) as uow:
        due, upcoming = await _due(uow.session, uow.now)
        sent = await _send(uow, due)
        if upcoming is not None:
            return sent, (upcoming - uow.now).total_seconds()
        ahead = await uow.session.scalar(
            select(func.count())
            .select_from(Meeting)
            .where(Meeting.status == "scheduled", Meeting.start > uow.now)
        )
        return sent, (SCAN_SECONDS if ahead else None)


class Reminders:
    """The ``reminders.scan`` handler."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def handlers(self) -> dict[str, Handler]:
        return {SCAN_KIND: self.handle}

    async def handle(self, job: Job) -> None:
        _, wait = await do_send_due_reminders(self.ctx)
        if wait is None:
            return  # nothing ahead: the next booking starts the scans again
        async with unit_of_work(self.ctx) as uow:
            await uow.enqueue(SCAN_KIND, SCAN_KEY, {}, delay=min(max(wait, 1.0), SCAN_SECONDS))
