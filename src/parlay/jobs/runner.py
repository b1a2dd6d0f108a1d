"""The outbox worker: claims one due job at a time under a lease, runs its handler, settles it.

- A claim is one short transaction (``parlay.jobs.queue.claim``); while the handler runs, the
  lease is renewed every third of its length. A worker that dies stops renewing, its lease runs
  out and another worker (or this one, restarted) claims the job again. A worker that finds its
  lease taken over stops its handler and leaves the job to the new owner.
- Handlers come from the composition root (``Container.handlers``), keyed by job kind; a worker
  claims only kinds it has a handler for. ``Retryable`` (or any unexpected exception) retries
  after ``retry_after`` when given, else after an exponential backoff with jitter;
  ``Permanent`` dead-letters at once; a job is dead-lettered after ``max_attempts`` claims.
- Leases, backoff and Retry-After run on transport time (``wall_clock``), never the pinnable
  user-facing clock, which only housekeeping of user-facing records follows.

In the embedded default the worker runs inside the web process; ``parlay worker`` runs it alone,
and any number of them may share the queue (PostgreSQL ``FOR UPDATE SKIP LOCKED``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import socket
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from parlay.db.session import Database
from parlay.jobs import housekeeping, queue
from parlay.services.outbox import Handler, Job, Permanent, Retryable, wall_clock

log = logging.getLogger(__name__)


def _being_cancelled() -> bool:
    """Whether the running task has been asked to stop (``Task.cancel``), as opposed to a
    ``CancelledError`` coming out of something it awaited."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


@dataclass(frozen=True)
class WorkerConfig:
    lease_seconds: float = 60.0
    max_attempts: int = 8
    idle_seconds: float = 1.0
    backoff_base_seconds: float = 2.0
    backoff_cap_seconds: float = 900.0
    housekeeping_seconds: float = 3600.0
    #: The calendar sync period; housekeeping restarts sync chains stalled for two (None: not).
    calendar_sync_seconds: float | None = None


def backoff(attempts: int, config: WorkerConfig, rng: random.Random) -> float:
    """Seconds before retry number ``attempts``: doubling from the base up to the cap, each
    drawn from its upper half so workers retrying together spread out."""
    base = min(config.backoff_cap_seconds, config.backoff_base_seconds * 2.0 ** (attempts - 1))
    return base * rng.uniform(0.5, 1.0)


class Worker:
    def __init__(
        self,
        db: Database,
        handlers: Mapping[str, Handler],
        *,
        user_clock: Callable[[], datetime],
        clock: Callable[[], datetime] = wall_clock,
        monotonic: Callable[[], float] = time.monotonic,
        config: WorkerConfig | None = None,
        name: str | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.db = db
        self.handlers = dict(handlers)
        self.user_clock = user_clock
        self.clock = clock
        self.monotonic = monotonic
        self.config = config or WorkerConfig()
        self.name = name or f"{socket.gethostname()}:{os.getpid()}"
        self.rng = rng or random.Random()
        self._next_housekeeping: float | None = None

    @property
    def lease(self) -> timedelta:
        return timedelta(seconds=self.config.lease_seconds)

    async def run_one(self) -> bool:
        """Claim and run one due job; False when none was due."""
        token = f"{self.name}:{uuid.uuid4().hex[:12]}"[:80]
        job = await queue.claim(
            self.db, self.handlers, token, self.clock(), self.lease, self.config.max_attempts
        )
        if job is None:
            return False
        task = asyncio.create_task(self.handlers[job.kind](job), name=f"outbox-job-{job.id}")
        lost = False
        try:
            lost = await self._hold_lease(job, token, task)
            await task
        except asyncio.CancelledError:
            if _being_cancelled() or not task.done():
                # We are being stopped (even if the handler happened to finish at that very
                # moment): hand the job back now, not after a lease, and stop.
                if not task.done():
                    task.cancel()
                    with contextlib.suppress(BaseException):
                        await task
                with contextlib.suppress(Exception):
                    await asyncio.shield(self._release(job, token))
                raise
            if lost:
                log.warning("job %s (%s): lease lost to another worker; stopped", job.id, job.kind)
                return True
            await self._failed(job, token, Retryable("handler cancelled"))
        except Exception as exc:
            await self._failed(job, token, exc)
        else:
            if not await queue.complete(self.db, job.id, token, self.clock()):
                log.warning("job %s (%s) finished after its lease was lost", job.id, job.kind)
        return True

    async def _hold_lease(self, job: Job, token: str, task: asyncio.Task[None]) -> bool:
        """Renew the lease until the handler ends; cancel it (and say so) if the lease is lost."""
        every = self.config.lease_seconds / 3
        while True:
            done, _ = await asyncio.wait({task}, timeout=every)
            if done:
                return False
            try:
                ours = await queue.renew(self.db, job.id, token, self.clock() + self.lease)
            except Exception:
                log.warning("job %s: could not renew its lease", job.id, exc_info=True)
                continue
            if not ours:
                task.cancel()
                return True

    async def _release(self, job: Job, token: str) -> None:
        now = self.clock()
        await queue.retry_later(self.db, job.id, token, now, now, "the worker stopped mid-run")

    async def _failed(self, job: Job, token: str, exc: BaseException) -> None:
        now = self.clock()
        if isinstance(exc, Permanent):
            log.warning("job %s (%s) failed for good: %s", job.id, job.kind, exc.reason)
            await queue.bury(self.db, job.id, token, now, f"permanent: {exc.reason}")
            return
        error = str(exc) if isinstance(exc, Retryable) else repr(exc)
        if job.attempts >= self.config.max_attempts:
            log.warning("job %s (%s) dead after %d attempts", job.id, job.kind, job.attempts)
            await queue.bury(self.db, job.id, token, now, f"gave up after {job.attempts}: {error}")
            return
        retry_after = exc.retry_after if isinstance(exc, Retryable) else None
        if retry_after is not None:
            delay = max(0.0, float(retry_after))
        else:
            delay = backoff(job.attempts, self.config, self.rng)
        log.info("job %s (%s) will retry in %.1fs: %s", job.id, job.kind, delay, error)
        run_after = now + timedelta(seconds=delay)
        await queue.retry_later(self.db, job.id, token, now, run_after, error)

    async def housekeep(self) -> housekeeping.Pruned:
        return await housekeeping.prune(
            self.db,
            wall_now=self.clock(),
            user_now=self.user_clock(),
            calendar_sync_seconds=self.config.calendar_sync_seconds,
        )

    async def _housekeep_when_due(self) -> None:
        now = self.monotonic()
        if self._next_housekeeping is not None and now < self._next_housekeeping:
            return
        self._next_housekeeping = now + self.config.housekeeping_seconds
        try:
            await self.housekeep()
        except Exception:
            log.exception("outbox housekeeping failed")

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Run until ``stop`` is set (or the task is cancelled): due jobs one after another,
        a pause of ``idle_seconds`` when none is due, housekeeping on its schedule."""
        stop = stop or asyncio.Event()
        log.info("outbox worker %s handles %s", self.name, sorted(self.handlers))
        while not stop.is_set():
            await self._housekeep_when_due()
            try:
                ran = await self.run_one()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("outbox worker iteration failed")
                ran = False
            if not ran:
                # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a
                # cancellation that lands as its timeout fires, and the worker would run on.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.config.idle_seconds):
                        await stop.wait()
