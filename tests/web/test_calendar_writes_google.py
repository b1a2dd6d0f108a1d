"""Meetings out and rule 2 against the Google emulator (served over real HTTP): Alice's Google
calendar receives Bob's booking once (an answer lost on the way included), follows the
reschedule and the cancel; a 429 is waited out as told; a refused grant asks her to reconnect
and the reconnect brings her calendar up to date."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from parlay.db.calendar_models import CalendarConnection
from parlay.db.scheduling_models import OutboxJob
from parlay.providers.dto import Credentials
from parlay.services.calendar_writes import WRITE_KIND, requeue_for_connection
from parlay.services.outbox import wall_clock
from parlay.services.uow import unit_of_work
from parlay.settings import Settings
from tests.conftest import Person
from tests.providers.google_fixtures import GoogleEmulator, google_fixture, google_server_fixture
from tests.web.test_calendar_writes import book, cancel, drain, reschedule
from tests.web.test_calendars_caldav import DAY, share
from tests.web.test_scheduling import NOW

google = google_fixture
google_server = google_server_fixture
ALICE = "alice@example.com"


@pytest.fixture
def settings(make_settings: Any, google_server: str) -> Settings:
    return make_settings(
        now=NOW,
        base_url="https://parlay.example",
        google_api_url=google_server,
        google_userinfo_url=f"{google_server}/v1/userinfo",
    )


async def link_google(app: Any, alice: Person, google: GoogleEmulator) -> str:
    """Alice's Google account linked as the OAuth callback would store it."""
    google.account(ALICE)
    tokens = google.tokens(ALICE)
    credentials = Credentials(
        access_token=tokens["access_token"], refresh_token=tokens.get("refresh_token")
    )
    service = app.state.container.calendars
    linked = await service.provider("google", credentials, "").link()
    connection: str = await service.store_link(alice.id, "google", linked, credentials)
    return connection


def live(google: GoogleEmulator) -> list[dict[str, Any]]:
    return [e for e in google.stored(ALICE) if e.get("status") != "cancelled"]


async def test_book_reschedule_cancel_and_a_lost_answer(
    app: Any, room: dict[str, Any], alice: Person, bob: Person, google: GoogleEmulator
) -> None:
    await link_google(app, alice, google)
    invite = await share(alice, room)
    google.fault("calendar.events.insert", 503, after=True)  # stored, the answer lost
    meeting = await book(bob, invite, "10:00")
    await drain(app)
    [event] = live(google)
    assert [r["status"] for r in google.requests("calendar.events.insert")] == [503, 409]
    assert event["summary"] == "Meeting: Alice Adams and Bob Brown"
    assert event["location"] == meeting["join_url"] and meeting["join_url"] in event["description"]
    assert event["start"]["dateTime"].startswith(f"{DAY}T10:00")
    assert all(
        r["query"].get("sendUpdates") == "none" for r in google.requests("calendar.events.insert")
    )

    await reschedule(bob, meeting, "12:00")
    await drain(app)
    [moved] = live(google)
    assert moved["id"] == event["id"] and moved["start"]["dateTime"].startswith(f"{DAY}T12:00")

    await cancel(alice, meeting)
    await drain(app)
    assert live(google) == []


async def test_rate_limited_writes_wait_as_told(
    app: Any, room: dict[str, Any], alice: Person, bob: Person, google: GoogleEmulator
) -> None:
    await link_google(app, alice, google)
    invite = await share(alice, room)
    google.fault("calendar.events.insert", 429, retry_after=30, reason="rateLimitExceeded")
    await book(bob, invite, "10:00")
    assert await drain(app) == 1  # refused; not due again for 30 s
    async with app.state.ctx.db.read() as session:
        job = await session.scalar(select(OutboxJob).where(OutboxJob.kind == WRITE_KIND))
    assert job is not None and job.status == "pending"
    assert job.run_after - wall_clock() > timedelta(seconds=25)
    assert live(google) == []


async def test_a_refused_grant_asks_to_reconnect_and_the_reconnect_catches_up(
    app: Any, room: dict[str, Any], alice: Person, bob: Person, google: GoogleEmulator
) -> None:
    connection = await link_google(app, alice, google)
    invite = await share(alice, room)
    google.post("/_emulator/revoke", {"account": ALICE})
    meeting = await book(bob, invite, "10:00")
    await drain(app)
    async with app.state.ctx.db.read() as session:
        row = await session.get(CalendarConnection, connection)
        dead = await session.scalar(select(OutboxJob.id).where(OutboxJob.status == "dead"))
    assert row is not None and row.status == "needs_reauth"
    assert dead is None  # finished, not dead-lettered: nothing an operator can do
    assert live(google) == []
    await reschedule(bob, meeting, "12:00")
    await drain(app)  # nothing goes out through a connection that needs a reconnect

    assert await link_google(app, alice, google) == connection  # reconnected in place
    async with unit_of_work(app.state.ctx) as uow:
        await requeue_for_connection(uow, connection)
    await drain(app)
    [event] = live(google)
    assert event["start"]["dateTime"].startswith(f"{DAY}T12:00")


async def test_rule_2_reads_google_fresh(
    app: Any, room: dict[str, Any], alice: Person, bob: Person, google: GoogleEmulator
) -> None:
    await link_google(app, alice, google)
    invite = await share(alice, room)
    google.seed(
        ALICE,
        {
            "summary": "Dentist",
            "start": {"dateTime": f"{DAY}T11:00:00Z"},
            "end": {"dateTime": f"{DAY}T12:00:00Z"},
        },
    )
    r = await bob.client.post(f"/api/v1/invites/{invite}/book", json={"start": f"{DAY}T11:00:00Z"})
    assert r.status_code == 409 and r.json()["error"]["code"] == "slot_taken"
