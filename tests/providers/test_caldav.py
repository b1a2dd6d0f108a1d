"""The CalDAV adapter against a real Radicale: linking, discovery, busy times, writes, errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from parlay.providers.caldav import CalDAVProvider
from parlay.providers.dto import Credentials, EventRef, MeetingEvent, blocking_events
from parlay.providers.errors import InvalidCredentials, Unreachable
from tests.providers.conftest import USERS, Radicale, free_port

WINDOW = (datetime(2030, 3, 4, tzinfo=UTC), datetime(2030, 3, 25, tzinfo=UTC))


def provider(
    url: str, user: str = "alice", password: str | None = None, **kw: object
) -> CalDAVProvider:
    creds = Credentials(url=url, username=user, password=password or USERS.get(user, "x"))
    return CalDAVProvider(creds, timeout=10, **kw)  # type: ignore[arg-type]


def vevent(uid: str, body: str) -> str:
    return (
        "BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//test//EN\nBEGIN:VEVENT\n"
        f"UID:{uid}\nDTSTAMP:20300101T000000Z\n{body.strip()}\nEND:VEVENT\nEND:VCALENDAR\n"
    )


def meeting(start_hour: int = 10, meeting_id: str = "m-1") -> MeetingEvent:
    start = datetime(2030, 3, 6, start_hour, tzinfo=UTC)
    return MeetingEvent(
        meeting_id=meeting_id,
        title="Intro call",
        start=start,
        end=start + timedelta(minutes=30),
        description="Join: https://parlay.example/m/abc",
        location="https://parlay.example/m/abc",
        url="https://parlay.example/m/abc",
    )


async def test_link_lists_every_calendar_with_the_first_as_primary(radicale: Radicale) -> None:
    first = radicale.make_calendar("bob", "a-work", display="Work")
    second = radicale.make_calendar("bob", "b-home", display="Home")
    linked = await provider(f"{radicale.url}/bob/", "bob").link()
    assert linked.account_email == "bob"
    by_id = {c.external_id: c for c in linked.calendars}
    assert {first, second} <= set(by_id)
    assert by_id[first].name == "Work" and by_id[second].name == "Home"
    assert [c.primary for c in linked.calendars].count(True) == 1
    assert linked.calendars[0].primary


@pytest.mark.parametrize("where", ["root", "principal", "collection"])
async def test_discovery_from_root_principal_or_collection(radicale: Radicale, where: str) -> None:
    cal = radicale.make_calendar("alice")
    url = {
        "root": f"{radicale.url}/",
        "principal": f"{radicale.url}/alice/",
        "collection": f"{radicale.url}{cal}",
    }[where]
    calendars = await provider(url).list_calendars()
    assert cal in {c.external_id for c in calendars}
    primaries = [c.external_id for c in calendars if c.primary]
    assert len(primaries) == 1
    if where == "collection":
        assert primaries == [cal]


async def test_busy_events_expand_recurrences_and_mark_what_does_not_count(
    radicale: Radicale,
) -> None:
    cal = radicale.make_calendar("alice")
    radicale.put(
        "alice",
        cal,
        "weekly",
        vevent(
            "weekly",
            """
DTSTART;TZID=Europe/Berlin:20300301T090000
DTEND;TZID=Europe/Berlin:20300301T100000
RRULE:FREQ=WEEKLY;COUNT=10
SUMMARY:Standup
""",
        ),
    )
    radicale.put(
        "alice",
        cal,
        "allday",
        vevent(
            "allday",
            """
DTSTART;VALUE=DATE:20300305
DTEND;VALUE=DATE:20300306
SUMMARY:Offsite
""",
        ),
    )
    radicale.put(
        "alice",
        cal,
        "free",
        vevent(
            "free",
            """
DTSTART:20300307T120000Z
DTEND:20300307T130000Z
TRANSP:TRANSPARENT
SUMMARY:Lunch maybe
""",
        ),
    )
    radicale.put(
        "alice",
        cal,
        "cancelled",
        vevent(
            "cancelled",
            """
DTSTART:20300308T120000Z
DTEND:20300308T130000Z
STATUS:CANCELLED
SUMMARY:Called off
""",
        ),
    )
    radicale.put(
        "alice",
        cal,
        "outside",
        vevent(
            "outside",
            """
