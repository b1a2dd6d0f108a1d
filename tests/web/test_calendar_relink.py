"""Linking a calendar after meetings were booked puts the upcoming ones in it; a connection
that needed re-authorization catches up when it is reconnected (API.md "Calendars" rules 3-4)."""

from __future__ import annotations

from typing import Any

from tests.conftest import Person
from tests.providers.conftest import Radicale
from tests.web.test_calendar_writes import (
    book,
    cancel,
    drain,
    dtstart,
    held,
    radicale,
    reschedule,
    settings,
)
from tests.web.test_calendars_caldav import link, share

__all__ = ["radicale", "settings"]  # fixtures: the Radicale server, the pinned clock


async def test_upcoming_meetings_land_in_a_calendar_linked_later(
    app: Any, room: dict[str, Any], alice: Person, bob: Person, radicale: Radicale
) -> None:
    invite = await share(alice, room)
    meeting = await book(bob, invite, "10:00")
    await drain(app)
    calendar = radicale.make_calendar("alice", display="Work")
    r = await link(alice, radicale, calendar)
    assert r.status_code == 201, r.text
    await drain(app)
    [(href, ics)] = held(radicale, calendar).items()
    assert dtstart(ics) == "20261201T100000Z"
    assert meeting["join_url"] in ics.replace("\r\n ", "")


async def test_a_reconnected_calendar_catches_up_with_what_happened_meanwhile(
    app: Any, room: dict[str, Any], alice: Person, bob: Person, radicale: Radicale
) -> None:
    calendar = radicale.make_calendar("alice", display="Work")
    r = await link(alice, radicale, calendar)
    connection = r.json()["id"]
    first = await book(bob, await share(alice, room), "10:00")
    second = await book(bob, await share(alice, room), "13:00")  # an invite books once
    await drain(app)
    assert sorted(dtstart(t) for t in held(radicale, calendar).values()) == [
        "20261201T100000Z",
        "20261201T130000Z",
    ]
    # The app password is revoked: writes stop, the connection needs re-authorization.
    await app.state.container.calendars.set_status(connection, alice.id, "needs_reauth", "auth")
    await reschedule(bob, first, "11:00")
    await cancel(alice, second)
    await drain(app)
    # Reconnected (the same account): the calendar ends in the meetings' latest state.
    assert (await link(alice, radicale, calendar)).status_code == 201
    await drain(app)
    assert [dtstart(t) for t in held(radicale, calendar).values()] == ["20261201T110000Z"]
