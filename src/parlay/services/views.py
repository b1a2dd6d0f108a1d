"""Read models: the JSON shapes of the API, also used as live event payloads."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel

from parlay.db.models import Room, User

TimeFormat = Literal["auto", "12h", "24h"]


class UserRead(BaseModel):
    id: str
    email: str
    display_name: str
    time_zone: str
    #: How the UI writes times: "auto" follows the browser's locale.
    time_format: TimeFormat = "auto"

    @classmethod
    def of(cls, user: User) -> UserRead:
        stored = user.time_format
        time_format: TimeFormat = "12h" if stored == "12h" else "24h" if stored == "24h" else "auto"
        return cls(
            id=user.id,
            email=user.email,
            display_name=user.display_name,
            time_zone=user.time_zone,
            time_format=time_format,
        )


class MeRead(UserRead):
    csrf_token: str | None = None


class MemberRead(BaseModel):
    id: str
    display_name: str

    @classmethod
    def of(cls, user: User) -> MemberRead:
        return cls(id=user.id, display_name=user.display_name)


class RoomRead(BaseModel):
    id: str
    title: str
    members: list[MemberRead]
    created_at: datetime

    @classmethod
    def of(cls, room: Room, members: list[User]) -> RoomRead:
        return cls(
            id=room.id,
            title=room.title,
            members=[MemberRead.of(u) for u in members],
            created_at=room.created_at,
        )


MessageKind = Literal["text", "meeting_invite", "meeting", "meeting_update", "system"]
NoticeAction = Literal["booked", "rescheduled", "cancelled"]


class NoticeRead(BaseModel):
    """What a meeting notice says, as data: each reader renders the sentence in their own time
    zone.  Instants are UTC.  ``booked``: actor, host, start, end; ``rescheduled``: actor,
    from_start, to_start (= start), start, end, reason; ``cancelled``: actor, start, end,
    reason."""

    action: NoticeAction
    actor: MemberRead
    host: MemberRead | None = None
    start: datetime | None = None
    end: datetime | None = None
    from_start: datetime | None = None
    to_start: datetime | None = None
    reason: str | None = None


class MessageRead(BaseModel):
    id: int
    room_id: str
    sender: MemberRead | None
    kind: MessageKind
    body: str
    meeting_invite: dict[str, Any] | None = None
    meeting: dict[str, Any] | None = None
    #: Meeting notices (kinds ``meeting`` and ``meeting_update``) written since revision 0005;
    #: None for other kinds and older notices (render ``body`` then).
    notice: NoticeRead | None = None
    created_at: datetime