DTSTART:20300401T120000Z
DTEND:20300401T130000Z
""",
        ),
    )
    adapter = provider(f"{radicale.url}/alice/", zone="America/New_York")
    events = await adapter.busy_events(cal, *WINDOW)

    weekly = sorted(e.start for e in events if e.uid == "weekly")
    # 2030-03-08 / 15 / 22 / ... Berlin 09:00; DST in Europe starts 2030-03-31, so 08:00 UTC
    assert weekly == [datetime(2030, 3, d, 8, tzinfo=UTC) for d in (8, 15, 22)]
    (allday,) = [e for e in events if e.uid == "allday"]
    assert allday.all_day
    # busy between midnights of the zone the adapter was given (New York, UTC-5 in early March)
    assert (allday.start, allday.end) == (
        datetime(2030, 3, 5, 5, tzinfo=UTC),
        datetime(2030, 3, 6, 5, tzinfo=UTC),
    )
    assert [e.transparent for e in events if e.uid == "free"] == [True]
    assert [e.status for e in events if e.uid == "cancelled"] == ["cancelled"]
    assert "outside" not in {e.uid for e in events}
    counted = {e.uid for e in blocking_events(events)}
    assert counted == {"weekly", "allday"}


async def test_parlay_events_are_recognised_and_not_counted(radicale: Radicale) -> None:
    cal = radicale.make_calendar("alice")
    adapter = provider(f"{radicale.url}/alice/")
    await adapter.create_event(cal, meeting(meeting_id="m-own"))
    events = await adapter.busy_events(cal, *WINDOW)
    assert [e.parlay_meeting_id for e in events] == ["m-own"]
    assert blocking_events(events) == []


async def test_create_twice_is_one_resource_update_moves_delete_twice(radicale: Radicale) -> None:
    cal = radicale.make_calendar("alice")
    adapter = provider(f"{radicale.url}/alice/")
    first = await adapter.create_event(cal, meeting(10))
    again = await adapter.create_event(cal, meeting(10))  # a retry after a lost response
    assert first.external_id == again.external_id
    assert len(radicale.items("alice", cal)) == 1
    body = radicale.get("alice", first.external_id).text
    assert "X-PARLAY-MEETING-ID:m-1" in body and "UID:m-1@parlay" in body

    moved = await adapter.update_event(cal, meeting(14), again)
    (event,) = await adapter.busy_events(cal, *WINDOW)
    assert event.start == datetime(2030, 3, 6, 14, tzinfo=UTC)
    # an update with a stale etag, or none, still ends in the latest state
    await adapter.update_event(cal, meeting(15), EventRef(moved.external_id, etag='"stale"'))
    await adapter.update_event(cal, meeting(16))
    (event,) = await adapter.busy_events(cal, *WINDOW)
    assert event.start == datetime(2030, 3, 6, 16, tzinfo=UTC)
    assert len(radicale.items("alice", cal)) == 1

    await adapter.delete_event(cal, "m-1")
    await adapter.delete_event(cal, "m-1")
    assert radicale.items("alice", cal) == []
    # an update after the event was removed by hand recreates it
    await adapter.update_event(cal, meeting(9), moved)
    assert len(radicale.items("alice", cal)) == 1


async def test_incremental_sync_reports_changes_and_removals(radicale: Radicale) -> None:
    cal = radicale.make_calendar("alice")
    radicale.put(
        "alice", cal, "one", vevent("one", "DTSTART:20300306T100000Z\nDTEND:20300306T110000Z")
    )
    adapter = provider(f"{radicale.url}/alice/")
    full = await adapter.sync_busy(cal, *WINDOW)
    assert full.full and full.next_token
    assert [e.uid for events in full.changed.values() for e in events] == ["one"]

    radicale.put(
        "alice", cal, "two", vevent("two", "DTSTART:20300307T100000Z\nDTEND:20300307T110000Z")
    )
    with radicale.client("alice") as dav:
        assert dav.delete(f"{cal}one.ics").status_code in (200, 204)
    delta = await adapter.sync_busy(cal, *WINDOW, full.next_token)
    assert not delta.full
    assert [e.uid for events in delta.changed.values() for e in events] == ["two"]
    assert delta.removed == {f"{cal}one.ics"}

    expired = await adapter.sync_busy(cal, *WINDOW, "http://radicale.org/ns/sync/unknown")
    assert expired.full
    assert [e.uid for events in expired.changed.values() for e in events] == ["two"]


async def test_wrong_password_is_invalid_credentials(radicale: Radicale) -> None:
    with pytest.raises(InvalidCredentials):
        await provider(f"{radicale.url}/alice/", password="not-the-password").link()


async def test_unreachable_port(radicale: Radicale) -> None:
    with pytest.raises(Unreachable):
        await provider(f"http://127.0.0.1:{free_port()}/").link()


async def test_a_web_page_is_not_a_calendar_server(web_page_server: str) -> None:
    with pytest.raises(Unreachable):
        await provider(web_page_server).link()


async def test_garbage_xml_is_unreachable(garbage_server: str) -> None:
    with pytest.raises(Unreachable):
        await provider(garbage_server).link()


async def test_secrets_never_reach_the_log(
    radicale: Radicale, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG", logger="parlay")
    with pytest.raises(InvalidCredentials):
        await provider(f"{radicale.url}/alice/", password="s3cret-wrong-pass").link()
    await provider(f"{radicale.url}/alice/").list_calendars()
    assert caplog.records
    assert "s3cret-wrong-pass" not in caplog.text and USERS["alice"] not in caplog.text
