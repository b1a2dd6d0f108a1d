"""Meetings out (API.md "Calendars" rule 3): each meeting exactly once in every participant's
``write_events`` calendar, at its latest state.

Booking, rescheduling and cancelling enqueue, in their own transaction, one ``calendar.write``
job per target calendar (``enqueue_writes``; dedupe ``write:<meeting>:<calendar>``, so a burst
of changes coalesces into one delivery).  A job carries no state: its handler reads the
meeting as it is *now* and brings the calendar to it, so coalescing, retries and reordering
can never leave a stale or orphan event.  What the calendar holds is recorded per (meeting,
calendar) in ``external_events``:

- the row is inserted (``external_id`` still NULL) *before* the first create, so a create whose
  answer was lost is known to have maybe happened: a later cancel still deletes it.  The retry
  is safe because every adapter writes under a key derived from the meeting id (Google event
  id, Graph ``transactionId``, CalDAV resource path), a second create finding the first;
- after the provider answered, the row gets the provider's id, etag and the sequence written;
  the handler then reads again and repeats while the meeting changed meanwhile.

Where an event lives: it stays in the calendar it was first written to, even if its owner has
since marked another calendar ``write_events`` (moved and deleted there, never duplicated into
the new one); a participant without any event for the meeting gets one in their current write
calendar.  A disconnected calendar (its rows cascade away) is never touched again.  A refused
grant marks the connection ``needs_reauth`` and ends the job: nothing is written through that
connection until it is reconnected, when ``requeue_for_connection`` brings its calendars up to
date.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Literal

from sqlalchemy import and_, or_, select, true, union
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from parlay.db.calendar_models import CalendarConnection, ExternalEvent, LinkedCalendar
from parlay.db.models import User
from parlay.db.scheduling_models import Meeting, MeetingParticipant, OutboxJob
from parlay.providers import errors as perr
from parlay.providers.dto import EventRef, MeetingEvent
from parlay.services.outbox import Handler, Job, Permanent, Retryable, wall_clock
from parlay.services.scheduling_views import calendar_entry, participants_of
from parlay.services.uow import UnitOfWork, unit_of_work

if TYPE_CHECKING:
    from parlay.services.calendars import CalendarService

log = logging.getLogger(__name__)

WRITE_KIND = "calendar.write"
#: Rounds of "read the meeting, write it" per job before leaving the rest to a retry.
ROUNDS = 4
#: How long a job waits while an older job of the same key is still being delivered.
DEFER_SECONDS = 5.0


def write_key(meeting_id: str, calendar_id: int) -> str:
    return f"write:{meeting_id}:{calendar_id}"


async def _enqueue(uow: UnitOfWork, meeting_id: str, calendar_ids: Iterable[int]) -> None:
    for calendar_id in sorted(set(calendar_ids)):
        await uow.enqueue(
            WRITE_KIND,
            write_key(meeting_id, calendar_id),
            {"meeting": meeting_id, "calendar": calendar_id},
        )


async def enqueue_writes(uow: UnitOfWork, meeting_id: str) -> None:
    """In a booking's transaction: a write job for each participant's write calendar and each
    calendar already holding the meeting (one query; nothing when nobody linked one)."""
    targets = union(
        select(LinkedCalendar.id)
        .join(MeetingParticipant, MeetingParticipant.user_id == LinkedCalendar.user_id)
        .where(MeetingParticipant.meeting_id == meeting_id, LinkedCalendar.write_events == true()),
        select(ExternalEvent.calendar_id).where(
            ExternalEvent.meeting_id == meeting_id, ExternalEvent.deleted.is_(False)
        ),
    )
    await _enqueue(uow, meeting_id, (await uow.session.execute(targets)).scalars())


async def requeue_for_connection(uow: UnitOfWork, connection_id: str) -> None:
    """After a reconnect: bring the connection's calendars up to date (every event still held
    there, and every upcoming meeting of its owner for its write calendar)."""
    held = await uow.session.execute(
        select(ExternalEvent.meeting_id, ExternalEvent.calendar_id)
        .join(Meeting, Meeting.id == ExternalEvent.meeting_id)
        .where(
            ExternalEvent.connection_id == connection_id,
            ExternalEvent.deleted.is_(False),
            or_(Meeting.status == "cancelled", Meeting.end > uow.now),
        )
    )
    upcoming = await uow.session.execute(
        select(Meeting.id, LinkedCalendar.id)
        .join(MeetingParticipant, MeetingParticipant.meeting_id == Meeting.id)
        .join(LinkedCalendar, LinkedCalendar.user_id == MeetingParticipant.user_id)
        .where(
            LinkedCalendar.connection_id == connection_id,
            LinkedCalendar.write_events == true(),
            Meeting.status == "scheduled",
            Meeting.end > uow.now,
        )
    )
    for meeting_id, calendar_id in sorted({*held.tuples(), *upcoming.tuples()}):
        await _enqueue(uow, meeting_id, [calendar_id])


async def writes_calendar(session: AsyncSession, user_id: str) -> bool:
    """Whether the user's linked calendar receives their meetings (so a notification need not
    carry the event too): a ``write_events`` calendar on a working connection."""
    found = await session.scalar(
        select(LinkedCalendar.id)
        .join(CalendarConnection, CalendarConnection.id == LinkedCalendar.connection_id)
        .where(
            LinkedCalendar.user_id == user_id,
            LinkedCalendar.write_events == true(),
            CalendarConnection.status == "active",
        )
        .limit(1)
    )
    return found is not None


@dataclass(frozen=True)
class _Step:
    """One provider call that brings a calendar closer to the meeting's current state."""

    action: Literal["create", "update", "delete"]
    meeting_id: str
    calendar_id: int
    connection_id: str
    provider: str
    external_calendar: str
    sequence: int
    event: MeetingEvent | None = None
    ref: EventRef | None = None


