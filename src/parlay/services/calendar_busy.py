"""The busy-time mirror of linked calendars.

Syncs write it (``replace_blocks``: a calendar's blocks replaced in the caller's transaction);
``StoredCalendarBusy`` reads it as a ``BusySource`` with one indexed query per call, so
``dates``, ``slots`` and booking see calendar busy time without calling any provider.  Only
calendars with ``check_conflicts`` count, so turning it off (or disconnecting) takes effect at
once, before any sync.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from sqlalchemy import bindparam, delete, insert, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from parlay.db.base import UTCDateTime
from parlay.db.calendar_models import BusyBlock, LinkedCalendar
from parlay.db.direct import DirectQuery
from parlay.db.session import Database
from parlay.domain.intervals import Interval
from parlay.providers.dto import BusyEvent, blocking_events

#: How far ahead a sync reads (API.md: `me/busy` windows are at most 92 days).
SYNC_WINDOW = timedelta(days=92)

_STORED_BUSY = DirectQuery(
    select(BusyBlock.start, BusyBlock.end)
    .join(LinkedCalendar, LinkedCalendar.id == BusyBlock.calendar_id)
    .where(
        BusyBlock.user_id == bindparam("user_id"),
        BusyBlock.start < bindparam("window_end", type_=UTCDateTime()),
        BusyBlock.end > bindparam("window_start", type_=UTCDateTime()),
        LinkedCalendar.check_conflicts == true(),
    )
)


class StoredCalendarBusy:
    """``BusySource`` over ``busy_blocks``: what the last syncs saw, never a provider call."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def busy(self, user_id: str, window: Interval) -> list[Interval]:
        rows = await self._db.direct.fetch(
            _STORED_BUSY, user_id=user_id, window_start=window.start, window_end=window.end
        )
        return [Interval(row["start"], row["end"]) for row in rows]


def busy_intervals(events: Iterable[BusyEvent]) -> list[Interval]:
    """Rule 1 applied to a provider's events: the intervals that make their owner busy."""
    return [Interval(event.start, event.end) for event in blocking_events(events)]


async def replace_blocks(
    session: AsyncSession, calendar: LinkedCalendar, intervals: Iterable[Interval]
) -> int:
    """Replace everything stored for ``calendar`` by ``intervals`` (a full sync's result)."""
    await session.execute(delete(BusyBlock).where(BusyBlock.calendar_id == calendar.id))
    rows = [
        {
            "calendar_id": calendar.id,
            "user_id": calendar.user_id,
            "start": interval.start,
            "end": interval.end,
        }
        for interval in intervals
    ]
    if rows:
        await session.execute(insert(BusyBlock), rows)
    return len(rows)


async def drop_blocks(session: AsyncSession, calendar_ids: Iterable[int]) -> None:
    ids = list(calendar_ids)
    if ids:
        await session.execute(delete(BusyBlock).where(BusyBlock.calendar_id.in_(ids)))
