"""The worker survives its own death: a worker process SIGKILLed in the middle of a handler
loses its lease, and a restarted worker runs the job to completion exactly once more (both
databases, real processes, real clock)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path
from typing import Any

from tests.jobs.helpers import enqueue, eventually, job

ROOT = Path(__file__).resolve().parents[2]


async def start_worker(url: str, log: Path, lease: float) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.jobs.worker_process",
        url,
        str(log),
        str(lease),
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def lines(log: Path) -> list[str]:
    return log.read_text().splitlines() if log.exists() else []


async def test_a_worker_killed_mid_handler_is_replaced_and_the_job_runs_once_more(
    app: Any, tmp_path: Path
) -> None:
    ctx = app.state.ctx
    log = tmp_path / "attempts.log"
    await enqueue(ctx, "test.record", "calendar:m1:c1", {"hang_first": True})
    row_id = (await job(ctx.db, "calendar:m1:c1")).id

    first = await start_worker(ctx.db.url, log, lease=1.0)
    try:

        async def started() -> bool:
            return lines(log) == [f"start {row_id} 1"]

        await eventually(started)
    finally:
        first.send_signal(signal.SIGKILL)
        await first.wait()
    row = await job(ctx.db, "calendar:m1:c1")
    assert (row.status, row.attempts) == ("running", 1)  # held by a dead worker's lease

    second = await start_worker(ctx.db.url, log, lease=1.0)
    try:

        async def finished() -> bool:
            return (await job(ctx.db, "calendar:m1:c1")).status == "done"

        await eventually(finished)
    finally:
        second.send_signal(signal.SIGTERM)
        await second.wait()
    assert lines(log) == [f"start {row_id} 1", f"start {row_id} 2", f"done {row_id} 2"]
    row = await job(ctx.db, "calendar:m1:c1")
    assert (row.status, row.attempts, row.lease_until) == ("done", 2, None)
