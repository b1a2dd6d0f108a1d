"""Issue 9, "Bad input and faults", for meetings out: a worker SIGKILLed while Google holds
its events.insert is replaced by ``parlay worker``, and Alice's calendar ends with the meeting
once, at its time, following a later reschedule; a 429 on Alice's Google connection leaves
her job waiting as told while Bob's CalDAV calendar gets the same meeting at once.  Real
processes, the Google emulator over HTTP, a real Radicale, both databases."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from parlay.db.calendar_models import LinkedCalendar
from parlay.db.scheduling_models import OutboxJob
from parlay.jobs.runner import Worker, WorkerConfig
from parlay.services.calendar_writes import WRITE_KIND
from parlay.services.outbox import wall_clock
from parlay.settings import Settings
from tests.conftest import Person
from tests.jobs.calendar_worker_process import worker_env
from tests.providers import conftest as caldav_fixtures
from tests.providers.conftest import Radicale
from tests.providers.google_fixtures import GoogleEmulator, google_fixture, google_server_fixture
from tests.web.test_calendar_writes import book, dtstart, reschedule
from tests.web.test_calendar_writes_google import link_google, live
from tests.web.test_calendars_caldav import DAY, link, share
from tests.web.test_scheduling import NOW

google = google_fixture
google_server = google_server_fixture
radicale = caldav_fixtures.radicale
ROOT = Path(__file__).resolve().parents[2]
INSERT = "calendar.events.insert"
#: How long Google holds the first insert: long enough to kill the worker inside it.
HOLD_SECONDS = 6.0
LEASE_SECONDS = 1.5


@pytest.fixture
def settings(make_settings: Any, google_server: str) -> Settings:
    return make_settings(
        now=NOW,
        base_url="https://parlay.example",
        google_api_url=google_server,
        google_userinfo_url=f"{google_server}/v1/userinfo",
    )


async def until(condition: Callable[[], Awaitable[bool]], seconds: float = 60.0) -> None:
    """Poll ``condition`` until it holds; fail once ``seconds`` of wall time have passed."""
    deadline = time.monotonic() + seconds
    while not await condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition never held")
        await asyncio.sleep(0.05)


def bobs(radicale: Radicale, calendar: str) -> list[str]:
    """The texts of the resources in Bob's CalDAV calendar."""
    return [radicale.get("bob", href).text for href in radicale.items("bob", calendar)]


async def write_jobs(app: Any) -> list[OutboxJob]:
    async with app.state.ctx.db.read() as session:
        query = select(OutboxJob).where(OutboxJob.kind == WRITE_KIND).order_by(OutboxJob.id)
        return list((await session.scalars(query)).all())


@contextlib.asynccontextmanager
async def process(settings: Settings, *argv: str) -> AsyncIterator[asyncio.subprocess.Process]:
    """A worker process on the test's settings; SIGTERMed at the end if still alive."""
    proc = await asyncio.create_subprocess_exec(*argv, cwd=ROOT, env=worker_env(settings))
    try:
        yield proc
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), 30)
            except TimeoutError:
                proc.kill()
                await proc.wait()


def short_lease_worker(settings: Settings) -> Any:
    return process(
        settings, sys.executable, "-m", "tests.jobs.calendar_worker_process", str(LEASE_SECONDS)
    )


def parlay_worker(settings: Settings) -> Any:
    return process(settings, str(Path(sys.executable).parent / "parlay"), "worker")


