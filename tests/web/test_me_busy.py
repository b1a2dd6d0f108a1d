"""``GET /api/v1/me/busy``: the busy times Parlay sees for the caller (their Parlay meetings and
their conflict calendars' stored busy times, each with its source), nobody else's, and a
range that is checked."""

from __future__ import annotations

from typing import Any

import pytest

from parlay.settings import Settings
from tests.conftest import Person
from tests.providers import conftest as caldav_fixtures
from tests.providers.conftest import Radicale
from tests.web.test_calendar_writes import book, drain
from tests.web.test_calendars_caldav import DAY, alice_calendar, link, share
from tests.web.test_scheduling import NOW

radicale = caldav_fixtures.radicale


@pytest.fixture
def settings(make_settings: Any) -> Settings:
    return make_settings(now=NOW)


async def busy(person: Person, start: str, end: str) -> Any:
    return await person.client.get("/api/v1/me/busy", params={"from": start, "to": end})


async def test_both_sources_sorted_and_only_ones_own(
    app: Any, room: dict[str, Any], alice: Person, bob: Person, radicale: Radicale
) -> None:
    calendar = alice_calendar(radicale)  # busy 15:00-17:00 (and a transparent event)
    assert (await link(alice, radicale, calendar)).status_code == 201
    invite = await share(alice, room)
    await book(bob, invite, "10:00")
    await drain(app)  # the meeting is written into her calendar too ...
    r = await alice.client.get("/api/v1/calendars")
    await alice.client.post(f"/api/v1/calendars/{r.json()['calendars'][0]['id']}/sync")
    await drain(app)  # ... and a sync reads it back: still one busy time, not two

    # An offset other than UTC is fine; the day is 2026-12-01 in UTC.
    r = await busy(alice, f"{DAY}T01:00:00+01:00", "2026-12-02T00:00:00Z")
    assert r.status_code == 200, r.text
    assert r.json() == {
        "busy": [
            {"start": f"{DAY}T10:00:00Z", "end": f"{DAY}T11:00:00Z", "source": "parlay"},
            {"start": f"{DAY}T15:00:00Z", "end": f"{DAY}T17:00:00Z", "source": "caldav"},
        ]
    }
    # Bob booked the meeting, so it is his busy time too; Alice's calendar is not.
    r = await busy(bob, f"{DAY}T00:00:00Z", "2026-12-02T00:00:00Z")
    assert r.json() == {
        "busy": [{"start": f"{DAY}T10:00:00Z", "end": f"{DAY}T11:00:00Z", "source": "parlay"}]
    }
    # Outside the range: nothing.
    r = await busy(alice, "2026-12-02T00:00:00Z", "2026-12-03T00:00:00Z")
    assert r.json() == {"busy": []}


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("2026-12-02T00:00:00Z", "2026-12-01T00:00:00Z"),  # backwards
        ("2026-12-01T00:00:00Z", "2026-12-01T00:00:00Z"),  # empty
        ("2026-12-01T00:00:00Z", "2027-03-04T00:00:00Z"),  # 93 days
        ("2026-12-01T00:00:00Z", "2026-12-02T00:00:00"),  # no offset
        ("2026-12-01T00:00:00Z", "tomorrow"),
    ],
)
async def test_a_bad_range_is_422_on_to(alice: Person, start: str, end: str) -> None:
    r = await busy(alice, start, end)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["field"] == "to"


async def test_92_days_are_fine_and_strangers_are_refused(alice: Person, anon: Any) -> None:
    r = await busy(alice, "2026-12-01T00:00:00Z", "2027-03-03T00:00:00Z")
    assert r.status_code == 200 and r.json() == {"busy": []}
    r = await anon.get(
        "/api/v1/me/busy", params={"from": "2026-12-01T00:00:00Z", "to": "2026-12-02T00:00:00Z"}
    )
    assert r.status_code == 401
