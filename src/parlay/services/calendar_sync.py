"""The ``calendar.sync`` job: bring a connection's busy mirror up to date with its provider.

Each conflict calendar is read with ``sync_busy``: incrementally from the stored ``sync_token``
when there is one and the last full read's window began less than ``FULL_SYNC_EVERY`` ago,
else in full (Google's incremental sync ignores timeMin/timeMax, so only a full read moves the
window forward).  Each calendar's result is applied in its own short transaction, never held
across a provider call, under a lock on the calendar's row:

- a full result replaces the calendar's blocks and token together (two syncs racing each leave
  a consistent pair: a snapshot and the token it was taken at);
- an incremental result applies only on top of the token it started from; if the stored token
  changed meanwhile (another sync, or check_conflicts off and on, which forgets the token) it
  is dropped and the next sync catches up from the stored token.

Then the connection's ``last_synced_at`` is stamped and the next sync queued ``sync_seconds``
later (dedupe ``sync:<connection>``), so the chain keeps the mirror fresh; housekeeping
(``parlay.jobs.housekeeping``) restarts a chain that broke.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, Protocol

from sqlalchemy import select

from parlay.db.calendar_models import CalendarConnection, LinkedCalendar
from parlay.domain.intervals import Interval
from parlay.providers import errors as perr
from parlay.providers.base import CalendarProvider
from parlay.providers.dto import SyncResult
from parlay.services.calendar_busy import SYNC_WINDOW, apply_changes, item_blocks, replace_blocks
from parlay.services.context import Context
from parlay.services.outbox import Job, Permanent, Retryable, wall_clock
from parlay.services.uow import unit_of_work

log = logging.getLogger(__name__)

SYNC_KIND = "calendar.sync"
SYNC_KEY_PREFIX = "sync:"
#: A sync job failing transiently this many times in a row waits for the next regular sync.
GIVE_UP_AFTER = 5
#: Incremental syncs build on a full read for at most this long (the window moves with it).
FULL_SYNC_EVERY = timedelta(hours=24)

Applied = Literal["full", "incremental", "stale"]


def sync_key(connection_id: str) -> str:
    return f"{SYNC_KEY_PREFIX}{connection_id}"


class Connections(Protocol):
    """What the sync needs of ``CalendarService``: adapters for stored connections, statuses."""

    async def open_provider(self, connection_id: str) -> tuple[CalendarProvider, str] | None: ...

    async def set_status(
        self, connection_id: str, user_id: str, status: str, detail: str | None
    ) -> None: ...


@dataclass(frozen=True)
class _Target:
    calendar_id: int
    external_id: str
    #: The token this sync starts from (None: a full read).
    token: str | None


@dataclass(frozen=True)
class SyncReport:
    """What one sync did, per calendar id: ``full``, ``incremental`` or ``stale`` (an
    incremental result dropped because another sync moved the calendar's token meanwhile)."""

    applied: dict[int, Applied]


class BusySync:
    def __init__(self, ctx: Context, connections: Connections, *, sync_seconds: float) -> None:
        self.ctx = ctx
        self.connections = connections
        self.sync_seconds = sync_seconds

    async def handle(self, job: Job) -> None:
        connection_id = job.payload.get("connection")
        if not isinstance(connection_id, str):
            raise Permanent("calendar.sync payload lacks a connection id")
        try:
            await self.sync(connection_id)
        except Retryable:
            if job.attempts < GIVE_UP_AFTER:
                raise
            # Keep the periodic chain alive instead of dead-lettering it: try again at the
            # next regular sync (the stored busy times decide meanwhile).
            log.warning("calendar connection=%s: sync keeps failing", connection_id)
            await self.queue(connection_id, delay=self.sync_seconds)

    async def queue(self, connection_id: str, *, delay: float = 0.0) -> None:
        async with unit_of_work(self.ctx) as uow:
            await uow.enqueue(
                SYNC_KIND, sync_key(connection_id), {"connection": connection_id}, delay=delay
            )

    async def sync(self, connection_id: str) -> SyncReport | None:
        """Sync every conflict calendar of the connection (None: it is gone or unusable).
        Raises ``Retryable`` when the provider may answer later; a refused grant sets
        ``needs_reauth`` (and tells the user live) instead."""
        start = self.ctx.now()
        window = Interval(start, start + SYNC_WINDOW)
        targets = await self._targets(connection_id, start)
        opened = await self.connections.open_provider(connection_id)
        if targets is None or opened is None:
            return None
        provider, user_id = opened
        applied: dict[int, Applied] = {}
        try:
            for target in targets:
                try:
                    result = await provider.sync_busy(
                        target.external_id, window.start, window.end, target.token
                    )
                except perr.NotFound:  # the calendar was deleted at the provider
                    result = SyncResult(full=True, changed={}, removed=frozenset(), next_token=None)
                outcome = await self._apply(target, result, window)
                if outcome is not None:
                    applied[target.calendar_id] = outcome
        except (perr.AuthExpired, perr.InvalidCredentials):
            await self.connections.set_status(
                connection_id, user_id, "needs_reauth", "auth_expired"
            )
            return None
        except (perr.Transient, perr.RateLimited) as exc:
            retry_after = exc.retry_after if isinstance(exc, perr.RateLimited) else None
            raise Retryable(f"calendar sync: {type(exc).__name__}", retry_after) from None
        except perr.ProviderError as exc:
            await self.connections.set_status(connection_id, user_id, "error", type(exc).__name__)
            return None
        await self._finish(connection_id)
        return SyncReport(applied)

    async def _targets(self, connection_id: str, now: datetime) -> list[_Target] | None:
        async with self.ctx.db.read() as session:
            if await session.get(CalendarConnection, connection_id) is None:
                return None  # disconnected meanwhile
            rows = await session.execute(
                select(LinkedCalendar)
                .where(
                    LinkedCalendar.connection_id == connection_id,
                    LinkedCalendar.check_conflicts.is_(True),
                )
                .order_by(LinkedCalendar.id)
            )
            return [
                _Target(c.id, c.external_id, c.sync_token if _fresh(c.synced_from, now) else None)
                for c in rows.scalars()
            ]

    async def _apply(self, target: _Target, result: SyncResult, window: Interval) -> Applied | None:
        """One calendar's result in one short transaction (None: the calendar went away or
        stopped counting meanwhile)."""
        blocks = {key: item_blocks(events, window) for key, events in result.changed.items()}
        async with unit_of_work(self.ctx) as uow:
            calendar = await uow.session.scalar(
                select(LinkedCalendar)
                .where(LinkedCalendar.id == target.calendar_id)
                .with_for_update()
            )
            if calendar is None or not calendar.check_conflicts:
                return None
            if result.full:
                await replace_blocks(uow.session, calendar, blocks)
                calendar.synced_from = window.start
            elif calendar.sync_token != target.token or target.token is None:
                log.info(
                    "calendar %s: a concurrent sync moved on; changes left to the next", calendar.id
                )
                return "stale"
            else:
                await apply_changes(uow.session, calendar, blocks, result.removed)
            calendar.sync_token = result.next_token
            return "full" if result.full else "incremental"

    async def _finish(self, connection_id: str) -> None:
        """Stamp the sync, restore ``active`` (telling the owner live), queue the next one."""
        async with unit_of_work(self.ctx) as uow:
            connection = await uow.session.get(
                CalendarConnection, connection_id, with_for_update=True
            )
            if connection is None:
                return
            connection.last_synced_at = wall_clock()
            if connection.status != "active":
                connection.status, connection.status_detail = "active", None
                await uow.emit(
                    "calendar.status",
                    {"id": connection.id, "status": "active"},
                    {connection.user_id},
                )
            await uow.enqueue(
                SYNC_KIND,
                sync_key(connection_id),
                {"connection": connection_id},
                delay=self.sync_seconds,
            )


def _fresh(synced_from: datetime | None, now: datetime) -> bool:
    """Whether incremental syncs may still build on the full read whose window began then."""
    return synced_from is not None and synced_from <= now < synced_from + FULL_SYNC_EVERY
