"""Rule 2 against a real Radicale: Book and Reschedule re-read the host's conflict calendars
for the chosen time, so an event added there since the last sync refuses the slot, while the
offer (``slots``) still reads the stored busy times; a calendar server that cannot answer
leaves the decision to the stored busy times."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from parlay.settings import Settings
from tests.conftest import Person
from tests.providers import conftest as caldav_fixtures
from tests.providers.conftest import Radicale, free_port
from tests.web.test_calendar_writes import book, set_url
from tests.web.test_calendars_caldav import (
    ALL_DAY_SLOTS,
    DAY,
    alice_calendar,
    event,
    link,
    share,
    slots,
)
from tests.web.test_scheduling import NOW

radicale = caldav_fixtures.radicale


@pytest.fixture
def settings(make_settings: Any) -> Settings:
    return make_settings(now=NOW)


def add_event(radicale: Radicale, calendar: str, start: str, end: str) -> None:
    """An event put straight into Alice's calendar: no sync has seen it."""
    name = uuid.uuid4().hex
    radicale.put("alice", calendar, name, event(name, f"20261201T{start}00Z", f"20261201T{end}00Z"))


async def test_an_event_added_since_the_last_sync_refuses_book_and_reschedule(
    app: Any, room: dict[str, Any], alice: Person, bob: Person, radicale: Radicale
) -> None:
    calendar = alice_calendar(radicale)  # busy 15:00-17:00, synced when linked
    assert (await link(alice, radicale, calendar)).status_code == 201
    invite = await share(alice, room)
    add_event(radicale, calendar, "1000", "1100")
    assert await slots(bob, invite) == ALL_DAY_SLOTS[:6]  # the offer does not know it yet
    r = await bob.client.post(f"/api/v1/invites/{invite}/book", json={"start": f"{DAY}T10:00:00Z"})
    assert r.status_code == 409, r.text
    assert r.json()["error"]["code"] == "slot_taken"

    # Busy later that day does not refuse an earlier slot.
    add_event(radicale, calendar, "1230", "1300")
    meeting = await book(bob, invite, "11:00")
    # Reschedule onto the new event: refused too; elsewhere it goes through.
    r = await bob.client.post(
        f"/api/v1/meetings/{meeting['id']}/reschedule", json={"start": f"{DAY}T12:00:00Z"}
    )
    assert r.status_code == 409 and r.json()["error"]["code"] == "slot_taken"
    r = await bob.client.post(
        f"/api/v1/meetings/{meeting['id']}/reschedule", json={"start": f"{DAY}T13:00:00Z"}
    )
    assert r.status_code == 200, r.text


async def test_an_unreachable_calendar_server_leaves_it_to_the_stored_busy_times(
    app: Any, room: dict[str, Any], alice: Person, bob: Person, radicale: Radicale
) -> None:
    calendar = alice_calendar(radicale)
    connection = (await link(alice, radicale, calendar)).json()["id"]
    invite = await share(alice, room)
    add_event(radicale, calendar, "1000", "1100")  # unseen: the server will not be asked
    await set_url(app, connection, f"http://127.0.0.1:{free_port()}{calendar}")
    # Stored busy time still refuses its slot ...
    r = await bob.client.post(f"/api/v1/invites/{invite}/book", json={"start": f"{DAY}T15:00:00Z"})
    assert r.status_code == 409 and r.json()["error"]["code"] == "slot_taken"
    # ... and the rest books on the stored busy times.
    meeting = await book(bob, invite, "10:00")
    assert meeting["status"] == "scheduled"
