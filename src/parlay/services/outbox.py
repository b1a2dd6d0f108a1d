"""The transactional outbox, as use cases and handlers see it.

A use case enqueues a job inside its own transaction (``UnitOfWork.enqueue``), so the job
exists exactly when the change that calls for it committed. A job names an outcome, not a
step: its ``dedupe_key`` ("calendar:<meeting>:<calendar>") says what it brings about, and
enqueueing a key that already has a pending job coalesces into that one row (payload and
``run_after`` refreshed), so however many changes pile up, one delivery brings the latest state
and the order of deliveries never matters.

Handlers (``Handler``) are plain async callables given a ``Job``; they say how a failure should
be treated by raising ``Retryable`` (optionally with the provider's ``retry_after``) or
``Permanent``; any other exception counts as retryable. The worker is ``parlay.jobs``.

Instants on outbox rows are transport time, the real clock (API.md "Two clocks"): a pinned
``PARLAY_NOW`` must not make a job wait for, or skip, a Retry-After.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import case, func, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from parlay.db.scheduling_models import OutboxJob
from parlay.db.session import Database

STATUSES = ("pending", "running", "done", "dead")


def wall_clock() -> datetime:
    """Transport time: the real clock, whatever the user-facing clock says."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class Job:
    """What a handler is given: the job's id, kind, payload and how many times it was claimed
    (this run included, so the first run sees ``attempts == 1``)."""

    id: int
    kind: str
    payload: dict[str, Any]
    attempts: int
    dedupe_key: str | None = None


Handler = Callable[[Job], Coroutine[Any, Any, None]]


class Retryable(Exception):
    """Try again later: after ``retry_after`` seconds when the provider said so (Retry-After),
    else after the worker's backoff."""

    def __init__(self, message: str = "retryable failure", retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class Permanent(Exception):
    """Retrying cannot help (bad request, the target is gone for good): dead-letter now."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


async def enqueue(
    session: AsyncSession,
    kind: str,
    dedupe_key: str,
    payload: dict[str, Any],
    *,
    delay: float = 0.0,
    now: datetime | None = None,
) -> None:
    """Add a job in the caller's transaction, or coalesce into the pending job of that key.

    Coalescing replaces the payload and brings ``run_after`` to ``now + delay``, except for a
    job already backing off after a failure, which keeps its later ``run_after`` (a provider's
    Retry-After is honoured whatever else happens meanwhile). A key whose job is running gets
    a new pending job: the running one may be delivering the previous state.
    """
    at = (now or wall_clock()) + timedelta(seconds=delay)
    values = {
        "kind": kind,
        "dedupe_key": dedupe_key,
        "payload": payload,
        "status": "pending",
        "attempts": 0,
        "run_after": at,
        "created_at": at - timedelta(seconds=delay),
    }
    dialect = session.get_bind().dialect.name
    insert = sqlite_insert if dialect == "sqlite" else pg_insert
    statement = insert(OutboxJob).values(**values)
    table = OutboxJob.__table__
    statement = statement.on_conflict_do_update(
        index_elements=[table.c.dedupe_key],
        # A literal, not a bound parameter: PostgreSQL must match it to the index predicate,
        # and a prepared statement's generic plan cannot infer the index from a parameter.
        index_where=text("status = 'pending'"),
        set_={
            "kind": statement.excluded.kind,
            "payload": statement.excluded.payload,
            "run_after": case(
                (
                    (table.c.attempts > 0) & (table.c.run_after > statement.excluded.run_after),
                    table.c.run_after,
                ),
                else_=statement.excluded.run_after,
            ),
        },
    )
    await session.execute(statement)


@dataclass(frozen=True)
class DeadJob:
    id: int
    kind: str
    dedupe_key: str | None
    attempts: int
    last_error: str | None
    created_at: datetime


@dataclass(frozen=True)
class OutboxStats:
    """Jobs by status (every status present, zero when none) and how long the oldest pending
    job has waited since it was first enqueued (``None`` without pending jobs)."""

    counts: dict[str, int] = field(default_factory=dict)
    oldest_pending_seconds: float | None = None


async def get_stats(db: Database, now: datetime | None = None) -> OutboxStats:
    async with db.read() as session:
        rows = (
            await session.execute(select(OutboxJob.status, func.count()).group_by(OutboxJob.status))
        ).all()
        oldest = await session.scalar(
            select(func.min(OutboxJob.created_at)).where(OutboxJob.status == "pending")
        )
    counts = dict.fromkeys(STATUSES, 0)
    counts.update({status: int(n) for status, n in rows})
    if oldest is None:
        return OutboxStats(counts=counts)
    if oldest.tzinfo is None:  # func.min bypasses the column type on SQLite
        oldest = datetime.fromisoformat(str(oldest)).replace(tzinfo=UTC)
    age = max(0.0, ((now or wall_clock()) - oldest).total_seconds())
    return OutboxStats(counts=counts, oldest_pending_seconds=age)


async def list_dead(db: Database, limit: int = 50) -> list[DeadJob]:
    """Dead-lettered jobs, newest first, with the error that finished them."""
    async with db.read() as session:
        rows = await session.scalars(
            select(OutboxJob)
            .where(OutboxJob.status == "dead")
            .order_by(OutboxJob.id.desc())
            .limit(limit)
        )
        return [
            DeadJob(r.id, r.kind, r.dedupe_key, r.attempts, r.last_error, r.created_at)
            for r in rows
        ]
