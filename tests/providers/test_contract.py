"""One contract every registered adapter keeps, run against a real or emulated server each.

An adapter joins by adding an ``Account`` factory to ``FACTORIES`` (the integration session
adds ``google`` and ``microsoft`` against their emulators); a registered key without one fails.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from parlay.providers.base import CalendarProvider
from parlay.providers.caldav import CalDAVProvider
from parlay.providers.dto import Credentials, MeetingEvent, blocking_events
from parlay.providers.registry import PROVIDERS
from tests.providers import microsoft_fixtures as ms
from tests.providers.conftest import USERS, Radicale
from tests.providers.google_fixtures import (  # noqa: F401 - fixtures
    GoogleEmulator,
    google_fixture,
    google_server_fixture,
)
from tests.providers.microsoft_fixtures import (  # noqa: F401 - fixtures
    control_fixture,
    emulator_fixture,
)

START = datetime(2031, 5, 5, tzinfo=UTC)
END = START + timedelta(days=7)


@dataclass(frozen=True)
class Account:
    provider: CalendarProvider
    calendar_id: str
    #: Put a busy event (name, start, end) there by other means; returns the id the adapter
    #: reports for it (providers like Graph choose their own).
    seed_busy: Callable[[str, datetime, datetime], str]


def caldav_account(request: pytest.FixtureRequest) -> Account:
    radicale: Radicale = request.getfixturevalue("radicale")
    cal = radicale.make_calendar("alice")

    def seed(uid: str, start: datetime, end: datetime) -> str:
        stamp = "%Y%m%dT%H%M%SZ"
        radicale.put(
            "alice",
            cal,
            uid,
            "BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//t//EN\nBEGIN:VEVENT\n"
            f"UID:{uid}\nDTSTAMP:20310101T000000Z\nDTSTART:{start.strftime(stamp)}\n"
            f"DTEND:{end.strftime(stamp)}\nEND:VEVENT\nEND:VCALENDAR\n",
        )
        return uid

    creds = Credentials(url=f"{radicale.url}{cal}", username="alice", password=USERS["alice"])
    return Account(CalDAVProvider(creds, timeout=10), cal, seed)


def google_account(request: pytest.FixtureRequest) -> Account:
    google: GoogleEmulator = request.getfixturevalue("google")
    email = google.account("alice@example.com", "Europe/Berlin")

    def seed(uid: str, start: datetime, end: datetime) -> str:
        event_id = uid.ljust(5, "0")  # Google's ids: base32hex, at least 5 characters
        times = {"start": {"dateTime": start.isoformat()}, "end": {"dateTime": end.isoformat()}}
        google.seed(email, {"id": event_id, "summary": uid, **times})
        return event_id

    return Account(google.provider(email), email, seed)


def microsoft_account(request: pytest.FixtureRequest) -> Account:
    control: httpx.Client = request.getfixturevalue("control")
    ms.add_account(control)
    provider = ms.provider_for(control, ms.sign_in(control, "alice@outlook.com"))

    def seed(uid: str, start: datetime, end: datetime) -> str:
        return ms.seed(control, start.isoformat(), end.isoformat(), subject=uid)

    return Account(provider, ms.calendar_ids(control)["Calendar"], seed)


FACTORIES: dict[str, Callable[[pytest.FixtureRequest], Account]] = {
    "caldav": caldav_account,
    "google": google_account,
    "microsoft": microsoft_account,
}


@pytest.fixture(params=sorted(PROVIDERS))
def account(request: pytest.FixtureRequest) -> Account:
    if request.param not in FACTORIES:
        pytest.fail(f"provider {request.param!r} is registered but not in the contract suite")
    return FACTORIES[request.param](request)


def meeting(hour: int) -> MeetingEvent:
    start = START + timedelta(days=1, hours=hour)
    return MeetingEvent("contract-1", "Contract meeting", start, start + timedelta(hours=1))


async def test_link_names_the_account_and_one_primary_calendar(account: Account) -> None:
    linked = await account.provider.link()
    assert linked.account_email
    ids = [c.external_id for c in linked.calendars]
    assert len(ids) == len(set(ids)) and account.calendar_id in ids
    assert [c.primary for c in linked.calendars].count(True) == 1


async def test_busy_events_are_utc_and_inside_the_window(account: Account) -> None:
    seeded = account.seed_busy("seeded", START + timedelta(hours=9), START + timedelta(hours=10))
    account.seed_busy("later", END + timedelta(days=3), END + timedelta(days=3, hours=1))
    events = await account.provider.busy_events(account.calendar_id, START, END)
    assert [e.uid for e in events] == [seeded]
    (event,) = events
    assert event.start == START + timedelta(hours=9) and event.start.utcoffset() == timedelta(0)
    assert blocking_events(events) == events


async def test_meeting_event_lifecycle_is_idempotent(account: Account) -> None:
    provider, cal = account.provider, account.calendar_id
    ref = await provider.create_event(cal, meeting(10))
    await provider.create_event(cal, meeting(10))
    ours = [e for e in await provider.busy_events(cal, START, END) if e.parlay_meeting_id]
    assert [(e.parlay_meeting_id, e.start) for e in ours] == [("contract-1", meeting(10).start)]

    await provider.update_event(cal, meeting(13), ref)
    ours = [e for e in await provider.busy_events(cal, START, END) if e.parlay_meeting_id]
    assert [e.start for e in ours] == [meeting(13).start]

    await provider.delete_event(cal, "contract-1", ref)
    await provider.delete_event(cal, "contract-1", ref)
    assert [e for e in await provider.busy_events(cal, START, END) if e.parlay_meeting_id] == []


async def test_a_full_sync_holds_what_busy_events_sees(account: Account) -> None:
    account.seed_busy("s1", START + timedelta(hours=9), START + timedelta(hours=10))
    account.seed_busy("s2", START + timedelta(days=2), START + timedelta(days=2, hours=2))
    result = await account.provider.sync_busy(account.calendar_id, START, END)
    assert result.full
    synced = sorted((e.uid, e.start) for events in result.changed.values() for e in events)
    direct = await account.provider.busy_events(account.calendar_id, START, END)
    assert synced == sorted((e.uid, e.start) for e in direct)
