"""E-mail about meetings (API.md "Notifications"): one message per change to every participant
with e-mail on, the one who acted included, and one per reminder; sent by the outbox worker.

``enqueue_meeting_mail`` runs in the transaction of the change: one ``mail.notification`` job per
recipient, keyed ``mail:<kind>:<meeting>:<sequence>:<user>``, so the message exists exactly when
the change committed and a change is never mailed twice to one person.  The job carries only
what names the change; ``NotificationMail.handle`` renders at run time, in the recipient's saved
zone, and skips a change that a later one already superseded (its own message, with a higher
SEQUENCE, says everything: an older REQUEST arriving late would only confuse a calendar).

The ``.ics`` (iMIP, RFC 6047) is the meeting's stable UID and SEQUENCE, ORGANIZER the host,
ATTENDEEs the participants: METHOD:REQUEST while it stands, METHOD:CANCEL once cancelled.  It is
left out for a recipient whose linked calendar Parlay already writes the event into
(``writes_calendar``): their calendar would otherwise show it twice.

SMTP down: the worker retries with its backoff for a few attempts, then the job hands over to a
fresh job of the same key every ``DEFER_SECONDS`` for up to ``DEFER_LIMIT`` rounds (about three
days, as mail servers do), so an outage delays mail and loses none.  See ``parlay.mail.sender``
for the one case where a message may arrive twice (a lost 250 reply).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, true
from sqlalchemy.ext.asyncio import AsyncSession

from parlay.db.models import Room, User
from parlay.db.notification_models import NotificationPreference
from parlay.db.scheduling_models import Meeting, MeetingParticipant
from parlay.mail.ics import build_imip, imip_method
from parlay.mail.messages import Invitation, Outgoing, compose, mail_domain
from parlay.mail.render import render
from parlay.mail.sender import Mailer, MailRejected
from parlay.services import notification_texts as texts
from parlay.services.calendar_writes import writes_calendar
from parlay.services.context import Context
from parlay.services.outbox import Handler, Job, Permanent, Retryable, enqueue, wall_clock
from parlay.services.scheduling_views import calendar_entry, participants_of
from parlay.services.uow import UnitOfWork, unit_of_work

log = logging.getLogger(__name__)

MAIL_KIND = "mail.notification"
REMINDER = "meeting.reminder"
#: Attempts left to the worker's own backoff before the job hands over to a deferred one.
QUICK_ATTEMPTS = 5
DEFER_SECONDS = 900.0
DEFER_LIMIT = 288  # 288 x 15 minutes = 3 days


def mail_key(kind: str, meeting_id: str, version: str, user_id: str) -> str:
    return f"mail:{kind}:{meeting_id}:{version}:{user_id}"


async def mail_recipients(session: AsyncSession, meeting_id: str) -> list[str]:
    """The participants who want e-mail (no preferences row: the default, on)."""
    rows = await session.scalars(
        select(MeetingParticipant.user_id)
        .outerjoin(
            NotificationPreference,
            NotificationPreference.user_id == MeetingParticipant.user_id,
        )
        .where(
            MeetingParticipant.meeting_id == meeting_id,
            (NotificationPreference.user_id.is_(None)) | (NotificationPreference.email == true()),
        )
        .order_by(MeetingParticipant.user_id)
    )
    return list(rows)


async def enqueue_meeting_mail(
    uow: UnitOfWork, meeting: Meeting, actor: User, kind: str, data: dict[str, Any]
) -> None:
    """In the change's transaction: a message about it for each participant with e-mail on."""
    for user_id in await mail_recipients(uow.session, meeting.id):
        await uow.enqueue(
            MAIL_KIND,
            mail_key(kind, meeting.id, str(meeting.sequence), user_id),
            {
                "kind": kind,
                "meeting": meeting.id,
                "sequence": meeting.sequence,
                "user": user_id,
                "actor": actor.id,
                "data": data,
                "at": uow.now.isoformat(),
            },
        )


async def enqueue_reminder_mail(uow: UnitOfWork, meeting: Meeting, user_id: str) -> None:
    start = meeting.start.isoformat()
    await uow.enqueue(
        MAIL_KIND,
        mail_key(REMINDER, meeting.id, start, user_id),
        {
            "kind": REMINDER,
            "meeting": meeting.id,
            "start": start,
            "user": user_id,
            "at": uow.now.isoformat(),
        },
    )


@dataclass(frozen=True)
class _Content:
    headline: str
    sentence: str
    invitation: bool


def _content(kind: str, actor: str, data: dict[str, Any], zone: str, room: str) -> _Content:
    if kind == REMINDER:
        when = texts.when(data.get("start"), zone)
        return _Content(f"Reminder: meeting in {room}", f"Your meeting starts {when}.", False)
    return _Content(
        texts.meeting_title(kind, room), texts.meeting_body(kind, actor, data, zone), True
    )