class CalendarWrites:
    """The ``calendar.write`` handler; adapters come from the calendar service."""

    def __init__(self, calendars: CalendarService) -> None:
        self.calendars = calendars
        self.ctx = calendars.ctx

    def handlers(self) -> dict[str, Handler]:
        return {WRITE_KIND: self.handle}

    async def handle(self, job: Job) -> None:
        meeting_id, calendar_id = job.payload.get("meeting"), job.payload.get("calendar")
        if not isinstance(meeting_id, str) or not isinstance(calendar_id, int):
            raise Permanent("calendar.write payload needs a meeting id and a calendar id")
        await self._wait_for_older(job)
        for _ in range(ROUNDS):
            step = await self._next_step(meeting_id, calendar_id)
            if step is None:
                return  # the calendar holds the meeting's current state (or must not)
            if not await self._apply(step):
                return
        raise Retryable("the meeting kept changing while it was written")

    async def _wait_for_older(self, job: Job) -> None:
        """Two jobs of one key run together only when a change came while the first was
        running; the newer one waits, so two deliveries never race at the provider."""
        async with self.ctx.db.read() as session:
            older = await session.scalar(
                select(OutboxJob.id)
                .where(
                    OutboxJob.dedupe_key == job.dedupe_key,
                    OutboxJob.status == "running",
                    OutboxJob.id < job.id,
                    OutboxJob.lease_until > wall_clock(),
                )
                .limit(1)
            )
        if older is not None:
            raise Retryable(f"job {older} is still writing this event", DEFER_SECONDS)

    async def _next_step(self, meeting_id: str, calendar_id: int) -> _Step | None:
        async with self.ctx.db.read() as session:
            meeting = await session.get(Meeting, meeting_id)
            calendar = await session.get(LinkedCalendar, calendar_id)
            if meeting is None or calendar is None:
                return None  # gone, or disconnected: never touched again
            connection = await session.get(CalendarConnection, calendar.connection_id)
            if connection is None or connection.status == "needs_reauth":
                return None  # ``requeue_for_connection`` after the reconnect
            row = await _row(session, meeting_id, calendar_id)

            def step(action: Literal["create", "update", "delete"]) -> _Step:
                return _Step(
                    action,
                    meeting_id,
                    calendar_id,
                    connection.id,
                    connection.provider,
                    calendar.external_id,
                    meeting.sequence,
                    ref=EventRef(row.external_id, row.etag) if row and row.external_id else None,
                )

            if meeting.status == "cancelled":
                return step("delete") if row is not None and not row.deleted else None
            if row is None or row.deleted:
                if not await _receives(session, meeting_id, calendar):
                    return None
                action: Literal["create", "update"] = "create"
            elif row.written_sequence is None:
                action = "create"  # reserved, the answer lost: a create finds the first one
            elif row.written_sequence < meeting.sequence:
                action = "update"
            else:
                return None
            event = await _event(session, meeting, self.ctx.base_url)
            return replace(step(action), event=event)

    async def _apply(self, step: _Step) -> bool:
        """Make the provider call and record it; False when the job should end here."""
        if step.action == "create":
            await self._reserve(step)
        opened = await self.calendars.open_provider(step.connection_id)
        if opened is None:
            return False
        provider, user_id = opened
        ref: EventRef | None = None
        try:
            if step.action == "delete":
                await provider.delete_event(step.external_calendar, step.meeting_id, step.ref)
            elif step.action == "create":
                assert step.event is not None
                ref = await provider.create_event(step.external_calendar, step.event)
            else:
                assert step.event is not None
                ref = await provider.update_event(step.external_calendar, step.event, step.ref)
        except (perr.Transient, perr.RateLimited) as exc:
            retry_after = exc.retry_after if isinstance(exc, perr.RateLimited) else None
            raise Retryable(f"calendar write: {type(exc).__name__}", retry_after) from None
        except (perr.AuthExpired, perr.InvalidCredentials):
            await self.calendars.set_status(
                step.connection_id, user_id, "needs_reauth", "auth_expired"
            )
            return False
        except perr.NotFound:
            log.info("calendar %s is gone at the provider; write dropped", step.calendar_id)
            return False
        except perr.ProviderError as exc:
            raise Permanent(f"calendar write refused: {type(exc).__name__}: {exc}") from None
        await self._record(step, ref)
        return True

    async def _reserve(self, step: _Step) -> None:
        """Note that an event may exist from here on, before asking the provider for it."""
        async with unit_of_work(self.ctx) as uow:
            row = await _row(uow.session, step.meeting_id, step.calendar_id, lock=True)
            if row is not None:
                row.deleted, row.updated_at = False, wall_clock()
                return
            try:
                async with uow.session.begin_nested():
                    uow.session.add(
                        ExternalEvent(
                            meeting_id=step.meeting_id,
                            calendar_id=step.calendar_id,
                            provider=step.provider,
                            connection_id=step.connection_id,
                            updated_at=wall_clock(),
                        )
                    )
            except IntegrityError:
                pass  # reserved concurrently, or the calendar or meeting vanished

    async def _record(self, step: _Step, ref: EventRef | None) -> None:
        async with unit_of_work(self.ctx) as uow:
            row = await _row(uow.session, step.meeting_id, step.calendar_id, lock=True)
            if row is None:
                return  # disconnected meanwhile
            if ref is not None:
                row.external_id, row.etag = ref.external_id, ref.etag
            row.deleted = step.action == "delete"
            row.written_sequence = step.sequence
            row.updated_at = wall_clock()


