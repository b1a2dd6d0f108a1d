"""ORM models of scheduling: typical availability, invites, meetings, idempotency, outbox."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

import parlay.db.models  # noqa: F401  (the tables referenced below)
from parlay.db.base import ID, Base, UTCDateTime, new_id
from parlay.db.models import BigInt


class TypicalAvailability(Base):
    """A user's saved weekly hours; prefills the share window."""

    __tablename__ = "typical_availability"
    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    time_zone: Mapped[str] = mapped_column(String(64))
    weekly: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Invite(Base):
    __tablename__ = "invites"
    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    room_id: Mapped[str] = mapped_column(ForeignKey("rooms.id", ondelete="CASCADE"), index=True)
    host_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    time_zone: Mapped[str] = mapped_column(String(64))
    weekly: Mapped[dict[str, Any]] = mapped_column(JSON)
    duration_minutes: Mapped[int] = mapped_column(Integer)
    horizon_days: Mapped[int] = mapped_column(Integer)
    min_notice_minutes: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(12), default="open")
    meeting_id: Mapped[str | None] = mapped_column(ID, nullable=True)
    message_id: Mapped[int | None] = mapped_column(BigInt, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Meeting(Base):
    """A booked meeting.  On PostgreSQL an exclusion constraint (added in the migration)
    refuses two scheduled meetings of one host whose [start, end) overlap."""

    __tablename__ = "meetings"
    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    invite_id: Mapped[str] = mapped_column(ForeignKey("invites.id"), unique=True)
    room_id: Mapped[str] = mapped_column(ForeignKey("rooms.id", ondelete="CASCADE"), index=True)
    host_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    booked_by: Mapped[str] = mapped_column(ForeignKey("users.id"))
    start: Mapped[datetime] = mapped_column(UTCDateTime())
    end: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(12), default="scheduled")
    sequence: Mapped[int] = mapped_column(Integer, default=0)
    join_token: Mapped[str] = mapped_column(String(64), unique=True)
    message_id: Mapped[int | None] = mapped_column(BigInt, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    #: Busy time reads "hosted by or booked by someone, overlapping a window": one index each.
    __table_args__ = (
        Index("ix_meetings_host_id_start", "host_id", "start"),
        Index("ix_meetings_booked_by_start", "booked_by", "start"),
    )


class MeetingHold(Base):
    """Time a scheduled meeting takes from the schedule of its host and of its booker: one row
    each, deleted when the meeting is cancelled, moved when it is rescheduled.  On PostgreSQL
    an exclusion constraint (added in the migration) refuses two overlapping holds of one user,
    so nobody is ever in two Parlay meetings at once, whichever side of each they are on."""

    __tablename__ = "meeting_holds"
    meeting_id: Mapped[str] = mapped_column(
        ForeignKey("meetings.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), primary_key=True)
    start: Mapped[datetime] = mapped_column(UTCDateTime())
    end: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_meeting_holds_user_id_start", "user_id", "start"),)


class MeetingParticipant(Base):
    __tablename__ = "meeting_participants"
    meeting_id: Mapped[str] = mapped_column(
        ForeignKey("meetings.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), primary_key=True, index=True)


class MeetingHistory(Base):
    __tablename__ = "meeting_history"
    id: Mapped[int] = mapped_column(BigInt, primary_key=True, autoincrement=True)
    meeting_id: Mapped[str] = mapped_column(
        ForeignKey("meetings.id", ondelete="CASCADE"), index=True
    )
    action: Mapped[str] = mapped_column(String(20))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    by_user_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    from_start: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    to_start: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class IdempotencyRecord(Base):
    """The first response to a request carrying ``Idempotency-Key``, replayed on retry."""

    __tablename__ = "idempotency_records"
    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    status_code: Mapped[int] = mapped_column(Integer)
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class OutboxJob(Base):
    """Work to do after a commit (calendar writes, e-mail), claimed and retried by the worker
    (``parlay.jobs``).

    ``dedupe_key`` names what the job brings about ("calendar:<meeting>:<calendar>"): at most
    one *pending* job per key (a partial unique index), so enqueueing again coalesces. A claim
    is a lease: ``status="running"`` with ``claimed_by`` and ``lease_until``; a job whose lease
    ran out (its worker died) is claimable again. Instants here are transport time (the real
    clock), never the pinnable user-facing clock.
    """

    __tablename__ = "outbox"
    id: Mapped[int] = mapped_column(BigInt, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(40))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    #: pending | running | done | dead
    status: Mapped[str] = mapped_column(String(12), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    run_after: Mapped[datetime] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: Nullable only for rows written before keys existed; every enqueue sets one.
    dedupe_key: Mapped[str | None] = mapped_column(String(200), nullable=True)
    claimed_by: Mapped[str | None] = mapped_column(String(80), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    __table_args__ = (
        Index("ix_outbox_status_run_after", "status", "run_after"),
        Index(
            "uq_outbox_pending_dedupe_key",
            "dedupe_key",
            unique=True,
            sqlite_where=text("status = 'pending'"),
            postgresql_where=text("status = 'pending'"),
        ),
    )
