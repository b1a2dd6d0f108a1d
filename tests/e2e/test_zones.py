"""Every time in the reader's own zone, labelled (issue 8, acceptance).

Ann's browser is in London and Ben's in New York, but both accounts are saved as Asia/Tokyo:
the saved zone must not win.  Ben books Ann's invite, reschedules it, Ann cancels it; every
time on the meeting card, the invite card, the notices, the booking/reschedule/cancel dialogs
and the join page reads in the browser's own zone with the zone's short name ("GMT", "GMT-5"
in the en-GB locale the contexts use).  Expectations are computed here from the instants the
page carries (data-start, datetime), never hard-coded, because the server runs on the real
clock.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from tests.e2e.ui import PASSWORD, api, open_room, title, unique_email

pytestmark = pytest.mark.e2e

SAVED = "Asia/Tokyo"
LONDON = "Europe/London"
NEW_YORK = "America/New_York"
ALL_WEEK = {
    day: [{"start": "00:00", "end": "24:00"}]
    for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
}
AVAILABLE = re.compile(r", available$")


def instant(iso: str) -> datetime:
    return datetime.fromisoformat(iso.replace("Z", "+00:00"))


def label(at: datetime, zone: str) -> str:
    """The zone's short name as Chromium writes it in en-GB: GMT/BST for London, else GMT±h."""
    offset = at.astimezone(ZoneInfo(zone)).utcoffset() or timedelta(0)
    if zone == LONDON:
        return "GMT" if not offset else "BST"
    hours, rest = divmod(int(offset.total_seconds()), 3600)
    assert rest == 0, "whole-hour zones only here"
    return f"GMT{hours:+d}" if hours else "GMT"


def hm(at: datetime, zone: str) -> str:
    return f"{at.astimezone(ZoneInfo(zone)):%H:%M}"


def short_day(at: datetime, zone: str) -> str:
    local = at.astimezone(ZoneInfo(zone))
    return f"{local:%a} {local.day} {local:%b}"


def long_day(at: datetime, zone: str) -> str:
    """ "Wednesday 2 December" in the zone."""
    local = at.astimezone(ZoneInfo(zone))
    return f"{local:%A} {local.day} {local:%B}"


def full_day(at: datetime, zone: str) -> re.Pattern[str]:
    """ "Wednesday, 2 December 2026" in the zone (en-GB adds the comma with the year)."""
    local = at.astimezone(ZoneInfo(zone))
    return re.compile(rf"^{local:%A},? {local.day} {local:%B} {local.year}$")


def when(at: datetime, zone: str) -> str:
    """ "Wed 2 Dec, 10:30 GMT" in the zone."""
    return f"{short_day(at, zone)}, {hm(at, zone)} {label(at, zone)}"


def time_range(start: datetime, end: datetime, zone: str) -> str:
    """ "10:30 – 11:00 GMT" in the zone."""
    return f"{hm(start, zone)} – {hm(end, zone)} {label(end, zone)}"


def moved(who: str, old: datetime, new: datetime, zone: str) -> str:
    first = when(old, zone)
    if label(old, zone) == label(new, zone):
        first = first.rsplit(" ", 1)[0]
    return f"{who} moved the meeting from {first} to {when(new, zone)}."


def signed_up_in_tokyo(page: Any, name: str) -> str:
    """An account saved as Asia/Tokyo, signed in in ``page``'s context."""
    email = unique_email(name)
    body = {"email": email, "password": PASSWORD, "display_name": name, "time_zone": SAVED}
    assert page.request.post("/api/v1/auth/signup", data=body).status == 201
    login = page.request.post("/api/v1/auth/login", data={"email": email, "password": PASSWORD})
    assert login.ok, login.text()
    return email


def meeting_card(page: Any) -> Any:
    return page.locator("#messages .meeting-card")


def updates(page: Any) -> Any:
    return page.locator("#messages .msg-kind-meeting_update .msg-body")


