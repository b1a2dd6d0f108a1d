"""The browser UI end to end: sign up, rooms, live messages, safety, scheduler entry, a11y.

Each test runs at desktop (1280x800) and phone (360x740, touch) sizes.  Ann and Ben (the
``pair`` fixture) sign up through the UI once per size; every test makes its own room.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import Account
from tests.e2e.ui import (
    PASSWORD,
    assert_accessible,
    create_room,
    messages,
    open_room,
    open_scheduler,
    screenshot,
    send,
    sign_up,
    title,
    wait_ready,
)

pytestmark = pytest.mark.e2e

XSS = "<script>window.__pwned=1</script><b>x</b>"


def test_two_people_chat_live(
    open_page: Any, pair: tuple[Account, Account], device: str, artifacts: Path
) -> None:
    ann_account, ben_account = pair
    ann = open_page(account=ann_account)
    ben = open_page(account=ben_account)
    ben.goto("/")
    wait_ready(ben)
    ann.goto("/")
    wait_ready(ann)

    name = title("Launch plan")
    room_id = create_room(ann, name, [ben_account.email])
    expect(ann.get_by_role("heading", level=1)).to_have_text(name)
    expect(ann.locator("#room-members")).to_contain_text("Ben Baker")

    # Ben is on his home screen: the new room shows up there live, without a reload.
    link = ben.get_by_role("link", name=re.compile(name))
    expect(link).to_be_visible()
    link.click()
    ben.wait_for_url(f"**/rooms/{room_id}")
    wait_ready(ben)
    expect(ben.locator(".msg-system")).to_contain_text("Ann Archer created the room.")

    # An empty message is not sent; the composer says why.
    ann.get_by_label("Message", exact=True).press("Enter")
    expect(ann.locator("#composer-error")).to_have_text("Write a message first.")
    expect(ann.get_by_label("Message", exact=True)).to_have_attribute("aria-invalid", "true")

    send(ann, "Hello Ben, shall we meet next week?")
    expect(ann.locator("#composer-error")).to_be_empty()
    expect(messages(ben).filter(has_text="Hello Ben")).to_have_count(1)

    send(ben, XSS)
    expect(messages(ann).last).to_have_text(XSS)
    expect(messages(ben).last).to_have_text(XSS)
    # The sender's own POST answer and the live event carry the same message: shown once.
    expect(messages(ann).filter(has_text="Hello Ben")).to_have_count(1)
    expect(messages(ben).filter(has_text="window.__pwned")).to_have_count(1)
    for page in (ann, ben):
        assert page.evaluate("window.__pwned") is None
        expect(page.locator("#messages b")).to_have_count(0)
        expect(page.locator("#messages script")).to_have_count(0)

    # Web addresses become links (http and https only); the text stays text.
    send(ann, "Agenda: https://example.com/agenda. Not a link: javascript:alert(1)")
    link = ben.locator("#messages .msg-body a")
    expect(link).to_have_count(1)
    expect(link).to_have_attribute("href", "https://example.com/agenda")
    expect(link).to_have_text("https://example.com/agenda")
    expect(messages(ben).last).to_have_text(
        "Agenda: https://example.com/agenda. Not a link: javascript:alert(1)"
    )

    # Shift+Enter makes a new line, Enter sends.
    box = ben.get_by_label("Message", exact=True)
    box.fill("line one")
    box.press("Shift+Enter")
    box.press_sequentially("line two")
    expect(box).to_have_value("line one\nline two")
    box.press("Enter")
    expect(messages(ann).last).to_have_text("line one\nline two")

    screenshot(ann, artifacts, device, "room")
    screenshot(ben, artifacts, device, "room-other")

    if device == "phone":
        # On a phone the room list is its own screen: the room header leads back to it.
        expect(ann.locator("#sidebar")).to_be_hidden()
        ann.get_by_role("link", name="Back to rooms").click()
        ann.wait_for_url(re.compile(r"/$"))
        expect(ann.get_by_role("link", name=re.compile(name))).to_be_visible()
    else:
        expect(ann.get_by_role("navigation", name="Rooms")).to_be_visible()
        expect(ann.get_by_role("link", name="Back to rooms")).to_be_hidden()


@pytest.mark.parametrize("device", ["desktop"])  # layout plays no part: one size is enough
def test_live_reconnects_with_cursor(
    open_page: Any, pair: tuple[Account, Account], device: str
) -> None:
    ann_account, ben_account = pair
    ann = open_page(account=ann_account)
    ben = open_page(account=ben_account)
    ann.goto("/")
    wait_ready(ann)
    room_id = create_room(ann, title("Reconnects"), [ben_account.email])
    sockets: list[str] = []
    ben.on("websocket", lambda ws: sockets.append(ws.url))
    open_room(ben, room_id)
    expect(ben.locator(".msg-system")).to_have_count(1)

    # Drop Ben's socket; Ann's message still reaches him, replayed after he resumes.
    ben.evaluate("import('/static/js/live.js').then((live) => live.dropForTesting())")
    send(ann, "sent while Ben was away")
    expect(messages(ben).filter(has_text="sent while Ben was away")).to_have_count(1)
    assert [u for u in sockets if re.search(r"/api/v1/ws\?since=\d+$", u)], sockets
    # The next one arrives once, in order.
    send(ann, "and one more")
    expect(messages(ben)).to_have_text(["sent while Ben was away", "and one more"])


@pytest.mark.parametrize("device", ["desktop"])  # layout plays no part: one size is enough
def test_history_loads_earlier_pages(
    open_page: Any, pair: tuple[Account, Account], device: str
) -> None:
    ann_account, ben_account = pair
    ann = open_page(account=ann_account)
    ann.goto("/")
    wait_ready(ann)
    room_id = create_room(ann, title("Long history"), [ben_account.email])
    # 60 messages through the API (with the page's own session and CSRF token).
    ann.evaluate(
        """async (roomId) => {
            const me = await (await fetch('/api/v1/me')).json();
            for (let i = 1; i <= 60; i++) {
                const r = await fetch(`/api/v1/rooms/${roomId}/messages`, {
                    method: 'POST',
                    headers: {'Content-Type': 'application/json', 'X-CSRF-Token': me.csrf_token},
                    body: JSON.stringify({body: `note ${i}`}),
                });
                if (r.status !== 201) throw new Error(`post ${i}: ${r.status}`);
            }
        }""",
        room_id,
    )
    open_room(ann, room_id)
    expect(messages(ann)).to_have_count(50)
    expect(messages(ann).first).to_have_text("note 11")
    expect(messages(ann).last).to_have_text("note 60")
    ann.get_by_role("button", name="Load earlier messages").click()
    expect(messages(ann)).to_have_count(60)
    expect(messages(ann).first).to_have_text("note 1")
    expect(ann.locator(".msg-system")).to_have_count(1)
    expect(ann.get_by_role("button", name="Load earlier messages")).to_be_hidden()


def test_scheduler_entry_point(
    open_page: Any, pair: tuple[Account, Account], device: str, artifacts: Path
) -> None:
    ann_account, ben_account = pair
    ann = open_page(account=ann_account)
    ann.goto("/")
    wait_ready(ann)
    create_room(ann, title("Scheduling"), [ben_account.email])

    dialog = open_scheduler(ann, device, artifacts)
    expect(dialog.get_by_role("heading", name="Connect your calendar")).to_be_visible()
    screenshot(ann, artifacts, device, "schedule-connect")
    assert_accessible(ann, f"the connect-calendar dialog ({device})")
    dialog.get_by_role("button", name="Skip").click()
    expect(dialog.get_by_role("heading", name="Share your availability")).to_be_visible()
    expect(dialog.get_by_label("Time zone")).to_be_visible()  # the usual hours have loaded
    screenshot(ann, artifacts, device, "schedule-share")
    dialog.get_by_role("button", name="Close").first.click()
    expect(dialog).to_be_hidden()

    # Escape closes it too, and it opens again from the same control.
    dialog = open_scheduler(ann, device)
    ann.keyboard.press("Escape")
    expect(dialog).to_be_hidden()


def test_pages_are_accessible(
    open_page: Any, pair: tuple[Account, Account], device: str, artifacts: Path
) -> None:
    guest = open_page()
    guest.goto("/login")
    expect(guest.get_by_role("heading", name="Welcome back")).to_be_visible()
    assert_accessible(guest, f"the sign-in page ({device})")
    screenshot(guest, artifacts, device, "login")
    guest.goto("/signup")
    expect(guest.get_by_label("Time zone")).to_have_value("Europe/Berlin")
    assert_accessible(guest, f"the sign-up page ({device})")
    screenshot(guest, artifacts, device, "signup")

    # A newcomer's home: the empty state and the new-room form.
    sign_up(guest, "Nell Newcomer")
    expect(guest.get_by_role("heading", name="No conversations yet")).to_be_visible()
    assert_accessible(guest, f"the empty room list ({device})")
    screenshot(guest, artifacts, device, "rooms-empty")

    ann_account, ben_account = pair
    ann = open_page(account=ann_account)
    ben = open_page(account=ben_account)
    ann.goto("/")
    wait_ready(ann)
    name = title("Quarterly review")
    room_id = create_room(ann, name, [ben_account.email])
    open_room(ben, room_id)
    send(ann, "Here is the agenda for Thursday.")
    send(ann, "Does 10:00 work for everyone?")
    send(ben, "Works for me!")
    expect(messages(ann)).to_have_count(3)
    assert_accessible(ann, f"the room page ({device})")
    screenshot(ann, artifacts, device, "room-chat")

    ann.goto("/")
    wait_ready(ann)
    expect(ann.get_by_role("link", name=re.compile(name))).to_be_visible()
    assert_accessible(ann, f"the room list ({device})")
    screenshot(ann, artifacts, device, "rooms")


def test_sign_in_errors_next_and_sign_out(open_page: Any, device: str) -> None:
    page = open_page()
    email = sign_up(page, "Nora Next")

    # Sign out from the account menu.
    page.get_by_role("button", name="Nora Next").click()
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r"/login$"))

    # A signed-out visit to a room comes back there after signing in.
    page.goto("/rooms/not-a-room")
    page.wait_for_url(re.compile(r"/login\?next="))
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill("wrong password!")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert").filter(has_text=re.compile(".+"))).to_be_visible()
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/rooms/not-a-room$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Room not found")

    # An off-site `next` is ignored.
    page.goto("/login?next=//evil.example/x")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"^http://127\.0\.0\.1:\d+/$"))
    wait_ready(page)

    # Client-side checks speak next to the field.
    page.goto("/signup")
    page.get_by_label("Password").fill("short")
    page.get_by_role("button", name="Create account").click()
    expect(page.locator("#password-error")).to_have_text("Use at least 10 characters.")
    expect(page.get_by_label("Password")).to_have_attribute("aria-invalid", "true")
    # The server's answer for a taken email shows next to the email field.
    page.get_by_label("Email").fill(email)
    page.get_by_label("Display name").fill("Someone Else")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page.locator("#email-error")).not_to_be_empty()
    expect(page.get_by_label("Email")).to_have_attribute("aria-invalid", "true")
