"""Messages: posting (text and the system/scheduling kinds), history pages, serialization."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Update, bindparam, case, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from parlay.db.direct import (
    DirectWriteLostRace,
    DirectWriteOutcomeUnknown,
    DirectWriteUnavailable,
)
from parlay.db.models import Message, Room, User
from parlay.db.session import WriteQueueTimeout
from parlay.domain.errors import NotAMember, OutcomeUnknown, TryAgain
from parlay.services.access import access_room, room_member_ids
from parlay.services.chat_post import POST_TEXT, sqlite_post, text_message
from parlay.services.context import Context
from parlay.services.events import last_event_id
from parlay.services.scheduling_views import embedded_state, embedded_states
from parlay.services.uow import ATTEMPTS, UnitOfWork
from parlay.services.views import MemberRead, MessageRead

MAX_BODY = 10_000


async def message_reads(
    session: AsyncSession, messages: Sequence[Message], base_url: str
) -> list[MessageRead]:
    """The API shapes of ``messages`` in a fixed number of queries, whatever their number:
    the senders in one, what the scheduling messages embed in a few (``embedded_states``)."""
    wanted = {m.sender_id for m in messages if m.sender_id}
    senders = (
        {u.id: u for u in await session.scalars(select(User).where(User.id.in_(wanted)))}
        if wanted
        else {}
    )
    extras = await embedded_states(session, messages, base_url)
    return [
        _shape(m, senders.get(m.sender_id or ""), extra)
        for m, extra in zip(messages, extras, strict=True)
    ]


def _shape(message: Message, sender: User | None, extra: dict[str, Any]) -> MessageRead:
    return MessageRead(
        id=message.id,
        room_id=message.room_id,
        sender=MemberRead.of(sender) if sender else None,
        kind=message.kind,  # type: ignore[arg-type]
        body=message.body,
        created_at=message.created_at,
        **extra,
    )


async def message_read(
    session: AsyncSession, message: Message, base_url: str, *, sender: User | None = None
) -> MessageRead:
    """The API shape of ``message``; pass ``sender`` when the caller already has it."""
    if sender is None or sender.id != message.sender_id:
        return (await message_reads(session, [message], base_url))[0]
    return _shape(message, sender, await embedded_state(session, message, base_url))


def _insert_and_bump_pg() -> Update:
    """PostgreSQL: insert the message and move the room's newest-message id forward in one
    statement (the insert is a CTE the update reads the new id from)."""
    inserted = (
        insert(Message)
        .values(
            room_id=bindparam("v_room_id"),
            sender_id=bindparam("v_sender_id"),
            kind=bindparam("v_kind"),
            body=bindparam("v_body"),
            invite_id=bindparam("v_invite_id"),
            meeting_id=bindparam("v_meeting_id"),
            data=bindparam("v_data", type_=Message.data.type),
            created_at=bindparam("v_created_at", type_=Message.created_at.type),
        )
        .returning(Message.id, Message.room_id)
        .cte("inserted")
    )
    return (
        update(Room)
        .where(Room.id == inserted.c.room_id)
        .values(last_message_id=_newer(inserted.c.id))
        .returning(inserted.c.id)
    )


def _newer(message_id: Any) -> Any:
    """The room's newest-message id moved forward, never back: ids are taken at insert but
    transactions commit in any order, so a plain assignment could overwrite a newer id with an
    older one.  The comparison runs inside the UPDATE, on the row as locked."""
    return case((Room.last_message_id < message_id, message_id), else_=Room.last_message_id)


_INSERT_AND_BUMP_PG = _insert_and_bump_pg()


async def _insert(session: AsyncSession, message: Message) -> int:
    """Insert ``message`` and bump its room's activity: one round trip on PostgreSQL, two on
    SQLite (no data-modifying CTEs there)."""
    values = {
        "room_id": message.room_id,
        "sender_id": message.sender_id,
        "kind": message.kind,
        "body": message.body,
        "invite_id": message.invite_id,
        "meeting_id": message.meeting_id,
        "data": message.data,
        "created_at": message.created_at,
    }
    connection = await session.connection()
    if connection.dialect.name == "postgresql":
        bound = {f"v_{key}": value for key, value in values.items()}
        return int((await connection.execute(_INSERT_AND_BUMP_PG, bound)).scalar_one())
    new_id = int(
        (await connection.execute(insert(Message).returning(Message.id), values)).scalar_one()
    )
    await connection.execute(
        update(Room).where(Room.id == message.room_id).values(last_message_id=_newer(new_id))
    )
    return new_id


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
    recipients: set[str] | None = None,
) -> MessageRead:
    """Insert a message, bump the room's activity and emit ``message.created`` to members
    (``recipients``, when the caller has just read them).  ``data``: a meeting notice's
    structured content (see ``scheduling_views.notice_data``)."""
    await uow.session.flush()  # the use case's own pending rows come first (invites, ...)
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
    message.id = await _insert(uow.session, message)
    read = await message_read(uow.session, message, uow.ctx.base_url, sender=sender)
    if recipients is None:
        recipients = await room_member_ids(uow.session, room.id)
    await uow.emit("message.created", read.model_dump(mode="json"), recipients)
    return read


async def emit_message_updated(uow: UnitOfWork, message: Message) -> None:
    read = await message_read(uow.session, message, uow.ctx.base_url)
    recipients = await room_member_ids(uow.session, message.room_id)
    await uow.emit("message.updated", read.model_dump(mode="json"), recipients)


async def do_post_message(ctx: Context, user: User, room_id: str, body: str) -> MessageRead:
    """The hot path of a chat (``parlay.services.chat_post``): one self-committing statement on
    PostgreSQL, one inline transaction on SQLite."""
    if not ctx.db.direct.writes:
        return await _post_sqlite(ctx, user, room_id, body)
    now = ctx.now()
    payload = text_message(user, room_id, body, now, 0).model_dump_json()
    for attempt in range(1, ATTEMPTS + 1):
        try:
            rows = await ctx.db.direct.write(
                POST_TEXT,
                room_id=room_id,
                sender_id=user.id,
                kind="text",
                body=body,
                created_at=now,
                payload=payload,
                type="message.created",
            )
        except DirectWriteOutcomeUnknown as exc:
            raise OutcomeUnknown() from exc
        except DirectWriteUnavailable as exc:
            raise TryAgain() from exc
        except DirectWriteLostRace as exc:
            if attempt == ATTEMPTS:
                raise TryAgain() from exc
            await asyncio.sleep(random.uniform(0, 0.01 * 2**attempt))
            continue
        break
    if not rows:
        raise NotAMember("Room not found.")
    await ctx.broker.notify()
    return text_message(user, room_id, body, now, int(rows[0]["message_id"]))


async def _post_sqlite(ctx: Context, user: User, room_id: str, body: str) -> MessageRead:
    """SQLite: this process's write queue, then one inline transaction (no thread hops)."""
    try:
        async with ctx.db.writing():
            message = await ctx.db.direct.sqlite_transaction(
                sqlite_post(user, room_id, body, ctx.now())
            )
    except WriteQueueTimeout as exc:
        raise TryAgain() from exc
    if message is None:
        raise NotAMember("Room not found.")
    await ctx.broker.notify()
    return message


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
        page = await message_reads(session, rows, ctx.base_url)
    next_cursor = rows[0].id if more and rows else None
    return page, next_cursor, live_cursor
