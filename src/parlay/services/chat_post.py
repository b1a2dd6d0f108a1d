"""A text message posted in ONE self-committing PostgreSQL statement (on SQLite, one short
write transaction run inline): the hot path of a chat.

A post through the unit of work costs six round trips (pool ping, BEGIN, membership and
recipients, message and room, event, COMMIT), each one a wake-up of the event loop and of a
PostgreSQL backend.  This statement does the same work in one, with the same guarantees:

- **access**: the message row is selected FROM the caller's membership row, so a non-member
  inserts nothing and gets no row back (404, as ``access_room``);
- **room activity**: the room's newest-message id only moves forward (``messages._newer``);
- **recipients**: the event is addressed to the room (``events.room_id``): its recipients are
  the room's members, read when it is delivered, with no row per member;
- **event order**: the event lock CTE reads FROM the room update's output, so it is taken only
  after the room's row lock is held (it never waits on a row lock while holding the event
  lock), and the event's row is selected FROM the lock CTE, so its id (``nextval``) is drawn
  after the lock is held; the statement commits on its own right after, still holding it.
  Event ids therefore become visible in commit order, as ``parlay.services.events`` requires;
- **durability**: the lock CTE also makes the commit asynchronous, so the lock is not held
  across an fsync; ``DirectReader.write`` answers only once the commit is on disk
  (``parlay.db.durable``);
- **all or nothing**: one statement is one transaction.

The payload is the ``MessageRead`` the API answers, serialized in Python (JSON text) with id 0
and given its id in SQL (``jsonb ||``), so the live frame and the POST answer are the same object.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    ColumnElement,
    Text,
    bindparam,
    cast,
    exists,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB

from parlay.db.direct import DirectQuery
from parlay.db.durable import ASYNC_COMMIT
from parlay.db.models import Event, Message, Room, RoomMember, User
from parlay.services.events import EVENT_LOCK_KEY
from parlay.services.views import MemberRead, MessageRead


def _newer(message_id: ColumnElement[int]) -> ColumnElement[int]:
    return func.greatest(Room.last_message_id, message_id)


def _statement() -> DirectQuery:
    room_id = bindparam("room_id", type_=Message.room_id.type)
    member = exists().where(
        RoomMember.room_id == room_id, RoomMember.user_id == bindparam("sender_id")
    )
    created_at = bindparam("created_at", type_=Message.created_at.type)
    inserted = (
        insert(Message)
        .from_select(
            ["room_id", "sender_id", "kind", "body", "created_at"],
            select(
                room_id,
                bindparam("sender_id", type_=Message.sender_id.type),
                bindparam("kind", type_=Message.kind.type),
                bindparam("body", type_=Message.body.type),
                created_at,
            ).where(member),
        )
        .returning(Message.id, Message.room_id)
        .cte("inserted")
    )
    bumped = (
        update(Room)
        .where(Room.id == inserted.c.room_id)
        .values(last_message_id=_newer(inserted.c.id))
        .returning(inserted.c.id)
        .cte("bumped")
    )
    lock = select(
        bumped.c.id,
        func.pg_advisory_xact_lock(EVENT_LOCK_KEY).label("locked"),
        ASYNC_COMMIT.label("async_commit"),
    ).cte("event_lock")
    payload = cast(
        cast(bindparam("payload", type_=Text), JSONB).op("||")(
            func.jsonb_build_object("id", lock.c.id)
        ),
        JSON,
    )
    event = (
        insert(Event)
        .from_select(
            ["type", "data", "created_at", "room_id"],
            select(
                bindparam("type", type_=Event.type.type), payload, created_at, room_id
            ).select_from(lock),
        )
        .returning(Event.id)
        .cte("event")
    )
    # The event is addressed to the room (its members are its recipients).  Its id is read
    # because SQLAlchemy renders only the CTEs a statement refers to.
    return DirectQuery(
        select(
            bumped.c.id.label("message_id"),
            select(event.c.id).scalar_subquery().label("event_id"),
        )
    )


POST_TEXT = _statement()


def text_message(sender: User, room_id: str, body: str, now: datetime, id_: int) -> MessageRead:
    return MessageRead(
        id=id_,
        room_id=room_id,
        sender=MemberRead.of(sender),
        kind="text",
        body=body,
        created_at=now,
    )


# SQLite has no data-modifying CTEs: the same work is four statements in one short write
# transaction run inline on the event loop (``DirectReader.sqlite_transaction``), in the same
# order (membership, message, room activity, the room's event).
_MEMBER = DirectQuery(
    select(RoomMember.user_id).where(
        RoomMember.room_id == bindparam("room"), RoomMember.user_id == bindparam("user")
    )
)
_INSERT_MESSAGE = DirectQuery(
    insert(Message)
    .values(
        room_id=bindparam("v_room", type_=Message.room_id.type),
        sender_id=bindparam("v_sender", type_=Message.sender_id.type),
        kind="text",
        body=bindparam("v_body", type_=Message.body.type),
        created_at=bindparam("v_now", type_=Message.created_at.type),
    )
    .returning(Message.id)
)
_BUMP = DirectQuery(
    update(Room)
    .where(Room.id == bindparam("v_room", type_=Room.id.type))
    .values(last_message_id=func.max(Room.last_message_id, bindparam("v_id", type_=BigInteger)))
)
_INSERT_EVENT = DirectQuery(
    insert(Event)
    .values(
        type="message.created",
        data=bindparam("v_data", type_=Event.data.type),
        created_at=bindparam("v_now", type_=Event.created_at.type),
        room_id=bindparam("v_room", type_=Event.room_id.type),
    )
    .returning(Event.id)
)


def sqlite_post(
    sender: User, room_id: str, body: str, now: datetime
) -> Callable[[Callable[..., list[dict[str, Any]]]], MessageRead | None]:
    """The body of the SQLite post transaction; it answers None if ``sender`` is not a
    member (nothing written)."""

    def work(run: Callable[..., list[dict[str, Any]]]) -> MessageRead | None:
        if not run(_MEMBER, room=room_id, user=sender.id):
            return None
        rows = run(_INSERT_MESSAGE, v_room=room_id, v_sender=sender.id, v_body=body, v_now=now)
        message = text_message(sender, room_id, body, now, int(rows[0]["id"]))
        run(_BUMP, v_room=room_id, v_id=message.id)
        data = message.model_dump(mode="json")
        run(_INSERT_EVENT, v_data=data, v_now=now, v_room=room_id)
        return message

    return work
