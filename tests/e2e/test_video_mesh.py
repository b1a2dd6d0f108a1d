"""The video call in mesh mode, in Chromium with fake camera and microphone (issue 10
acceptance): Alice and Bob join from the room and see each other; a guest with the link waits
in the lobby until Alice admits them, then all three see each other; a declined guest, a
non-member and anyone on a cancelled meeting get no media and no room data.

Its own ``parlay serve`` with the clock pinned (``POST /api/v1/test/clock`` opens the call) and
its own Chromium with the fake-media switches.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, DEVICES, serve_parlay
from tests.e2e.test_join_page import ALL_WEEK, sign_up_by_api
from tests.e2e.ui import api, open_room, screenshot, title

pytestmark = pytest.mark.e2e

NOW = "2026-11-30T08:00:00Z"
DAY = "2026-12-01"
MEDIA_ARGS = [
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--autoplay-policy=no-user-gesture-required",
]
# Remote tiles that are connected and play: a frame size, and time that moves on.
PLAYING = """([count, since]) => {
  const tiles = [...document.querySelectorAll('.call-tile[data-connection="connected"]')];
  const playing = tiles.filter((t) => {
    const v = t.querySelector('video');
    return v.videoWidth > 0 && v.currentTime > (since[t.dataset.peerId] ?? 0);
  });
  return playing.length >= count;
}"""
TIMES = """() => Object.fromEntries([...document.querySelectorAll('.call-tile[data-connection="connected"]')]
  .map((t) => [t.dataset.peerId, t.querySelector('video').currentTime]))"""


@pytest.fixture(scope="module")
def video_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    env = {
        "PARLAY_NOW": NOW,
        "PARLAY_SECRET_KEY": "video-e2e",
    }
    with serve_parlay(tmp_path_factory.mktemp("parlay-video"), extra_env=env) as url:
        yield url


@pytest.fixture(scope="module")
def media_browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        if os.environ.get("PARLAY_REQUIRE_SERVICES") == "1":
            pytest.fail(f"{CHROMIUM} is missing (PARLAY_REQUIRE_SERVICES=1)")
        pytest.skip(f"{CHROMIUM} is missing")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=[*CHROMIUM_ARGS, *MEDIA_ARGS]
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def pages(media_browser: Any, video_server: str) -> Iterator[Any]:
    contexts: list[Any] = []

    def open_(device: str = "desktop") -> Any:
        context = media_browser.new_context(
            base_url=video_server, timezone_id="Europe/Berlin", locale="en-GB", **DEVICES[device]
        )
        context.set_default_timeout(20_000)
        contexts.append(context)
        page = context.new_page()
        page.problems = []
        page.on("pageerror", lambda exc: page.problems.append(str(exc)))
        return page

    yield open_
    problems = [p for c in contexts for page in c.pages for p in page.problems]
    for context in contexts:
        context.close()
    assert not problems, problems


def wait_playing(page: Any, count: int) -> None:
    """``count`` remote videos connected with frames, then each one's time moves on."""
    page.wait_for_function(PLAYING, arg=[count, {}])
    page.wait_for_function(PLAYING, arg=[count, page.evaluate(TIMES)])


