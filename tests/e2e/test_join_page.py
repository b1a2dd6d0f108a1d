"""The join page (/m/{token}): Add to calendar for everyone who holds the link, the way back
to the room only for members of that room (nobody else learns the room), and a cancelled
meeting says who cancelled it and why.  Desktop and phone."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from playwright.sync_api import expect

from tests.e2e.ui import PASSWORD, api, assert_accessible, screenshot, title, unique_email

pytestmark = pytest.mark.e2e

ALL_WEEK = {
    day: [{"start": "00:00", "end": "24:00"}]
    for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
}


def sign_up_by_api(page: Any, name: str) -> str:
    """A fresh account, signed in within ``page``'s browser context."""
    email = unique_email(name)
    body = {"email": email, "password": PASSWORD, "display_name": name, "time_zone": "UTC"}
    assert page.request.post("/api/v1/auth/signup", data=body).status == 201
    login = page.request.post("/api/v1/auth/login", data={"email": email, "password": PASSWORD})
    assert login.ok, login.text()
    return email


def book_meeting(host: Any, booker: Any, booker_email: str) -> dict[str, Any]:
    """Host shares every hour of the week in a new room; the booker takes the first time
    the day after tomorrow."""
    room = api(
        host, "POST", "/api/v1/rooms", {"title": title("Join"), "member_emails": [booker_email]}
    )
    assert room.status == 201, room.text()
    body = {"time_zone": "UTC", "weekly": ALL_WEEK, "duration_minutes": 30}
    invite = api(host, "POST", f"/api/v1/rooms/{room.json()['id']}/invites", body)
    assert invite.status == 201, invite.text()
    day = (datetime.now(UTC) + timedelta(days=2)).date().isoformat()
    slots = booker.request.get(f"/api/v1/invites/{invite.json()['id']}/slots?date={day}&tz=UTC")
    assert slots.ok, slots.text()
    start = slots.json()["slots"][0]["start"]
    booked = api(booker, "POST", f"/api/v1/invites/{invite.json()['id']}/book", {"start": start})
    assert booked.status == 201, booked.text()
    meeting: dict[str, Any] = booked.json()
    return meeting


def open_calendar_menu(page: Any) -> Any:
    button = page.get_by_role("button", name="Add to calendar")
    expect(button).to_be_visible()
    button.click()
    expect(button).to_have_attribute("aria-expanded", "true")
    menu = page.locator(".sc-menu")
    for name in ("Download .ics", "Google Calendar", "Outlook"):
        expect(menu.get_by_role("link", name=name)).to_be_visible()
    return menu


def test_join_page_calendar_room_link_and_cancellation(
    open_page: Any, device: str, artifacts: Path
) -> None:
    host = open_page(time_zone="Europe/London")
    sign_up_by_api(host, "Hana Host")
    booker = open_page(time_zone="America/New_York")
    booker_email = sign_up_by_api(booker, "Bo Booker")
    meeting = book_meeting(host, booker, booker_email)
    room_id, join_url = meeting["room_id"], meeting["join_url"]
    token = join_url.rsplit("/", 1)[1]

    # --- A member of the room: the card's own calendar links, and the way back to the room.
    host.goto(join_url)
    expect(host.get_by_role("heading", name="Meeting with Hana Host")).to_be_visible()
    menu = open_calendar_menu(host)
    expect(menu.get_by_role("link", name="Download .ics")).to_have_attribute(
        "href", meeting["ics_url"]
    )
    expect(menu.get_by_role("link", name="Google Calendar")).to_have_attribute(
        "href", meeting["google_url"]
    )
    expect(menu.get_by_role("link", name="Outlook")).to_have_attribute(
        "href", meeting["outlook_url"]
    )
    screenshot(host, artifacts, device, "join-member-menu")
    host.keyboard.press("Escape")
    expect(host.get_by_role("button", name="Add to calendar")).to_be_focused()
    back = host.get_by_role("link", name="Back to the room")
    expect(back).to_have_attribute("href", f"/rooms/{room_id}")
    assert_accessible(host, f"the join page for a member ({device})")
    back.click()
    host.wait_for_url(re.compile(f"/rooms/{room_id}$"))

    # --- Signed out: Add to calendar too, but nothing that names the room.
    guest = open_page(time_zone="Asia/Kolkata")
    response = guest.goto(join_url)
    assert response is not None and response.status == 200
    menu = open_calendar_menu(guest)
    expect(guest.get_by_role("link", name="Back to the room")).to_have_count(0)
    ics_href = str(menu.get_by_role("link", name="Download .ics").get_attribute("href"))
    assert ics_href == f"/m/{token}/meeting.ics"
    links = [
        unquote(str(menu.get_by_role("link", name=name).get_attribute("href")))
        for name in ("Google Calendar", "Outlook")
    ]
    assert all(join_url in link and room_id not in link for link in links), links
    ics = guest.request.get(ics_href)
    assert ics.ok and ics.headers["content-type"].startswith("text/calendar")
    unfolded = ics.text().replace("\r\n ", "")
    assert f"LOCATION:{join_url}" in unfolded and room_id not in unfolded
    assert booker_email not in unfolded  # nor the other participants' addresses
    assert room_id not in guest.content()
    assert guest.request.get("/m/not-a-token/meeting.ics").status == 404
    screenshot(guest, artifacts, device, "join-guest-menu")
    assert_accessible(guest, f"the join page, signed out ({device})")

    # --- Signed in but outside the room: no room link either.
    stranger = open_page(time_zone="UTC")
    sign_up_by_api(stranger, "Sol Stranger")
    stranger.goto(join_url)
    expect(stranger.get_by_role("button", name="Add to calendar")).to_be_visible()
    expect(stranger.get_by_role("link", name="Back to the room")).to_have_count(0)
    assert room_id not in stranger.content()

    # --- The booker cancels with a reason: the page says so, who did it, and why.
    cancelled = api(
        booker, "POST", f"/api/v1/meetings/{meeting['id']}/cancel", {"reason": "Flight delayed"}
    )
    assert cancelled.status == 200, cancelled.text()
    guest.reload()
    expect(guest.get_by_text("Cancelled", exact=True)).to_be_visible()
    expect(guest.get_by_role("heading", name="This meeting was cancelled")).to_be_visible()
    expect(guest.get_by_text("Cancelled by Bo Booker")).to_be_visible()
    expect(guest.locator(".join-reason")).to_have_text("Reason: “Flight delayed”")
    expect(guest.get_by_text("Video opens here soon.")).to_have_count(0)
    expect(guest.get_by_role("button", name="Add to calendar")).to_have_count(0)
    # The cancellation file (METHOD:CANCEL) takes it out of a calendar it was added to.
    download = guest.get_by_role("link", name="Download .ics")
    expect(download).to_have_attribute("href", f"/m/{token}/meeting.ics")
    assert "METHOD:CANCEL" in guest.request.get(ics_href).text()
    expect(guest.get_by_role("link", name="Back to the room")).to_have_count(0)
    screenshot(guest, artifacts, device, "join-cancelled")
    assert_accessible(guest, f"the cancelled join page ({device})")

    host.goto(join_url)
    expect(host.locator(".join-reason")).to_have_text("Reason: “Flight delayed”")
    expect(host.get_by_role("link", name="Back to the room")).to_be_visible()
    assert_accessible(host, f"the cancelled join page for a member ({device})")
