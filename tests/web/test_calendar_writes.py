"""Meetings out, exactly once (API.md "Calendars" rule 3), against a real Radicale: Alice links
her calendar, Bob books; the worker writes the meeting into her calendar once, moves it on a
reschedule and deletes it on a cancel, whatever fails in between (provider down, a lost answer,
changes piling up before the first write lands)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from parlay.db.calendar_models import BusyBlock, CalendarConnection, ExternalEvent
from parlay.domain.intervals import Interval
from parlay.jobs.runner import Worker, WorkerConfig
from parlay.providers import errors as perr
from parlay.providers.base import CalendarProvider, RefreshCallback
from parlay.providers.caldav import CalDAVProvider
from parlay.providers.dto import Credentials, EventRef, MeetingEvent
from parlay.services.calendar_writes import WRITE_KIND, writes_calendar
from parlay.settings import Settings
from tests.conftest import Person
from tests.providers import conftest as caldav_fixtures
from tests.providers.conftest import Radicale, free_port
from tests.web.test_calendars_caldav import DAY, count, event, link, share
from tests.web.test_scheduling import NOW

radicale = caldav_fixtures.radicale


@pytest.fixture
def settings(make_settings: Any) -> Settings:
    return make_settings(now=NOW, base_url="https://parlay.example")


def worker(app: Any) -> Worker:
    """The app's calendar handlers (not e-mail: the job counts here are calendar writes) with
    no backoff, so a retry is due at once (the tests run the worker
    themselves, one job at a time)."""
    return Worker(
        app.state.ctx.db,
        {k: h for k, h in app.state.container.handlers.items() if k.startswith("calendar.")},
        user_clock=app.state.ctx.now,
        config=WorkerConfig(backoff_base_seconds=0.0),
    )


async def drain(app: Any, limit: int = 20) -> int:
    """Run due jobs until none is left; how many ran."""
    ran, w = 0, worker(app)
    while ran < limit and await w.run_one():
        ran += 1
    return ran


def held(radicale: Radicale, calendar: str) -> dict[str, str]:
    """The calendar's resources and their text."""
    return {href: radicale.get("alice", href).text for href in radicale.items("alice", calendar)}


def dtstart(ics: str) -> str:
    found = re.search(r"^DTSTART[^:]*:(\S+)", ics, re.MULTILINE)
    assert found, ics
    return found.group(1)


async def linked(app: Any, alice: Person, radicale: Radicale) -> tuple[str, str]:
    """Alice's fresh Radicale calendar, linked (write_events and check_conflicts by default)."""
    calendar = radicale.make_calendar("alice", display="Work")
    r = await link(alice, radicale, calendar)
    assert r.status_code == 201, r.text
    await drain(app)
    return calendar, str(r.json()["id"])


async def book(bob: Person, invite: str, at: str) -> dict[str, Any]:
    r = await bob.client.post(f"/api/v1/invites/{invite}/book", json={"start": f"{DAY}T{at}:00Z"})
    assert r.status_code == 201, r.text
    return dict(r.json())


async def reschedule(bob: Person, meeting: dict[str, Any], at: str) -> None:
    r = await bob.client.post(
        f"/api/v1/meetings/{meeting['id']}/reschedule", json={"start": f"{DAY}T{at}:00Z"}
    )
    assert r.status_code == 200, r.text


async def cancel(person: Person, meeting: dict[str, Any]) -> None:
    r = await person.client.post(f"/api/v1/meetings/{meeting['id']}/cancel")
    assert r.status_code == 200, r.text


async def set_url(app: Any, connection: str, url: str) -> None:
    """Point the stored connection somewhere else (a dead port: the provider is down)."""
    service = app.state.container.calendars
    async with app.state.ctx.db.write() as session:
        row = await session.get(CalendarConnection, connection)
        old = service.unseal(row.secret)
        row.secret = service.seal(
            Credentials(url=url, username=old.username, password=old.password)
        )


async def test_book_reschedule_cancel_reach_the_calendar_once(
    app: Any, room: dict[str, Any], alice: Person, bob: Person, radicale: Radicale
) -> None:
    calendar, _ = await linked(app, alice, radicale)
    invite = await share(alice, room)
    meeting = await book(bob, invite, "10:00")
    assert held(radicale, calendar) == {}  # never inside the request
    await drain(app)
    [(href, ics)] = held(radicale, calendar).items()
    assert dtstart(ics) == "20261201T100000Z"
    join = meeting["join_url"]
    assert join.startswith("https://parlay.example/m/")
    unfolded = ics.replace("\r\n ", "")
    assert "SUMMARY:Meeting: Alice Adams and Bob Brown" in unfolded
    assert f"LOCATION:{join}" in unfolded and join in unfolded.split("DESCRIPTION:")[1]
    async with app.state.ctx.db.read() as session:
        assert await writes_calendar(session, alice.id)
        assert not await writes_calendar(session, bob.id)

    # Rule 1 end to end: the meeting's own copy is no busy time, neither in the mirror after a
    # sync nor in Book/Reschedule's fresh read (rule 2), so it never blocks its own meeting.
    radicale.put("alice", calendar, "early", event("early", "20261201T090000Z", "20261201T093000Z"))
    for connection in (await alice.client.get("/api/v1/calendars")).json()["calendars"]:
        await alice.client.post(f"/api/v1/calendars/{connection['id']}/sync")
    await drain(app)
    assert await count(app, BusyBlock) == 1  # "early" only
    ten = datetime.fromisoformat(f"{DAY}T10:00:00+00:00")
    assert await app.state.ctx.fresh_busy(alice.id, Interval(ten, ten + timedelta(hours=1))) == []
    await reschedule(bob, meeting, "12:00")
    await drain(app)
    texts = held(radicale, calendar)
    assert set(texts) == {href, f"{calendar}early.ics"}  # the same event, moved
    assert dtstart(texts[href]) == "20261201T120000Z"

    await cancel(alice, meeting)
    await drain(app)
    assert set(held(radicale, calendar)) == {f"{calendar}early.ics"}
    async with app.state.ctx.db.read() as session:
        row = await session.scalar(select(ExternalEvent))
    assert row is not None and row.deleted and row.written_sequence == 2


