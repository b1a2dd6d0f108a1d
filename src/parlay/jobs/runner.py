"""The outbox worker: claims due jobs, runs their handler, retries with backoff, dead-letters.

Handlers are registered by kind (``register``).  In the embedded default the worker runs inside
the web process; ``parlay worker`` runs it alone.  On PostgreSQL, claims use
``FOR UPDATE SKIP LOCKED`` so several workers share the queue.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from parlay.db.scheduling_models import OutboxJob
from parlay.services.context import Context

log = logging.getLogger(__name__)
Handler = Callable[[Context, dict[str, Any]], Awaitable[None]]
HANDLERS: dict[str, Handler] = {}
MAX_ATTEMPTS = 8


def register(kind: str, handler: Handler) -> None:
    HANDLERS[kind] = handler


def backoff(attempts: int) -> timedelta:
    base = min(600.0, 2.0**attempts)
    return timedelta(seconds=base * (0.5 + random.random() / 2))


async def run_once(ctx: Context, batch: int = 20) -> int:
    """Run the jobs that are due; returns how many ran."""
    async with ctx.db.write() as session:
        query = (
            select(OutboxJob)
            .where(OutboxJob.status == "pending", OutboxJob.run_after <= ctx.now())
            .order_by(OutboxJob.id)
            .limit(batch)
        )
        if not ctx.db.is_sqlite:
            query = query.with_for_update(skip_locked=True)
        jobs = list((await session.scalars(query)).all())
        for job in jobs:
            job.status = "running"
    for job in jobs:
        handler = HANDLERS.get(job.kind)
        error: str | None = None
        if handler is None:
            error = f"no handler for {job.kind}"
        else:
            try:
                await handler(ctx, job.payload)
            except Exception as exc:
                log.warning("job %s (%s) failed", job.id, job.kind, exc_info=True)
                error = repr(exc)[:2000]
        async with ctx.db.write() as session:
            row = await session.get(OutboxJob, job.id)
            assert row is not None
            row.attempts += 1
            if error is None:
                row.status = "done"
            elif row.attempts >= MAX_ATTEMPTS or handler is None:
                row.status, row.last_error = "dead", error
            else:
                row.status, row.last_error = "pending", error
                row.run_after = ctx.now() + backoff(row.attempts)
    return len(jobs)


async def run_loop(ctx: Context, idle_seconds: float = 1.0) -> None:
    while True:
        try:
            ran = await run_once(ctx)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("outbox worker iteration failed")
            ran = 0
        if not ran:
            await asyncio.sleep(idle_seconds)
