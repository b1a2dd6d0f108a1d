"""``parlay worker`` with a short lease, for the crash tests that kill it mid-delivery:
``python -m tests.jobs.calendar_worker_process LEASE_SECONDS`` (settings from ``PARLAY_*``).

It is the CLI's worker command line for line (``Settings()`` from the environment, the
container's real handlers: calendar writes through the real adapters, e-mail, syncs...) except
for the lease, which ``parlay worker`` fixes at a minute: a test cannot wait that long for a
killed worker's job to be claimed again, and the lease is the one thing under test there.
``worker_env`` turns a test's ``Settings`` into that environment, for this and ``parlay worker``.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from datetime import datetime
from pathlib import Path

from pydantic import SecretStr

from parlay.container import Container
from parlay.jobs.runner import Worker, WorkerConfig
from parlay.settings import Settings


def worker_env(settings: Settings) -> dict[str, str]:
    """This process's environment without its own ``PARLAY_*``, plus ``settings`` as
    ``PARLAY_*`` variables (what an operator would export), and the repository importable."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARLAY_")}
    for name, value in settings.model_dump().items():
        if value is None:
            continue
        if isinstance(value, SecretStr):
            text = value.get_secret_value()
        elif isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, datetime):
            text = value.isoformat()
        else:
            text = str(value)
        env[f"PARLAY_{name.upper()}"] = text
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
    return env


async def main(lease: float) -> None:
    settings = Settings()
    container = Container.build(settings)
    worker = Worker(
        container.ctx.db,
        container.handlers,
        user_clock=container.ctx.now,
        config=WorkerConfig(
            lease_seconds=lease,
            idle_seconds=0.05,
            calendar_sync_seconds=settings.calendar_sync_seconds,
        ),
        name=f"crash-test:{os.getpid()}",
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        await worker.run(stop)
    finally:
        await container.ctx.db.dispose()


if __name__ == "__main__":
    asyncio.run(main(float(sys.argv[1])))
