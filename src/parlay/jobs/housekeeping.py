"""Housekeeping the worker runs on a schedule: finished jobs, spent idempotency records and
expired login sessions are deleted.

Two clocks: finished jobs are stamped with transport time (the real clock); idempotency
records and sessions with the user-facing clock, which ``PARLAY_NOW`` may pin.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete

from parlay.db.models import AuthSession
from parlay.db.scheduling_models import IdempotencyRecord
from parlay.db.session import Database
from parlay.jobs import queue

log = logging.getLogger(__name__)

DONE_JOBS_KEPT = timedelta(days=1)
IDEMPOTENCY_KEPT = timedelta(days=7)


@dataclass(frozen=True)
class Pruned:
    jobs: int
    idempotency_records: int
    sessions: int


async def prune(db: Database, *, wall_now: datetime, user_now: datetime) -> Pruned:
    jobs = await queue.prune_done(db, wall_now - DONE_JOBS_KEPT)
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
    )
    if pruned.jobs or pruned.idempotency_records or pruned.sessions:
        log.info("housekeeping: %s", pruned)
    return pruned
