"""Messages: posting (text and the system/scheduling kinds), history pages, serialization."""

from __future__ import annotations

from typing import Any

from sqlalchemy import case, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from parlay.db.models import Message, Room, User
from parlay.services.access import access_room, room_member_ids
from parlay.services.context import Context
from parlay.services.events import last_event_id
from parlay.services.scheduling_views import embedded_state
from parlay.services.uow import UnitOfWork, retrying, unit_of_work
from parlay.services.views import MemberRead, MessageRead

MAX_BODY = 10_000


async def message_read(
    session: AsyncSession, message: Message, base_url: str, *, sender: User | None = None
) -> MessageRead:
    """The API shape of ``message``; pass ``sender`` when the caller already has it."""
    if sender is None and message.sender_id:
        sender = await session.get(User, message.sender_id)
    extra = await embedded_state(session, message, base_url)
    return MessageRead(
        id=message.id,
        room_id=message.room_id,
        sender=MemberRead.of(sender) if sender else None,
        kind=message.kind,  # type: ignore[arg-type]
        body=message.body,
        created_at=message.created_at,
        **extra,
    )


async def _bump_activity(session: AsyncSession, room_id: str, message_id: int) -> None:
    """Move the room's newest-message id forward, never back: ids are taken at insert but
    transactions commit in any order, so a plain assignment could overwrite a newer id with an
    older one.  The comparison runs inside the UPDATE, on the row as locked."""
    await session.execute(
        update(Room)
        .where(Room.id == room_id)
        .values(
            last_message_id=case(
                (Room.last_message_id < message_id, message_id), else_=Room.last_message_id
            )
        )
        .execution_options(synchronize_session=False)
    )


async def add_message(
    uow: UnitOfWork,
    room: Room,
    *,
    sender: User | None,
    kind: str,
    body: str,
    invite_id: str | None = None,
    meeting_id: str | None = None,
    data: dict[str, Any] | None = None,
) -> MessageRead:
    """Insert a message, bump the room's activity and emit ``message.created`` to members.
    ``data``: a meeting notice's structured content (see ``scheduling_views.notice_data``)."""
    message = Message(
        room_id=room.id,
        sender_id=sender.id if sender else None,
        kind=kind,
        body=body,
        invite_id=invite_id,
        meeting_id=meeting_id,
        data=data,
        created_at=uow.now,
    )
    uow.session.add(message)
    await uow.session.flush()
    await _bump_activity(uow.session, room.id, message.id)
    read = await message_read(uow.session, message, uow.ctx.base_url, sender=sender)
    recipients = await room_member_ids(uow.session, room.id)
    await uow.emit("message.created", read.model_dump(mode="json"), recipients)
    return read


async def emit_message_updated(uow: UnitOfWork, message: Message) -> None:
    read = await message_read(uow.session, message, uow.ctx.base_url)
    recipients = await room_member_ids(uow.session, message.room_id)
    await uow.emit("message.updated", read.model_dump(mode="json"), recipients)


@retrying
async def do_post_message(ctx: Context, user: User, room_id: str, body: str) -> MessageRead:
    async with unit_of_work(ctx) as uow:
        room = await access_room(uow.session, room_id, user)
        return await add_message(uow, room, sender=user, kind="text", body=body)


async def list_messages(
    ctx: Context, user: User, room_id: str, *, before: int | None, limit: int
) -> tuple[list[MessageRead], int | None, int]:
    """A page of history, oldest first; the cursor (a message id) fetches the page before.

    Also returns the live-event cursor the page is at least as new as: read *before* the
    page, so every event after it may be newer than the page and a socket resuming from it
    (``?since=``) misses nothing; events the page already shows come again and are
    recognised by their message id."""
    live_cursor = await last_event_id(ctx.db)
    async with ctx.db.read() as session:
        await access_room(session, room_id, user)
        query = select(Message).where(Message.room_id == room_id)
        if before is not None:
            query = query.where(Message.id < before)
        rows = list(
            (await session.scalars(query.order_by(Message.id.desc()).limit(limit + 1))).all()
        )
        more = len(rows) > limit
        rows = rows[:limit]
        rows.reverse()
        page = [await message_read(session, m, ctx.base_url) for m in rows]
    next_cursor = rows[0].id if more and rows else None
    return page, next_cursor, live_cursor
