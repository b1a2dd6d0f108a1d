"""The rough edges a new user hits (issue 8, items 4–7), at desktop and 360 px phone sizes.

- a live message or meeting notice never lands hidden under the composer, and a reader who
  scrolled up is not yanked down but offered "New messages";
- the month view's keyboard focus starts on the first open date (or the selected one);
- the times list shows that more times lie below;
- the meeting card uses a phone's width, its actions sit in at most two rows, and the
  Add to calendar menu opens below its button without covering the title and time.

Geometry is read from the page (bounding boxes), never from fixed pixel values.
"""

from __future__ import annotations

import random
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import Account
from tests.e2e.ui import api, assert_accessible, open_room, screenshot, title

pytestmark = pytest.mark.e2e

AVAILABLE = re.compile(r", available$")
ALL_WEEK = {
    day: [{"start": "00:00", "end": "24:00"}]
    for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
}
DAY_KEYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

# Is the whole element in view: inside the viewport and every scroller around it?
IN_VIEW = """(el) => {
    const r = el.getBoundingClientRect();
    let top = 0;
    let bottom = window.innerHeight;
    for (let a = el.parentElement; a; a = a.parentElement) {
        if (getComputedStyle(a).overflowY === 'visible') continue;
        const s = a.getBoundingClientRect();
        top = Math.max(top, s.top);
        bottom = Math.min(bottom, s.bottom);
    }
    return r.height > 0 && r.top >= top - 1 && r.bottom <= bottom + 1;
}"""


def make_room(ann: Any, ben: Account, name: str) -> str:
    created = api(
        ann, "POST", "/api/v1/rooms", {"title": title(name), "member_emails": [ben.email]}
    )
    assert created.status == 201, created.text()
    return str(created.json()["id"])


def post_messages(page: Any, room_id: str, count: int, prefix: str) -> None:
    page.evaluate(
        """async ([roomId, count, prefix]) => {
            const me = await (await fetch('/api/v1/me')).json();
            for (let i = 1; i <= count; i++) {
                const r = await fetch(`/api/v1/rooms/${roomId}/messages`, {
                    method: 'POST',
                    headers: {'Content-Type': 'application/json', 'X-CSRF-Token': me.csrf_token},
                    body: JSON.stringify({body: `${prefix} ${i}`}),
                });
                if (r.status !== 201) throw new Error(`post ${i}: ${r.status}`);
            }
        }""",
        [room_id, count, prefix],
    )


def open_slots(page: Any, invite_id: str, start_day: int = 1) -> list[str]:
    """Open starts of an invite (UTC dates from tomorrow on), the viewer not busy, shuffled."""
    today = datetime.now(ZoneInfo("UTC")).date()
    first, last = today + timedelta(days=start_day), today + timedelta(days=start_day + 6)
    query = f"from={first}&to={last}&tz=UTC"
    dates = api(page, "GET", f"/api/v1/invites/{invite_id}/dates?{query}").json()["dates"]
    starts: list[str] = []
    for day in dates:
        slots = api(page, "GET", f"/api/v1/invites/{invite_id}/slots?date={day}&tz=UTC").json()
        starts += [s["start"] for s in slots["slots"] if not s.get("viewer_busy")]
    random.shuffle(starts)  # the pair is shared by tests: spread their meetings out
    return starts


def book_meeting(ann: Any, ben: Any, room_id: str) -> dict[str, Any]:
    """Ann shares an all-week invite; Ben books one of its open times. Returns the meeting."""
    body = {"time_zone": "Europe/Berlin", "weekly": ALL_WEEK, "duration_minutes": 30}
    invite = api(ann, "POST", f"/api/v1/rooms/{room_id}/invites", body)
    assert invite.status == 201, invite.text()
    invite_id = invite.json()["id"]
    for start in open_slots(ben, invite_id)[:20]:
        booked = api(ben, "POST", f"/api/v1/invites/{invite_id}/book", {"start": start})
        if booked.status == 201:
            return dict(booked.json())
        assert booked.status in (409, 422), booked.text()
    raise AssertionError("no open time could be booked")


def reschedule(ben: Any, meeting: dict[str, Any], reason: str) -> None:
    for start in open_slots(ben, meeting["invite_id"], start_day=2)[:20]:
        moved = api(
            ben,
            "POST",
            f"/api/v1/meetings/{meeting['id']}/reschedule",
            {"start": start, "reason": reason},
        )
        if moved.status == 200:
            return
        assert moved.status in (409, 422), moved.text()
    raise AssertionError("no open time to move the meeting to")


def in_view(locator: Any) -> bool:
    return bool(locator.evaluate(IN_VIEW))


def wait_in_view(page: Any, locator: Any) -> None:
    page.wait_for_function(IN_VIEW, arg=locator.element_handle(), polling="raf")


def box(locator: Any) -> dict[str, float]:
    found = locator.bounding_box()
    assert found is not None, f"{locator} has no box"
    return dict(found)


