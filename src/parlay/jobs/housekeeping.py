"""Housekeeping the worker runs on a schedule: finished jobs, spent idempotency records and
expired login sessions are deleted, and calendar sync chains that broke are restarted.

Every linked calendar connection keeps one ``calendar.sync`` job pending (each sync queues the
next); a job dead-lettered, or lost with a database restored from a backup, ends that chain and
its busy times would silently go stale.  So an active connection not synced for two sync
periods that has no sync job pending or running gets one queued.

Two clocks: finished jobs are stamped with transport time (the real clock); idempotency
records and sessions with the user-facing clock, which ``PARLAY_NOW`` may pin.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, exists, literal, or_, select

from parlay.db.calendar_models import CalendarConnection
from parlay.db.models import AuthSession
from parlay.db.scheduling_models import IdempotencyRecord, OutboxJob
from parlay.db.session import Database
from parlay.jobs import queue
from parlay.services import outbox
from parlay.services.calendar_sync import SYNC_KEY_PREFIX, SYNC_KIND, sync_key

log = logging.getLogger(__name__)

DONE_JOBS_KEPT = timedelta(days=1)
IDEMPOTENCY_KEPT = timedelta(days=7)


@dataclass(frozen=True)
class Pruned:
    jobs: int
    idempotency_records: int
    sessions: int
    #: Calendar connections whose stalled sync chain was restarted.
    syncs_restarted: int = 0


async def prune(
    db: Database,
    *,
    wall_now: datetime,
    user_now: datetime,
    calendar_sync_seconds: float | None = None,
) -> Pruned:
    """Delete what is spent; restart stalled calendar syncs when ``calendar_sync_seconds`` (the
    configured sync period) is given."""
    jobs = await queue.prune_done(db, wall_now - DONE_JOBS_KEPT)
    restarted = 0
    if calendar_sync_seconds is not None:
        restarted = await restart_stalled_syncs(
            db, wall_now=wall_now, sync_seconds=calendar_sync_seconds
        )
    async with db.write() as session:
        records = await session.execute(
            delete(IdempotencyRecord).where(
                IdempotencyRecord.created_at < user_now - IDEMPOTENCY_KEPT
            )
        )
        sessions = await session.execute(
            delete(AuthSession).where(AuthSession.expires_at < user_now)
        )
    pruned = Pruned(
        jobs=jobs,
        idempotency_records=int(getattr(records, "rowcount", 0) or 0),
        sessions=int(getattr(sessions, "rowcount", 0) or 0),
        syncs_restarted=restarted,
    )
    if pruned.jobs or pruned.idempotency_records or pruned.sessions or pruned.syncs_restarted:
        log.info("housekeeping: %s", pruned)
    return pruned


async def restart_stalled_syncs(db: Database, *, wall_now: datetime, sync_seconds: float) -> int:
    """Queue ``calendar.sync`` for every active connection last synced more than two periods
    ago (or never) with no sync job pending or running; how many were queued.  Both instants
    are transport time (``last_synced_at`` is stamped with the real clock)."""
    cutoff = wall_now - timedelta(seconds=2 * sync_seconds)
    job_waiting = exists().where(
        OutboxJob.dedupe_key == literal(SYNC_KEY_PREFIX) + CalendarConnection.id,
        OutboxJob.status.in_(("pending", "running")),
    )
    async with db.write() as session:
        stalled = list(
            await session.scalars(
                select(CalendarConnection.id).where(
                    CalendarConnection.status == "active",
                    or_(
                        CalendarConnection.last_synced_at.is_(None),
                        CalendarConnection.last_synced_at < cutoff,
                    ),
                    ~job_waiting,
                )
            )
        )
        for connection_id in stalled:
            await outbox.enqueue(
                session, SYNC_KIND, sync_key(connection_id), {"connection": connection_id}
            )
    if stalled:
        log.warning(
            "housekeeping: restarted the stalled calendar sync of %d connections", len(stalled)
        )
    return len(stalled)