def test_mesh_call_with_lobby(pages: Any, artifacts: Path) -> None:
    alice = pages()
    sign_up_by_api(alice, "Alice Adams")
    bob = pages("phone")
    bob_email = sign_up_by_api(bob, "Bob Brown")
    room = api(
        alice, "POST", "/api/v1/rooms", {"title": title("Call"), "member_emails": [bob_email]}
    )
    assert room.status == 201, room.text()
    room_id = room.json()["id"]
    body = {"time_zone": "UTC", "weekly": ALL_WEEK, "duration_minutes": 30}
    invite = api(alice, "POST", f"/api/v1/rooms/{room_id}/invites", body).json()
    slots = bob.request.get(f"/api/v1/invites/{invite['id']}/slots?date={DAY}&tz=UTC").json()
    start = slots["slots"][0]["start"]
    meeting = api(bob, "POST", f"/api/v1/invites/{invite['id']}/book", {"start": start}).json()
    join_url = meeting["join_url"]

    # Before the window: the page says when the call opens, and Join waits.
    alice.goto(join_url)
    expect(alice.get_by_text("The call opens at")).to_be_visible()
    expect(alice.get_by_role("button", name="Join", exact=True)).to_be_disabled()
    moved = alice.request.post("/api/v1/test/clock", data={"now": f"{DAY}T{start[11:16]}:00Z"})
    assert moved.status == 204, moved.text()

    alice.reload()
    join = alice.get_by_role("button", name="Join", exact=True)
    expect(join).to_be_enabled()
    alice.wait_for_function("() => document.getElementById('call-preview').videoWidth > 0")
    screenshot(alice, artifacts, "desktop", "video-prejoin")
    # Bob, in the room, sees on the meeting's card who is in the call, live.
    open_room(bob, room_id)  # ready: the live socket is open
    card = bob.locator(f'.meeting-card[data-meeting-id="{meeting["id"]}"]')
    expect(card).to_be_visible()
    join.click()
    expect(alice.get_by_role("button", name="Leave")).to_be_visible()
    expect(card.get_by_text("In the call: Alice Adams")).to_be_visible()

    bob.goto(join_url)
    bob.get_by_role("button", name="Join", exact=True).click()
    wait_playing(alice, 1)
    wait_playing(bob, 1)
    screenshot(bob, artifacts, "phone", "video-in-call")

    # A guest with the link gives a name and waits; Alice admits them.
    guest = pages()
    guest.goto(join_url)
    guest.get_by_label("Your name").fill("Gina Guest")
    guest.get_by_role("button", name="Ask to join").click()
    expect(guest.get_by_text("Waiting for someone in the call")).to_be_visible()
    screenshot(guest, artifacts, "desktop", "video-lobby")
    admit = alice.get_by_role("button", name="Admit Gina Guest")
    expect(admit).to_be_visible()
    expect(bob.get_by_role("button", name="Decline Gina Guest")).to_be_visible()
    screenshot(alice, artifacts, "desktop", "video-admit")
    admit.click()
    for page in (alice, bob, guest):
        wait_playing(page, 2)
    expect(bob.get_by_role("button", name="Admit Gina Guest")).to_have_count(0)
    screenshot(alice, artifacts, "desktop", "video-in-call")
    assert room_id not in guest.content()

    # A second guest is declined: no media, no room data, and no knocking again at once.
    declined = pages()
    declined.goto(join_url)
    declined.get_by_label("Your name").fill("Dan Declined")
    declined.get_by_role("button", name="Ask to join").click()
    bob.get_by_role("button", name="Decline Dan Declined").click()
    expect(declined.get_by_text("declined your request")).to_be_visible()
    expect(declined.locator(".call-tile")).to_have_count(0)
    declined.get_by_role("button", name="Ask to join").click()
    expect(declined.get_by_text("You were declined a moment ago")).to_be_visible()
    assert room_id not in declined.content()

    # Someone signed in but outside the room, without the link, reaches nothing.
    stranger = pages()
    sign_up_by_api(stranger, "Sol Stranger")
    assert stranger.request.get(f"/api/v1/meetings/{meeting['id']}").status == 404
    assert stranger.goto("/m/guessed-token").status == 404  # type: ignore[union-attr]
    refused = stranger.evaluate(
        """async () => {
          const ws = new WebSocket(`ws://${location.host}/api/v1/ws`);
          const answer = new Promise((resolve, reject) => {
            ws.addEventListener('message', (e) => {
              const f = JSON.parse(e.data); if (f.type === 'video.error') resolve(f.data.code);
            });
            ws.addEventListener('close', () => reject(new Error('closed')));
          });
          await new Promise((r) => ws.addEventListener('open', r, { once: true }));
          ws.send(JSON.stringify({ type: 'video.join', data: { join_token: 'guessed-token' } }));
          return answer;
        }"""
    )
    assert refused == "not_found"

    # Bob leaves: Alice and the guest see one tile less.
    bob.get_by_role("button", name="Leave").click()
    expect(alice.locator(".call-tile")).to_have_count(2)

    # Cancelled: the link is dead (410), no call on the page.
    assert api(alice, "POST", f"/api/v1/meetings/{meeting['id']}/cancel", {}).status == 200
    late = pages()
    response = late.goto(join_url)
    assert response is not None and response.status == 410
    expect(late.get_by_role("heading", name="This meeting was cancelled")).to_be_visible()
    expect(late.get_by_role("button", name="Join", exact=True)).to_have_count(0)
    expect(late.get_by_role("button", name="Ask to join")).to_have_count(0)
