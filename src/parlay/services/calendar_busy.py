"""The busy-time mirror of linked calendars.

Syncs write it (``parlay.services.calendar_sync``), in the caller's transaction: a full sync
replaces a calendar's blocks (``replace_blocks``), an incremental one replaces only the blocks
of the provider items that changed and drops those removed (``apply_changes``); every block
keeps the provider's id of the item it comes from (``item_key``) for that.  A calendar's
``sync_token`` describes exactly its stored blocks, so whatever drops the blocks forgets the
token too (``drop_blocks``): the next sync of that calendar is then a full one.

``StoredCalendarBusy`` reads the mirror as a ``BusySource``, so ``dates``, ``slots`` and booking
see calendar busy time without calling any provider.  Only calendars with ``check_conflicts``
count, so turning it off (or disconnecting) takes effect at once, before any sync.  A host with
a busy calendar has hundreds of blocks in a month, and turning each row into datetimes costs
more than the rest of ``dates``; so a node keeps each user's blocks in memory, keyed by the
``mirror_stamp`` of their conflict calendars (every write here changes the calendar's stamp),
and a read costs one small query of those stamps while nothing changed.  A caller that reads
the database anyway can fold that query into its own statement (``conflict_stamps``, read back
with ``read_stamps``) and hand the stamps to ``snapshot``: availability on PostgreSQL is then
one round trip, not two.
"""

from __future__ import annotations

import bisect
import itertools
import secrets
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnExpressionArgument,
    ScalarSelect,
    String,
    bindparam,
    cast,
    delete,
    func,
    insert,
    literal_column,
    select,
    true,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from parlay.db.calendar_models import BusyBlock, LinkedCalendar
from parlay.db.direct import DirectQuery
from parlay.db.session import Database
from parlay.domain.intervals import Interval, clip
from parlay.providers.dto import BusyEvent, blocking_events

#: How far ahead a sync reads (API.md: `me/busy` windows are at most 92 days).
SYNC_WINDOW = timedelta(days=92)

Blocks = Mapping[str, Sequence[Interval]]
"""Busy intervals by the provider's id of the item they come from."""

_STAMPS = DirectQuery(
    select(LinkedCalendar.id, LinkedCalendar.mirror_stamp).where(
        LinkedCalendar.user_id == bindparam("user_id"), LinkedCalendar.check_conflicts == true()
    )
)
Stamps = frozenset[tuple[int, str | None]]
"""``(linked_calendar.id, mirror_stamp)`` of a user's conflict calendars: what their blocks
are as of."""


def conflict_stamps(user_id: ColumnExpressionArgument[str]) -> ScalarSelect[str | None]:
    """The stamps of ``user_id``'s conflict calendars as one text value (``id:stamp`` joined by
    ``,``; NULL when there is none), for a caller's own statement.  ``read_stamps`` reads it."""
    pair = cast(LinkedCalendar.id, String) + ":" + func.coalesce(LinkedCalendar.mirror_stamp, "")
    # The separator inline, not as a bind: a plain str becomes a post-compile parameter,
    # which a ``DirectQuery`` (compiled once, positional binds) does not render.
    separator: Any = literal_column("','")
    return (
        select(func.aggregate_strings(pair, separator))
        .where(LinkedCalendar.user_id == user_id, LinkedCalendar.check_conflicts == true())
        .scalar_subquery()
    )


def read_stamps(value: str | None) -> Stamps:
    """What ``conflict_stamps`` read (a stamp is hex, so neither separator occurs in one)."""
    if not value:
        return frozenset()
    pairs = (pair.partition(":") for pair in value.split(","))
    return frozenset((int(calendar), stamp or None) for calendar, _, stamp in pairs)


_BLOCKS = DirectQuery(
    select(BusyBlock.start, BusyBlock.end)
    .join(LinkedCalendar, LinkedCalendar.id == BusyBlock.calendar_id)
    .where(BusyBlock.user_id == bindparam("user_id"), LinkedCalendar.check_conflicts == true())
    .order_by(BusyBlock.start)
)
#: How many busy blocks a node keeps in memory (~20 MB; the least recently read users go first).
BLOCKS_CACHED = 100_000
_SERIALS = itertools.count(1)


