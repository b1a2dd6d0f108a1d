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


class MessageRead(BaseModel):
    id: int
    room_id: str
    sender: MemberRead | None
    kind: MessageKind
    body: str
    meeting_invite: dict[str, Any] | None = None
    meeting: dict[str, Any] | None = None
    created_at: datetime
