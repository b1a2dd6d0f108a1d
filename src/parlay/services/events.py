"""The live event log: written inside a use case's transaction, read by the hub.

Event ids must become visible in id order, or a client resuming from a cursor could skip an
event committed late with a smaller id.  SQLite serializes writers, so that holds there; on
PostgreSQL, a transaction-scoped advisory lock taken before the first event insert makes
event-writing transactions assign ids and commit one at a time (the lock is held only from the
event insert, which use cases do last, to the commit).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from parlay.db.models import Event, EventRecipient
from parlay.db.session import Database
from parlay.realtime.hub import LiveEvent

EVENT_LOCK_KEY = 727_001
BATCH = 500


async def append_event(
    session: AsyncSession,
    *,
    type: str,
    data: dict[str, Any],
    recipients: set[str] | frozenset[str],
    now: Any,
    locked: bool,
) -> int:
    if not locked and session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": EVENT_LOCK_KEY})
    event = Event(type=type, data=data, created_at=now)
    session.add(event)
    await session.flush()
    session.add_all(EventRecipient(event_id=event.id, user_id=uid) for uid in recipients)
    await session.flush()
    return event.id


async def _load(session: AsyncSession, rows: list[Event]) -> list[LiveEvent]:
    if not rows:
        return []
    ids = [row.id for row in rows]
    recips = await session.execute(
        select(EventRecipient.event_id, EventRecipient.user_id).where(
            EventRecipient.event_id.in_(ids)
        )
    )
    by_event: dict[int, set[str]] = {i: set() for i in ids}
    for event_id, user_id in recips:
        by_event[event_id].add(user_id)
    return [LiveEvent(r.id, r.type, r.data, frozenset(by_event[r.id])) for r in rows]


async def fetch_after(db: Database, last_id: int) -> list[LiveEvent]:
    async with db.read() as session:
        rows = (
            await session.scalars(
                select(Event).where(Event.id > last_id).order_by(Event.id).limit(BATCH)
            )
        ).all()
        return await _load(session, list(rows))


async def fetch_for_user(db: Database, user_id: str, since: int) -> list[LiveEvent]:
    """Every event for ``user_id`` after cursor ``since``, in order (one batch)."""
    async with db.read() as session:
        rows = (
            await session.scalars(
                select(Event)
                .join(EventRecipient, EventRecipient.event_id == Event.id)
                .where(EventRecipient.user_id == user_id, Event.id > since)
                .order_by(Event.id)
                .limit(BATCH)
            )
        ).all()
        return await _load(session, list(rows))


async def last_event_id(db: Database) -> int:
    async with db.read() as session:
        return int(await session.scalar(select(func.coalesce(func.max(Event.id), 0))) or 0)