async def test_provider_down_then_back_leaves_each_meeting_once_at_its_latest_state(
    app: Any, room: dict[str, Any], alice: Person, bob: Person, radicale: Radicale
) -> None:
    calendar, connection = await linked(app, alice, radicale)
    invite = await share(alice, room)
    await set_url(app, connection, f"http://127.0.0.1:{free_port()}{calendar}")
    meeting = await book(bob, invite, "10:00")
    assert await drain(app, limit=1) == 1  # failed, to be retried
    await reschedule(bob, meeting, "12:00")
    assert await drain(app, limit=3) == 3  # still down: it keeps failing
    assert held(radicale, calendar) == {}

    await set_url(app, connection, radicale.url + calendar)  # back
    await drain(app)
    [ics] = held(radicale, calendar).values()
    assert dtstart(ics) == "20261201T120000Z"
    async with app.state.ctx.db.read() as session:
        from parlay.db.scheduling_models import OutboxJob

        kinds = (await session.execute(select(OutboxJob.kind, OutboxJob.status))).all()
    assert (WRITE_KIND, "dead") not in kinds and (WRITE_KIND, "pending") not in kinds


async def test_changes_before_the_first_write_lands_leave_no_event(
    app: Any, room: dict[str, Any], alice: Person, bob: Person, radicale: Radicale
) -> None:
    calendar, connection = await linked(app, alice, radicale)
    invite = await share(alice, room)
    # No worker at all until the meeting is cancelled: the three changes are one job.
    meeting = await book(bob, invite, "10:00")
    await reschedule(bob, meeting, "12:00")
    await cancel(bob, meeting)
    assert await drain(app) == 1
    assert held(radicale, calendar) == {}
    assert await count(app, ExternalEvent) == 0

    # The same while the provider is down (the first attempt may have reached it).
    invite = await share(alice, room)
    meeting = await book(bob, invite, "14:00")
    await set_url(app, connection, f"http://127.0.0.1:{free_port()}{calendar}")
    assert await drain(app, limit=1) == 1
    await reschedule(bob, meeting, "15:00")
    await cancel(alice, meeting)
    await set_url(app, connection, radicale.url + calendar)
    await drain(app)
    assert held(radicale, calendar) == {}


class _LosesAnswers(CalDAVProvider):
    """A real CalDAV adapter whose connection drops after the server stored the event."""

    async def _create_event(self, calendar_id: str, event: MeetingEvent) -> EventRef:
        await super()._create_event(calendar_id, event)
        raise perr.Transient("connection dropped before the answer")


async def test_a_lost_create_answer_leaves_one_event_and_a_cancel_still_deletes_it(
    app: Any, room: dict[str, Any], alice: Person, bob: Person, radicale: Radicale
) -> None:
    calendar, _ = await linked(app, alice, radicale)
    service = app.state.container.calendars
    real = service.providers

    def lossy(
        key: str, credentials: Credentials, connection_id: str, refresh: RefreshCallback | None
    ) -> CalendarProvider:
        return _LosesAnswers(credentials, connection_id=connection_id, refresh=refresh)

    invite = await share(alice, room)
    kept = await book(bob, invite, "10:00")
    service.providers = lossy
    assert await drain(app, limit=1) == 1
    assert len(held(radicale, calendar)) == 1  # stored, though the answer was lost
    service.providers = real
    await drain(app)
    [ics] = held(radicale, calendar).values()
    assert dtstart(ics) == "20261201T100000Z"

    # A lost answer, then a cancel before any retry: the event it may have made is deleted.
    invite = await share(alice, room)
    gone = await book(bob, invite, "14:00")
    service.providers = lossy
    assert await drain(app, limit=1) == 1
    service.providers = real
    await cancel(bob, gone)
    await drain(app)
    [ics] = held(radicale, calendar).values()
    assert kept["id"] in ics and gone["id"] not in ics


async def test_the_event_stays_where_it_was_written_and_a_disconnected_calendar_is_left_alone(
    app: Any, room: dict[str, Any], alice: Person, bob: Person, radicale: Radicale
) -> None:
    other = radicale.make_calendar("alice", display="Other")
    calendar, connection = await linked(app, alice, radicale)
    invite = await share(alice, room)
    meeting = await book(bob, invite, "10:00")
    await drain(app)
    # Alice now sends new meetings to another calendar: this one still moves where it is.
    r = await alice.client.patch(
        f"/api/v1/calendars/{connection}",
        json={"calendars": [{"external_id": other, "write_events": True}]},
    )
    assert r.status_code == 200, r.text
    await reschedule(bob, meeting, "12:00")
    await drain(app)
    assert held(radicale, other) == {}
    [ics] = held(radicale, calendar).values()
    assert dtstart(ics) == "20261201T120000Z"
    # Disconnected: the event stays behind, and Parlay never touches the calendar again.
    assert (await alice.client.delete(f"/api/v1/calendars/{connection}")).status_code == 204
    await cancel(bob, meeting)
    await drain(app)
    [ics] = held(radicale, calendar).values()
    assert dtstart(ics) == "20261201T120000Z"
