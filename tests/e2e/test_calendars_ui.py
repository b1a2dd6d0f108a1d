"""Linking calendars in the browser, at desktop and phone size, against the Google and Microsoft
emulators and a real Radicale: "Connect your calendar" before sharing availability (CalDAV form
with its errors next to the field, Skip remembered), the calendars page (link through the
emulator's consent page, toggles, sync now, disconnect), the needs_reauth banner with
Reconnect, and the callback's refusals explained in plain words."""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import CalendarStack
from tests.e2e.ui import (
    PASSWORD,
    api,
    assert_accessible,
    create_room,
    open_room,
    open_scheduler,
    screenshot,
    sign_up,
    title,
    unique_email,
    wait_ready,
)
from tests.providers.conftest import USERS

pytestmark = pytest.mark.e2e

MAILBOX_NOT_SUPPORTED = (
    "This Microsoft mailbox is on an Exchange server Parlay can't reach (on-premises). "
    "Link it through CalDAV or use another account."
)


@pytest.fixture(scope="module")
def server(calendar_stack: CalendarStack) -> str:
    return calendar_stack.url


def sign_up_by_api(page: Any, name: str, zone: str = "Europe/Berlin") -> str:
    email = unique_email(name)
    body = {"email": email, "password": PASSWORD, "display_name": name, "time_zone": zone}
    assert page.request.post("/api/v1/auth/signup", data=body).status == 201
    login = page.request.post("/api/v1/auth/login", data={"email": email, "password": PASSWORD})
    assert login.ok, login.text()
    return email


def connections(page: Any) -> list[dict[str, Any]]:
    answer = api(page, "GET", "/api/v1/calendars")
    assert answer.ok, answer.text()
    found: list[dict[str, Any]] = answer.json()["calendars"]
    return found


def consent_google(page: Any, email: str, allow: bool = True) -> None:
    """On the Google emulator's consent page: pick the account, Allow (or Deny)."""
    expect(page.get_by_role("heading", name="Choose an account")).to_be_visible()
    page.get_by_label(email, exact=True).check()
    page.get_by_role("button", name="Allow" if allow else "Deny").click()


def consent_microsoft(page: Any, email: str) -> None:
    expect(page.get_by_role("heading", name="Permissions requested")).to_be_visible()
    page.get_by_label(re.compile(re.escape(email))).check()
    page.get_by_role("button", name="Accept").click()


def fill_caldav(scope: Any, url: str, user: str, password: str) -> None:
    scope.get_by_label("Server URL").fill(url)
    scope.get_by_label("User name").fill(user)
    scope.get_by_label("App password").fill(password)
    scope.get_by_role("button", name="Link calendar").click()


def connection_card(page: Any, email: str, provider: str) -> Any:
    return page.locator(f"#connection-list > li[data-provider='{provider}']").filter(has_text=email)