def intersects(a: dict[str, float], b: dict[str, float]) -> bool:
    return (
        a["x"] < b["x"] + b["width"]
        and b["x"] < a["x"] + a["width"]
        and a["y"] < b["y"] + b["height"]
        and b["y"] < a["y"] + a["height"]
    )


# ---------- 4. live notices stay in view; a reader reading history is not yanked ----------


def test_live_notices_scroll_into_view_or_offer_new_messages(
    open_page: Any, pair: tuple[Account, Account], device: str, artifacts: Path
) -> None:
    ann_account, ben_account = pair
    ann = open_page(account=ann_account)
    ben = open_page(account=ben_account)
    ann.goto("/api/v1/me")
    ben.goto("/api/v1/me")
    room_id = make_room(ann, ben_account, "Scrolling")
    post_messages(ann, room_id, 30, "history")
    meeting = book_meeting(ann, ben, room_id)
    post_messages(ann, room_id, 3, "after the booking")
    open_room(ann, room_id)
    expect(ann.locator("body")).to_have_attribute("data-room-ready", "true")
    scroller = ann.locator("#messages-scroller")
    last = ann.locator("#messages > li").last
    expect(last).to_contain_text("after the booking 3")
    assert in_view(last), "the room does not open at its newest message"

    # At the bottom: Ben moves the meeting. The card far above grows (the reason) and the
    # notice arrives; the whole notice is in view, not under the composer.
    reschedule(ben, meeting, "A clash came up, sorry about that")
    notice = ann.locator("#messages .msg-kind-meeting_update").last
    expect(notice).to_be_visible()
    card = ann.locator("#messages .meeting-card")
    expect(card).to_contain_text("A clash came up")
    wait_in_view(ann, notice)
    # A long message from Ben: all of it shows.
    long_text = "A longer note about the agenda. " * 12
    api(ben, "POST", f"/api/v1/rooms/{room_id}/messages", {"body": long_text.strip()})
    newest = ann.locator("#messages > li").last
    expect(newest).to_contain_text("about the agenda")
    wait_in_view(ann, newest)
    pill = ann.get_by_role("button", name="New messages")
    expect(pill).to_be_hidden()
    screenshot(ann, artifacts, device, "rough-live-at-bottom")

    # Ann scrolls up to read history: a new message does not move her, a pill offers it.
    scroller.evaluate("(s) => { s.scrollTop = 0; }")
    ann.wait_for_function("(s) => s.scrollTop === 0", arg=scroller.element_handle())
    api(ben, "POST", f"/api/v1/rooms/{room_id}/messages", {"body": "Did you see the agenda?"})
    arrived = ann.locator("#messages > li").last
    expect(arrived).to_contain_text("Did you see the agenda?")
    expect(pill).to_be_visible()
    assert scroller.evaluate("(s) => s.scrollTop") == 0, "the reader was yanked down"
    assert not in_view(arrived)
    screenshot(ann, artifacts, device, "rough-new-messages-pill")
    assert_accessible(ann, "the room with the New messages pill")
    pill.click()
    wait_in_view(ann, arrived)
    expect(pill).to_be_hidden()


# ---------- 5. the month view's focus starts on an open date ----------


def test_month_view_focus_starts_on_first_open_date(
    open_page: Any, pair: tuple[Account, Account], device: str, artifacts: Path
) -> None:
    ann_account, ben_account = pair
    ann = open_page(account=ann_account)
    ann.goto("/api/v1/me")
    room_id = make_room(ann, ben_account, "Focus")
    # Open only on one weekday three days from Ben's today (in his zone): today is closed.
    ben_today = datetime.now(ZoneInfo(ben_account.time_zone)).date()
    open_day = ben_today + timedelta(days=3)
    weekly = {DAY_KEYS[open_day.weekday()]: [{"start": "09:00", "end": "17:00"}]}
    body = {"time_zone": ben_account.time_zone, "weekly": weekly, "duration_minutes": 30}
    invite = api(ann, "POST", f"/api/v1/rooms/{room_id}/invites", body)
    assert invite.status == 201, invite.text()

    ben = open_page(account=ben_account)
    open_room(ben, room_id, f"?invite={invite.json()['id']}")
    dialog = ben.get_by_role("dialog")
    first_open = dialog.locator(f"button.cal-day[data-date='{open_day.isoformat()}']")
    expect(first_open).to_have_accessible_name(AVAILABLE)
    expect(dialog.get_by_role("button", name=AVAILABLE).first).to_have_attribute(
        "data-date", open_day.isoformat()
    )
    expect(first_open).to_be_focused()
    expect(first_open).to_have_attribute("tabindex", "0")
    today = dialog.locator(f"button.cal-day[data-date='{ben_today.isoformat()}']")
    if today.count():
        expect(today).to_have_attribute("tabindex", "-1")
    screenshot(ben, artifacts, device, "rough-month-focus")

    # By keyboard: Enter picks it, a time, then Back: focus is on the selected date.
    ben.keyboard.press("Enter")
    time_button = dialog.locator(".time-button").first
    expect(time_button).to_be_visible()
    expect(first_open).to_have_attribute("aria-pressed", "true")
    time_button.click()
    dialog.get_by_role("button", name="Back").click()
    selected = dialog.locator(f"button.cal-day[data-date='{open_day.isoformat()}']")
    expect(selected).to_have_attribute("aria-pressed", "true")
    expect(selected).to_be_focused()


