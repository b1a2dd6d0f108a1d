"""Issue 12's reminder acceptance, literally: two ``parlay worker`` processes on PostgreSQL.

A worker process reads the pinned clock once, from ``PARLAY_NOW`` (the clock moved with
``POST /api/v1/test/clock`` lives in the serving process only), so "moving the clock" here is
starting the two workers again at the next instant.  One second before the reminder instant,
the scans run and nothing fires; at the instant, each participant gets one reminder (in-app,
stamped with that instant, and one e-mail) although both workers scan, several scans at once;
moved on again, nothing more.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from parlay.db.notification_models import Notification
from parlay.db.scheduling_models import OutboxJob
from parlay.services.reminder_scans import SCAN_KIND
from parlay.settings import Settings
from tests.conftest import Person
from tests.jobs.calendar_worker_process import worker_env
from tests.jobs.helpers import enqueue, eventually
from tests.web.test_notification_mail import (
    Catcher,
    smtp,  # noqa: F401  (fixture)
    smtp_port,  # noqa: F401  (fixture)
)
from tests.web.test_scheduling import NOW, book, share

ROOT = Path(__file__).resolve().parents[2]
START = "2026-12-01T08:00:00Z"  # both keep the default 10 minutes: reminders at 07:50
BEFORE, AT, LATER = (
    "2026-12-01T07:49:59+00:00",
    "2026-12-01T07:50:00+00:00",
    "2026-12-01T07:59:00+00:00",
)


@pytest.fixture
def backend() -> str:
    return "postgres"  # several workers claiming at once: the PostgreSQL case


@pytest.fixture
def settings(make_settings: Any, smtp_port: int) -> Settings:  # noqa: F811
    return make_settings(
        now=NOW, base_url="https://parlay.example", smtp_host="127.0.0.1", smtp_port=smtp_port
    )


@contextlib.asynccontextmanager
async def two_workers(settings: Settings, now: str) -> AsyncIterator[None]:
    """Two ``parlay worker`` processes whose pinned clock reads ``now``; stopped at the end."""
    env = worker_env(settings.model_copy(update={"now": datetime.fromisoformat(now)}))
    parlay = str(Path(sys.executable).parent / "parlay")
    procs = [
        await asyncio.create_subprocess_exec(parlay, "worker", cwd=ROOT, env=env) for _ in range(2)
    ]
    try:
        yield
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                await asyncio.wait_for(proc.wait(), 30)
            except TimeoutError:
                proc.kill()
                await proc.wait()
        # Neither crashed: each stopped cleanly, or our SIGTERM found it still starting up
        # (before it installs its handler: a fast phase may end while one is importing).
        assert all(p.returncode in (0, -signal.SIGTERM) for p in procs), [
            p.returncode for p in procs
        ]


async def reminders(app: Any) -> list[Notification]:
    async with app.state.ctx.db.read() as session:
        query = select(Notification).where(Notification.kind == "meeting.reminder")
        return list(await session.scalars(query.order_by(Notification.user_id)))


async def queue_scans(app: Any, tag: str, count: int) -> list[str]:
    """Queue ``count`` reminder scans besides the chained one (so both workers scan at once)."""
    keys = [f"reminders:scan:{tag}-{n}" for n in range(count)]
    for key in keys:
        await enqueue(app.state.ctx, SCAN_KIND, key, {})
    return keys


async def scans_finish(app: Any, keys: list[str]) -> None:
    """Wait until the scans queued as ``keys`` have run (under the workers' clock)."""

    async def finished() -> bool:
        async with app.state.ctx.db.read() as session:
            statuses = await session.scalars(
                select(OutboxJob.status).where(OutboxJob.dedupe_key.in_(keys))
            )
            return list(statuses) == ["done"] * len(keys)

    await eventually(finished, seconds=60)


def reminder_mail(catcher: Catcher, person: Person) -> list[Any]:
    return [m for m in catcher.to(person.email) if "Reminder" in str(m["Subject"])]


async def test_two_workers_send_each_reminder_once_at_its_instant(
    app: Any,
    settings: Settings,
    room: dict[str, Any],
    alice: Person,
    bob: Person,
    smtp: Catcher,  # noqa: F811
) -> None:
    await book(bob, await share(alice, room["id"], duration=30), START)

    async with two_workers(settings, BEFORE):

        async def booking_mailed() -> bool:  # one message each about the booking
            return all(len(smtp.to(p.email)) == 1 for p in (alice, bob))

        await eventually(booking_mailed, seconds=60)
        await scans_finish(app, await queue_scans(app, "before", 2))
    assert await reminders(app) == []  # a second early: none

    racing = await queue_scans(app, "at", 4)
    async with two_workers(settings, AT):

        async def reminded() -> bool:
            return all(len(reminder_mail(smtp, p)) >= 1 for p in (alice, bob))

        await eventually(reminded, seconds=60)
        await scans_finish(app, racing)
    sent = await reminders(app)
    assert sorted(n.user_id for n in sent) == sorted([alice.id, bob.id])  # once each
    assert {n.created_at.isoformat() for n in sent} == {AT}  # at the instant
    assert all("starts in 10 minutes" in n.body for n in sent)

    async with two_workers(settings, LATER):  # moved again
        await scans_finish(app, await queue_scans(app, "later", 2))
    assert len(await reminders(app)) == 2
    assert [len(reminder_mail(smtp, p)) for p in (alice, bob)] == [1, 1]
    assert [len(smtp.to(p.email)) for p in (alice, bob)] == [2, 2]  # booking + reminder
