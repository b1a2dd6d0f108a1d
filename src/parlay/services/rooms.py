"""Rooms: create, add members, list by latest activity, read."""

from __future__ import annotations

from sqlalchemy import select, tuple_

from parlay.db.models import Room, RoomMember, User
from parlay.domain.errors import AlreadyMember, UnknownUser
from parlay.services.access import access_room, is_member, members_by_room, room_members
from parlay.services.accounts import normalize_email
from parlay.services.context import Context
from parlay.services.messages import add_message
from parlay.services.uow import unit_of_work
from parlay.services.views import RoomRead


async def do_create_room(
    ctx: Context, creator: User, *, title: str, member_emails: list[str]
) -> RoomRead:
    emails = {normalize_email(e) for e in member_emails} - {creator.email}
    async with unit_of_work(ctx) as uow:
        found = list(await uow.session.scalars(select(User).where(User.email.in_(emails))))
        missing = sorted(emails - {u.email for u in found})
        if missing:
            raise UnknownUser(f"No user has the email {missing[0]}.", field="member_emails")
        room = Room(title=title.strip(), created_by=creator.id, created_at=uow.now)
        uow.session.add(room)
        await uow.session.flush()
        for member in [creator, *found]:
            uow.session.add(RoomMember(room_id=room.id, user_id=member.id, joined_at=uow.now))
        await uow.session.flush()
        await add_message(
            uow, room, sender=None, kind="system", body=f"{creator.display_name} created the room."
        )
        return RoomRead.of(room, await room_members(uow.session, room.id))


async def do_add_member(ctx: Context, actor: User, room_id: str, email: str) -> RoomRead:
    async with unit_of_work(ctx) as uow:
        room = await access_room(uow.session, room_id, actor)
        user = await uow.session.scalar(select(User).where(User.email == normalize_email(email)))
        if user is None:
            raise UnknownUser(field="email")
        if await is_member(uow.session, room.id, user.id):
            raise AlreadyMember(field="email")
        uow.session.add(RoomMember(room_id=room.id, user_id=user.id, joined_at=uow.now))
        await uow.session.flush()
        await add_message(
            uow,
            room,
            sender=None,
            kind="system",
            body=f"{actor.display_name} added {user.display_name}.",
        )
        return RoomRead.of(room, await room_members(uow.session, room.id))


async def get_room(ctx: Context, user: User, room_id: str) -> RoomRead:
    async with ctx.db.read() as session:
        room = await access_room(session, room_id, user)
        return RoomRead.of(room, await room_members(session, room.id))


async def list_rooms(
    ctx: Context, user: User, *, after: tuple[int, str] | None, limit: int
) -> tuple[list[RoomRead], tuple[int, str] | None]:
    """Rooms of ``user``, newest activity first (by last message id, not by the clock)."""
    async with ctx.db.read() as session:
        query = (
            select(Room)
            .join(RoomMember, RoomMember.room_id == Room.id)
            .where(RoomMember.user_id == user.id)
        )
        if after is not None:
            query = query.where(tuple_(Room.last_message_id, Room.id) < tuple_(*after))
        rows = list(
            (
                await session.scalars(
                    query.order_by(Room.last_message_id.desc(), Room.id.desc()).limit(limit + 1)
                )
            ).all()
        )
        more = len(rows) > limit
        rows = rows[:limit]
        members = await members_by_room(session, [r.id for r in rows])
        page = [RoomRead.of(r, members[r.id]) for r in rows]
    cursor = (rows[-1].last_message_id, rows[-1].id) if more and rows else None
    return page, cursor
