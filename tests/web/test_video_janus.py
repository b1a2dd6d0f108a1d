"""Video calls through Janus (``PARLAY_JANUS_URL`` set), at the signaling level, with a real
Janus started for this module (config copied from /etc/janus, its own port), both database
backends, real uvicorn and real WebSockets.  The media itself is exercised in the browser test
(tests/e2e/test_video_janus.py); here: a member entering the call joins the meeting's Janus
room as a publisher (the room made by Parlay, with a secret), the browser is never told any
Janus id or secret, Janus refusing an SDP is an error frame and not a closed socket, and the
last one out destroys the room.

Also here (run in Janus mode; the rules are the backend's neighbours, the same for mesh): the
presence snapshot a member's socket gets on opening, and a cancelled meeting ending its call
and lobby for everyone in them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from parlay.services.video_janus import JanusBackend
from parlay.services.video_passes import GuestPasses
from parlay.settings import Settings
from parlay.video.janus import JanusClient, JanusError
from parlay.video.janus_process import janus_installed, start_janus
from tests.conftest import Person
from tests.web.test_signaling import (
    NOW,
    SDP,
    book_meeting,
    guest_socket,
    member_socket,
    open_call,
    token_of,
)

ROOM_KEY_PURPOSE = b"parlay janus room v1"


@contextlib.contextmanager
def running_janus(folder: Path) -> Iterator[str]:
    """A Janus of our own for the test (its WebSocket URL); skips only when Janus is not
    installed and PARLAY_REQUIRE_SERVICES is unset."""
    if not janus_installed():
        if os.environ.get("PARLAY_REQUIRE_SERVICES") == "1":
            pytest.fail("janus is not installed (apt-get install -y janus)")
        pytest.skip("janus is not installed (apt-get install -y janus)")
    janus = start_janus(folder)
    try:
        yield janus.url
    finally:
        janus.stop()


def _room(secret_key: str, meeting_id: str) -> tuple[int, str]:
    key = GuestPasses(secret_key).derive(ROOM_KEY_PURPOSE)
    return JanusBackend.room_of_key(key, meeting_id)


async def _ask_janus(url: str, body: dict[str, Any]) -> dict[str, Any]:
    client = JanusClient(url)
    try:
        session = await client.create_session(lambda: None)
        handle = await client.attach(session, lambda m: None)
        data, _ = await client.message(session, handle, body)
        await client.destroy_session(session)
        return data
    finally:
        await client.close()


def janus_publishers(url: str, secret_key: str, meeting_id: str) -> list[dict[str, Any]]:
    """Who Janus lists in the meeting's room (callable from sync code, e.g. Playwright)."""
    room, _ = _room(secret_key, meeting_id)
    found: list[dict[str, Any]] = []

    def ask() -> None:
        data = asyncio.run(_ask_janus(url, {"request": "listparticipants", "room": room}))
        found.extend(data.get("participants", []))

    thread = threading.Thread(target=ask)
    thread.start()
    thread.join()
    return found


@pytest.fixture(scope="module")
def janus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_janus(tmp_path_factory.mktemp("janus")) as url:
        yield url


@pytest.fixture
def settings(make_settings: Any, janus: str) -> Settings:
    return make_settings(now=NOW, janus_url=janus)


