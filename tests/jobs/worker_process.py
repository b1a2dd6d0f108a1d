"""A worker process for the crash tests: ``python -m tests.jobs.worker_process URL LOG LEASE``.

It runs the real ``Worker`` loop (real clock, real lease) with one handler, ``test.record``,
which appends ``start <id> <attempt>`` to LOG, hangs forever on the job's first attempt (so
the test can SIGKILL it mid-handler) and appends ``done <id> <attempt>`` otherwise.
"""

from __future__ import annotations

import asyncio
import os
import sys

from parlay.db.session import Database
from parlay.jobs.runner import Worker, WorkerConfig
from parlay.services.outbox import Job, wall_clock


def record(path: str, line: str) -> None:
    with open(path, "a") as log:
        log.write(line + "\n")
        log.flush()
        os.fsync(log.fileno())


async def main(url: str, path: str, lease: float) -> None:
    async def handler(job: Job) -> None:
        record(path, f"start {job.id} {job.attempts}")
        if job.attempts == 1 and job.payload.get("hang_first"):
            await asyncio.Event().wait()  # killed here
        record(path, f"done {job.id} {job.attempts}")

    db = Database(url)
    worker = Worker(
        db,
        {"test.record": handler},
        user_clock=wall_clock,
        config=WorkerConfig(lease_seconds=lease, idle_seconds=0.05),
        name=f"crash-test:{os.getpid()}",
    )
    try:
        await worker.run()
    finally:
        await db.dispose()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], float(sys.argv[3])))
