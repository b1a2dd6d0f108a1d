"""The notification bell, desktop and phone: Bob's unread badge appears live when Alice books
his availability and clears when he opens the list; Alice's cancel, with its reason, shows in
the list.  Fresh accounts (the shared pair collects other tests' notifications)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.test_join_page import ALL_WEEK, sign_up_by_api
from tests.e2e.ui import api, assert_accessible, screenshot, title, wait_ready

pytestmark = pytest.mark.e2e


def bell(page: Any) -> Any:
    return page.locator("button.notif-bell:visible")


def badge(page: Any) -> Any:
    return bell(page).locator(".notif-badge")


def test_bell_counts_live_and_shows_the_cancel_reason(
    open_page: Any, device: str, artifacts: Path
) -> None:
    alice, bob = open_page(time_zone="UTC"), open_page(time_zone="America/New_York")
    sign_up_by_api(alice, "Alice Notify")
    bob_email = sign_up_by_api(bob, "Bob Notify")
    room = api(
        alice, "POST", "/api/v1/rooms", {"title": title("Bell"), "member_emails": [bob_email]}
    )
    assert room.status == 201, room.text()
    room_id = room.json()["id"]
    body = {"time_zone": "UTC", "weekly": ALL_WEEK, "duration_minutes": 30}
    invite = api(bob, "POST", f"/api/v1/rooms/{room_id}/invites", body)
    assert invite.status == 201, invite.text()

    bob.goto("/")  # at home: the top bar and its bell on every size
    wait_ready(bob)
    expect(bell(bob)).to_have_count(1)
    expect(badge(bob)).to_be_hidden()

    day = (datetime.now(UTC) + timedelta(days=2)).date().isoformat()
    slots = api(alice, "GET", f"/api/v1/invites/{invite.json()['id']}/slots?date={day}&tz=UTC")
    start = slots.json()["slots"][0]["start"]
    booked = api(alice, "POST", f"/api/v1/invites/{invite.json()['id']}/book", {"start": start})
    assert booked.status == 201, booked.text()

    expect(badge(bob)).to_have_text("1")  # live, no reload
    expect(bell(bob)).to_have_attribute("aria-label", "Notifications, 1 unread")
    screenshot(bob, artifacts, device, "notifications-badge")
    bell(bob).click()
    panel = bob.get_by_role("dialog", name="Notifications")
    expect(panel).to_be_visible()
    item = panel.locator(".notif-item").first
    expect(item).to_contain_text("Meeting scheduled")
    expect(item).to_contain_text("Alice Notify booked a meeting")
    expect(badge(bob)).to_be_hidden()  # opening the list read it
    assert_accessible(bob, "notification panel")
    screenshot(bob, artifacts, device, "notifications-panel")
    bob.keyboard.press("Escape")
    expect(panel).to_be_hidden()

    cancelled = api(
        alice,
        "POST",
        f"/api/v1/meetings/{booked.json()['id']}/cancel",
        {"reason": "double-booked at the dentist"},
    )
    assert cancelled.status == 200, cancelled.text()
    expect(badge(bob)).to_have_text("1")
    bell(bob).click()
    expect(panel.locator(".notif-item").first).to_contain_text("Meeting cancelled")
    expect(panel.locator(".notif-item").first).to_contain_text(
        "Reason: double-booked at the dentist"
    )
    expect(panel.locator(".notif-item")).to_have_count(2)
    expect(badge(bob)).to_be_hidden()

    # The server agrees: nothing left unread once the list was opened.
    unread = api(bob, "GET", "/api/v1/notifications?unread=true").json()
    assert unread["unread_count"] == 0


def test_bell_in_a_room(open_page: Any, device: str) -> None:
    """Inside a room (where a phone hides the top bar) one bell is still visible."""
    alice = open_page(time_zone="UTC")
    sign_up_by_api(alice, "Alice Room")
    room = api(alice, "POST", "/api/v1/rooms", {"title": title("Bell room"), "member_emails": []})
    assert room.status == 201, room.text()
    alice.goto(f"/rooms/{room.json()['id']}")
    wait_ready(alice)
    expect(bell(alice)).to_have_count(1)
    bell(alice).click()
    panel = alice.get_by_role("dialog", name="Notifications")
    expect(panel).to_contain_text("No notifications yet.")
    box = panel.bounding_box()
    assert box is not None and box["x"] >= 0
    assert box["x"] + box["width"] <= alice.viewport_size["width"]
