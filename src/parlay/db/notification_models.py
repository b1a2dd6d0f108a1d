"""ORM models of notifications: the in-app inbox of each user and their preferences.

A notification names what it is about with ``dedupe_key`` ("meeting.rescheduled:<meeting>:<seq>"),
unique per user: whatever retries or races happen, one change reaches one person once.
Ids order the inbox (with ``PARLAY_NOW`` pinned every row has the same ``created_at``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

import parlay.db.models  # noqa: F401  (the tables referenced below)
from parlay.db.base import ID, Base, UTCDateTime
from parlay.db.models import BigInt


class Notification(Base):
    __tablename__ = "notifications"
    id: Mapped[int] = mapped_column(BigInt, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    #: meeting.scheduled | meeting.rescheduled | meeting.cancelled | meeting.reminder |
    #: calendar.needs_reauth
    kind: Mapped[str] = mapped_column(String(40))
    room_id: Mapped[str | None] = mapped_column(
        ForeignKey("rooms.id", ondelete="CASCADE"), nullable=True
    )
    meeting_id: Mapped[str | None] = mapped_column(ID, nullable=True)
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    dedupe_key: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    __table_args__ = (
        UniqueConstraint("user_id", "dedupe_key", name="uq_notifications_user_id_dedupe_key"),
        Index("ix_notifications_user_id_id", "user_id", "id"),
        Index("ix_notifications_user_id_read_at", "user_id", "read_at"),
    )


class NotificationPreference(Base):
    """A user's choices; no row means the defaults (e-mail on, reminders on, 10 minutes)."""

    __tablename__ = "notification_preferences"
    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    email: Mapped[bool] = mapped_column(Boolean, default=True)
    reminders: Mapped[bool] = mapped_column(Boolean, default=True)
    reminder_minutes: Mapped[int] = mapped_column(Integer, default=10)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