class NotificationMail:
    """The ``mail.notification`` handler: render for the recipient, hand to the mailer."""

    def __init__(self, ctx: Context, mailer: Mailer, sender: str) -> None:
        self.ctx = ctx
        self.mailer = mailer
        self.sender = sender
        self.domain = mail_domain(sender)

    def handlers(self) -> dict[str, Handler]:
        return {MAIL_KIND: self.handle}

    async def handle(self, job: Job) -> None:
        async with self.ctx.db.read() as session:
            out = await self._outgoing(session, job)
        if out is None:
            return
        try:
            await self.mailer.send(compose(out))
        except MailRejected as exc:
            raise Permanent(str(exc)) from None
        except Exception as exc:  # MailDeferred, or anything unforeseen: keep the message
            if job.attempts < QUICK_ATTEMPTS:
                raise Retryable(f"mail deferred: {exc}") from None
            await self._defer(job, str(exc))

    async def _defer(self, job: Job, error: str) -> None:
        """Hand over to a new job of the same key, due later (its attempts start afresh)."""
        rounds = int(job.payload.get("deferred", 0)) + 1
        if rounds > DEFER_LIMIT or job.dedupe_key is None:
            raise Permanent(f"mail undeliverable for days: {error}")
        log.info("mail job %s deferred (%d): %s", job.id, rounds, error)
        async with unit_of_work(self.ctx) as uow:
            await enqueue(
                uow.session,
                MAIL_KIND,
                job.dedupe_key,
                {**job.payload, "deferred": rounds},
                delay=DEFER_SECONDS,
                now=wall_clock(),
            )

    async def _outgoing(self, session: AsyncSession, job: Job) -> Outgoing | None:
        payload = job.payload
        kind = str(payload.get("kind"))
        meeting = await session.get(Meeting, str(payload.get("meeting")))
        user = await session.get(User, str(payload.get("user")))
        if meeting is None or user is None:
            return None  # deleted meanwhile: nobody left to tell
        if kind == REMINDER:
            if meeting.status != "scheduled" or meeting.start.isoformat() != payload.get("start"):
                return None  # cancelled or moved since: that reminder no longer holds
            data: dict[str, Any] = {"start": meeting.start.isoformat()}
            actor_name = ""
        else:
            if meeting.sequence != payload.get("sequence"):
                return None  # superseded: the later change's message tells the latest state
            data = dict(payload.get("data") or {})
            actor = await session.get(User, str(payload.get("actor")))
            actor_name = "You" if actor is None or actor.id == user.id else actor.display_name
        host = await session.get(User, meeting.host_id)
        booker = await session.get(User, meeting.booked_by)
        room = await session.get(Room, meeting.room_id)
        if host is None or booker is None or room is None:
            return None
        stamp = datetime.fromisoformat(str(payload.get("at")))
        people = await participants_of(session, meeting.id)
        entry = calendar_entry(meeting, host, booker, people, self.ctx.base_url, stamp)
        content = _content(kind, actor_name, data, user.time_zone, room.title)
        invitation: Invitation | None = None
        note: str | None = None
        if content.invitation:
            if await writes_calendar(session, user.id):
                note = "Your linked calendar has been updated; no invitation is attached."
            else:
                invitation = Invitation(build_imip(entry), imip_method(entry))
                note = "The attached invitation adds this meeting to your calendar app."
        text, html = render(
            "notification",
            recipient_name=user.display_name,
            headline=content.headline,
            sentence=content.sentence,
            meeting_title=entry.summary,
            when=_span(meeting, user.time_zone),
            cancelled=meeting.status == "cancelled",
            join_url=entry.url,
            room_title=room.title,
            room_url=f"{self.ctx.base_url}/rooms/{room.id}",
            calendar_note=note,
            settings_url=f"{self.ctx.base_url}/settings",
        )
        version = payload.get("start") if kind == REMINDER else payload.get("sequence")
        return Outgoing(
            message_id=f"<{kind}.{meeting.id}.{_token(version)}.{user.id}@{self.domain}>",
            sender=self.sender,
            to_name=user.display_name,
            to_email=user.email,
            subject=content.headline + f": {texts.when(meeting.start, user.time_zone)}",
            text=text,
            html=html,
            date=wall_clock(),
            invitation=invitation,
        )


def _token(version: object) -> str:
    return "".join(ch for ch in str(version) if ch.isalnum())


def _span(meeting: Meeting, zone: str) -> str:
    """``Tue 1 Dec 2026, 09:00-09:30 (Europe/Berlin)``."""
    start = texts.when(meeting.start, zone)
    end = meeting.end.astimezone(texts.zone_of(zone))
    head, _, tail = start.rpartition(" (")
    return f"{head}-{end:%H:%M} ({tail}"
