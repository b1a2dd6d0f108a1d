"""Busy time of a host: their scheduled Parlay meetings, plus every external ``BusySource``
(linked calendars, once connected).  External sources are read before a booking's
transaction opens, so no provider call ever holds the database's write lock."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from datetime import datetime
from typing import Protocol

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from parlay.db.scheduling_models import Meeting
from parlay.domain.intervals import Interval


class BusySource(Protocol):
    """Something that knows when a user is busy (a linked calendar, say)."""

    async def busy(self, user_id: str, window: Interval) -> list[Interval]: ...


class InMemoryBusySource:
    """Busy intervals kept in memory: for tests and demos."""

    def __init__(self) -> None:
        self._busy: dict[str, list[Interval]] = defaultdict(list)

    def add(self, user_id: str, start: datetime, end: datetime) -> None:
        self._busy[user_id].append(Interval(start, end))

    async def busy(self, user_id: str, window: Interval) -> list[Interval]:
        return [b for b in self._busy.get(user_id, ()) if b.overlaps(window)]


async def external_busy(
    sources: list[BusySource], user_id: str, window: Interval
) -> list[Interval]:
    if not sources:
        return []
    found = await asyncio.gather(*(s.busy(user_id, window) for s in sources))
    return [interval for intervals in found for interval in intervals]


async def meeting_busy(
    session: AsyncSession, user_id: str, window: Interval, *, exclude: str | None = None
) -> list[Interval]:
    """Scheduled Parlay meetings the user hosts or booked, overlapping ``window``."""
    query = select(Meeting.start, Meeting.end).where(
        or_(Meeting.host_id == user_id, Meeting.booked_by == user_id),
        Meeting.status == "scheduled",
        Meeting.start < window.end,
        Meeting.end > window.start,
    )
    if exclude is not None:
        query = query.where(Meeting.id != exclude)
    return [Interval(start, end) for start, end in await session.execute(query)]
