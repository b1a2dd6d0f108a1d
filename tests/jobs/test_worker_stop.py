"""Stopping a worker: it always stops, and the job in hand goes back to the queue.

A stop that lands just as a handler finishes must still stop the worker (a lost
cancellation kept a worker running, and the app's shutdown waiting for it, for ever), and the
app's shutdown never waits long for a handler that ignores its cancellation.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest

import parlay.container as container_module
from parlay.container import Container
from parlay.jobs.runner import Worker
from parlay.main import create_app
from parlay.services.outbox import Job
from tests.jobs.helpers import enqueue, eventually, job


async def test_a_stop_landing_as_the_handler_finishes_stops_the_worker(app: Any) -> None:
    ctx = app.state.ctx
    await enqueue(ctx, "test.quick", "quick:1", {})
    runner: asyncio.Task[bool] | None = None

    async def quick(_job: Job) -> None:
        assert runner is not None
        runner.cancel()  # the stop arrives now, and the handler returns at once

    worker = Worker(ctx.db, {"test.quick": quick}, user_clock=ctx.now)
    runner = asyncio.create_task(worker.run_one())
    with pytest.raises(asyncio.CancelledError):
        await runner
    # Handed back, not failed: it runs again (at least once) on the next worker.
    row = await job(ctx.db, "quick:1")
    assert row.status == "pending"
    assert row.attempts == 1
    assert row.claimed_by is None


async def test_shutdown_does_not_wait_for_a_handler_that_ignores_its_cancellation(
    make_settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(container_module, "WORKER_STOP_SECONDS", 0.5)
    settings = make_settings(inprocess_worker=True)
    container = Container.build(settings)
    started = asyncio.Event()
    release = asyncio.Event()

    async def stubborn(_job: Job) -> None:
        started.set()
        while not release.is_set():
            with contextlib.suppress(asyncio.CancelledError):
                await release.wait()

    container.handlers["test.stubborn"] = stubborn
    app = create_app(settings, container)
    async with app.router.lifespan_context(app):
        await enqueue(app.state.ctx, "test.stubborn", "stubborn:1", {})

        async def running() -> bool:
            return started.is_set()

        await eventually(running)
    # The app stopped (the block above ended) although the handler is still running.
    assert container._worker is not None and not container._worker.done()
    release.set()
    with contextlib.suppress(asyncio.CancelledError):
        await container._worker
