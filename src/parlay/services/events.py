"""The live event log: written inside a use case's transaction, read by the hub.

Event ids must become visible in id order, or a client resuming from a cursor could skip an
event committed late with a smaller id.  SQLite serializes writers, so that holds there; on
PostgreSQL, a transaction-scoped advisory lock taken before the first event insert makes
event-writing transactions assign ids and commit one at a time.  The lock is held only from the
event insert to the commit, which does not wait for the disk (readers that hand ids to clients
wait for it instead, ``parlay.db.durable``): a chat post takes it within its one statement
(``parlay.services.chat_post``), a unit of work inside its COMMIT, where a deferred trigger
publishes the drafts it wrote (``append_events``).

An event names its recipients in ``event_recipients`` rows, or is addressed to a room
(``events.room_id``, a chat message): its recipients are then the room's members who had joined
by the time it was written (``joined_at <= created_at``; rooms only gain members), and posting
in a room of a thousand writes one row, not a thousand.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Select,
    and_,
    bindparam,
    func,
    insert,
    null,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession

from parlay.db.direct import DirectQuery
from parlay.db.durable import DurabilityUnknown
from parlay.db.models import Event, EventDraft, EventRecipient, RoomMember
from parlay.db.session import Database
from parlay.domain.errors import TryAgain
from parlay.realtime.hub import LiveEvent

EVENT_LOCK_KEY = 727_001
BATCH = 500


@dataclass(frozen=True, slots=True)
class PendingEvent:
    """A live event a use case has emitted and its transaction has not written yet."""

    type: str
    data: dict[str, Any]
    recipients: frozenset[str]


async def append_events(session: AsyncSession, pending: list[PendingEvent], *, now: Any) -> None:
    """Write ``pending`` in order, as the transaction's last statement before its commit.

    PostgreSQL: as drafts (one statement), which a deferred trigger publishes into ``events``
    as the transaction commits (migration 0015): it takes the event lock there, so the lock is
    held for the inserts and the commit only, inside the server, never across a round trip to
    this process or while it waits for its turn on the event loop.  The commit does not wait
    for the disk (``parlay.db.durable``: the unit of work waits for it after the commit)."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(
            insert(EventDraft),
            [
                {
                    "type": p.type,
                    "data": p.data,
                    "created_at": now,
                    "recipients": sorted(p.recipients),
                }
                for p in pending
            ],
        )
        return
    rows = [Event(type=p.type, data=p.data, created_at=now) for p in pending]
    session.add_all(rows)
    await session.flush()
    session.add_all(
        EventRecipient(event_id=row.id, user_id=user_id)
        for row, p in zip(rows, pending, strict=True)
        for user_id in p.recipients
    )
    await session.flush()


def _member_when_posted(room_id: Any, created_at: Any) -> ColumnElement[bool]:
    """Joins a room-addressed event (its ``room_id`` and ``created_at`` columns) to the
    members its room had when it was written."""
    return and_(RoomMember.room_id == room_id, RoomMember.joined_at <= created_at)


def _batch_after() -> CompoundSelect:
    """The next ``BATCH`` events after ``:after`` and their recipients, in one statement (one
    snapshot, one round trip): a row per event (``user_id`` NULL), then a row per recipient
    (``type`` and ``data`` NULL): the event's own recipients' rows and, for a room-addressed
    event, the members its room had when it was written."""
    batch = (
        select(Event.id, Event.type, Event.data, Event.room_id, Event.created_at)
        .where(Event.id > bindparam("after"))
        .order_by(Event.id)
        .limit(BATCH)
        .cte("batch")
    )
    events_ = select(batch.c.id, batch.c.type, batch.c.data, null().label("user_id"))
    listed = select(EventRecipient.event_id, null(), null(), EventRecipient.user_id).join(
        batch, batch.c.id == EventRecipient.event_id
    )
    members = select(batch.c.id, null(), null(), RoomMember.user_id).join(
        RoomMember, _member_when_posted(batch.c.room_id, batch.c.created_at)
    )
    return union_all(events_, listed, members)


_BATCH_AFTER = DirectQuery(_batch_after())


async def fetch_after(db: Database, last_id: int) -> list[LiveEvent]:
    """The next batch of events after ``last_id``, in order, with their recipients: what every
    node's hub reads after each wake-up (one direct read; on disk before it is answered)."""
    found: dict[int, dict[str, Any]] = {}
    recipients: dict[int, set[str]] = {}
    for row in await db.direct.fetch_flushed(_BATCH_AFTER, after=last_id):
        if row["user_id"] is None:
            found[row["id"]] = row
        else:
            recipients.setdefault(row["id"], set()).add(row["user_id"])
    return [
        LiveEvent(id_, row["type"], row["data"], frozenset(recipients.get(id_, ())))
        for id_, row in sorted(found.items())
    ]


def _for_user() -> Select[Any]:
    """Every event for ``:user_id`` after ``:since``, in order (one batch): those listing them
    as a recipient and those addressed to a room they are a member of."""
    user = bindparam("user_id", type_=RoomMember.user_id.type)
    since = bindparam("since", type_=Event.id.type)
    listed = (
        select(Event.id, Event.type, Event.data)
        .join(EventRecipient, EventRecipient.event_id == Event.id)
        .where(EventRecipient.user_id == user, Event.id > since)
        .order_by(Event.id)
        .limit(BATCH)
    )
    in_rooms = (
        select(Event.id, Event.type, Event.data)
        .join(RoomMember, _member_when_posted(Event.room_id, Event.created_at))
        .where(RoomMember.user_id == user, Event.id > since)
        .order_by(Event.id)
        .limit(BATCH)
    )
    both = union_all(listed.subquery().select(), in_rooms.subquery().select()).subquery()
    return select(both).order_by(both.c.id).limit(BATCH)


_FOR_USER = DirectQuery(_for_user())


async def fetch_for_user(db: Database, user_id: str, since: int) -> list[LiveEvent]:
    """``_for_user``'s events (one direct read; on disk before it is answered).  Each event's
    ``recipients`` is just ``user_id``: a replay goes to one socket."""
    try:
        rows = await db.direct.fetch_flushed(_FOR_USER, user_id=user_id, since=since)
    except DurabilityUnknown as exc:  # a read: asking again is harmless
        raise TryAgain() from exc
    me = frozenset((user_id,))
    return [LiveEvent(row["id"], row["type"], row["data"], me) for row in rows]


_LAST_ID = DirectQuery(select(func.coalesce(func.max(Event.id), 0).label("last")))


async def last_event_id(db: Database) -> int:
    """The newest event's id, once it is on disk: a cursor a client may resume from."""
    try:
        rows = await db.direct.fetch_flushed(_LAST_ID)
    except DurabilityUnknown as exc:  # a read: asking again is harmless
        raise TryAgain() from exc
    return int(rows[0]["last"]) if rows else 0