async def test_members_join_the_meetings_janus_room_and_never_see_its_api(
    server: str,
    anon: httpx.AsyncClient,
    room: dict[str, Any],
    alice: Person,
    bob: Person,
    janus: str,
    settings: Settings,
) -> None:
    meeting = await book_meeting(alice, bob, room["id"])
    await open_call(anon)
    a, b = [await member_socket(server, p) for p in (alice, bob)]
    await a.send("video.join", join_token=token_of(meeting))
    joined = await a.expect("video.joined")
    assert joined["media"] == "janus"
    await b.send("video.join", join_token=token_of(meeting))
    assert (await b.expect("video.joined"))["media"] == "janus"

    # Janus has the meeting's room, made by Parlay: both are in it, by their peer ids.
    secret_key = settings.resolved_secret_key()
    room_id, secret = _room(secret_key, meeting["id"])
    listed = await _ask_janus(janus, {"request": "listparticipants", "room": room_id})
    assert sorted(p["display"] for p in listed["participants"]) == sorted(
        [joined["peer_id"], (await _peer_id_of(b))]
    )
    # The room is private (not listed) and guarded by its secret: editing it without fails.
    rooms = await _ask_janus(janus, {"request": "list"})
    assert room_id not in [r["room"] for r in rooms["list"]]
    with pytest.raises(JanusError):
        await _ask_janus(janus, {"request": "destroy", "room": room_id, "secret": "guess"})

    # Janus refuses a bogus offer: an error frame, the socket stays, nothing else happens.
    await a.send("video.offer", to=joined["peer_id"], sdp=SDP)
    assert (await a.error())["about"] == "video.offer"
    await a.send("video.answer", to=joined["peer_id"], sdp=SDP)  # we answer only others' feeds
    assert (await a.error())["code"] == "not_found"
    await a.ws.send(json.dumps({"type": "ping"}))
    await a.expect("pong")

    # Nothing the browsers were told names Janus's room, its secret or its sessions.
    for frame in [*a.seen, *b.seen]:
        text = json.dumps(frame)
        assert str(room_id) not in text and secret not in text and "session" not in text

    # The last one out destroys the room.
    await a.send("video.leave")
    await a.expect("video.left")
    await b.send("video.leave")
    await b.expect("video.left")
    exists = await _ask_janus(janus, {"request": "exists", "room": room_id})
    assert exists["exists"] is False
    for peer in (a, b):
        await peer.ws.close()


async def _peer_id_of(peer: Any) -> str:
    return next(str(f["data"]["peer_id"]) for f in peer.seen if f["type"] == "video.joined")


async def test_a_room_opened_mid_call_shows_who_is_in_it(
    server: str, anon: httpx.AsyncClient, room: dict[str, Any], alice: Person, bob: Person
) -> None:
    meeting = await book_meeting(alice, bob, room["id"])
    await open_call(anon)
    a = await member_socket(server, alice)
    await a.send("video.join", join_token=token_of(meeting))
    await a.expect("video.joined")

    b = await member_socket(server, bob)  # Bob opens the room now
    snapshot = await b.expect("video.presence")
    assert snapshot == {
        "meeting_id": meeting["id"],
        "participants": [{"name": "Alice Adams", "role": "member"}],
    }
    for peer in (a, b):
        await peer.ws.close()


async def test_cancelling_a_meeting_ends_its_call_and_lobby(
    server: str, anon: httpx.AsyncClient, room: dict[str, Any], alice: Person, bob: Person
) -> None:
    meeting = await book_meeting(alice, bob, room["id"])
    await open_call(anon)
    a = await member_socket(server, alice)
    await a.send("video.join", join_token=token_of(meeting))
    await a.expect("video.joined")
    guest, _, _ = await guest_socket(server, anon, token_of(meeting), "Gina Guest")
    await guest.send("video.knock")
    await guest.expect("video.waiting")
    b = await member_socket(server, bob)

    r = await bob.client.post(f"/api/v1/meetings/{meeting['id']}/cancel", json={})
    assert r.status_code == 200, r.text
    for peer in (a, guest):
        ended = await peer.expect("video.ended")
        assert ended == {"meeting_id": meeting["id"], "reason": "cancelled"}
    # The card in the room: nobody in the call any more.
    while (presence := await b.expect("video.presence"))["participants"]:
        pass
    assert presence["meeting_id"] == meeting["id"]
    # Alice is out of the call: signaling in it is refused, and joining again too.
    await a.send("video.state", audio=True, video=True)
    assert (await a.error())["code"] == "not_in_call"
    await a.send("video.join", join_token=token_of(meeting))
    assert (await a.error())["code"] == "meeting_cancelled"
    for peer in (a, b, guest):
        await peer.ws.close()
