"""Steps shared by the browser tests (signing up, creating rooms, axe scans, screenshots)."""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

PASSWORD = "correct horse battery"
_axe = Axe()


def unique_email(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", ".", name.lower()).strip(".")
    return f"{slug}-{uuid.uuid4().hex[:10]}@example.com"


def sign_up(page: Any, name: str, time_zone: str = "Europe/Berlin") -> str:
    """Create an account through the sign-up page; ends signed in on the home screen."""
    email = unique_email(name)
    page.goto("/signup")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Display name").fill(name)
    page.get_by_label("Password").fill(PASSWORD)
    expect(page.get_by_label("Time zone")).to_have_value(time_zone)
    page.get_by_role("button", name="Create account").click()
    page.wait_for_url(re.compile(r"/$"))
    wait_ready(page)
    return email


def wait_ready(page: Any) -> None:
    expect(page.locator("body")).to_have_attribute("data-ready", "true")


def create_room(page: Any, title: str, member_emails: list[str]) -> str:
    page.get_by_label("Title").fill(title)
    page.get_by_label("Member emails").fill(", ".join(member_emails))
    page.get_by_role("button", name="Create room").click()
    page.wait_for_url(re.compile(r"/rooms/[^/]+$"))
    wait_ready(page)
    return str(page.url.rsplit("/", 1)[1])


def messages(page: Any) -> Any:
    """The bodies of the people's messages (system notes left out)."""
    return page.locator("#messages .msg:not(.msg-system) .msg-body")


def send(page: Any, text: str) -> None:
    box = page.get_by_label("Message", exact=True)
    expect(box).to_be_enabled()
    box.fill(text)
    box.press("Enter")
    expect(box).to_have_value("")


def serious_violations(page: Any) -> list[dict[str, Any]]:
    results = _axe.run(page)
    return [v for v in results.response["violations"] if v.get("impact") in ("serious", "critical")]


def assert_accessible(page: Any, what: str) -> None:
    found = serious_violations(page)
    details = [
        f"{v['id']} ({v['impact']}): " + ", ".join(str(n["target"]) for n in v["nodes"][:5])
        for v in found
    ]
    assert found == [], f"axe found serious/critical problems on {what}: {details}"


def screenshot(page: Any, artifacts: Path, device: str, name: str) -> None:
    page.screenshot(path=str(artifacts / f"{name}-{device}.png"))


def title(base: str) -> str:
    return f"{base} {uuid.uuid4().hex[:4]}"


def open_room(page: Any, room_id: str, query: str = "") -> None:
    page.goto(f"/rooms/{room_id}{query}")
    wait_ready(page)


def open_scheduler(page: Any, device: str, artifacts: Path | None = None) -> Any:
    """Open the scheduling dialog the way people do: the calendar icon, or More on phones."""
    calendar = page.get_by_role("button", name="Schedule a meeting")
    more = page.get_by_role("button", name="More")
    if device == "phone":
        expect(calendar).to_be_hidden()
        expect(more).to_be_visible()
        more.click()
        expect(more).to_have_attribute("aria-expanded", "true")
        entry = page.locator("#more-menu").get_by_role("button", name="Schedule a meeting")
        expect(entry).to_be_visible()
        if artifacts is not None:
            screenshot(page, artifacts, device, "room-menu")
        entry.click()
    else:
        expect(more).to_be_hidden()
        expect(calendar).to_be_visible()
        calendar.click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    return dialog


def api(page: Any, method: str, path: str, body: Any = None) -> Any:
    """Call the JSON API with the page's session cookie and CSRF token."""
    me = page.request.get("/api/v1/me")
    assert me.ok, me.text()
    return page.request.fetch(
        path,
        method=method,
        data=body,
        headers={"X-CSRF-Token": me.json()["csrf_token"]},
    )
