"""ORM models of linked calendars: connections (one linked account each), their calendars and
the busy-time mirror the read path (``dates``, ``slots``) uses instead of calling providers."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

import parlay.db.models  # noqa: F401  (the users table referenced below)
from parlay.db.base import ID, Base, UTCDateTime, new_id
from parlay.db.models import BigInt


class CalendarConnection(Base):
    """One linked account at one provider.  ``secret`` holds its credentials, encrypted
    (``parlay.services.secrets``); connecting the same account again updates this row."""

    __tablename__ = "calendar_connections"
    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    provider: Mapped[str] = mapped_column(String(20))
    account_email: Mapped[str] = mapped_column(String(320))
    #: active | needs_reauth | error
    status: Mapped[str] = mapped_column(String(20), default="active")
    status_detail: Mapped[str | None] = mapped_column(String(500), nullable=True)
    secret: Mapped[str] = mapped_column(Text)
    connected_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_synced_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    __table_args__ = (UniqueConstraint("user_id", "provider", "account_email"),)


class LinkedCalendar(Base):
    """One calendar of a connection; ``external_id`` is the provider's own id for it."""

    __tablename__ = "linked_calendars"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    connection_id: Mapped[str] = mapped_column(
        ForeignKey("calendar_connections.id", ondelete="CASCADE"), index=True
    )
    #: The connection's owner, so "at most one write_events calendar per user" is one query.
    user_id: Mapped[str] = mapped_column(ID, index=True)
    external_id: Mapped[str] = mapped_column(String(1000))
    name: Mapped[str] = mapped_column(String(500))
    primary: Mapped[bool] = mapped_column(Boolean, default=False)
    check_conflicts: Mapped[bool] = mapped_column(Boolean, default=False)
    write_events: Mapped[bool] = mapped_column(Boolean, default=False)
    #: The provider's incremental-sync token after the last sync (None: full syncs only).
    sync_token: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: Where the window of the last full sync began (user-facing clock); None: never synced.
    #: Incremental syncs build on that full read until it is a day old (then a full one again).
    synced_from: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    #: Changes with every write of this calendar's busy blocks (readers cache the mirror by it).
    mirror_stamp: Mapped[str | None] = mapped_column(String(32), nullable=True)

    __table_args__ = (UniqueConstraint("connection_id", "external_id"),)


class BusyBlock(Base):
    """One busy interval of a linked calendar (rule 1 applied), replaced on every full sync."""

    __tablename__ = "busy_blocks"
    id: Mapped[int] = mapped_column(BigInt, primary_key=True, autoincrement=True)
    calendar_id: Mapped[int] = mapped_column(
        ForeignKey("linked_calendars.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[str] = mapped_column(ID)
    start: Mapped[datetime] = mapped_column(UTCDateTime())
    end: Mapped[datetime] = mapped_column(UTCDateTime())
    #: The provider's id of the event this block comes from (incremental sync replaces by it).
    item_key: Mapped[str | None] = mapped_column(String(1000), nullable=True)

    __table_args__ = (
        Index("ix_busy_blocks_user_id_start", "user_id", "start"),
        Index("ix_busy_blocks_calendar_id_item_key", "calendar_id", "item_key"),
    )


class ExternalEvent(Base):
    """The event Parlay wrote (or is writing) for one meeting into one linked calendar: at most
    one per (meeting, calendar), whatever fails.  ``external_id``/``etag`` are the provider's;
    ``written_sequence`` the meeting's ``sequence`` the calendar last received; ``deleted`` once
    the event was removed for a cancelled meeting."""

    __tablename__ = "external_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    meeting_id: Mapped[str] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"))
    calendar_id: Mapped[int] = mapped_column(
        ForeignKey("linked_calendars.id", ondelete="CASCADE"), index=True
    )
    provider: Mapped[str] = mapped_column(String(20))
    connection_id: Mapped[str] = mapped_column(ID)
    external_id: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    etag: Mapped[str | None] = mapped_column(String(500), nullable=True)
    written_sequence: Mapped[int | None] = mapped_column(Integer, nullable=True)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (UniqueConstraint("meeting_id", "calendar_id"),)


class OAuthState(Base):
    """One OAuth authorization request in flight: the ``state`` (its hash here), the browser
    session that started it, the PKCE verifier (sealed in ``secret``) and where to return.
    Used once (``used_at``); expires after a few minutes."""

    __tablename__ = "oauth_states"
    state_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    #: The principal key of the browser session that started it (a digest, never the token).
    session_key: Mapped[str] = mapped_column(String(100))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    provider: Mapped[str] = mapped_column(String(20))
    secret: Mapped[str] = mapped_column(Text)
    return_to: Mapped[str] = mapped_column(String(2000))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
