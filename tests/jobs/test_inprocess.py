"""The embedded default: the web process runs the worker with the handlers its container was
given, and stopping the app stops the worker."""

from __future__ import annotations

from typing import Any

from parlay.container import Container
from parlay.main import create_app
from parlay.services.outbox import Job
from tests.jobs.helpers import enqueue, eventually, job


async def test_the_web_process_runs_injected_handlers(make_settings: Any) -> None:
    settings = make_settings(inprocess_worker=True)
    container = Container.build(settings)
    delivered: list[dict[str, Any]] = []

    async def deliver(j: Job) -> None:
        delivered.append(j.payload)

    container.handlers["calendar.sync"] = deliver
    app = create_app(settings, container)
    async with app.router.lifespan_context(app):
        ctx = app.state.ctx
        await enqueue(ctx, "calendar.sync", "calendar:m1:c1", {"meeting": "m1"})

        async def done() -> bool:
            return (await job(ctx.db, "calendar:m1:c1")).status == "done"

        await eventually(done)
        assert delivered == [{"meeting": "m1"}]
    assert container._worker is not None and container._worker.done()
