"""Booking, rescheduling and cancelling meetings — never double-booked.

A booking is one write transaction that locks the schedules of the host and the booker (see
``parlay.services.schedules``), locks the invite row, recomputes the slot against fresh busy
data, checks the booker is free, and inserts the meeting with its holds.  The database has the
last word on overlaps: on PostgreSQL exclusion constraints refuse two overlapping scheduled
meetings of one host and two overlapping holds of one person; on SQLite write transactions are
serialized (``BEGIN IMMEDIATE``), so the recomputation always sees the winner's meeting.
Every use case here re-runs itself when the database reports a lost race (``retrying``).
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.exc import IntegrityError

from parlay.db.models import Message, Room, User
from parlay.db.scheduling_models import (
    IdempotencyRecord,
    Invite,
    Meeting,
    MeetingHistory,
    MeetingParticipant,
)
from parlay.domain.errors import (
    BookerBusy,
    IdempotencyKeyInUse,
    InviteClosed,
    MeetingCancelled,
    NotASlot,
    OwnInvite,
    SlotTaken,
)
from parlay.domain.intervals import Interval
from parlay.domain.meetings import MeetingState, compute_cancel, compute_reschedule
from parlay.domain.slots import classify_start
from parlay.services.access import access_invite, access_meeting, room_member_ids
from parlay.services.busy import external_busy, meeting_busy
from parlay.services.calendar_writes import enqueue_writes
from parlay.services.context import Context
from parlay.services.invites import terms_of
from parlay.services.messages import add_message, emit_message_updated
from parlay.services.notifications import notify_meeting_change
from parlay.services.schedules import add_holds, drop_holds, lock_schedules, move_holds
from parlay.services.scheduling_views import MeetingRead, meeting_read, notice_data
from parlay.services.uow import UnitOfWork, retrying, unit_of_work

AROUND = timedelta(days=1)


def _check_start(invite: Invite, start: datetime, busy: list[Interval], now: datetime) -> datetime:
    terms = terms_of(invite)
    verdict = classify_start(
        terms.rules, terms.zone, terms.duration, busy, now, terms.min_notice, terms.horizon, start
    )
    if verdict == "not_a_slot":
        raise NotASlot(field="start")
    if verdict == "busy":
        raise SlotTaken(field="start")
    return start + terms.duration


async def _calendar_busy_near(
    ctx: Context, people_of: Select[*tuple[str, ...]], start: datetime
) -> tuple[Interval, tuple[str, ...], list[Interval]]:
    """The window checked around ``start``, the people whose schedules the query names (host
    first; none when nothing matches), and the host's external busy time in the window, read
    before the write transaction opens (no provider call holds the database's write lock)."""
    window = Interval(start - AROUND, start + AROUND)
    async with ctx.db.read() as session:
        row = (await session.execute(people_of)).first()
    people = tuple(str(person) for person in row) if row else ()
    if not people:
        return window, people, []
    busy = await external_busy(ctx.busy_sources, people[0], window)
    if ctx.fresh_busy is not None:
        # Rule 2: the host's calendars read now from the chosen start (the slot's end is known
        # only inside the transaction; busy time after the slot does not change its verdict).
        busy += await ctx.fresh_busy(people[0], Interval(start, window.end))
    return window, people, busy


async def _check_booker_free(
    uow: UnitOfWork, booker_id: str, start: datetime, end: datetime, exclude: str | None, you: bool
) -> None:
    if await meeting_busy(uow.session, booker_id, Interval(start, end), exclude=exclude):
        raise BookerBusy(
            None if you else "The person who booked this meeting has another meeting then.",
            field="start",
        )


async def _insert_or_taken(uow: UnitOfWork) -> None:
    try:
        await uow.session.flush()
    except IntegrityError as exc:  # PostgreSQL's exclusion constraint: a concurrent winner
        raise SlotTaken(field="start") from exc


def _when(instant: datetime) -> str:
    """The plain-text fallback of a notice's time, for API clients: always UTC, labelled (the
    browser renders each reader's own zone from the notice's data)."""
    return f"{instant.astimezone(UTC):%a %d %b %Y, %H:%M} UTC"


@retrying
async def do_book(
    ctx: Context, user: User, invite_id: str, start: datetime, idempotency_key: str | None
) -> tuple[int, dict[str, Any]]:
    """Book ``start`` on the invite; returns (status, body) so a retry can replay it."""
    people_of = select(Invite.host_id).where(Invite.id == invite_id)
    window, people, external = await _calendar_busy_near(ctx, people_of, start)
    async with unit_of_work(ctx) as uow:
        # The booker's lock also serializes their requests: a replayed Idempotency-Key finds
        # the first request's record instead of racing it.
        await lock_schedules(uow.session, {user.id, *people})
        invite = await access_invite(uow.session, invite_id, user, lock=True)
        if idempotency_key is not None:
            replay = await uow.session.get(IdempotencyRecord, (user.id, idempotency_key))
            if replay is not None:
                return replay.status_code, replay.body
        if invite.status != "open":
            raise InviteClosed()
        if invite.host_id == user.id:
            raise OwnInvite()
        busy = await meeting_busy(uow.session, invite.host_id, window) + external
        end = _check_start(invite, start, busy, uow.now)
        await _check_booker_free(uow, user.id, start, end, None, you=True)
        meeting = Meeting(
            invite_id=invite.id,
            room_id=invite.room_id,
            host_id=invite.host_id,
            booked_by=user.id,
            start=start,
            end=end,
            status="scheduled",
            sequence=0,
            join_token=secrets.token_urlsafe(24),
            created_at=uow.now,
        )
        uow.session.add(meeting)
        await _insert_or_taken(uow)  # the meeting's id, for its holds
        add_holds(uow.session, meeting.id, {invite.host_id, user.id}, start, end)
        await _insert_or_taken(uow)
        members = await room_member_ids(uow.session, invite.room_id)
        uow.session.add_all(MeetingParticipant(meeting_id=meeting.id, user_id=m) for m in members)
        uow.session.add(
            MeetingHistory(
                meeting_id=meeting.id,
                action="booked",
                at=uow.now,
                by_user_id=user.id,
                to_start=start,
            )
        )
        invite.status, invite.meeting_id = "booked", meeting.id
        await uow.session.flush()
        await enqueue_writes(uow, meeting.id)
        room = await uow.session.get(Room, invite.room_id)
        assert room is not None
        host = await uow.session.get(User, invite.host_id)
        assert host is not None
        body = f"{user.display_name} booked a meeting with {host.display_name}: {_when(start)}."
        data = notice_data("booked", user, host=host, start=start, end=end)
        message = await add_message(
            uow, room, sender=user, kind="meeting", body=body, meeting_id=meeting.id, data=data
        )
        meeting.message_id = message.id
        await _refresh_message(uow, invite.message_id)
        read = await meeting_read(uow.session, meeting, ctx.base_url)
        await uow.emit("meeting.scheduled", read.model_dump(mode="json"), members)
        await notify_meeting_change(uow, meeting, user, "meeting.scheduled", data)
        result = read.model_dump(mode="json")
        if idempotency_key is not None:
            uow.session.add(
                IdempotencyRecord(
                    user_id=user.id,
                    key=idempotency_key,
                    status_code=201,
                    body=result,
                    created_at=uow.now,
                )
            )
            try:
                await uow.session.flush()
            except IntegrityError as exc:  # only if the booker lock was bypassed somehow
                raise IdempotencyKeyInUse(field="Idempotency-Key") from exc
        return 201, result


async def _refresh_message(uow: UnitOfWork, message_id: int | None) -> None:
    if message_id is not None:
        message = await uow.session.get(Message, message_id)
        if message is not None:
            await emit_message_updated(uow, message)


def _state(meeting: Meeting) -> MeetingState:
    return MeetingState(
        status=meeting.status,  # type: ignore[arg-type]
        start=meeting.start,
        end=meeting.end,
        sequence=meeting.sequence,
    )


async def _announce_change(
    uow: UnitOfWork, meeting: Meeting, actor: User, event: str, text: str, data: dict[str, Any]
) -> MeetingRead:
    room = await uow.session.get(Room, meeting.room_id)
    assert room is not None
    await add_message(
        uow,
        room,
        sender=actor,
        kind="meeting_update",
        body=text,
        meeting_id=meeting.id,
        data=data,
    )
    await _refresh_message(uow, meeting.message_id)
    invite = await uow.session.get(Invite, meeting.invite_id)
    if invite is not None:  # the invite card shows the meeting's time and status too
        await _refresh_message(uow, invite.message_id)
    read = await meeting_read(uow.session, meeting, uow.ctx.base_url)
    members = await room_member_ids(uow.session, meeting.room_id)
    await uow.emit(event, read.model_dump(mode="json"), members)
    await notify_meeting_change(uow, meeting, actor, event, data)
    return read


def _with_reason(text: str, reason: str | None) -> str:
    return f"{text} Reason: {reason}" if reason else text


@retrying
async def do_reschedule(
    ctx: Context, user: User, meeting_id: str, start: datetime, reason: str | None
) -> MeetingRead:
    people_of = select(Meeting.host_id, Meeting.booked_by).where(Meeting.id == meeting_id)
    window, people, external = await _calendar_busy_near(ctx, people_of, start)
    async with unit_of_work(ctx) as uow:
        await lock_schedules(uow.session, people)
        meeting = await access_meeting(uow.session, meeting_id, user, lock=True)
        if meeting.status == "cancelled":  # before any slot check: 409, not 422
            raise MeetingCancelled()
        state = _state(meeting)
        invite = await uow.session.get(Invite, meeting.invite_id)
        assert invite is not None
        busy = await meeting_busy(uow.session, meeting.host_id, window, exclude=meeting.id)
        end = _check_start(invite, start, busy + external, uow.now)
        await _check_booker_free(
            uow, meeting.booked_by, start, end, meeting.id, you=meeting.booked_by == user.id
        )
        moved = compute_reschedule(state, start, end)
        old_start = meeting.start
        meeting.start, meeting.end, meeting.sequence = moved.start, moved.end, moved.sequence
        await move_holds(uow.session, meeting.id, moved.start, moved.end)
        await _insert_or_taken(uow)
        await enqueue_writes(uow, meeting.id)
        uow.session.add(
            MeetingHistory(
                meeting_id=meeting.id,
                action="rescheduled",
                at=uow.now,
                by_user_id=user.id,
                reason=reason,
                from_start=old_start,
                to_start=start,
            )
        )
        text = _with_reason(
            f"{user.display_name} moved the meeting from {_when(old_start)} to {_when(start)}.",
            reason,
        )
        data = notice_data(
            "rescheduled",
            user,
            start=moved.start,
            end=moved.end,
            from_start=old_start,
            to_start=moved.start,
            reason=reason,
        )
        return await _announce_change(uow, meeting, user, "meeting.rescheduled", text, data)


@retrying
async def do_cancel(ctx: Context, user: User, meeting_id: str, reason: str | None) -> MeetingRead:
    async with unit_of_work(ctx) as uow:
        meeting = await access_meeting(uow.session, meeting_id, user, lock=True)
        cancelled = compute_cancel(_state(meeting))
        meeting.status, meeting.sequence = cancelled.status, cancelled.sequence
        await drop_holds(uow.session, meeting.id)
        await enqueue_writes(uow, meeting.id)
        uow.session.add(
            MeetingHistory(
                meeting_id=meeting.id,
                action="cancelled",
                at=uow.now,
                by_user_id=user.id,
                reason=reason,
                from_start=meeting.start,
            )
        )
        await uow.session.flush()
        text = _with_reason(f"{user.display_name} cancelled the meeting.", reason)
        data = notice_data("cancelled", user, start=meeting.start, end=meeting.end, reason=reason)
        return await _announce_change(uow, meeting, user, "meeting.cancelled", text, data)
