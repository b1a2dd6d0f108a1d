"""Load a room-scoped thing and check the caller may see it, or raise NotAMember (a 404)."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from parlay.db.models import Room, RoomMember, User
from parlay.db.scheduling_models import Invite, Meeting
from parlay.domain.errors import NotAMember

Scoped = TypeVar("Scoped", Invite, Meeting)


async def is_member(session: AsyncSession, room_id: str, user_id: str) -> bool:
    found = await session.scalar(
        select(RoomMember.user_id).where(
            RoomMember.room_id == room_id, RoomMember.user_id == user_id
        )
    )
    return found is not None


async def access_room(
    session: AsyncSession, room_id: str, user: User, *, lock: bool = False
) -> Room:
    """The room, if ``user`` is a member; with ``lock`` its row is locked for the rest of the
    transaction (PostgreSQL FOR UPDATE), which serializes changes to its membership."""
    query = select(Room).join(RoomMember, membership(Room, user.id)).where(Room.id == room_id)
    if lock:
        query = query.with_for_update(of=Room)
    room = await session.scalar(query)
    if room is None:
        raise NotAMember("Room not found.")
    return room


def membership(model: type[Scoped] | type[Room], user_id: Any) -> ColumnElement[bool]:
    """The join to the caller's membership row: no row, no access."""
    room_id = model.id if model is Room else model.room_id  # type: ignore[union-attr]
    return (RoomMember.room_id == room_id) & (RoomMember.user_id == user_id)


async def _access_in_room(
    session: AsyncSession, model: type[Scoped], id_: str, user: User, *, lock: bool
) -> Scoped:
    """One query: the row, if it exists and ``user`` is a member of its room.  With ``lock``
    the row (only it) is locked for the rest of the transaction (PostgreSQL FOR UPDATE; SQLite
    write transactions are serialized anyway)."""
    query = select(model).join(RoomMember, membership(model, user.id)).where(model.id == id_)
    if lock:
        query = query.with_for_update(of=model)
    found = await session.scalar(query)
    if found is None:
        raise NotAMember(f"{model.__name__} not found.")
    return found


async def access_invite(
    session: AsyncSession, invite_id: str, user: User, *, lock: bool = False
) -> Invite:
    return await _access_in_room(session, Invite, invite_id, user, lock=lock)


async def access_meeting(
    session: AsyncSession, meeting_id: str, user: User, *, lock: bool = False
) -> Meeting:
    return await _access_in_room(session, Meeting, meeting_id, user, lock=lock)


async def room_member_ids(session: AsyncSession, room_id: str) -> set[str]:
    rows = await session.scalars(select(RoomMember.user_id).where(RoomMember.room_id == room_id))
    return set(rows)


async def members_by_room(session: AsyncSession, room_ids: list[str]) -> dict[str, list[User]]:
    """The members of each room in one query, in joining order."""
    rows = await session.execute(
        select(RoomMember.room_id, User)
        .join(User, RoomMember.user_id == User.id)
        .where(RoomMember.room_id.in_(room_ids))
        .order_by(RoomMember.joined_at, User.display_name)
    )
    found: dict[str, list[User]] = {room_id: [] for room_id in room_ids}
    for room_id, user in rows:
        found[room_id].append(user)
    return found


async def room_members(session: AsyncSession, room_id: str) -> list[User]:
    return (await members_by_room(session, [room_id]))[room_id]
