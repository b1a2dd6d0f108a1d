"""Issue 12 in the browser, the remaining pieces: the room list's unread notification markers
(live, with an accessible "N unread"), and the offer of push notifications after a first
booking."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.test_join_page import ALL_WEEK, sign_up_by_api
from tests.e2e.ui import api, assert_accessible, title, wait_ready

pytestmark = pytest.mark.e2e


def room_entry(page: Any, room_id: str) -> Any:
    return page.locator(f'#room-list li[data-room-id="{room_id}"]')


def marker(page: Any, room_id: str) -> Any:
    return room_entry(page, room_id).locator(".room-notes")


def shared_room(host: Any, member_email: str, name: str) -> str:
    room = api(
        host, "POST", "/api/v1/rooms", {"title": title(name), "member_emails": [member_email]}
    )
    assert room.status == 201, room.text()
    return str(room.json()["id"])


def offer_times(page: Any, room_id: str) -> str:
    body = {"time_zone": "UTC", "weekly": ALL_WEEK, "duration_minutes": 30}
    invite = api(page, "POST", f"/api/v1/rooms/{room_id}/invites", body)
    assert invite.status == 201, invite.text()
    return str(invite.json()["id"])


def book(page: Any, invite_id: str, days: int = 2) -> dict[str, Any]:
    day = (datetime.now(UTC) + timedelta(days=days)).date().isoformat()
    slots = api(page, "GET", f"/api/v1/invites/{invite_id}/slots?date={day}&tz=UTC")
    assert slots.status == 200, slots.text()
    start = slots.json()["slots"][0]["start"]
    booked = api(page, "POST", f"/api/v1/invites/{invite_id}/book", {"start": start})
    assert booked.status == 201, booked.text()
    return dict(booked.json())


def test_room_list_shows_unread_notifications_live(open_page: Any, device: str) -> None:
    alice, bob = open_page(time_zone="UTC"), open_page(time_zone="UTC")
    sign_up_by_api(alice, "Alice Markers")
    bob_email = sign_up_by_api(bob, "Bob Markers")
    busy, quiet = shared_room(alice, bob_email, "Busy"), shared_room(alice, bob_email, "Quiet")

    bob.goto("/")
    wait_ready(bob)
    expect(room_entry(bob, busy)).to_have_count(1)
    expect(marker(bob, busy)).to_be_hidden()

    meeting = book(alice, offer_times(bob, busy))
    expect(marker(bob, busy)).to_have_text("1 unread")  # live, no reload
    expect(room_entry(bob, busy).get_by_role("link")).to_have_accessible_name(
        re.compile(r"1 unread")
    )
    expect(marker(bob, quiet)).to_be_hidden()

    cancelled = api(alice, "POST", f"/api/v1/meetings/{meeting['id']}/cancel", {"reason": "ill"})
    assert cancelled.status == 200, cancelled.text()
    expect(marker(bob, busy)).to_have_text("2 unread")
    assert_accessible(bob, "room list with unread markers")

    # Reloaded, the counts come from the server.
    bob.reload()
    wait_ready(bob)
    expect(marker(bob, busy)).to_have_text("2 unread")
    expect(marker(bob, quiet)).to_be_hidden()

    # Read elsewhere (the room's notifications at once): the marker clears live.
    read = api(bob, "POST", "/api/v1/notifications/read", {"room_id": busy})
    assert read.status == 204, read.text()
    expect(marker(bob, busy)).to_be_hidden()

    # Opening the room reads its notifications: a second tab of Bob's, still at home, sees it.
    book(alice, offer_times(bob, busy), days=3)
    expect(marker(bob, busy)).to_have_text("1 unread")
    room_tab = bob.context.new_page()
    room_tab.goto(f"/rooms/{busy}")
    wait_ready(room_tab)
    expect(marker(bob, busy)).to_be_hidden()
    unread = api(bob, "GET", "/api/v1/notifications?unread=true").json()
    assert busy not in unread["unread_by_room"]
    room_tab.close()


PROMPT = "Get a notification on this device when meetings change?"


def push_prompt(page: Any) -> Any:
    return page.get_by_role("region", name=PROMPT)


def test_push_is_offered_after_the_first_booking_and_not_now_is_remembered(
    open_page: Any, device: str
) -> None:
    alice, bob = open_page(time_zone="UTC"), open_page(time_zone="UTC")
    sign_up_by_api(alice, "Alice Offer")
    bob_email = sign_up_by_api(bob, "Bob Offer")
    room_id = shared_room(alice, bob_email, "Offer")
    alice.goto("/")
    wait_ready(alice)

    # Bob books Alice's times through the scheduling window: the offer follows on his page...
    bob.context.grant_permissions(["notifications"])
    bob.goto(f"/rooms/{room_id}?invite={offer_times(alice, room_id)}")
    wait_ready(bob)
    dialog = bob.get_by_role("dialog")
    day = dialog.get_by_role("button", name=re.compile(r", available$")).first
    expect(day).to_be_visible()
    day.click()
    dialog.locator(".time-button").first.click()
    dialog.get_by_role("button", name="Confirm").click()
    expect(dialog.get_by_text("You are booked")).to_be_visible()
    dialog.get_by_role("button", name="Done").click()
    expect(push_prompt(bob)).to_be_visible()
    expect(push_prompt(bob).get_by_role("button", name="Turn on")).to_be_visible()

    # ...and on Alice's, whose time was booked (live), without blocking her page.
    expect(push_prompt(alice)).to_be_visible()
    expect(push_prompt(alice)).to_have_count(1)
    assert_accessible(alice, "push offer")
    push_prompt(alice).get_by_role("button", name="Not now").click()
    expect(push_prompt(alice)).to_have_count(0)

    # "Not now" is remembered: the next booking of hers brings her no offer, even reloaded.
    alice.reload()
    wait_ready(alice)
    book(bob, offer_times(alice, room_id), days=3)
    expect(marker(alice, room_id)).to_have_text("2 unread")  # the booking did arrive
    expect(push_prompt(alice)).to_have_count(0)

    # Bob turns it on: with the permission granted, this device's subscription is registered
    # (headless Chromium may have no push service to subscribe with: then it says so).
    push_prompt(bob).get_by_role("button", name="Turn on").click()
    done = push_prompt(bob).get_by_text("Notifications are on for this device.")
    failed = push_prompt(bob).get_by_role("alert")
    expect(done.or_(failed.filter(has_text=re.compile(".")))).to_be_visible()
    if done.is_visible():
        stored = bob.evaluate("localStorage.getItem('parlay.push.subscription')")
        assert stored, "no subscription id kept"
        removed = api(bob, "DELETE", f"/api/v1/me/push-subscriptions/{stored}")
        assert removed.status == 204, removed.text()  # the server had it
    else:  # no push here: the offer says why and stays, to try again
        expect(push_prompt(bob).get_by_role("button", name="Turn on")).to_be_enabled()
        # Chromium's own console line about that, not a fault of the page.
        bob.problems[:] = [p for p in bob.problems if "support the Push API in incognito" not in p]