def test_every_time_reads_in_the_browsers_zone(open_page: Any, device: str) -> None:
    ann = open_page(time_zone=LONDON)
    ben = open_page(time_zone=NEW_YORK)
    signed_up_in_tokyo(ann, "Ann Archer")
    ben_email = signed_up_in_tokyo(ben, "Ben Baker")
    room = api(
        ann, "POST", "/api/v1/rooms", {"title": title("Zones"), "member_emails": [ben_email]}
    )
    assert room.status == 201, room.text()
    room_id = room.json()["id"]
    invite = api(
        ann,
        "POST",
        f"/api/v1/rooms/{room_id}/invites",
        {"time_zone": "UTC", "weekly": ALL_WEEK, "duration_minutes": 30},
    )
    assert invite.status == 201, invite.text()
    open_room(ann, room_id)
    open_room(ben, room_id)

    # --- Ben books: the window's times default to his browser's zone, not the saved one.
    ben.locator("#messages .invite-card").get_by_role("button", name="Schedule a meeting").click()
    dialog = ben.get_by_role("dialog")
    expect(dialog.get_by_text(f"Times in {NEW_YORK}")).to_be_visible()
    dialog.get_by_role("button", name=AVAILABLE).first.click()
    first = dialog.locator(".time-button:not(.is-current)").first
    expect(first).to_be_visible()
    start = instant(str(first.get_attribute("data-start")))
    end = start + timedelta(minutes=30)
    expect(first).to_have_text(hm(start, NEW_YORK))
    first.click()
    expect(dialog.get_by_role("heading", name="Confirm the meeting")).to_be_visible()
    expect(dialog.locator(".summary-time")).to_contain_text(time_range(start, end, NEW_YORK))
    dialog.get_by_role("button", name="Confirm").click()
    expect(dialog.get_by_role("heading", name="Booked")).to_be_visible()
    expect(dialog).to_be_hidden()

    # Both cards, and the invite's "Booked:" line, read in each browser's own zone, labelled.
    for page, zone in ((ann, LONDON), (ben, NEW_YORK)):
        card = meeting_card(page)
        expect(card.locator(".meeting-day")).to_have_text(long_day(start, zone))
        expect(card.locator(".meeting-time")).to_have_text(
            f"{time_range(start, end, zone)} · 30 min"
        )
        expect(page.locator("#messages .invite-card .sc-booked")).to_have_text(
            f"Booked: {when(start, zone)}"
        )

    # --- Ben reschedules: the window's header and the confirm step say the current time in
    # his zone with its label.
    meeting_card(ben).get_by_role("button", name="Reschedule").click()
    dialog = ben.get_by_role("dialog")
    expect(dialog.get_by_role("heading", name="Reschedule the meeting")).to_be_visible()
    expect(dialog.locator(".book-meta")).to_contain_text(f"Currently {when(start, NEW_YORK)}")
    others = dialog.locator(".time-button:not(.is-current)")
    expect(dialog.locator(".time-button").first).to_be_visible()
    if others.count() == 0:  # the booked time was the day's last: take the next open date
        dialog.get_by_role("button", name=AVAILABLE).nth(1).click()
    expect(others.first).to_be_visible()
    new_start = instant(str(others.first.get_attribute("data-start")))
    new_end = new_start + timedelta(minutes=30)
    others.first.click()
    expect(dialog.get_by_role("heading", name="Confirm the new time")).to_be_visible()
    expect(dialog.locator(".summary-time")).to_contain_text(
        time_range(new_start, new_end, NEW_YORK)
    )
    expect(dialog.locator(".summary-was")).to_have_text(f"Moves it from {when(start, NEW_YORK)}")
    dialog.get_by_label("Reason (optional)").fill("Clash")
    dialog.get_by_role("button", name="Confirm").click()
    expect(dialog).to_be_hidden()

    # The notice is one sentence per reader, in the reader's zone (not the actor's, not UTC).
    for page, zone in ((ann, LONDON), (ben, NEW_YORK)):
        expect(updates(page)).to_have_count(1)
        expect(updates(page)).to_have_text(
            moved("Ben Baker", start, new_start, zone) + " Reason: Clash"
        )
        expect(meeting_card(page).locator(".meeting-time")).to_have_text(
            f"{time_range(new_start, new_end, zone)} · 30 min"
        )
    # A reload renders the same from the stored notice.
    ann.reload()
    expect(updates(ann)).to_have_text(
        moved("Ben Baker", start, new_start, LONDON) + " Reason: Clash"
    )

    # --- The join page, opened in each browser, reads in that browser's zone.
    join_url = str(
        meeting_card(ann).get_by_role("link", name="Join the meeting").get_attribute("href")
    )
    for page, zone in ((ann, LONDON), (ben, NEW_YORK)):
        guest = page.context.new_page()
        guest.goto(join_url)
        expect(guest.locator("#join-start")).to_have_text(full_day(new_start, zone))
        expect(guest.locator(".summary-time")).to_contain_text(time_range(new_start, new_end, zone))
        expect(guest.locator("#join-zone")).to_have_text(f"Times in {zone}")
        guest.close()

    # --- Ann cancels: the dialog shows the time with its zone.
    meeting_card(ann).get_by_role("button", name="Cancel", exact=True).click()
    dialog = ann.get_by_role("dialog")
    expect(dialog.get_by_role("heading", name="Cancel this meeting?")).to_be_visible()
    expect(dialog.locator(".summary-date")).to_have_text(full_day(new_start, LONDON))
    expect(dialog.locator(".summary-time")).to_have_text(time_range(new_start, new_end, LONDON))
    dialog.get_by_role("button", name="Cancel meeting").click()
    expect(dialog).to_be_hidden()
    for page in (ann, ben):
        expect(updates(page).last).to_have_text("Ann Archer cancelled the meeting.")
        expect(meeting_card(page).locator(".badge")).to_have_text("Cancelled")
    # Nothing anywhere in either room reads in the saved Tokyo zone.
    for page in (ann, ben):
        expect(page.locator("#messages")).not_to_contain_text("GMT+9")
        expect(page.locator("#messages")).not_to_contain_text("Tokyo")
