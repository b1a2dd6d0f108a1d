"""Busy time of a host: their scheduled Parlay meetings, plus every external ``BusySource``
(linked calendars, once connected).  External sources are read before a booking's
transaction opens, so no provider call ever holds the database's write lock."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from datetime import datetime
from typing import Any, Protocol, cast

from sqlalchemy import ColumnElement, and_, bindparam, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from parlay.db.base import UTCDateTime
from parlay.db.direct import DirectQuery
from parlay.db.scheduling_models import Meeting
from parlay.db.session import Database
from parlay.domain.intervals import Interval
from parlay.services.calendar_busy import Stamps, StoredCalendarBusy

log = logging.getLogger(__name__)


class BusySource(Protocol):
    """Something that knows when a user is busy (a linked calendar, say)."""

    async def busy(self, user_id: str, window: Interval) -> list[Interval]: ...


class BusySnapshot(Protocol):
    """A source's busy time for one user as of one moment: it never changes, and two
    snapshots with equal ``key`` hold the same intervals (so availability can memoize on
    ``key`` instead of hashing hundreds of intervals)."""

    @property
    def key(self) -> int: ...

    def overlapping(self, window: Interval) -> list[Interval]: ...


class SnapshotBusySource(BusySource, Protocol):
    async def snapshot(self, user_id: str) -> BusySnapshot: ...


class _Empty:
    key = -1

    def overlapping(self, window: Interval) -> list[Interval]:
        return []


#: What a source that failed counts as (see ``_read_source``).
NO_BUSY: BusySnapshot = _Empty()


class InMemoryBusySource:
    """Busy intervals kept in memory: for tests and demos."""

    def __init__(self) -> None:
        self._busy: dict[str, list[Interval]] = defaultdict(list)

    def add(self, user_id: str, start: datetime, end: datetime) -> None:
        self._busy[user_id].append(Interval(start, end))

    async def busy(self, user_id: str, window: Interval) -> list[Interval]:
        return [b for b in self._busy.get(user_id, ()) if b.overlaps(window)]


#: How long one external source may take before availability goes on without it.
SOURCE_TIMEOUT = 3.0


async def _read_source(source: BusySource, user_id: str, window: Interval) -> list[Interval]:
    """One source's busy time; a source that fails or dawdles counts as none (logged), so one
    broken calendar never turns availability into a 500 or a hang.  Booking stays safe: the
    database refuses overlapping Parlay meetings whatever a source says."""
    try:
        async with asyncio.timeout(SOURCE_TIMEOUT):
            return await source.busy(user_id, window)
    except Exception as exc:
        log.warning("busy source %s failed: %s", type(source).__name__, type(exc).__name__)
        return []


async def _read_snapshot(
    source: SnapshotBusySource, user_id: str, calendar_stamps: Stamps | None
) -> BusySnapshot:
    """As ``_read_source``: a source that fails or dawdles counts as none (logged).  The
    calendar mirror given the stamps just read answers from this process's memory or this
    database, as the caller's own read did: no timer for it (one per request on the hottest
    path)."""
    try:
        if calendar_stamps is not None and isinstance(source, StoredCalendarBusy):
            return await source.snapshot(user_id, stamps=calendar_stamps)
        async with asyncio.timeout(SOURCE_TIMEOUT):
            return await source.snapshot(user_id)
    except Exception as exc:
        log.warning("busy source %s failed: %s", type(source).__name__, type(exc).__name__)
        return NO_BUSY


async def external_snapshots(
    sources: list[BusySource], user_id: str, *, calendar_stamps: Stamps | None = None
) -> tuple[BusySnapshot, ...] | None:
    """Snapshots of every source's busy time for ``user_id``, or None if some source cannot
    take one (then ask ``external_busy``).  ``calendar_stamps``: the user's linked calendars'
    stamps as the caller has just read them (``calendar_busy.conflict_stamps``), so the
    calendar mirror need not read them again."""
    if not all(hasattr(s, "snapshot") for s in sources):
        return None
    snapshot_sources = cast(list[SnapshotBusySource], sources)
    if len(sources) == 1:
        return (await _read_snapshot(snapshot_sources[0], user_id, calendar_stamps),)
    return tuple(
        await asyncio.gather(
            *(_read_snapshot(s, user_id, calendar_stamps) for s in snapshot_sources)
        )
    )


async def external_busy(
    sources: list[BusySource], user_id: str, window: Interval
) -> list[Interval]:
    if not sources:
        return []
    if len(sources) == 1:
        return await _read_source(sources[0], user_id, window)
    found = await asyncio.gather(*(_read_source(s, user_id, window) for s in sources))
    return [interval for intervals in found for interval in intervals]


def busy_condition(
    user_id: Any, window_start: Any, window_end: Any, exclude: Any
) -> ColumnElement[bool]:
    """Meetings that make ``user_id`` busy: scheduled, hosted or booked by them, overlapping
    ``[window_start, window_end)``, other than meeting ``exclude`` ("" excludes nothing)."""
    return and_(
        or_(Meeting.host_id == user_id, Meeting.booked_by == user_id),
        Meeting.status == "scheduled",
        Meeting.start < window_end,
        Meeting.end > window_start,
        Meeting.id != exclude,
    )


_MEETING_BUSY = select(Meeting.start, Meeting.end).where(
    busy_condition(
        bindparam("user_id"),
        bindparam("window_start", type_=UTCDateTime()),
        bindparam("window_end", type_=UTCDateTime()),
        bindparam("exclude"),
    )
)


def _busy_values(user_id: str, window: Interval, exclude: str | None) -> dict[str, Any]:
    return {
        "user_id": user_id,
        "window_start": window.start,
        "window_end": window.end,
        "exclude": exclude or "",
    }


async def meeting_busy(
    session: AsyncSession, user_id: str, window: Interval, *, exclude: str | None = None
) -> list[Interval]:
    """Scheduled Parlay meetings the user hosts or booked, overlapping ``window``, except
    ``exclude``; read in the caller's transaction."""
    rows = await session.execute(_MEETING_BUSY, _busy_values(user_id, window, exclude))
    return [Interval(start, end) for start, end in rows]


_MEETING_BUSY_DIRECT = DirectQuery(_MEETING_BUSY)


async def viewer_busy(
    db: Database,
    sources: list[BusySource],
    user_id: str,
    window: Interval,
    *,
    exclude: str | None = None,
) -> list[Interval]:
    """The busy time of someone looking at another person's availability: their scheduled
    Parlay meetings (a direct read) and their own linked calendars' busy events."""
    rows = await db.direct.fetch(_MEETING_BUSY_DIRECT, **_busy_values(user_id, window, exclude))
    own = [Interval(row["start"], row["end"]) for row in rows]
    return own + await external_busy(sources, user_id, window)
