"""External busy time (a linked calendar, through the BusySource interface) leaves the offer.

MISSION's example: shared hours 09:00–17:00, calendar busy 15:00–17:00 → bookable 09:00–15:00.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from parlay.services.busy import InMemoryBusySource
from parlay.settings import Settings
from tests.conftest import Person
from tests.web.test_scheduling import NOW


@pytest.fixture
def settings(make_settings: Any) -> Settings:
    return make_settings(now=NOW)


async def test_calendar_busy_time_is_not_offered_nor_bookable(
    app: Any, room: dict[str, Any], alice: Person, bob: Person
) -> None:
    calendar = InMemoryBusySource()
    app.state.ctx.busy_sources.append(calendar)
    # Tuesday 15:00–17:00 in Berlin is busy in Alice's calendar (14:00–16:00 UTC).
    calendar.add(
        alice.id,
        datetime.fromisoformat("2026-12-01T14:00:00+00:00"),
        datetime.fromisoformat("2026-12-01T16:00:00+00:00"),
    )
    weekly = {"tue": [{"start": "09:00", "end": "17:00"}]}
    invite = (
        await alice.client.post(
            f"/api/v1/rooms/{room['id']}/invites",
            json={"time_zone": "Europe/Berlin", "weekly": weekly, "duration_minutes": 60},
        )
    ).json()
    slots = (
        await bob.client.get(
            f"/api/v1/invites/{invite['id']}/slots",
            params={"date": "2026-12-01", "tz": "Europe/Berlin"},
        )
    ).json()["slots"]
    assert [s["start"][11:16] for s in slots] == [
        "09:00",
        "10:00",
        "11:00",
        "12:00",
        "13:00",
        "14:00",
    ]
    r = await bob.client.post(
        f"/api/v1/invites/{invite['id']}/book", json={"start": "2026-12-01T15:00:00+01:00"}
    )
    assert r.status_code == 409 and r.json()["error"]["code"] == "slot_taken"
    # Bob's own calendar does not limit Alice's offer.
    calendar.add(
        bob.id,
        datetime.fromisoformat("2026-12-01T08:00:00+00:00"),
        datetime.fromisoformat("2026-12-01T09:00:00+00:00"),
    )
    r = await bob.client.post(
        f"/api/v1/invites/{invite['id']}/book", json={"start": "2026-12-01T09:00:00+01:00"}
    )
    assert r.status_code == 201


async def test_a_heavily_booked_calendar_and_a_change_within_the_minute(
    app: Any, room: dict[str, Any], alice: Person, bob: Person
) -> None:
    """Busy time is read on every request: a calendar with hundreds of entries (past the
    memo's size limit) is honoured, and a new entry shows at once, even within one minute
    (the clock is pinned, so every request here is in the same minute)."""
    calendar = InMemoryBusySource()
    app.state.ctx.busy_sources.append(calendar)
    weekly = {d: [{"start": "00:00", "end": "24:00"}] for d in ("mon", "tue", "wed", "thu")}
    invite = (
        await alice.client.post(
            f"/api/v1/rooms/{room['id']}/invites",
            json={"time_zone": "UTC", "weekly": weekly, "duration_minutes": 15},
        )
    ).json()
    dates_url = f"/api/v1/invites/{invite['id']}/dates"
    window = {"from": "2026-12-01", "to": "2026-12-03", "tz": "UTC"}

    async def dates() -> list[str]:
        r = await bob.client.get(dates_url, params=window)
        assert r.status_code == 200, r.text
        return list(r.json()["dates"])

    assert await dates() == ["2026-12-01", "2026-12-02", "2026-12-03"]
    # Every quarter hour of Dec 2 busy, as 96 x 3 overlapping entries (288 > the memo limit).
    day = datetime.fromisoformat("2026-12-02T00:00:00+00:00")
    for quarter in range(96):
        for _ in range(3):
            start = day + timedelta(minutes=15 * quarter)
            calendar.add(alice.id, start, start + timedelta(minutes=15))
    assert await dates() == ["2026-12-01", "2026-12-03"]
    # One more entry covering Dec 3 entirely: seen by the very next request.
    calendar.add(alice.id, day + timedelta(days=1), day + timedelta(days=2))
    assert await dates() == ["2026-12-01"]


class _BrokenSource:
    """A calendar whose reads fail (a provider or a database down)."""

    async def busy(self, user_id: str, window: Any) -> list[Any]:
        raise ConnectionError("calendar down")


async def test_a_failing_busy_source_does_not_take_availability_down(
    app: Any, room: dict[str, Any], alice: Person, bob: Person
) -> None:
    working = InMemoryBusySource()
    working.add(
        alice.id,
        datetime.fromisoformat("2026-12-01T15:00:00+00:00"),
        datetime.fromisoformat("2026-12-01T17:00:00+00:00"),
    )
    app.state.ctx.busy_sources.extend([_BrokenSource(), working])
    weekly = {"tue": [{"start": "09:00", "end": "17:00"}]}
    invite = (
        await alice.client.post(
            f"/api/v1/rooms/{room['id']}/invites",
            json={"time_zone": "UTC", "weekly": weekly, "duration_minutes": 60},
        )
    ).json()
    r = await bob.client.get(
        f"/api/v1/invites/{invite['id']}/slots", params={"date": "2026-12-01", "tz": "UTC"}
    )
    assert r.status_code == 200
    # The working calendar still counts; the broken one is passed over.
    assert [s["start"][11:16] for s in r.json()["slots"]][-1] == "14:00"
    r = await bob.client.post(
        f"/api/v1/invites/{invite['id']}/book", json={"start": "2026-12-01T10:00:00Z"}
    )
    assert r.status_code == 201, r.text