@dataclass(frozen=True)
class _Mirror:
    """One user's stored blocks, sorted by start, as of ``stamps``.  Never changed once
    built, so ``key`` (unique in this process) stands for its blocks: a ``BusySnapshot``."""

    stamps: Stamps
    starts: list[datetime]
    blocks: list[Interval]
    longest: timedelta
    key: int = field(default_factory=lambda: next(_SERIALS))

    def overlapping(self, window: Interval) -> list[Interval]:
        first = bisect.bisect_right(self.starts, window.start - self.longest)
        last = bisect.bisect_left(self.starts, window.end)
        return [b for b in self.blocks[first:last] if b.end > window.start]


#: The snapshot of someone with no calendar that counts.
_NOTHING = _Mirror(frozenset(), [], [], timedelta(0), key=0)


class StoredCalendarBusy:
    """``BusySource`` over ``busy_blocks``: what the last syncs saw, never a provider call."""

    def __init__(self, db: Database, *, blocks_cached: int = BLOCKS_CACHED) -> None:
        self._db = db
        self._cached: OrderedDict[str, _Mirror] = OrderedDict()
        self._blocks_cached = blocks_cached
        self._blocks = 0

    async def busy(self, user_id: str, window: Interval) -> list[Interval]:
        return (await self.snapshot(user_id)).overlapping(window)

    async def snapshot(self, user_id: str, *, stamps: Stamps | None = None) -> _Mirror:
        """The user's blocks as stored now (one small query of their stamps while nothing
        changed).  ``stamps``: their stamps as the caller has just read them
        (``conflict_stamps``), which spares that query; the blocks are read after them, so
        they are at least as new as what the caller saw."""
        if stamps is None:
            rows = await self._db.direct.fetch(_STAMPS, user_id=user_id)
            stamps = frozenset((row["id"], row["mirror_stamp"]) for row in rows)
        if not stamps:
            self._forget(user_id)
            return _NOTHING
        mirror = self._cached.get(user_id)
        if mirror is None or mirror.stamps != stamps:
            # Read after the stamps: a write landing in between makes the next read look again.
            found = await self._db.direct.fetch(_BLOCKS, user_id=user_id)
            blocks = [Interval(row["start"], row["end"]) for row in found]
            mirror = _Mirror(
                stamps,
                [b.start for b in blocks],
                blocks,
                max((b.end - b.start for b in blocks), default=timedelta(0)),
            )
            self._forget(user_id)
            self._cached[user_id] = mirror
            self._blocks += len(blocks)
            while self._blocks > self._blocks_cached and len(self._cached) > 1:
                self._forget(next(iter(self._cached)))
        self._cached.move_to_end(user_id)
        return mirror

    def _forget(self, user_id: str) -> None:
        gone = self._cached.pop(user_id, None)
        if gone is not None:
            self._blocks -= len(gone.blocks)


def new_stamp() -> str:
    return secrets.token_hex(16)


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
    calendar.mirror_stamp = new_stamp()
    return await _insert(session, calendar, blocks)


async def apply_changes(
    session: AsyncSession, calendar: LinkedCalendar, changed: Blocks, removed: Iterable[str]
) -> int:
    """An incremental sync's result: the blocks of every changed or removed item go, the
    changed items' new blocks come in (an item changed to nothing busy simply goes)."""
    keys = sorted(set(changed) | set(removed))
    if not keys:
        return 0  # nothing changed: the stamp stays, and readers' copies with it
    for at in range(0, len(keys), 500):  # bounded IN lists
        await session.execute(
            delete(BusyBlock).where(
                BusyBlock.calendar_id == calendar.id, BusyBlock.item_key.in_(keys[at : at + 500])
            )
        )
    calendar.mirror_stamp = new_stamp()
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
            .values(sync_token=None, synced_from=None, mirror_stamp=new_stamp())
        )
