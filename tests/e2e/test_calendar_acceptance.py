"""Issue 9's acceptance, in the browser, once per provider (Google emulator, Microsoft emulator,
Radicale): alice links her calendar through the UI with a busy event 15:00–17:00 tomorrow and
shares 09:00–17:00; bob sees only 09:00–15:00 that day and books 10:00; the meeting appears in
alice's calendar with the join link; bob reschedules, it moves; alice cancels, it is gone.

The writes go through the outbox worker running in the server's process, so the outside world
is polled with a deadline (never a fixed sleep)."""

from __future__ import annotations

import json
import re
import uuid
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import pytest
from playwright.sync_api import expect

from tests.e2e.calendars import eventually
from tests.e2e.conftest import CalendarStack
from tests.e2e.test_calendars_ui import consent_google, consent_microsoft, fill_caldav
from tests.e2e.ui import (
    PASSWORD,
    api,
    create_room,
    open_room,
    open_scheduler,
    sign_up,
    title,
    unique_email,
)
from tests.providers.conftest import USERS

pytestmark = pytest.mark.e2e

ZONE = ZoneInfo("Europe/Berlin")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
BUSY = (time(15), time(17))


@pytest.fixture(scope="module")
def server(calendar_stack: CalendarStack) -> str:
    return calendar_stack.url


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), ZONE)


def instant(text: str) -> datetime:
    """An RFC 3339 instant, or Graph's UTC dateTime with seven fraction digits."""
    text = text.replace("Z", "+00:00")
    text = re.sub(r"(\.\d{6})\d+", r"\1", text)
    value = datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=ZoneInfo("UTC"))


class AliceCalendar:
    """Alice's account at one provider: seeded before linking, linked through the UI, read back
    through the emulator's control API or Radicale itself."""

    def __init__(self, provider: str, stack: CalendarStack, email: str, day: date) -> None:
        self.provider, self.stack, self.email = provider, stack, email
        busy_start, busy_end = at(day, BUSY[0].hour), at(day, BUSY[1].hour)
        if provider == "caldav":
            self.collection = stack.radicale.make_calendar("alice", display="Alice")
            stack.radicale.put(
                "alice", self.collection, "busy", vevent("busy", busy_start, busy_end)
            )
        else:
            emulator = stack.google if provider == "google" else stack.microsoft
            emulator.add_account(email, "Alice Acceptance", "Europe/Berlin")
            emulator.add_busy(email, busy_start, busy_end, "Dentist")

    def link(self, page: Any, dialog: Any) -> None:
        if self.provider == "caldav":
            dialog.get_by_role("button", name=re.compile("^Connect CalDAV calendar")).click()
            radicale = self.stack.radicale
            fill_caldav(dialog, radicale.url + self.collection, "alice", USERS["alice"])
            expect(dialog.get_by_role("heading", name="Share your availability")).to_be_visible()
            return
        name = (
            "Connect Google Calendar" if self.provider == "google" else "Connect Microsoft Outlook"
        )
        dialog.get_by_role("button", name=re.compile(f"^{name}")).click()
        if self.provider == "google":
            consent_google(page, self.email)
        else:
            consent_microsoft(page, self.email)
        page.wait_for_url(re.compile(r"/rooms/[^/?]+$"))
        expect(
            page.get_by_role("status").filter(has_text="Your calendar is linked")
        ).to_be_visible()

    def meeting_starts(self, join_url: str) -> list[datetime]:
        """Start of every live event in alice's calendar that carries ``join_url``."""
        if self.provider == "caldav":
            radicale = self.stack.radicale
            starts = []
            for href in radicale.items("alice", self.collection):
                text = radicale.get("alice", href).text
                if join_url in text.replace("\r\n ", ""):
                    for component in icalendar.Calendar.from_ical(text).walk("VEVENT"):
                        starts.append(component.decoded("DTSTART").astimezone(ZONE))
            return starts
        emulator = self.stack.google if self.provider == "google" else self.stack.microsoft
        starts = []
        for event in emulator.events(self.email):
            gone = event.get("status") == "cancelled" or event.get("deleted") is True
            if gone or join_url not in json.dumps(event):
                continue
            start: Any = event["start"]
            starts.append(instant(start["dateTime"]).astimezone(ZONE))
        return starts


def vevent(uid: str, start: datetime, end: datetime) -> str:
    utc = "%Y%m%dT%H%M%SZ"
    zone = ZoneInfo("UTC")
    return (
        "BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//parlay tests//EN\nBEGIN:VEVENT\n"
        f"UID:{uid}-{uuid.uuid4().hex}\nDTSTAMP:{start.astimezone(zone).strftime(utc)}\n"
        f"DTSTART:{start.astimezone(zone).strftime(utc)}\nDTEND:{end.astimezone(zone).strftime(utc)}\n"
        "SUMMARY:Dentist\nEND:VEVENT\nEND:VCALENDAR\n"
    )


