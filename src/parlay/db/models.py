"""ORM models of accounts, rooms, messages and the live event log.

Scheduling models live in ``scheduling_models``; both register on the one ``Base.metadata``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from parlay.db.base import ID, Base, UTCDateTime, new_id

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL wants BIGINT identities.
BigInt = BigInteger().with_variant(Integer(), "sqlite")


class User(Base):
    __tablename__ = "users"
    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    time_zone: Mapped[str] = mapped_column(String(64))
    #: How the UI writes times: "auto" (the browser's locale), "12h" or "24h".
    time_format: Mapped[str] = mapped_column(String(8), default="auto", server_default="auto")
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class AuthSession(Base):
    """A server-side login session; the cookie carries the token, the row its hash."""

    __tablename__ = "auth_sessions"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    #: An opaque, stable name for the session (settings lists and revokes by it); never the
    #: token nor its hash.
    id: Mapped[str] = mapped_column(ID, unique=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())


class AccessToken(Base):
    """A personal access token (``Authorization: Bearer``); only its hash is stored."""

    __tablename__ = "access_tokens"
    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: When it last authenticated a request, written at most about once a minute.
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class Room(Base):
    __tablename__ = "rooms"
    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    title: Mapped[str] = mapped_column(String(200))
    created_by: Mapped[str] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: id of the newest message: orders the room list without trusting the clock.
    last_message_id: Mapped[int] = mapped_column(BigInt, default=0)


class RoomMember(Base):
    __tablename__ = "room_members"
    room_id: Mapped[str] = mapped_column(
        ForeignKey("rooms.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Message(Base):
    __tablename__ = "messages"
    id: Mapped[int] = mapped_column(BigInt, primary_key=True, autoincrement=True)
    room_id: Mapped[str] = mapped_column(ForeignKey("rooms.id", ondelete="CASCADE"))
    sender_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    kind: Mapped[str] = mapped_column(String(20))
    body: Mapped[str] = mapped_column(Text)
    invite_id: Mapped[str | None] = mapped_column(ID, nullable=True)
    meeting_id: Mapped[str | None] = mapped_column(ID, nullable=True)
    # Meeting notices: {"action", "actor", "start", "end", ...} (instants RFC 3339 UTC) so each
    # reader renders the sentence in their own zone; None for chat and for older notices.
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_messages_room_id_id", "room_id", "id"),)


class Event(Base):
    """The live event log: the WebSocket's source of truth and its resume cursor."""

    __tablename__ = "events"
    id: Mapped[int] = mapped_column(BigInt, primary_key=True, autoincrement=True)
    type: Mapped[str] = mapped_column(String(40))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: Set for an event addressed to a room: its recipients are the room's members (no
    #: ``event_recipients`` rows; see ``parlay.services.events``).
    room_id: Mapped[str | None] = mapped_column(
        ForeignKey("rooms.id", ondelete="CASCADE"), nullable=True
    )

    __table_args__ = (Index("ix_events_room_id_id", "room_id", "id"),)


class EventDraft(Base):
    """PostgreSQL: a live event a unit of work wrote, published into ``events`` (its id taken,
    its recipients listed) by a deferred trigger as its transaction commits, and deleted there:
    the table is empty outside open transactions (``parlay.services.events``).  Unused on
    SQLite."""

    __tablename__ = "event_drafts"
    id: Mapped[int] = mapped_column(BigInt, primary_key=True, autoincrement=True)
    type: Mapped[str] = mapped_column(String(40))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: The recipients' user ids (a JSON list).
    recipients: Mapped[list[str]] = mapped_column(JSON)


class EventRecipient(Base):
    __tablename__ = "event_recipients"
    event_id: Mapped[int] = mapped_column(
        ForeignKey("events.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(ID, primary_key=True)

    __table_args__ = (Index("ix_event_recipients_user_id_event_id", "user_id", "event_id"),)
