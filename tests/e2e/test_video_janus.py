"""The video call through Janus (PARLAY_JANUS_URL set), in Chromium with fake camera and
microphone (issue 10 acceptance, SFU mode): Alice and Bob join from the room and play each
other's video, a guest admitted by Alice sees both, a room opened mid-call shows who is in
it, and cancelling the meeting ends the call: every page in it shows the cancelled screen.

Its own Janus (config copied from /etc/janus, its own port) and its own ``parlay serve``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import serve_parlay
from tests.e2e.test_join_page import ALL_WEEK, sign_up_by_api
from tests.e2e.test_video_mesh import NOW, media_browser, pages, wait_playing
from tests.e2e.ui import api, open_room, screenshot, title
from tests.web.test_video_janus import janus_publishers, running_janus

pytestmark = pytest.mark.e2e
__all__ = ["media_browser", "pages"]  # fixtures shared with the mesh test
DAY = "2026-12-01"
SECRET_KEY = "video-janus-e2e"


@pytest.fixture(scope="module")
def janus_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_janus(tmp_path_factory.mktemp("janus")) as url:
        yield url


@pytest.fixture(scope="module")
def video_server(tmp_path_factory: pytest.TempPathFactory, janus_url: str) -> Iterator[str]:
    env = {
        "PARLAY_NOW": NOW,
        "PARLAY_SECRET_KEY": SECRET_KEY,
        "PARLAY_JANUS_URL": janus_url,
    }
    with serve_parlay(tmp_path_factory.mktemp("parlay-janus"), extra_env=env) as url:
        yield url


def test_janus_call_presence_and_cancel(pages: Any, artifacts: Path, janus_url: str) -> None:
    alice = pages()
    sign_up_by_api(alice, "Alice Adams")
    bob = pages()
    bob_email = sign_up_by_api(bob, "Bob Brown")
    room = api(
        alice, "POST", "/api/v1/rooms", {"title": title("SFU"), "member_emails": [bob_email]}
    )
    assert room.status == 201, room.text()
    room_id = room.json()["id"]
    body = {"time_zone": "UTC", "weekly": ALL_WEEK, "duration_minutes": 30}
    invite = api(alice, "POST", f"/api/v1/rooms/{room_id}/invites", body).json()
    slots = bob.request.get(f"/api/v1/invites/{invite['id']}/slots?date={DAY}&tz=UTC").json()
    start = slots["slots"][0]["start"]
    meeting = api(bob, "POST", f"/api/v1/invites/{invite['id']}/book", {"start": start}).json()
    join_url = meeting["join_url"]
    moved = alice.request.post("/api/v1/test/clock", data={"now": f"{DAY}T{start[11:16]}:00Z"})
    assert moved.status == 204, moved.text()

    for page in (alice, bob):
        page.goto(join_url)
        page.wait_for_function("() => document.getElementById('call-preview').videoWidth > 0")
        page.get_by_role("button", name="Join", exact=True).click()
        expect(page.get_by_role("button", name="Leave")).to_be_visible()
    wait_playing(alice, 1)
    wait_playing(bob, 1)

    guest = pages()
    guest.goto(join_url)
    guest.wait_for_function("() => document.getElementById('call-preview').videoWidth > 0")
    guest.get_by_label("Your name").fill("Gina Guest")
    guest.get_by_role("button", name="Ask to join").click()
    alice.get_by_role("button", name="Admit Gina Guest").click()
    for page in (alice, bob, guest):
        wait_playing(page, 2)
    screenshot(guest, artifacts, "desktop", "video-janus-in-call")
    # The media goes through the SFU: Janus's room for the meeting has the three publishers.
    publishers = janus_publishers(janus_url, SECRET_KEY, meeting["id"])
    assert len(publishers) == 3, publishers

    # Bob opens the room mid-call: the meeting's card says who is in the call at once.
    room_page = pages()
    room_page.context.add_cookies(bob.context.cookies())
    open_room(room_page, room_id)
    card = room_page.locator(f'.meeting-card[data-meeting-id="{meeting["id"]}"]')
    expect(card.get_by_text("In the call: ")).to_contain_text("Alice Adams")
    expect(card.get_by_text("In the call: ")).to_contain_text("Gina Guest")

    # Cancelling the meeting ends the call: every page in it shows the cancelled screen.
    assert api(alice, "POST", f"/api/v1/meetings/{meeting['id']}/cancel", {}).status == 200
    for page in (alice, bob, guest):
        expect(page.get_by_role("heading", name="This meeting was cancelled")).to_be_visible()
        expect(page.locator(".call-tile")).to_have_count(0)
    expect(card.get_by_text("In the call: ")).to_have_count(0)