def test_connect_your_calendar_before_sharing(
    open_page: Any, device: str, artifacts: Path, calendar_stack: CalendarStack
) -> None:
    ann = open_page()
    sign_up(ann, "Cora Connect")
    ben = open_page()
    ben_email = sign_up_by_api(ben, "Bert Skipper")
    room_id = create_room(ann, title("Calendars"), [ben_email])

    dialog = open_scheduler(ann, device)
    expect(dialog.get_by_role("heading", name="Connect your calendar")).to_be_visible()
    for name in ("Connect Google Calendar", "Connect Microsoft Outlook", "Connect CalDAV calendar"):
        expect(dialog.get_by_role("button", name=re.compile(f"^{name}"))).to_be_visible()
    expect(dialog.get_by_role("button", name="Skip")).to_be_visible()
    screenshot(ann, artifacts, device, "calendar-connect")
    assert_accessible(ann, f"the connect dialog ({device})")

    # CalDAV: a small form; a refused password is said next to the password field.
    dialog.get_by_role("button", name=re.compile("^Connect CalDAV calendar")).click()
    expect(dialog.get_by_role("heading", name="Connect a CalDAV calendar")).to_be_visible()
    expect(dialog.get_by_text(re.compile("iCloud use https://caldav.icloud.com"))).to_be_visible()
    radicale = calendar_stack.radicale
    collection = radicale.make_calendar("alice", display="Work")
    fill_caldav(dialog, radicale.url + collection, "alice", "not-the-password")
    password = dialog.get_by_label("App password")
    expect(password).to_have_attribute("aria-invalid", "true")
    error_id = str(password.get_attribute("aria-describedby")).split()[-1]
    expect(ann.locator(f"#{error_id}")).not_to_be_empty()
    expect(dialog.get_by_role("heading", name="Connect a CalDAV calendar")).to_be_visible()
    screenshot(ann, artifacts, device, "calendar-caldav-form")
    assert connections(ann) == []  # nothing stored

    password.fill(USERS["alice"])
    dialog.get_by_role("button", name="Link calendar").click()
    expect(dialog.get_by_role("heading", name="Share your availability")).to_be_visible()
    linked = connections(ann)
    assert [(c["provider"], c["account_email"], c["status"]) for c in linked] == [
        ("caldav", "alice", "active")
    ]
    dialog.get_by_role("button", name="Close").first.click()
    # Linked: the scheduler goes straight to sharing from now on.
    dialog = open_scheduler(ann, device)
    expect(dialog.get_by_role("heading", name="Share your availability")).to_be_visible()

    # Ben skips; he is not asked again in this browser, and the calendars page still offers it.
    open_room(ben, room_id)
    dialog = open_scheduler(ben, device)
    dialog.get_by_role("button", name="Skip").click()
    expect(dialog.get_by_role("heading", name="Share your availability")).to_be_visible()
    ben.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    dialog = open_scheduler(ben, device)
    expect(dialog.get_by_role("heading", name="Share your availability")).to_be_visible()
    ben.goto("/calendars")
    wait_ready(ben)
    expect(ben.get_by_role("button", name=re.compile("^Connect Google Calendar"))).to_be_visible()


