"""The outbox worker: runs due jobs once, retries failures with backoff, dead-letters."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from parlay.db.scheduling_models import OutboxJob
from parlay.jobs import runner


async def _enqueue(ctx: Any, kind: str, payload: dict[str, Any]) -> int:
    async with ctx.db.write() as session:
        job = OutboxJob(
            kind=kind, payload=payload, run_after=ctx.now(), created_at=ctx.now(), attempts=0
        )
        session.add(job)
        await session.flush()
        return job.id


async def _job(ctx: Any, job_id: int) -> OutboxJob:
    async with ctx.db.read() as session:
        job = await session.scalar(select(OutboxJob).where(OutboxJob.id == job_id))
        assert job is not None
        return job


async def test_success_retry_and_dead_letter(app: Any) -> None:
    ctx = app.state.ctx
    seen: list[dict[str, Any]] = []
    failures = {"n": 0}

    async def ok(_ctx: Any, payload: dict[str, Any]) -> None:
        seen.append(payload)

    async def flaky(_ctx: Any, payload: dict[str, Any]) -> None:
        failures["n"] += 1
        raise RuntimeError("provider said 503")

    runner.register("test.ok", ok)
    runner.register("test.flaky", flaky)
    good = await _enqueue(ctx, "test.ok", {"n": 1})
    bad = await _enqueue(ctx, "test.flaky", {"n": 2})
    unknown = await _enqueue(ctx, "test.nobody", {})

    await runner.run_once(ctx)
    assert seen == [{"n": 1}]
    assert (await _job(ctx, good)).status == "done"
    retry = await _job(ctx, bad)
    assert retry.status == "pending" and retry.attempts == 1 and "503" in (retry.last_error or "")
    assert retry.run_after > ctx.now()  # backed off, not retried at once
    assert (await _job(ctx, unknown)).status == "dead"

    await runner.run_once(ctx)
    assert failures["n"] == 1 and seen == [{"n": 1}]  # nothing ran twice, nothing early

    for _ in range(runner.MAX_ATTEMPTS):
        async with ctx.db.write() as session:
            row = await session.get(OutboxJob, bad)
            assert row is not None
            row.run_after = ctx.now() - timedelta(seconds=1)
        await runner.run_once(ctx)
    assert (await _job(ctx, bad)).status == "dead"
    assert failures["n"] == runner.MAX_ATTEMPTS
