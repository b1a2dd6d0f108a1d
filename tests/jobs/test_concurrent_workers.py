"""Several workers share one queue: each job runs exactly once and never on two workers at
once (PostgreSQL claims with FOR UPDATE SKIP LOCKED; SQLite serializes writers). Each worker
has its own database engine, as separate processes would."""

from __future__ import annotations

import asyncio
from typing import Any

from parlay.db.session import Database
from parlay.jobs.runner import Worker, WorkerConfig
from parlay.services.outbox import Job, wall_clock
from tests.jobs.helpers import enqueue, jobs

JOBS = 40
WORKERS = 4


async def test_workers_never_run_one_job_at_once_and_each_job_runs_once(app: Any) -> None:
    ctx = app.state.ctx
    for n in range(JOBS):
        await enqueue(ctx, "calendar.sync", f"calendar:m{n}:c1", {"n": n})
    in_flight: set[int] = set()
    overlaps: list[int] = []
    ran: list[int] = []

    async def deliver(job: Job) -> None:
        if job.id in in_flight:
            overlaps.append(job.id)
        in_flight.add(job.id)
        await asyncio.sleep(0.005)  # yield, so the other workers claim meanwhile
        in_flight.discard(job.id)
        ran.append(job.id)

    databases = [Database(ctx.db.url) for _ in range(WORKERS)]
    workers = [
        Worker(
            db,
            {"calendar.sync": deliver},
            user_clock=wall_clock,
            config=WorkerConfig(),
            name=f"w{n}",
        )
        for n, db in enumerate(databases)
    ]

    async def drain(worker: Worker) -> int:
        count = 0
        while await worker.run_one():
            count += 1
        return count

    try:
        counts = await asyncio.gather(*(drain(w) for w in workers))
    finally:
        for db in databases:
            await db.dispose()
    assert overlaps == []
    assert sorted(ran) == sorted(r.id for r in await jobs(ctx.db)) and len(ran) == JOBS
    assert sum(counts) == JOBS
    assert {r.status for r in await jobs(ctx.db)} == {"done"}
    if not ctx.db.is_sqlite:
        assert sum(1 for c in counts if c) > 1  # the queue really was shared