def sign_up_by_api(page: Any, name: str) -> str:
    email = unique_email(name)
    body = {
        "email": email,
        "password": PASSWORD,
        "display_name": name,
        "time_zone": "Europe/Berlin",
    }
    assert page.request.post("/api/v1/auth/signup", data=body).status == 201
    login = page.request.post("/api/v1/auth/login", data={"email": email, "password": PASSWORD})
    assert login.ok, login.text()
    return email


def synced(page: Any) -> bool:
    found = api(page, "GET", "/api/v1/calendars").json()["calendars"]
    return bool(found) and all(c["last_synced_at"] for c in found)


def choose_day(dialog: Any, day: date) -> list[str]:
    """Choose ``day`` in the month view (turning the month if need be); its times' starts."""
    expect(dialog.locator(".cal-day").first).to_be_visible()  # the month is drawn
    cell = dialog.locator(f".cal-day[data-date='{day.isoformat()}']")
    if cell.count() == 0:
        dialog.get_by_role("button", name="Next month").click()
    cell.click()
    times = dialog.locator(".time-button")
    expect(times.first).to_be_visible()
    starts: list[str] = times.evaluate_all("els => els.map(e => e.dataset.start)")
    return starts


def pick(dialog: Any, day: date, hour: int) -> None:
    """Choose ``day``, then hour:00 on it."""
    for start in choose_day(dialog, day):
        if instant(start).astimezone(ZONE) == at(day, hour):
            dialog.locator(f".time-button[data-start='{start}']").click()
            return
    raise AssertionError(f"{hour}:00 on {day} is not offered")


@pytest.mark.parametrize("device", ["desktop"])
@pytest.mark.parametrize("provider", ["google", "microsoft", "caldav"])
def test_busy_times_in_meetings_out(
    open_page: Any, device: str, provider: str, calendar_stack: CalendarStack
) -> None:
    alice = open_page(time_zone="Europe/Berlin")
    alice_email = sign_up(alice, "Alice Acceptance")
    bob = open_page(time_zone="Europe/Berlin")
    bob_email = sign_up_by_api(bob, "Bob Booker")
    day = (datetime.now(ZONE) + timedelta(days=1)).date()
    calendar = AliceCalendar(provider, calendar_stack, alice_email, day)
    room_id = create_room(alice, title("Acceptance"), [bob_email])

    # Alice links her calendar from the room's calendar icon, then shares 09:00–17:00.
    dialog = open_scheduler(alice, device)
    calendar.link(alice, dialog)
    eventually(lambda: synced(alice), "the first sync of alice's calendar")
    weekly = {d: [{"start": "09:00", "end": "17:00"}] for d in DAYS}
    saved = api(
        alice, "PUT", "/api/v1/me/availability", {"time_zone": "Europe/Berlin", "weekly": weekly}
    )
    assert saved.ok, saved.text()
    alice.reload()  # the share step reads the usual hours just saved
    dialog = open_scheduler(alice, device)  # linked: straight to sharing
    expect(dialog.get_by_role("heading", name="Share your availability")).to_be_visible()
    dialog.get_by_role("button", name="Next").click()
    expect(dialog.get_by_role("radio", name="30 minutes")).to_be_checked()
    dialog.get_by_role("button", name="Send").click()
    expect(dialog).to_be_hidden()

    # Bob sees 09:00–15:00 that day (the busy afternoon is gone) and books 10:00.
    open_room(bob, room_id)
    bob.locator("#messages .invite-card").get_by_role("button", name="Schedule a meeting").click()
    dialog = bob.get_by_role("dialog")
    expect(dialog.get_by_text("Times in Europe/Berlin")).to_be_visible()
    starts = [instant(s).astimezone(ZONE) for s in choose_day(dialog, day)]
    assert min(starts) == at(day, 9)
    assert max(starts) + timedelta(minutes=30) == at(day, 15), starts
    pick(dialog, day, 10)
    dialog.get_by_role("button", name="Confirm").click()
    expect(dialog.get_by_role("heading", name="Booked")).to_be_visible()
    card = bob.locator("#messages .meeting-card")
    join_url = str(card.get_by_role("link", name="Join the meeting").get_attribute("href"))

    # The meeting appears in alice's calendar, with the join link.
    eventually(lambda: calendar.meeting_starts(join_url) == [at(day, 10)], "the event at 10:00")

    # Bob moves it to 11:00: the event moves.
    card.get_by_role("button", name="Reschedule").click()
    dialog = bob.get_by_role("dialog")
    expect(dialog.get_by_role("heading", name="Reschedule the meeting")).to_be_visible()
    pick(dialog, day, 11)
    dialog.get_by_role("button", name="Confirm").click()
    expect(dialog.get_by_role("heading", name="Rescheduled")).to_be_visible()
    eventually(lambda: calendar.meeting_starts(join_url) == [at(day, 11)], "the event at 11:00")

    # Alice cancels: it is gone.
    open_room(alice, room_id)
    alice.locator("#messages .meeting-card").get_by_role(
        "button", name="Cancel", exact=True
    ).click()
    dialog = alice.get_by_role("dialog")
    dialog.get_by_role("button", name="Cancel meeting").click()
    expect(dialog).to_be_hidden()
    eventually(lambda: calendar.meeting_starts(join_url) == [], "the event to be gone")
