"""Availability is memoized per node (parlay.services.invites), keyed by the host's meetings
and their calendar mirror's snapshot: a mirror write, a booking and a calendar that stops
counting are each seen by the very next read, on every node, even within one minute (the
clock is pinned here, so every request is in the same minute).  The host's calendar stamps
are read in the availability statement itself, so every change of them goes through it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from parlay.db.calendar_models import CalendarConnection, LinkedCalendar
from parlay.domain.intervals import Interval
from parlay.services.calendar_busy import replace_blocks
from parlay.settings import Settings
from tests.conftest import Person, another_node
from tests.web.test_scheduling import NOW

ALL_DAY = {d: [{"start": "00:00", "end": "24:00"}] for d in ("mon", "tue", "wed", "thu")}
WINDOW = {"from": "2026-12-01", "to": "2026-12-03", "tz": "UTC"}
DEC_2 = datetime.fromisoformat("2026-12-02T00:00:00+00:00")


@pytest.fixture
def settings(make_settings: Any) -> Settings:
    return make_settings(now=NOW)


@pytest.fixture
async def other_node(settings: Settings, bob: Person) -> AsyncIterator[httpx.AsyncClient]:
    """Bob signed in on a second node over the same database."""
    async with another_node(
        settings, cookies=bob.client.cookies, headers={"X-CSRF-Token": bob.csrf}
    ) as (_node, client):
        yield client


async def _share(alice: Person, room: dict[str, Any]) -> str:
    body = {"time_zone": "UTC", "weekly": ALL_DAY, "duration_minutes": 60}
    r = await alice.client.post(f"/api/v1/rooms/{room['id']}/invites", json=body)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def test_a_mirror_write_a_booking_and_a_disconnect_show_at_once_on_every_node(
    app: Any, room: dict[str, Any], alice: Person, bob: Person, other_node: httpx.AsyncClient
) -> None:
    invite, other_invite = await _share(alice, room), await _share(alice, room)
    nodes = (bob.client, other_node)

    async def dates() -> list[list[str]]:
        found = []
        for client in nodes:
            r = await client.get(f"/api/v1/invites/{invite}/dates", params=WINDOW)
            assert r.status_code == 200, r.text
            found.append(r.json()["dates"])
        return found

    async def ten_oclock_free() -> list[bool]:
        found = []
        for client in nodes:
            r = await client.get(
                f"/api/v1/invites/{invite}/slots", params={"date": "2026-12-01", "tz": "UTC"}
            )
            assert r.status_code == 200, r.text
            found.append("2026-12-01T10:00:00+00:00" in [s["start"] for s in r.json()["slots"]])
        return found

    everything = ["2026-12-01", "2026-12-02", "2026-12-03"]
    assert await dates() == [everything] * 2
    assert await ten_oclock_free() == [True, True]

    # A sync stores an all-day event on Dec 2 in Alice's linked calendar.
    async with app.state.ctx.db.write() as session:
        connection = CalendarConnection(
            user_id=alice.id,
            provider="caldav",
            account_email="alice@example.org",
            secret="-",
            connected_at=NOW,
        )
        session.add(connection)
        await session.flush()
        calendar = LinkedCalendar(
            connection_id=connection.id,
            user_id=alice.id,
            external_id="work",
            name="Work",
            check_conflicts=True,
        )
        session.add(calendar)
        await session.flush()
        calendar_id = calendar.id
        await replace_blocks(
            session, calendar, {"all-day": [Interval(DEC_2, DEC_2 + timedelta(days=1))]}
        )
    without_dec_2 = ["2026-12-01", "2026-12-03"]
    assert await dates() == [without_dec_2] * 2

    # Bob books 10:00 on Dec 1 through Alice's other invite: her first one no longer offers it.
    r = await bob.client.post(
        f"/api/v1/invites/{other_invite}/book", json={"start": "2026-12-01T10:00:00+00:00"}
    )
    assert r.status_code == 201, r.text
    assert await ten_oclock_free() == [False, False]

    # She links a second calendar that was never synced yet (no stamp): nothing changes ...
    async with app.state.ctx.db.write() as session:
        home = CalendarConnection(
            user_id=alice.id,
            provider="caldav",
            account_email="alice@home.example.org",
            secret="-",
            connected_at=NOW,
        )
        session.add(home)
        await session.flush()
        home_id = home.id
        home_calendar = LinkedCalendar(
            connection_id=home.id,
            user_id=alice.id,
            external_id="home",
            name="Home",
            check_conflicts=True,
        )
        session.add(home_calendar)
    assert await dates() == [without_dec_2] * 2

    # ... until its first sync stores an all-day event on Dec 3: both calendars count.
    async with app.state.ctx.db.write() as session:
        home_calendar = await session.merge(home_calendar)
        dec_3 = DEC_2 + timedelta(days=1)
        await replace_blocks(
            session, home_calendar, {"all-day": [Interval(dec_3, dec_3 + timedelta(days=1))]}
        )
    assert await dates() == [["2026-12-01"]] * 2

    # Alice stops checking the first calendar for conflicts: Dec 2 is offered again at once.
    async with app.state.ctx.db.write() as session:
        await session.execute(
            update(LinkedCalendar)
            .where(LinkedCalendar.id == calendar_id)
            .values(check_conflicts=False)
        )
    assert await dates() == [["2026-12-01", "2026-12-02"]] * 2

    # She disconnects the second one: Dec 3 too.
    r = await alice.client.delete(f"/api/v1/calendars/{home_id}")
    assert r.status_code == 204, r.text
    assert await dates() == [everything] * 2