async def _row(
    session: AsyncSession, meeting_id: str, calendar_id: int, *, lock: bool = False
) -> ExternalEvent | None:
    query = select(ExternalEvent).where(
        ExternalEvent.meeting_id == meeting_id, ExternalEvent.calendar_id == calendar_id
    )
    if lock:
        query = query.with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


async def _receives(session: AsyncSession, meeting_id: str, calendar: LinkedCalendar) -> bool:
    """A calendar gets a new event for the meeting when it is its owner's write calendar, the
    owner takes part, and none of the owner's other calendars holds the meeting already."""
    if not calendar.write_events:
        return False
    takes_part = await session.get(MeetingParticipant, (meeting_id, calendar.user_id))
    if takes_part is None:
        return False
    elsewhere = await session.scalar(
        select(ExternalEvent.id)
        .join(LinkedCalendar, LinkedCalendar.id == ExternalEvent.calendar_id)
        .where(
            and_(
                ExternalEvent.meeting_id == meeting_id,
                ExternalEvent.calendar_id != calendar.id,
                ExternalEvent.deleted.is_(False),
                LinkedCalendar.user_id == calendar.user_id,
            )
        )
        .limit(1)
    )
    return elsewhere is None


async def _event(session: AsyncSession, meeting: Meeting, base_url: str) -> MeetingEvent:
    """The meeting as its calendar entry names it (title, join URL), the same as the ICS."""
    host = await session.get(User, meeting.host_id)
    booker = await session.get(User, meeting.booked_by)
    assert host is not None and booker is not None
    people = await participants_of(session, meeting.id)
    entry = calendar_entry(meeting, host, booker, people, base_url, meeting.created_at)
    return MeetingEvent(
        meeting_id=meeting.id,
        title=entry.summary,
        start=meeting.start,
        end=meeting.end,
        description=entry.description,
        location=entry.location,
        url=entry.url,
        sequence=meeting.sequence,
    )
