"""People's schedules: who may be in a meeting when, and the locks that make checking it safe.

Every transaction that puts a meeting into someone's schedule (book, reschedule) first locks
the schedules it changes — the users' rows, in id order, so two transactions never wait for
each other in opposite orders — then re-reads busy time and writes the meeting and its holds.
Holding those locks, the recomputation sees every competitor's committed result, so a lost
race is a clear 409 instead of a deadlock.  The holds' exclusion constraint (PostgreSQL) stays
as the last word.  On SQLite write transactions are serialized already.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from parlay.db.models import User
from parlay.db.scheduling_models import MeetingHold


async def lock_schedules(session: AsyncSession, user_ids: Iterable[str]) -> None:
    """Lock the schedules of ``user_ids`` for the rest of the transaction (in id order).

    ``FOR NO KEY UPDATE`` does not conflict with the key-share locks that foreign keys take,
    so posting messages or joining rooms never waits for a booking."""
    if session.get_bind().dialect.name != "postgresql":
        return
    await session.execute(
        select(User.id)
        .where(User.id.in_(sorted(set(user_ids))))
        .order_by(User.id)
        .with_for_update(key_share=True)  # PostgreSQL: FOR NO KEY UPDATE
    )


def add_holds(
    session: AsyncSession, meeting_id: str, user_ids: Iterable[str], start: datetime, end: datetime
) -> None:
    session.add_all(
        MeetingHold(meeting_id=meeting_id, user_id=u, start=start, end=end)
        for u in sorted(set(user_ids))
    )


async def move_holds(
    session: AsyncSession, meeting_id: str, start: datetime, end: datetime
) -> None:
    await session.execute(
        update(MeetingHold).where(MeetingHold.meeting_id == meeting_id).values(start=start, end=end)
    )


async def drop_holds(session: AsyncSession, meeting_id: str) -> None:
    await session.execute(delete(MeetingHold).where(MeetingHold.meeting_id == meeting_id))
