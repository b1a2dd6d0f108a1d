"""Load a room-scoped thing and check the caller may see it, or raise NotAMember (a 404)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from parlay.db.models import Room, RoomMember, User
from parlay.domain.errors import NotAMember


async def is_member(session: AsyncSession, room_id: str, user_id: str) -> bool:
    found = await session.scalar(
        select(RoomMember.user_id).where(
            RoomMember.room_id == room_id, RoomMember.user_id == user_id
        )
    )
    return found is not None


async def access_room(session: AsyncSession, room_id: str, user: User) -> Room:
    room = await session.get(Room, room_id)
    if room is None or not await is_member(session, room_id, user.id):
        raise NotAMember("Room not found.")
    return room


async def room_member_ids(session: AsyncSession, room_id: str) -> set[str]:
    rows = await session.scalars(select(RoomMember.user_id).where(RoomMember.room_id == room_id))
    return set(rows)


async def room_members(session: AsyncSession, room_id: str) -> list[User]:
    rows = await session.scalars(
        select(User)
        .join(RoomMember, RoomMember.user_id == User.id)
        .where(RoomMember.room_id == room_id)
        .order_by(RoomMember.joined_at, User.display_name)
    )
    return list(rows)
