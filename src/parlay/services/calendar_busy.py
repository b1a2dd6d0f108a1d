"""The busy-time mirror of linked calendars.

Syncs write it (``parlay.services.calendar_sync``), in the caller's transaction: a full sync
replaces a calendar's blocks (``replace_blocks``), an incremental one replaces only the blocks
of the provider items that changed and drops those removed (``apply_changes``); every block
keeps the provider's id of the item it comes from (``item_key``) for that.  A calendar's
``sync_token`` describes exactly its stored blocks, so whatever drops the blocks forgets the
token too (``drop_blocks``): the next sync of that calendar is then a full one.

``StoredCalendarBusy`` reads the mirror as a ``BusySource`` with one indexed query per call, so
``dates``, ``slots`` and booking see calendar busy time without calling any provider.  Only
calendars with ``check_conflicts`` count, so turning it off (or disconnecting) takes effect at
once, before any sync.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import timedelta

from sqlalchemy import bindparam, delete, insert, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession

from parlay.db.base import UTCDateTime
from parlay.db.calendar_models import BusyBlock, LinkedCalendar
from parlay.db.direct import DirectQuery
from parlay.db.session import Database
from parlay.domain.intervals import Interval, clip
from parlay.providers.dto import BusyEvent, blocking_events

#: How far ahead a sync reads (API.md: `me/busy` windows are at most 92 days).
SYNC_WINDOW = timedelta(days=92)

Blocks = Mapping[str, Sequence[Interval]]
"""Busy intervals by the provider's id of the item they come from."""

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


def item_blocks(events: Iterable[BusyEvent], window: Interval) -> list[Interval]:
    """Rule 1 applied to one item's occurrences, clipped to the sync's window (an incremental
    sync may report occurrences anywhere in time)."""
    return clip(busy_intervals(events), window)


async def replace_blocks(session: AsyncSession, calendar: LinkedCalendar, blocks: Blocks) -> int:
    """Replace everything stored for ``calendar`` by ``blocks`` (a full sync's result)."""
    await session.execute(delete(BusyBlock).where(BusyBlock.calendar_id == calendar.id))
    return await _insert(session, calendar, blocks)


async def apply_changes(
    session: AsyncSession, calendar: LinkedCalendar, changed: Blocks, removed: Iterable[str]
) -> int:
    """An incremental sync's result: the blocks of every changed or removed item go, the
    changed items' new blocks come in (an item changed to nothing busy simply goes)."""
    keys = sorted(set(changed) | set(removed))
    for at in range(0, len(keys), 500):  # bounded IN lists
        await session.execute(
            delete(BusyBlock).where(
                BusyBlock.calendar_id == calendar.id, BusyBlock.item_key.in_(keys[at : at + 500])
            )
        )
    return await _insert(session, calendar, changed)


async def _insert(session: AsyncSession, calendar: LinkedCalendar, blocks: Blocks) -> int:
    rows = [
        {
            "calendar_id": calendar.id,
            "user_id": calendar.user_id,
            "item_key": key,
            "start": interval.start,
            "end": interval.end,
        }
        for key, intervals in blocks.items()
        for interval in intervals
    ]
    if rows:
        await session.execute(insert(BusyBlock), rows)
    return len(rows)


async def drop_blocks(session: AsyncSession, calendar_ids: Iterable[int]) -> None:
    """Forget the stored busy times of these calendars, and with them their sync tokens (a
    token means "the blocks stored are the provider's state at this token")."""
    ids = list(calendar_ids)
    if ids:
        await session.execute(delete(BusyBlock).where(BusyBlock.calendar_id.in_(ids)))
        await session.execute(
            update(LinkedCalendar)
            .where(LinkedCalendar.id.in_(ids))
            .values(sync_token=None, synced_from=None)
        )