def test_calendars_page_link_toggle_sync_reconnect_disconnect(
    open_page: Any, device: str, artifacts: Path, calendar_stack: CalendarStack
) -> None:
    page = open_page()
    email = sign_up(page, "Gail Google")
    google = calendar_stack.google
    google.add_account(email, "Gail Google", "Europe/Berlin")

    # From settings to the calendars page: the empty state offers every configured provider.
    page.goto("/settings")
    wait_ready(page)
    page.get_by_role("link", name="Manage calendars").click()
    page.wait_for_url(re.compile(r"/calendars$"))
    wait_ready(page)
    expect(page.get_by_role("heading", name="Calendars", level=1)).to_be_visible()
    expect(page.get_by_text("No calendar is linked yet.")).to_be_visible()

    # Google, through the emulator's consent page and back.
    page.get_by_role("button", name=re.compile("^Connect Google Calendar")).click()
    consent_google(page, email)
    page.wait_for_url(re.compile(r"/calendars$"))  # ?calendar=linked was read and taken away
    expect(page.get_by_role("status").filter(has_text="Your calendar is linked")).to_be_visible()
    card = connection_card(page, email, "google")
    expect(card).to_be_visible()
    expect(card.get_by_text("Connected")).to_be_visible()
    row = card.get_by_role("group", name=email)
    expect(row.get_by_role("checkbox", name="Check for conflicts")).to_be_checked()
    expect(row.get_by_role("checkbox", name="Add meetings here")).to_be_checked()

    card.get_by_role("button", name="Sync now").click()
    expect(card.get_by_text("Syncing…")).to_be_visible()
    expect(
        connection_card(page, email, "google").get_by_text(re.compile("Last synced"))
    ).to_be_visible()

    # A CalDAV account too: "Add meetings here" is one calendar per person.
    radicale = calendar_stack.radicale
    home_name = f"Home {uuid.uuid4().hex[:6]}"  # bob's account holds other runs' calendars too
    collection = radicale.make_calendar("bob", display=home_name)
    page.get_by_role("button", name=re.compile("^Connect CalDAV calendar")).click()
    form = page.get_by_role("dialog", name="Connect a CalDAV calendar")
    fill_caldav(form, radicale.url + collection, "bob", USERS["bob"])
    expect(form).to_be_hidden()
    caldav = connection_card(page, "bob", "caldav")
    home = caldav.get_by_role("group", name=home_name)
    expect(home.get_by_role("checkbox", name="Add meetings here")).not_to_be_checked()
    home.get_by_role("checkbox", name="Add meetings here").check()
    expect(home.get_by_role("checkbox", name="Add meetings here")).to_be_checked()
    google_row = connection_card(page, email, "google").get_by_role("group", name=email)
    expect(google_row.get_by_role("checkbox", name="Add meetings here")).not_to_be_checked()
    conflicts = home.get_by_role("checkbox", name="Check for conflicts")
    conflicts.uncheck()
    expect(conflicts).to_be_enabled()  # disabled while saving, then redrawn from the server
    expect(conflicts).not_to_be_checked()
    saved = {c["provider"]: c["calendars"][0] for c in connections(page)}
    assert saved["caldav"]["write_events"] is True and saved["google"]["write_events"] is False
    assert saved["caldav"]["check_conflicts"] is False
    screenshot(page, artifacts, device, "calendars-page")
    assert_accessible(page, f"the calendars page ({device})")

    # Google revokes the grant: the next sync finds out, and every page says so, with Reconnect.
    google.control("POST", "/revoke", {"account": email})
    connection_card(page, email, "google").get_by_role("button", name="Sync now").click()
    banner = page.get_by_role("alert").filter(has_text="Parlay can't reach your Google calendar")
    expect(banner).to_have_text(re.compile(re.escape(f"({email})")), timeout=30_000)
    expect(connection_card(page, email, "google").get_by_text("Needs reconnecting")).to_be_visible()
    page.goto("/settings")
    wait_ready(page)
    banner = page.get_by_role("alert").filter(has_text="Parlay can't reach your Google calendar")
    expect(banner).to_be_visible()
    screenshot(page, artifacts, device, "calendar-reauth-banner")
    banner.get_by_role("button", name=re.compile("^Reconnect")).click()
    consent_google(page, email)
    page.wait_for_url(re.compile(r"/settings$"))
    expect(page.get_by_role("status").filter(has_text="Your calendar is linked")).to_be_visible()
    expect(page.get_by_text("Parlay can't reach your Google calendar")).to_have_count(0)
    statuses = {c["provider"]: c["status"] for c in connections(page)}
    assert statuses == {"google": "active", "caldav": "active"}

    # Disconnect says plainly what stays behind.
    page.goto("/calendars")
    wait_ready(page)
    connection_card(page, "bob", "caldav").get_by_role("button", name="Disconnect").click()
    confirm = page.get_by_role("dialog", name=re.compile("^Disconnect CalDAV"))
    expect(confirm).to_contain_text(
        "Parlay stops reading this calendar. Meetings already added to it stay there."
    )
    confirm.get_by_role("button", name="Disconnect").click()
    expect(connection_card(page, "bob", "caldav")).to_have_count(0)
    assert [c["provider"] for c in connections(page)] == ["google"]


@pytest.mark.parametrize("device", ["desktop"])
def test_refusals_are_explained(open_page: Any, device: str, calendar_stack: CalendarStack) -> None:
    page = open_page()
    email = sign_up(page, "Olga Onprem")
    calendar_stack.microsoft.control(
        "POST", "/accounts", {"userPrincipalName": email, "mail": email, "on_premises": True}
    )
    page.goto("/calendars")
    wait_ready(page)
    page.get_by_role("button", name=re.compile("^Connect Microsoft Outlook")).click()
    consent_microsoft(page, email)
    page.wait_for_url(re.compile(r"/calendars$"))
    notice = page.locator(".calendar-notice-slot")
    expect(notice).to_contain_text(MAILBOX_NOT_SUPPORTED)
    assert connections(page) == []

    page.get_by_role("button", name=re.compile("^Connect Google Calendar")).click()
    expect(page.get_by_role("heading", name="Choose an account")).to_be_visible()
    page.get_by_role("button", name="Deny").click()
    page.wait_for_url(re.compile(r"/calendars$"))
    expect(notice).to_contain_text("You did not allow Parlay")
    assert connections(page) == []
