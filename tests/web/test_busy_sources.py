"""External busy time (a linked calendar, through the BusySource interface) leaves the offer.

MISSION's example: shared hours 09:00–17:00, calendar busy 15:00–17:00 → bookable 09:00–15:00.
"""

from __future__ import annotations

from datetime import datetime
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
