"""The settings page and the zone picker, at desktop and phone size: name, zone and clock are
saved and applied across the app, another browser is signed out from the session list, the
zone picker searches with offsets and names zones canonically (a browser in "Asia/Calcutta"
is offered Asia/Kolkata)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from tests.e2e.conftest import Account
from tests.e2e.ui import (
    PASSWORD,
    api,
    assert_accessible,
    create_room,
    screenshot,
    send,
    sign_up,
    title,
    unique_email,
    wait_ready,
)

AM_PM = re.compile(r"\b(am|pm)\b", re.IGNORECASE)


def open_settings_from_menu(page: Any, device: str) -> None:
    """From a room: the account menu, or on phones (the top bar gives way to the room) More."""
    if device == "phone":
        page.get_by_role("button", name="More").click()
        page.locator("#more-menu").get_by_role("link", name="Settings").click()
    else:
        page.locator("#user-menu-button").click()
        page.locator("#user-menu").get_by_role("link", name="Settings").click()
    page.wait_for_url(re.compile(r"/settings$"))
    wait_ready(page)


def sign_in(page: Any, email: str) -> None:
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/$"))
    wait_ready(page)


def test_name_zone_and_clock_are_saved_and_applied(
    open_page: Any, pair: tuple[Account, Account], device: str, artifacts: Path
) -> None:
    page = open_page(time_zone="Europe/London")
    sign_up(page, "Sam Settings", "Europe/London")
    create_room(page, title("Clock check"), [pair[0].email])
    send(page, "What time is it?")
    stamp = page.locator("#messages .msg-time").last
    expect(stamp).to_have_text(re.compile(r"\d"))
    assert not AM_PM.search(stamp.inner_text())  # en-GB: a 24-hour clock by default

    open_settings_from_menu(page, device)
    expect(page.get_by_role("heading", name="Settings", level=1)).to_be_visible()
    expect(page.get_by_label("Display name")).to_have_value("Sam Settings")
    zone = page.get_by_role("combobox", name="Time zone", exact=True)
    expect(zone).to_have_value("Europe/London")
    assert_accessible(page, f"the settings page ({device})")
    screenshot(page, artifacts, device, "settings")

    page.get_by_label("Display name").fill("Sam Renamed")
    zone.fill("kolk")
    kolkata = page.get_by_role("option", name="(UTC+05:30) Asia/Kolkata")
    expect(kolkata).to_be_visible()
    zone.press("Enter")
    expect(zone).to_have_value("Asia/Kolkata")
    expect(page.get_by_role("listbox")).to_have_count(0)  # closed (hidden lists are not listboxes)
    page.get_by_label("12-hour").check()
    expect(page.locator("#clock-preview")).to_contain_text("Asia/Kolkata")
    expect(page.locator("#clock-preview")).to_have_text(AM_PM)
    page.get_by_role("button", name="Save profile").click()
    expect(page.locator("#profile-status")).to_have_text("Saved.")

    me = api(page, "GET", "/api/v1/me").json()
    assert (me["display_name"], me["time_zone"], me["time_format"]) == (
        "Sam Renamed",
        "Asia/Kolkata",
        "12h",
    )
    page.reload()
    wait_ready(page)
    expect(page.get_by_label("Display name")).to_have_value("Sam Renamed")
    expect(page.get_by_role("combobox", name="Time zone", exact=True)).to_have_value("Asia/Kolkata")
    expect(page.get_by_label("12-hour")).to_be_checked()

    # Back in the room: the same message's time now reads with AM/PM, the menu has the name.
    page.get_by_role("link", name="Back to rooms").click()
    wait_ready(page)
    page.get_by_role("link", name=re.compile("Clock check")).first.click()
    wait_ready(page)
    expect(page.locator("#messages .msg-time").last).to_have_text(AM_PM)
    expect(page.locator("#user-name")).to_have_text("Sam Renamed")


def test_signing_out_another_browser_from_settings(open_page: Any, device: str) -> None:
    here = open_page(time_zone="Europe/Paris")
    email = sign_up(here, "Sky Sessions", "Europe/Paris")
    there = open_page(time_zone="Europe/Paris")
    sign_in(there, email)

    here.goto("/settings")
    wait_ready(here)
    sessions = here.locator("#session-list > li")
    expect(sessions).to_have_count(2)
    expect(here.locator("#session-list [data-current='true']")).to_contain_text("This browser")
    other = here.locator("#session-list [data-current='false']")
    other.get_by_role("button", name=re.compile("Sign out the browser")).click()
    expect(sessions).to_have_count(1)
    expect(here.locator("#sessions-status")).to_contain_text("Signed out the browser")

    # The other browser's live connection is closed as signed out: it lands on sign-in.
    expect(there).to_have_url(re.compile(r"/login"))
    there.goto("/settings")
    expect(there).to_have_url(re.compile(r"/login\?next=%2Fsettings$"))
    # This browser is still signed in.
    here.reload()
    wait_ready(here)
    expect(sessions).to_have_count(1)


def test_zone_picker_searches_by_keyboard_and_names_the_device_zone_canonically(
    open_page: Any, device: str, artifacts: Path
) -> None:
    page = open_page(time_zone="Asia/Calcutta")
    assert page.evaluate("Intl.DateTimeFormat().resolvedOptions().timeZone") == "Asia/Calcutta"
    email = unique_email("Kay Kolkata")
    body = {"email": email, "password": PASSWORD, "display_name": "Kay", "time_zone": "UTC"}
    assert page.request.post("/api/v1/auth/signup", data=body).ok
    assert page.request.post("/api/v1/auth/login", data={"email": email, "password": PASSWORD}).ok
    page.goto("/settings")
    wait_ready(page)

    zone = page.get_by_role("combobox", name="Time zone", exact=True)
    expect(zone).to_have_value("UTC")
    zone.focus()
    zone.press("ArrowDown")
    expect(zone).to_have_attribute("aria-expanded", "true")
    device_choice = page.get_by_role("option", name=re.compile("Use this device's zone"))
    expect(device_choice).to_have_text("Use this device's zone (detected: Asia/Kolkata)")
    expect(page.get_by_role("option", name=re.compile("Calcutta"))).to_have_count(0)
    assert_accessible(page, f"the settings page with the zone list open ({device})")
    screenshot(page, artifacts, device, "zone-picker")

    # Typing filters; Escape closes the list and then restores the saved name.
    zone.press_sequentially("calc")
    expect(page.get_by_role("option", name="(UTC+05:30) Asia/Kolkata")).to_be_visible()
    zone.press("Escape")
    expect(zone).to_have_attribute("aria-expanded", "false")
    expect(zone).to_have_value("UTC")

    # Arrows move the active option; Enter picks it.
    zone.fill("device")
    zone.press("ArrowDown")
    zone.press("ArrowUp")
    active = zone.get_attribute("aria-activedescendant")
    expect(page.locator(f"#{active}")).to_contain_text("detected: Asia/Kolkata")
    zone.press("Enter")
    expect(zone).to_have_value("Asia/Kolkata")
    expect(page.locator("#settings-tz-offset")).to_have_text("UTC+05:30")
    page.get_by_role("button", name="Save profile").click()
    expect(page.locator("#profile-status")).to_have_text("Saved.")
    assert api(page, "GET", "/api/v1/me").json()["time_zone"] == "Asia/Kolkata"
