"""Rooms: create, add members, list by latest activity, read.

Any member may add any registered user; the added user hears of it live (the room's system
message "X added Y" reaches them as ``message.created``).  Naming an e-mail without an account
answers 422 ``unknown_user``, so those answers are rate-limited per caller (each costs one
lookup per e-mail it reveals; parlay.services.ratelimits): no cheap enumeration of accounts.
"""

from __future__ import annotations

from sqlalchemy import select, tuple_
from sqlalchemy.exc import IntegrityError

from parlay.db.models import Room, RoomMember, User
from parlay.domain.errors import AlreadyMember, UnknownUser
from parlay.services.access import access_room, is_member, members_by_room, room_members
from parlay.services.accounts import normalize_email
from parlay.services.context import Context
from parlay.services.messages import add_message
from parlay.services.uow import retrying, unit_of_work
from parlay.services.views import RoomRead


@retrying
async def do_create_room(
    ctx: Context, creator: User, *, title: str, member_emails: list[str]
) -> RoomRead:
    emails = sorted({normalize_email(e) for e in member_emails} - {creator.email})
    if emails:
        await ctx.limiter.check_lookups(creator.id)
    revealed = 0
    try:
        async with unit_of_work(ctx) as uow:
            found = list(await uow.session.scalars(select(User).where(User.email.in_(emails))))
            missing = sorted(set(emails) - {u.email for u in found})
            if missing:
                # Naming the first unknown e-mail tells that the ones before it exist.
                revealed = emails.index(missing[0]) + 1
                raise UnknownUser(f"No user has the email {missing[0]}.", field="member_emails")
            room = Room(title=title.strip(), created_by=creator.id, created_at=uow.now)
            uow.session.add(room)
            await uow.session.flush()
            for member in [creator, *found]:
                uow.session.add(RoomMember(room_id=room.id, user_id=member.id, joined_at=uow.now))
            await uow.session.flush()
            body = f"{creator.display_name} created the room."
            await add_message(uow, room, sender=None, kind="system", body=body)
            return RoomRead.of(room, await room_members(uow.session, room.id))
    except UnknownUser:
        # Charged once the transaction is over: no lock waits on the limiter (maybe Redis).
        await ctx.limiter.spend_lookups(creator.id, revealed)
        raise


@retrying
async def do_add_member(ctx: Context, actor: User, room_id: str, email: str) -> RoomRead:
    """Add the user with ``email`` (any member may add anyone; they are told live)."""
    await ctx.limiter.check_lookups(actor.id)
    try:
        async with unit_of_work(ctx) as uow:
            # The room's row lock serializes additions to it: of simultaneous requests to add
            # the same person one adds them and the others find them a member (409).
            room = await access_room(uow.session, room_id, actor, lock=True)
            user = await uow.session.scalar(
                select(User).where(User.email == normalize_email(email))
            )
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
    except IntegrityError as exc:  # the safety net, should a membership slip past the lock
        raise AlreadyMember(field="email") from exc
    except UnknownUser:
        await ctx.limiter.spend_lookups(actor.id, 1)  # after the transaction, as above
        raise


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