@pytest.mark.parametrize("stored", [True, False], ids=["held-after-storing", "held-before"])
async def test_a_worker_killed_inside_the_insert_is_replaced_and_the_event_exists_once(
    app: Any,
    settings: Settings,
    room: dict[str, Any],
    alice: Person,
    bob: Person,
    google: GoogleEmulator,
    stored: bool,
) -> None:
    await link_google(app, alice, google)
    invite = await share(alice, room)
    google.http.post(
        "/_emulator/faults",
        json={"operation": INSERT, "delay_seconds": HOLD_SECONDS, "after": stored},
    ).raise_for_status()
    meeting = await book(bob, invite, "10:00")

    async with short_lease_worker(settings) as first:

        async def insert_in_flight() -> bool:
            return google.http.get("/_emulator/faults").json()["faults"] == []

        await until(insert_in_flight)
        first.send_signal(signal.SIGKILL)
        await first.wait()
    [job] = await write_jobs(app)
    assert (job.status, job.attempts) == ("running", 1)  # killed before the answer came
    assert len(live(google)) == (1 if stored else 0)

    async with parlay_worker(settings):

        async def delivered() -> bool:
            [job] = await write_jobs(app)
            return job.status == "done"

        await until(delivered)
        [job] = await write_jobs(app)
        assert job.attempts == 2

        async def both_inserts_answered() -> bool:  # the held one too, to a dead socket
            return len(google.requests(INSERT)) == 2

        await until(both_inserts_answered)
        assert sorted(r["status"] for r in google.requests(INSERT)) == [200, 409]
        [event] = live(google)
        assert event["start"]["dateTime"].startswith(f"{DAY}T10:00")
        assert event["location"] == meeting["join_url"]

        await reschedule(bob, meeting, "12:00")

        async def moved() -> bool:
            events = live(google)
            return len(events) == 1 and events[0]["start"]["dateTime"].startswith(f"{DAY}T12:00")

        await until(moved)
    [after] = live(google)
    assert after["id"] == event["id"]
    assert len(google.requests(INSERT)) == 2  # moved in place, never written again


async def test_a_429_on_one_connection_does_not_hold_the_others(
    app: Any,
    room: dict[str, Any],
    alice: Person,
    bob: Person,
    google: GoogleEmulator,
    radicale: Radicale,
) -> None:
    await link_google(app, alice, google)
    calendar = radicale.make_calendar("bob", display="Bob's work")
    r = await link(bob, radicale, calendar, password="bob-app-password")
    assert r.status_code == 201, r.text
    google.fault(INSERT, 429, retry_after=30, reason="rateLimitExceeded", count=100)
    invite = await share(alice, room)
    meeting = await book(bob, invite, "10:00")
    async with app.state.ctx.db.read() as session:
        alices = await session.scalar(
            select(LinkedCalendar.id).where(LinkedCalendar.user_id == alice.id)
        )
    [first, second] = await write_jobs(app)
    # Alice's (Google) job is the older one: the worker meets the 429 first.
    assert first.payload["calendar"] == alices and second.payload["calendar"] != alices

    worker = Worker(
        app.state.ctx.db,
        app.state.container.handlers,
        user_clock=app.state.ctx.now,
        config=WorkerConfig(idle_seconds=0.05),
    )
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))
    try:

        async def both_tried() -> bool:
            alices_job, bobs_job = await write_jobs(app)
            return alices_job.attempts == 1 and bobs_job.status == "done"

        await until(both_tried)
        [ics] = bobs(radicale, calendar)
        assert dtstart(ics) == "20261201T100000Z" and meeting["id"] in ics
        alices_job, _ = await write_jobs(app)
        assert (alices_job.status, alices_job.attempts) == ("pending", 1)
        assert alices_job.run_after - wall_clock() > timedelta(seconds=25)  # Retry-After: 30
        assert [r["status"] for r in google.requests(INSERT)] == [429]
        assert live(google) == []

        # Thirty seconds later (the test moves the job instead of waiting), Google answers.
        google.http.delete("/_emulator/faults").raise_for_status()
        async with app.state.ctx.db.write() as session:
            await session.execute(
                update(OutboxJob)
                .where(OutboxJob.id == alices_job.id)
                .values(run_after=wall_clock())
            )

        async def alices_event_is_there() -> bool:
            return len(live(google)) == 1

        await until(alices_event_is_there)
    finally:
        stop.set()
        await running
    [event] = live(google)
    assert event["start"]["dateTime"].startswith(f"{DAY}T10:00")
    assert len(bobs(radicale, calendar)) == 1
