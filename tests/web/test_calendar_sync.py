"""The busy mirror follows a real Radicale calendar incrementally (issue 9, API.md rule 2):
events added, moved and deleted between syncs change Bob's slots (and a recurring series on
the Google emulator, whose items have many occurrences); an expired sync token or a window a
day old falls back to a full read; a calendar without check_conflicts is never read;
two syncs of one connection racing (two workers, or sync-now during the periodic one) leave
the mirror right; and housekeeping restarts a sync chain that broke."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from parlay.db.calendar_models import BusyBlock, CalendarConnection, LinkedCalendar
from parlay.db.scheduling_models import OutboxJob
from parlay.providers.base import CalendarProvider
from parlay.providers.dto import Credentials, SyncResult
from parlay.services.calendar_sync import SYNC_KIND, BusySync, SyncReport, sync_key
from parlay.settings import Settings
from tests.conftest import Person
from tests.providers import conftest as caldav_fixtures
from tests.providers import google_fixtures
from tests.providers.conftest import Radicale
from tests.providers.google_fixtures import GoogleEmulator
from tests.providers.test_google import UserAgent, timed
from tests.web.test_calendars_caldav import ALL_DAY_SLOTS, event, link, share, slots
from tests.web.test_scheduling import NOW

radicale = caldav_fixtures.radicale
google_server = google_fixtures.google_server_fixture
google = google_fixtures.google_fixture


@pytest.fixture
def settings(make_settings: Any, google_server: str) -> Settings:
    return make_settings(
        now=NOW, google_api_url=google_server, google_userinfo_url=f"{google_server}/v1/userinfo"
    )


def put(radicale: Radicale, calendar: str, name: str, start: str, end: str) -> None:
    """An event on 2026-12-01 (the day Bob looks at) from ``start`` to ``end`` (HHMM, UTC);
    the resource name doubles as the UID, so putting the same name again moves the event."""
    radicale.put(
        "alice",
        calendar,
        name,
        event(f"{name}-{calendar}", f"20261201T{start}00Z", f"20261201T{end}00Z"),
    )


def delete(radicale: Radicale, calendar: str, name: str) -> None:
    with radicale.client("alice") as dav:
        assert dav.delete(f"{calendar}{name}.ics").status_code in (200, 204)


async def linked(alice: Person, radicale: Radicale, calendar: str) -> str:
    r = await link(alice, radicale, calendar)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def sync(app: Any, connection: str) -> dict[int, str]:
    report = await app.state.container.calendars.busy_sync.sync(connection)
    assert isinstance(report, SyncReport)
    return dict(report.applied)


async def blocks(app: Any) -> list[tuple[int, str | None, str, str]]:
    async with app.state.ctx.db.read() as session:
        rows = await session.execute(
            select(BusyBlock.calendar_id, BusyBlock.item_key, BusyBlock.start, BusyBlock.end)
        )
        return sorted(
            (c, key, s.strftime("%H:%M"), e.strftime("%H:%M")) for c, key, s, e in rows.all()
        )


async def calendar_row(app: Any, external_id: str) -> LinkedCalendar:
    async with app.state.ctx.db.read() as session:
        row = await session.scalar(
            select(LinkedCalendar).where(LinkedCalendar.external_id == external_id)
        )
    assert row is not None
    return row


async def test_events_added_moved_and_deleted_reach_the_offer_incrementally(
    app: Any, room: dict[str, Any], alice: Person, bob: Person, radicale: Radicale
) -> None:
    calendar = radicale.make_calendar("alice", display="Work")
    put(radicale, calendar, "review", "1500", "1700")
    invite = await share(alice, room)
    connection = await linked(alice, radicale, calendar)  # linking reads it all at once
    assert await slots(bob, invite) == ALL_DAY_SLOTS[:6]
    cal_id = (await calendar_row(app, calendar)).id

    put(radicale, calendar, "standup", "1000", "1100")  # added
    assert await sync(app, connection) == {cal_id: "incremental"}
    assert await slots(bob, invite) == ["09:00", "11:00", "12:00", "13:00", "14:00"]

    put(radicale, calendar, "review", "1300", "1400")  # moved
    assert await sync(app, connection) == {cal_id: "incremental"}
    assert await slots(bob, invite) == ["09:00", "11:00", "12:00", "14:00", "15:00", "16:00"]

    delete(radicale, calendar, "standup")  # deleted
    assert await sync(app, connection) == {cal_id: "incremental"}
    assert await slots(bob, invite) == [
        "09:00",
        "10:00",
        "11:00",
        "12:00",
        "14:00",
        "15:00",
        "16:00",
    ]
    # One block left, keyed by the provider's item it comes from.
    assert await blocks(app) == [(cal_id, f"{calendar}review.ics", "13:00", "14:00")]


async def test_an_expired_token_or_a_day_old_window_means_a_full_read(
    app: Any, room: dict[str, Any], alice: Person, bob: Person, radicale: Radicale
) -> None:
    calendar = radicale.make_calendar("alice")
    put(radicale, calendar, "review", "1500", "1700")
    invite = await share(alice, room)
    connection = await linked(alice, radicale, calendar)
    row = await calendar_row(app, calendar)
    assert row.sync_token and row.synced_from == NOW

    # The server no longer knows our token (RFC 6578 valid-sync-token): a full read instead.
    async with app.state.ctx.db.write() as session:
        await session.execute(
            update(LinkedCalendar)
            .where(LinkedCalendar.id == row.id)
            .values(sync_token="http://radicale.org/ns/sync/" + "0" * 32)
        )
    put(radicale, calendar, "standup", "1000", "1100")
    assert await sync(app, connection) == {row.id: "full"}
    assert await slots(bob, invite) == ["09:00", "11:00", "12:00", "13:00", "14:00"]
    fresh = await calendar_row(app, calendar)
    assert fresh.sync_token and fresh.sync_token != row.sync_token
    assert await sync(app, connection) == {row.id: "incremental"}

    # A day later the window has moved: full again, from the new "now".
    later = NOW + timedelta(hours=25)
    app.state.ctx.clock = lambda: later
    assert await sync(app, connection) == {row.id: "full"}
    assert (await calendar_row(app, calendar)).synced_from == later
    assert await sync(app, connection) == {row.id: "incremental"}


async def test_a_calendar_without_check_conflicts_is_not_read(
    app: Any, room: dict[str, Any], alice: Person, bob: Person, radicale: Radicale
) -> None:
    work = radicale.make_calendar("alice", display="Work")
    other = radicale.make_calendar("alice", display="Other")
    put(radicale, work, "review", "1500", "1700")
    put(radicale, other, "gym", "1000", "1100")
    invite = await share(alice, room)
    connection = await linked(alice, radicale, work)
    other_id = (await calendar_row(app, other)).id
    work_id = (await calendar_row(app, work)).id

    assert await sync(app, connection) == {work_id: "incremental"}
    assert await slots(bob, invite) == ALL_DAY_SLOTS[:6]
    assert all(c != other_id for c, *_ in await blocks(app))
    assert (await calendar_row(app, other)).sync_token is None

    # Turned on, it is read (in full: it never was) and its event counts.
    r = await alice.client.patch(
        f"/api/v1/calendars/{connection}",
        json={"calendars": [{"external_id": other, "check_conflicts": True}]},
    )
    assert r.status_code == 200, r.text
    assert await sync(app, connection) == {work_id: "incremental", other_id: "full"}
    assert await slots(bob, invite) == ["09:00", "11:00", "12:00", "13:00", "14:00"]

    # Off and on again: the blocks went at once, and with them the token, so the next read
    # is a full one (an incremental one would build on blocks no longer there).
    for flag in (False, True):
        r = await alice.client.patch(
            f"/api/v1/calendars/{connection}",
            json={"calendars": [{"external_id": other, "check_conflicts": flag}]},
        )
        assert r.status_code == 200, r.text
    assert await slots(bob, invite) == ALL_DAY_SLOTS[:6]
    assert await sync(app, connection) == {work_id: "incremental", other_id: "full"}
    assert await slots(bob, invite) == ["09:00", "11:00", "12:00", "13:00", "14:00"]


class _Gated:
    """The real connections of the app, except that this sync's provider reads, then waits
    for ``go`` before its result is applied: the test decides how two syncs interleave."""

    def __init__(self, service: Any) -> None:
        self.service = service
        self.read = asyncio.Event()
        self.go = asyncio.Event()

    async def open_provider(self, connection_id: str) -> tuple[CalendarProvider, str] | None:
        opened = await self.service.open_provider(connection_id)
        if opened is None:
            return None
        provider, user_id = opened
        gate = self

        class Paused:
            async def sync_busy(self, *args: Any) -> SyncResult:
                result: SyncResult = await provider.sync_busy(*args)
                gate.read.set()
                await gate.go.wait()
                return result

        return Paused(), user_id  # type: ignore[return-value]

    async def set_status(self, *args: Any) -> None:
        await self.service.set_status(*args)


async def test_an_older_incremental_result_never_overwrites_a_newer_one(
    app: Any, room: dict[str, Any], alice: Person, bob: Person, radicale: Radicale
) -> None:
    calendar = radicale.make_calendar("alice")
    put(radicale, calendar, "review", "1500", "1700")
    invite = await share(alice, room)
    connection = await linked(alice, radicale, calendar)
    service = app.state.container.calendars
    cal_id = (await calendar_row(app, calendar)).id

    put(radicale, calendar, "review", "1000", "1100")
    gated = _Gated(service)
    slow = asyncio.create_task(BusySync(app.state.ctx, gated, sync_seconds=300).sync(connection))
    await gated.read.wait()  # the slow sync has read "review at 10:00" ...
    put(radicale, calendar, "review", "1200", "1300")
    assert await sync(app, connection) == {cal_id: "incremental"}  # ... a quick one "12:00"
    gated.go.set()
    report = await slow
    assert await slots(bob, invite) == [
        "09:00",
        "10:00",
        "11:00",
        "13:00",
        "14:00",
        "15:00",
        "16:00",
    ]
    assert report is not None and report.applied == {cal_id: "stale"}
    # The next sync builds on the quick one's token: nothing is lost or doubled.
    assert await sync(app, connection) == {cal_id: "incremental"}
    assert await blocks(app) == [(cal_id, f"{calendar}review.ics", "12:00", "13:00")]


async def test_simultaneous_syncs_of_one_connection_leave_each_event_once(
    app: Any, room: dict[str, Any], alice: Person, bob: Person, radicale: Radicale
) -> None:
    calendar = radicale.make_calendar("alice")
    put(radicale, calendar, "review", "1500", "1700")
    invite = await share(alice, room)
    connection = await linked(alice, radicale, calendar)
    put(radicale, calendar, "standup", "1000", "1100")
    put(radicale, calendar, "review", "1300", "1400")
    # Two workers and a sync-now at once, twice over (on PostgreSQL truly in parallel).
    service = app.state.container.calendars
    for _ in range(2):
        reports = await asyncio.gather(*(service.busy_sync.sync(connection) for _ in range(3)))
        assert all(r is not None for r in reports)
    found = await blocks(app)
    assert sorted((key, s, e) for _, key, s, e in found) == [
        (f"{calendar}review.ics", "13:00", "14:00"),
        (f"{calendar}standup.ics", "10:00", "11:00"),
    ]
    assert await slots(bob, invite) == ["09:00", "11:00", "12:00", "14:00", "15:00", "16:00"]


async def test_housekeeping_restarts_a_stalled_sync_chain(
    app: Any, room: dict[str, Any], alice: Person, bob: Person, radicale: Radicale
) -> None:
    alice_calendar = radicale.make_calendar("alice")
    alice_connection = await linked(alice, radicale, alice_calendar)
    bob_connection = (
        await bob.client.post(
            "/api/v1/calendars/caldav",
            json={
                "url": radicale.url + radicale.make_calendar("bob"),
                "username": "bob",
                "password": "bob-app-password",
            },
        )
    ).json()["id"]
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)  # sync period 300 s: two are 10 min
    async with app.state.ctx.db.write() as session:
        # Alice's chain broke: its job was dead-lettered an hour ago.
        await session.execute(
            update(OutboxJob)
            .where(OutboxJob.dedupe_key == sync_key(alice_connection))
            .values(status="dead", finished_at=an_hour_ago)
        )
        # Bob's is late but its job is still pending (backing off): left alone.
        await session.execute(
            update(CalendarConnection)
            .where(CalendarConnection.id.in_([alice_connection, bob_connection]))
            .values(last_synced_at=an_hour_ago)
        )
        bob_due = await session.scalar(
            select(OutboxJob.run_after).where(OutboxJob.dedupe_key == sync_key(bob_connection))
        )
    put(radicale, alice_calendar, "review", "1500", "1700")
    invite = await share(alice, room)
    assert await slots(bob, invite) == ALL_DAY_SLOTS  # the mirror is stale

    worker = app.state.container.worker()
    assert (await worker.housekeep()).syncs_restarted == 1
    async with app.state.ctx.db.read() as session:
        pending = dict(
            (
                await session.execute(
                    select(OutboxJob.dedupe_key, OutboxJob.run_after).where(
                        OutboxJob.kind == SYNC_KIND, OutboxJob.status == "pending"
                    )
                )
            ).all()
        )
    assert set(pending) == {sync_key(alice_connection), sync_key(bob_connection)}
    assert pending[sync_key(bob_connection)] == bob_due
    assert (await worker.housekeep()).syncs_restarted == 0  # queued once

    assert await worker.run_one()  # Alice's restarted sync is due now
    assert await slots(bob, invite) == ALL_DAY_SLOTS[:6]
    async with app.state.ctx.db.read() as session:
        synced = await session.scalar(
            select(CalendarConnection.last_synced_at).where(
                CalendarConnection.id == alice_connection
            )
        )
    assert synced is not None and synced > an_hour_ago + timedelta(minutes=30)


async def test_housekeeping_leaves_a_connection_that_needs_reconnecting(
    app: Any, alice: Person, radicale: Radicale
) -> None:
    connection = await linked(alice, radicale, radicale.make_calendar("alice"))
    async with app.state.ctx.db.write() as session:
        await session.execute(update(OutboxJob).values(status="dead"))
        await session.execute(
            update(CalendarConnection)
            .where(CalendarConnection.id == connection)
            .values(status="needs_reauth", last_synced_at=datetime.now(UTC) - timedelta(days=1))
        )
    assert (await app.state.container.worker().housekeep()).syncs_restarted == 0


async def test_a_google_series_moved_and_an_event_cancelled_follow_incrementally(
    app: Any, room: dict[str, Any], alice: Person, bob: Person, google: GoogleEmulator
) -> None:
    def at(hour: int) -> datetime:  # on the day Bob looks at
        return datetime(2026, 12, 1, hour, tzinfo=UTC)

    google.account(alice.email)
    google.seed(alice.email, timed("lunch1", at(15), at(17)))
    google.seed(
        alice.email,
        {
            "id": "standup",
            "start": {"dateTime": "2026-11-30T10:00:00", "timeZone": "UTC"},
            "end": {"dateTime": "2026-11-30T11:00:00", "timeZone": "UTC"},
            "recurrence": ["RRULE:FREQ=DAILY;COUNT=3"],
        },
    )
    # Linked as the OAuth callback links it (tokens from the emulator's consent flow).
    service = app.state.container.calendars
    tokens = google.tokens(alice.email)
    credentials = Credentials(
        access_token=tokens["access_token"], refresh_token=tokens.get("refresh_token")
    )
    linked = await service.provider("google", credentials, "").link()
    connection = await service.store_link(alice.id, "google", linked, credentials)
    cal_id = (await calendar_row(app, alice.email)).id
    invite = await share(alice, room)

    assert await sync(app, connection) == {cal_id: "full"}
    assert await slots(bob, invite) == ["09:00", "11:00", "12:00", "13:00", "14:00"]
    assert sorted(s for _, key, s, _ in await blocks(app) if key == "standup") == ["10:00"] * 3

    user = UserAgent(google, alice.email)
    user.patch(
        "standup",
        {
            "start": {"dateTime": "2026-11-30T12:00:00", "timeZone": "UTC"},
            "end": {"dateTime": "2026-11-30T13:00:00", "timeZone": "UTC"},
        },
    )
    user.delete("lunch1")
    assert await sync(app, connection) == {cal_id: "incremental"}
    assert await slots(bob, invite) == [
        "09:00",
        "10:00",
        "11:00",
        "13:00",
        "14:00",
        "15:00",
        "16:00",
    ]
    # Every occurrence of the series moved; nothing of the cancelled event is left.
    assert [(key, s) for _, key, s, _ in await blocks(app)] == [("standup", "12:00")] * 3

    google.post(f"/_emulator/calendars/{alice.email}/invalidate-sync-tokens")  # 410 Gone
    assert await sync(app, connection) == {cal_id: "full"}
    assert [(key, s) for _, key, s, _ in await blocks(app)] == [("standup", "12:00")] * 3
