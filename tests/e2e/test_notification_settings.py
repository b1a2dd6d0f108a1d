"""The settings page's Notifications section (issue 12): e-mail, reminders and the reminder
lead time are shown as saved, saved from the form (kept after a reload), a lead time out of
range is refused in the form; push on this device is offered as a switch."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from tests.e2e.ui import api, assert_accessible, sign_up, wait_ready


def test_notification_preferences_are_saved_from_settings(open_page: Any, device: str) -> None:
    page = open_page()
    sign_up(page, "Nora Notify")
    page.goto("/settings")
    wait_ready(page)
    section = page.get_by_role("region", name="Notifications")
    email = section.get_by_label("E-mail me when a meeting is booked")
    reminders = section.get_by_label("Remind me before a meeting starts")
    minutes = section.get_by_label("Minutes before the start")
    expect(email).to_be_checked()
    expect(reminders).to_be_checked()
    expect(minutes).to_have_value("10")
    expect(section.get_by_label("Push notifications on this device")).to_be_visible()
    assert_accessible(page, f"the settings page with notifications ({device})")

    minutes.fill("2")
    section.get_by_role("button", name="Save notifications").click()
    expect(section.get_by_text("Enter whole minutes from 5 to 1440.")).to_be_visible()
    assert api(page, "GET", "/api/v1/me/preferences").json()["reminder_minutes"] == 10

    email.uncheck()
    minutes.fill("30")
    section.get_by_role("button", name="Save notifications").click()
    expect(section.get_by_text("Notification settings saved.")).to_be_visible()
    saved = api(page, "GET", "/api/v1/me/preferences").json()
    assert saved == {"email": False, "reminders": True, "reminder_minutes": 30}

    page.reload()
    wait_ready(page)
    expect(email).not_to_be_checked()
    expect(minutes).to_have_value("30")
    reminders.uncheck()
    expect(minutes).to_be_disabled()