# ---------- 6. the times list shows that more times lie below ----------


def test_times_list_shows_more_below(
    open_page: Any, pair: tuple[Account, Account], device: str, artifacts: Path
) -> None:
    ann_account, ben_account = pair
    ann = open_page(account=ann_account)
    ann.goto("/api/v1/me")
    room_id = make_room(ann, ben_account, "Many times")
    body = {"time_zone": "Europe/Berlin", "weekly": ALL_WEEK, "duration_minutes": 15}
    invite = api(ann, "POST", f"/api/v1/rooms/{room_id}/invites", body)
    assert invite.status == 201, invite.text()

    ben = open_page(account=ben_account)
    open_room(ben, room_id, f"?invite={invite.json()['id']}")
    dialog = ben.get_by_role("dialog")
    tomorrow = (
        datetime.now(ZoneInfo(ben_account.time_zone)).date() + timedelta(days=1)
    ).isoformat()
    expect(dialog.locator("button.cal-day").first).to_be_visible()
    day = dialog.locator(f"button.cal-day[data-date='{tomorrow}']")
    if not day.count():  # tomorrow is in the next month
        dialog.get_by_role("button", name="Next month").click()
    expect(dialog.get_by_role("button", name=AVAILABLE).first).to_be_visible()
    expect(day).to_have_accessible_name(AVAILABLE)
    day.click()
    times = dialog.locator(".time-button")
    expect(times.first).to_be_visible()
    assert times.count() > 40  # a whole day of 15-minute times
    wait_in_view(ben, times.first)  # on a phone the sheet scrolls to the times by itself

    more = dialog.get_by_role("button", name="More times below")
    expect(more).to_be_visible()
    assert not in_view(times.last)
    screenshot(ben, artifacts, device, "rough-more-times")
    assert_accessible(ben, "the times list with its More times below cue")

    # The cue brings the next times into view.
    first_hidden = next(i for i in range(times.count()) if not in_view(times.nth(i)))
    more.click()
    wait_in_view(ben, times.nth(first_hidden))
    # At the end of the list the cue goes away.
    times.last.scroll_into_view_if_needed()
    expect(more).to_be_hidden()
    assert in_view(times.last)


# ---------- 7. the meeting card on a phone, and its Add to calendar menu ----------


def test_meeting_card_uses_the_width_and_menu_opens_below(
    open_page: Any, pair: tuple[Account, Account], device: str, artifacts: Path
) -> None:
    ann_account, ben_account = pair
    ann = open_page(account=ann_account)
    ben = open_page(account=ben_account)
    ann.goto("/api/v1/me")
    ben.goto("/api/v1/me")
    room_id = make_room(ann, ben_account, "Card")
    book_meeting(ann, ben, room_id)
    open_room(ann, room_id)
    card = ann.locator("#messages .meeting-card").last
    expect(card).to_be_visible()
    bubble = ann.locator("#messages .msg-kind-meeting .msg-bubble").last
    column = ann.locator("#messages")
    if device == "phone":
        assert box(bubble)["width"] >= 0.9 * box(column)["width"], (box(bubble), box(column))

    actions = card.locator(".sc-actions").locator("a.button, button.button")
    expect(actions).to_have_count(4)
    tops = {round(box(actions.nth(i))["y"]) for i in range(4)}
    assert len(tops) <= 2, f"the four actions sit in {len(tops)} rows"
    for i in range(4):  # none is cut off or squeezed out of the card
        inner, outer = box(actions.nth(i)), box(card)
        assert inner["x"] >= outer["x"] - 1
        assert inner["x"] + inner["width"] <= outer["x"] + outer["width"] + 1
    screenshot(ann, artifacts, device, "rough-meeting-card")

    button = card.get_by_role("button", name="Add to calendar")
    button.click()
    expect(button).to_have_attribute("aria-expanded", "true")
    menu = card.locator(".sc-menu")
    expect(menu).to_be_visible()
    expect(menu.get_by_role("link", name="Download .ics")).to_be_focused()
    menu_box = box(menu)
    for what in (card.locator(".meeting-title"), card.locator(".meeting-when")):
        assert not intersects(menu_box, box(what)), f"the menu covers {what}"
    button_box = box(button)
    assert menu_box["y"] >= button_box["y"] + button_box["height"] - 1, "the menu is not below"
    viewport = ann.viewport_size
    assert menu_box["x"] >= 0 and menu_box["x"] + menu_box["width"] <= viewport["width"]
    assert in_view(menu), "the menu is out of view"
    screenshot(ann, artifacts, device, "rough-calendar-menu")
    ann.keyboard.press("Escape")
    expect(menu).to_be_hidden()
    expect(button).to_be_focused()
