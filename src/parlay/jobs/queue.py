"""The outbox queue's transactions: claim one job, renew its lease, settle it.

Each function is one short transaction. A claim is a lease: ``status="running"``,
``claimed_by`` (a token unique to this claim) and ``lease_until``. Every later write about the
job is fenced by that token, so a worker whose lease ran out (it stalled, another worker took
the job over) can no longer touch the row. On PostgreSQL the claim takes the row with
``FOR UPDATE SKIP LOCKED``, so concurrent workers pass each other instead of queueing; SQLite
serializes write transactions anyway.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, delete, select, update
from sqlalchemy.exc import IntegrityError

from parlay.db.scheduling_models import OutboxJob
from parlay.db.session import Database
from parlay.services.outbox import Job

ERROR_CHARS = 2000


async def claim(
    db: Database,
    kinds: Collection[str],
    token: str,
    now: datetime,
    lease: timedelta,
    max_attempts: int,
) -> Job | None:
    """Take one due job of ``kinds``: a pending one whose ``run_after`` has come, or a running
    one whose lease ran out (its worker died). A job whose worker died on its last allowed
    attempt is dead-lettered instead. ``None`` when nothing is due."""
    if not kinds:
        return None
    async with db.write() as session:
        while True:
            query = (
                select(OutboxJob)
                .where(
                    OutboxJob.kind.in_(kinds),
                    (
                        (OutboxJob.status == "running") & (OutboxJob.lease_until <= now)
                        | (OutboxJob.status == "pending") & (OutboxJob.run_after <= now)
                    ),
                )
                .order_by(OutboxJob.run_after, OutboxJob.id)
                .limit(1)
            )
            if not db.is_sqlite:
                query = query.with_for_update(skip_locked=True)
            row = await session.scalar(query)
            if row is None:
                return None
            if row.status == "running" and row.attempts >= max_attempts:
                row.status, row.finished_at = "dead", now
                row.claimed_by = row.lease_until = None
                row.last_error = (
                    f"lease expired after attempt {row.attempts} (the worker died?); "
                    f"last error: {row.last_error}"
                )[:ERROR_CHARS]
                await session.flush()
                continue
            row.status, row.claimed_by = "running", token
            row.lease_until = now + lease
            row.attempts += 1
            return Job(row.id, row.kind, dict(row.payload), row.attempts, row.dedupe_key)


def _owned(job_id: int, token: str) -> ColumnElement[bool]:
    return and_(
        OutboxJob.id == job_id, OutboxJob.claimed_by == token, OutboxJob.status == "running"
    )


async def renew(db: Database, job_id: int, token: str, until: datetime) -> bool:
    """Extend the lease; False when it is no longer ours."""
    async with db.write() as session:
        result = await session.execute(
            update(OutboxJob).where(_owned(job_id, token)).values(lease_until=until)
        )
        return bool(getattr(result, "rowcount", 0))


async def complete(db: Database, job_id: int, token: str, now: datetime) -> bool:
    async with db.write() as session:
        result = await session.execute(
            update(OutboxJob)
            .where(_owned(job_id, token))
            .values(status="done", finished_at=now, lease_until=None, last_error=None)
        )
        return bool(getattr(result, "rowcount", 0))


async def bury(db: Database, job_id: int, token: str, now: datetime, error: str) -> bool:
    """Dead-letter: the job stays, with its last error, for an operator to see."""
    async with db.write() as session:
        result = await session.execute(
            update(OutboxJob)
            .where(_owned(job_id, token))
            .values(
                status="dead", finished_at=now, lease_until=None, last_error=error[:ERROR_CHARS]
            )
        )
        return bool(getattr(result, "rowcount", 0))


async def retry_later(
    db: Database, job_id: int, token: str, now: datetime, run_after: datetime, error: str
) -> bool:
    """Back to pending until ``run_after``. If the job's key was enqueued again meanwhile, that
    newer pending job already brings the latest state: this one is settled as superseded."""
    values = {"lease_until": None, "claimed_by": None, "last_error": error[:ERROR_CHARS]}
    async with db.write() as session:
        try:
            async with session.begin_nested():
                result = await session.execute(
                    update(OutboxJob)
                    .where(_owned(job_id, token))
                    .values(status="pending", run_after=run_after, **values)
                )
            return bool(getattr(result, "rowcount", 0))
        except IntegrityError:  # a pending job of the same key exists
            pass
        key = await session.scalar(select(OutboxJob.dedupe_key).where(_owned(job_id, token)))
        if key is None:
            return False
        # The newer job waits as long as this one was told to (a Retry-After holds for both).
        await session.execute(
            update(OutboxJob)
            .where(
                OutboxJob.dedupe_key == key,
                OutboxJob.status == "pending",
                OutboxJob.run_after < run_after,
            )
            .values(run_after=run_after)
        )
        result = await session.execute(
            update(OutboxJob)
            .where(_owned(job_id, token))
            .values(
                status="done",
                finished_at=now,
                **{**values, "last_error": f"superseded after: {error}"[:ERROR_CHARS]},
            )
        )
        return bool(getattr(result, "rowcount", 0))


async def prune_done(db: Database, before: datetime) -> int:
    async with db.write() as session:
        result = await session.execute(
            delete(OutboxJob).where(OutboxJob.status == "done", OutboxJob.finished_at < before)
        )
        return int(getattr(result, "rowcount", 0) or 0)
