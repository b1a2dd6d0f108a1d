"""Scheduling end to end in the browser: share availability, book, reschedule, cancel, race.

Two people in two browser contexts (Ann in Berlin hosts, Ben in New York books), at desktop
(1280x800) and phone (360x740) sizes.  The server runs on the real clock, so availability is
chosen to always have open times in the coming days, and expectations come from what the
page shows (never hard-coded dates).
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import Account
from tests.e2e.ui import (
    PASSWORD,
    api,
    assert_accessible,
    create_room,
    open_room,
    open_scheduler,
    title,
    unique_email,
    wait_ready,
)

pytestmark = pytest.mark.e2e

AVAILABLE = re.compile(r", available$")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday")
MONDAY = [("06:00", "12:00"), ("13:00", "23:00")]
ALL_WEEK = {
    day: [{"start": "00:00", "end": "24:00"}]
    for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
}


def shot(page: Any, artifacts: Path, device: str, window: str) -> None:
    page.screenshot(path=str(artifacts / f"schedule-{device}-{window}.png"))


def instant(iso: str) -> datetime:
    return datetime.fromisoformat(iso.replace("Z", "+00:00"))


def day_row(dialog: Any, day: str) -> Any:
    return dialog.locator(f".week-row[data-day='{day[:3].lower()}']")


def set_day(dialog: Any, day: str, available: bool) -> None:
    box = dialog.get_by_role("checkbox", name=f"Available on {day}")
    if box.is_checked() != available:
        box.click()
    expect(box).to_be_checked(checked=available)


def range_select(dialog: Any, day: str, n: int, end: str) -> Any:
    return dialog.get_by_role("combobox", name=f"{day}, range {n}, {end}", exact=True)


def meeting_card(page: Any) -> Any:
    return page.locator("#messages .meeting-card")


def pick_first_time(dialog: Any, day: Any = None) -> tuple[str, str]:
    """Choose the first highlighted date and its first open time; returns (start, label)."""
    day = day or dialog.get_by_role("button", name=AVAILABLE).first
    expect(day).to_be_visible()
    day.click()
    time = dialog.locator(".time-button:not(.is-current)").first
    expect(time).to_be_visible()
    return str(time.get_attribute("data-start")), time.inner_text()


def test_share_book_reschedule_cancel(
    open_page: Any, pair: tuple[Account, Account], device: str, artifacts: Path
) -> None:
    ann_account, ben_account = pair
    ann = open_page(account=ann_account)
    ben = open_page(account=ben_account)
    ann.goto("/")
    wait_ready(ann)
    room_id = create_room(ann, title("Kick-off"), [ben_account.email])
    open_room(ben, room_id)

    # --- Ann shares her availability: Mon–Fri, two ranges on Monday copied to Tue–Fri.
    dialog = open_scheduler(ann, device)
    dialog.get_by_role("button", name="Skip").click()
    expect(dialog.get_by_role("heading", name="Share your availability")).to_be_visible()
    expect(dialog.get_by_label("Time zone")).to_have_value("Europe/Berlin")
    for day in WEEKDAYS:
        set_day(dialog, day, True)
    for day in ("Saturday", "Sunday"):
        set_day(dialog, day, False)
    monday = day_row(dialog, "Monday")
    while monday.locator("select[data-field='start']").count() > 1:
        monday.get_by_role("button", name="Remove Monday, range 2").click()
    monday.get_by_role("button", name="Add a range on Monday").click()
    expect(monday.locator("select[data-field='start']")).to_have_count(2)
    for n, (start, end) in enumerate(MONDAY, start=1):
        range_select(dialog, "Monday", n, "from").select_option(start)
        range_select(dialog, "Monday", n, "to").select_option(end)

    # A client-side check speaks next to the row (end before start), then is fixed.
    range_select(dialog, "Monday", 2, "to").select_option("10:00")
    expect(monday.locator(".week-error")).to_have_text(re.compile("end must be after the start"))
    expect(range_select(dialog, "Monday", 2, "to")).to_have_attribute("aria-invalid", "true")
    range_select(dialog, "Monday", 2, "to").select_option(MONDAY[1][1])
    expect(monday.locator(".week-error")).to_be_empty()

    monday.get_by_role("button", name="Copy Monday's hours to other days").click()
    copy = dialog.get_by_role("group", name="Copy Monday's hours to")
    expect(copy).to_be_visible()
    for day in WEEKDAYS[1:]:
        copy.get_by_label(day, exact=True).check()
    copy.get_by_role("button", name="Apply").click()
    expect(copy).to_be_hidden()
    for day in WEEKDAYS[1:]:
        row = day_row(dialog, day)
        expect(row.locator("select[data-field='start']")).to_have_count(2)
        for n, (start, end) in enumerate(MONDAY, start=1):
            expect(range_select(dialog, day, n, "from")).to_have_value(start)
            expect(range_select(dialog, day, n, "to")).to_have_value(end)
    dialog.get_by_label("Save as my typical hours").check()
    shot(ann, artifacts, device, "share")
    assert_accessible(ann, f"the share step ({device})")

    dialog.get_by_role("button", name="Next").click()
    expect(dialog.get_by_role("heading", name="Choose the duration")).to_be_visible()
    expect(dialog.get_by_role("radio", name="30 minutes")).to_be_checked()
    dialog.get_by_role("radio", name="15 minutes").check()
    dialog.get_by_role("radio", name="30 minutes").check()
    shot(ann, artifacts, device, "duration")
    dialog.get_by_role("button", name="Send").click()
    expect(dialog).to_be_hidden()
    saved = api(ann, "GET", "/api/v1/me/availability").json()
    assert saved["saved"] is True
    assert [(r["start"], r["end"]) for r in saved["weekly"]["fri"]] == MONDAY

    # --- Ben sees the invite live and books the first open time.
    invite = ben.locator("#messages .invite-card")
    expect(invite).to_contain_text("Ann Archer shared their availability · 30 min")
    expect(ann.locator("#messages .invite-card")).to_contain_text("You shared your availability")
    expect(
        ann.locator("#messages .invite-card").get_by_role("button", name="Withdraw")
    ).to_be_visible()
    invite.get_by_role("button", name="Schedule a meeting").click()
    dialog = ben.get_by_role("dialog")
    expect(dialog.get_by_role("heading", name="Schedule a meeting")).to_be_visible()
    expect(dialog.get_by_role("button", name=AVAILABLE).first).to_be_visible()
    expect(dialog.locator(".cal-day[aria-disabled='true']").first).to_be_attached()
    expect(dialog.get_by_text("Times in America/New_York")).to_be_visible()
    shot(ben, artifacts, device, "month")
    assert_accessible(ben, f"the month view ({device})")

    # Arrow keys move between the days of the grid (across months too).
    first_day = dialog.get_by_role("button", name=AVAILABLE).first
    first_date = str(first_day.get_attribute("data-date"))
    first_day.focus()
    ben.keyboard.press("ArrowRight")
    focused = ben.evaluate("document.activeElement.dataset.date")
    assert focused == (date.fromisoformat(first_date) + timedelta(days=1)).isoformat()
    ben.keyboard.press("ArrowLeft")
    assert ben.evaluate("document.activeElement.dataset.date") == first_date
    first_day = dialog.locator(f".cal-day[data-date='{first_date}']")

    start, label = pick_first_time(dialog, first_day)
    expect(first_day).to_have_attribute("aria-pressed", "true")
    shot(ben, artifacts, device, "times")
    dialog.locator(f".time-button[data-start='{start}']").click()
    expect(dialog.get_by_role("heading", name="Confirm the meeting")).to_be_visible()
    expect(dialog.locator(".summary-time")).to_contain_text(label)
    shot(ben, artifacts, device, "confirm")
    dialog.get_by_role("button", name="Confirm").click()
    expect(dialog.get_by_role("heading", name="Booked")).to_be_visible()
    shot(ben, artifacts, device, "booked")
    expect(dialog).to_be_hidden()  # it closes by itself

    # --- Both see the meeting card live, in their own zones.
    for page in (ann, ben):
        card = meeting_card(page)
        expect(card).to_have_count(1)
        expect(card.locator(".badge")).to_have_text("Scheduled")
        assert instant(str(card.locator("time").get_attribute("datetime"))) == instant(start)
        expect(page.locator("#messages .invite-card")).to_contain_text("Booked:")
    expect(ann.locator("#messages .invite-card").get_by_role("button")).to_have_count(0)
    card = meeting_card(ben)
    expect(card.locator(".meeting-time")).to_contain_text(label)
    join = card.get_by_role("link", name="Join the meeting")
    expect(join).to_have_attribute("target", "_blank")
    join_url = str(join.get_attribute("href"))
    shot(ben, artifacts, device, "meeting-card")
    card.get_by_role("button", name="Add to calendar").click()
    for name in ("Download .ics", "Google Calendar", "Outlook"):
        expect(card.get_by_role("link", name=name)).to_be_visible()
    expect(card.get_by_role("link", name="Google Calendar")).to_have_attribute("target", "_blank")
    shot(ben, artifacts, device, "add-to-calendar")
    ben.keyboard.press("Escape")
    expect(card.get_by_role("link", name="Outlook")).to_be_hidden()
    assert_accessible(ann, f"a meeting card ({device})")

    # --- Ben reschedules to another time, with a reason.
    card.get_by_role("button", name="Reschedule").click()
    expect(dialog.get_by_role("heading", name="Reschedule the meeting")).to_be_visible()
    current = dialog.locator(".time-button.is-current")
    expect(current).to_have_count(1)
    assert instant(str(current.get_attribute("data-start"))) == instant(start)
    others = dialog.locator(".time-button:not(.is-current)")
    if others.count() == 0:  # the booked time was the day's last: take the next open date
        dialog.get_by_role("button", name=AVAILABLE).nth(1).click()
    expect(others.first).to_be_visible()
    new_start = str(others.first.get_attribute("data-start"))
    shot(ben, artifacts, device, "reschedule")
    others.first.click()
    expect(dialog.get_by_role("heading", name="Confirm the new time")).to_be_visible()
    dialog.get_by_label("Reason (optional)").fill("Running late")
    dialog.get_by_role("button", name="Confirm").click()
    expect(dialog.get_by_role("heading", name="Rescheduled")).to_be_visible()
    expect(dialog).to_be_hidden()

    # Ann sees the new time in the card and the change, with its reason, live.
    card = meeting_card(ann)
    utc_prefix = instant(new_start).astimezone(UTC).strftime("^%Y-%m-%dT%H:%M")
    expect(card.locator("time")).to_have_attribute("datetime", re.compile(utc_prefix))
    update = ann.locator("#messages .msg-kind-meeting_update")
    expect(update).to_have_count(1)
    expect(update).to_contain_text("moved the meeting")
    expect(update).to_contain_text("Reason: Running late")
    expect(card).to_contain_text("Running late")

    # --- The join link shows the meeting to anyone who has it (no room needed).
    guest = open_page(time_zone="Asia/Tokyo")
    response = guest.goto(join_url)
    assert response is not None and response.status == 200
    expect(guest.get_by_role("heading", name="Meeting with Ann Archer")).to_be_visible()
    expect(guest.locator("#join-zone")).to_have_text("Times in Asia/Tokyo")
    expect(guest.locator("#join-start")).to_have_attribute("datetime", re.compile(utc_prefix))
    # Not open yet: the page says when the call opens; a guest may ask to join then.
    expect(guest.locator("#call-window")).to_contain_text("The call opens at")
    expect(guest.get_by_role("textbox", name="Your name")).to_be_visible()
    expect(guest.get_by_role("button", name="Ask to join")).to_be_disabled()
    shot(guest, artifacts, device, "join")
    assert_accessible(guest, f"the join page ({device})")

    # --- Ann cancels, with a reason; Ben sees it cancelled live.
    card.get_by_role("button", name="Cancel", exact=True).click()
    dialog = ann.get_by_role("dialog")
    expect(dialog.get_by_role("heading", name="Cancel this meeting?")).to_be_visible()
    dialog.get_by_label("Reason (optional)").fill("Something came up")
    shot(ann, artifacts, device, "cancel")
    assert_accessible(ann, f"the cancel dialog ({device})")
    dialog.get_by_role("button", name="Cancel meeting").click()
    expect(dialog).to_be_hidden()
    card = meeting_card(ben)
    expect(card.locator(".badge")).to_have_text("Cancelled")
    expect(card.get_by_role("button", name="Reschedule")).to_have_count(0)
    expect(card.get_by_role("link", name="Join the meeting")).to_have_count(0)
    expect(card.get_by_role("link", name="Download .ics")).to_be_visible()
    expect(ben.locator("#messages .msg-kind-meeting_update").last).to_contain_text(
        "cancelled the meeting. Reason: Something came up"
    )
    shot(ben, artifacts, device, "cancelled")

    guest.reload()
    expect(guest.get_by_text("Cancelled", exact=True)).to_be_visible()
    expect(guest.get_by_role("button", name="Ask to join")).to_have_count(0)
    response = guest.goto("/m/not-a-token")
    assert response is not None and response.status == 404
    expect(guest.get_by_role("heading", name="Not found")).to_be_visible()


def sign_up_by_api(page: Any, name: str) -> str:
    email = unique_email(name)
    body = {"email": email, "password": PASSWORD, "display_name": name, "time_zone": "UTC"}
    assert page.request.post("/api/v1/auth/signup", data=body).status == 201
    login = page.request.post("/api/v1/auth/login", data={"email": email, "password": PASSWORD})
    assert login.ok, login.text()
    return email


def test_time_taken_while_confirming(
    open_page: Any, pair: tuple[Account, Account], device: str, artifacts: Path
) -> None:
    ann_account, ben_account = pair
    carol = open_page(time_zone="UTC")
    carol_email = sign_up_by_api(carol, "Carol Clark")
    ann = open_page(account=ann_account)
    ann.goto("/")
    wait_ready(ann)
    room_id = create_room(ann, title("Race"), [ben_account.email, carol_email])
    # Two invites from Ann with the same hours: Carol books one, Ben the other.
    invites = []
    for _ in range(2):
        body = {"time_zone": "Europe/Berlin", "weekly": ALL_WEEK, "duration_minutes": 30}
        created = api(ann, "POST", f"/api/v1/rooms/{room_id}/invites", body)
        assert created.status == 201, created.text()
        invites.append(created.json())

    # Ben follows the second invite's schedule link: the window opens by itself.
    ben = open_page(account=ben_account)
    open_room(ben, room_id, f"?invite={invites[1]['id']}")
    dialog = ben.get_by_role("dialog")
    expect(dialog.get_by_role("heading", name="Schedule a meeting")).to_be_visible()
    # He looks at the times in Berlin's zone instead of his own.
    expect(dialog.get_by_text("Times in America/New_York")).to_be_visible()
    dialog.get_by_role("button", name="Change").click()
    dialog.get_by_role("combobox", name="Time zone for the times").fill("berlin")
    dialog.get_by_role("option", name="Europe/Berlin").click()
    expect(dialog.get_by_text("Times in Europe/Berlin")).to_be_visible()
    start, _label = pick_first_time(dialog)
    assert start.endswith("+01:00") or start.endswith("+02:00"), start
    dialog.locator(f".time-button[data-start='{start}']").click()
    expect(dialog.get_by_role("button", name="Confirm")).to_be_visible()

    # Carol takes that very time through the other invite just before Ben confirms.
    headers = {"X-CSRF-Token": carol.request.get("/api/v1/me").json()["csrf_token"]}
    taken = carol.request.post(
        f"/api/v1/invites/{invites[0]['id']}/book",
        data={"start": start},
        headers={**headers, "Idempotency-Key": str(uuid.uuid4())},
    )
    assert taken.status == 201, taken.text()

    dialog.get_by_role("button", name="Confirm").click()
    expect(dialog.get_by_role("alert").filter(has_text="just taken")).to_have_text(
        "That time was just taken — pick another."
    )
    times = dialog.locator(".time-button")
    expect(times.first).to_be_visible()  # other times of that day are still open
    expect(dialog.locator(f".time-button[data-start='{start}']")).to_have_count(0)
    shot(ben, artifacts, device, "taken")

    # Carol's booking shows on the first invite; Ann withdraws the second one while Ben
    # still has it open: the card says so live, and his Confirm is told the invite closed.
    open_room(ann, room_id)
    cards = ann.locator("#messages .invite-card")
    expect(cards.first).to_contain_text("Booked:")
    cards.last.get_by_role("button", name="Withdraw").click()
    expect(ben.locator("#messages .invite-card").last).to_contain_text("Withdrawn")
    times.first.click()
    dialog.get_by_role("button", name="Confirm").click()
    expect(dialog.get_by_role("heading", name="Invite closed")).to_be_visible()


def test_times_you_are_busy_are_marked_and_refused(
    open_page: Any, pair: tuple[Account, Account], device: str, artifacts: Path
) -> None:
    """Mutual availability: Ben already has a meeting with Carol; on Ann's invite that time is
    marked as his busy time, and confirming it tells him why it cannot be booked."""
    ann_account, ben_account = pair
    carol = open_page(time_zone="UTC")
    carol_email = sign_up_by_api(carol, "Carol Clark")
    ann = open_page(account=ann_account)
    ann.goto("/")
    wait_ready(ann)
    room_id = create_room(ann, title("Mutual"), [ben_account.email, carol_email])
    body = {"time_zone": "Europe/Berlin", "weekly": ALL_WEEK, "duration_minutes": 30}
    carols = carol.request.post(
        f"/api/v1/rooms/{room_id}/invites",
        data=body,
        headers={"X-CSRF-Token": carol.request.get("/api/v1/me").json()["csrf_token"]},
    )
    assert carols.status == 201, carols.text()
    anns = api(ann, "POST", f"/api/v1/rooms/{room_id}/invites", body)
    assert anns.status == 201, anns.text()

    ben = open_page(account=ben_account)
    open_room(ben, room_id, f"?invite={anns.json()['id']}")
    dialog = ben.get_by_role("dialog")
    start, label = pick_first_time(dialog)
    # Ben books that very time with Carol (elsewhere, say in another tab).
    booked = ben.request.post(
        f"/api/v1/invites/{carols.json()['id']}/book",
        data={"start": start},
        headers={"X-CSRF-Token": ben.request.get("/api/v1/me").json()["csrf_token"]},
    )
    assert booked.status == 201, booked.text()
    # Back on Ann's invite the time is still offered, marked as his busy time.
    open_room(ben, room_id, f"?invite={anns.json()['id']}")
    dialog = ben.get_by_role("dialog")
    pick_first_time(dialog)
    busy = dialog.locator(f".time-button[data-start='{start}']")
    expect(busy).to_have_class(re.compile("is-viewer-busy"))
    expect(busy).to_have_accessible_name(f"{label.splitlines()[0]}, you are busy then")
    expect(busy).to_contain_text("You’re busy")
    shot(ben, artifacts, device, "viewer-busy")
    busy.click()
    dialog.get_by_role("button", name="Confirm").click()
    expect(dialog.get_by_role("alert")).to_have_text(
        "You already have a meeting at this time; pick another."
    )
