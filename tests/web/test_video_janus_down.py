"""Janus mode with Janus down (nothing listens at ``PARLAY_JANUS_URL``): the meeting page still
loads, and joining is refused with a ``video_unavailable`` error frame (the page says the call
can't start) on a socket that stays open: no 500, no hang, nobody announced in the call.
Janus stopping mid-call ends the call for those in it (``video.ended``, reason
``media_lost``); once Janus is back, the next join reconnects."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

import httpx
import pytest

from parlay.settings import Settings
from parlay.video.janus_process import free_port, janus_installed, start_janus
from tests.conftest import Person
from tests.web.test_signaling import NOW, book_meeting, member_socket, open_call, token_of


@pytest.fixture
def settings(make_settings: Any, request: pytest.FixtureRequest) -> Settings:
    if getattr(request, "param", None) == "janus_restarting":
        port = request.getfixturevalue("janus_port")
        return make_settings(now=NOW, janus_url=f"ws://127.0.0.1:{port}")
    return make_settings(now=NOW, janus_url=f"ws://127.0.0.1:{free_port()}")  # nothing there


async def test_janus_down_says_the_call_cannot_start(
    server: str, anon: httpx.AsyncClient, room: dict[str, Any], alice: Person, bob: Person
) -> None:
    meeting = await book_meeting(alice, bob, room["id"])
    await open_call(anon)
    page = await alice.client.get(f"/m/{token_of(meeting)}")
    assert page.status_code == 200

    a, b = [await member_socket(server, p) for p in (alice, bob)]
    await a.send("video.join", join_token=token_of(meeting))
    error = await a.error()
    assert error["code"] == "video_unavailable" and error["about"] == "video.join"
    assert "can't start" in error["message"]
    await b.nothing_of("video.presence")  # nobody entered the call

    await a.ws.send(json.dumps({"type": "ping"}))
    await a.expect("pong")
    await a.send("video.state", audio=True, video=True)
    assert (await a.error())["code"] == "not_in_call"
    for peer in (a, b):
        await peer.ws.close()


async def _next_of(peer: Any, *types: str) -> dict[str, Any]:
    while True:
        frame = json.loads(await asyncio.wait_for(peer.ws.recv(), 5))
        peer.seen.append(frame)
        if frame["type"] in types:
            return dict(frame)


@pytest.fixture
def janus_folder(tmp_path: Path) -> Path:
    if not janus_installed():
        if os.environ.get("PARLAY_REQUIRE_SERVICES") == "1":
            pytest.fail("janus is not installed (apt-get install -y janus)")
        pytest.skip("janus is not installed (apt-get install -y janus)")
    return tmp_path


@pytest.fixture
def janus_port() -> int:
    return free_port()


@pytest.mark.parametrize("settings", ["janus_restarting"], indirect=True)
async def test_janus_going_away_ends_the_call_and_a_restarted_janus_serves_again(
    server: str,
    anon: httpx.AsyncClient,
    room: dict[str, Any],
    alice: Person,
    bob: Person,
    janus_folder: Path,
    janus_port: int,
) -> None:
    janus = start_janus(janus_folder, janus_port)
    try:
        meeting = await book_meeting(alice, bob, room["id"])
        await open_call(anon)
        a, b = [await member_socket(server, p) for p in (alice, bob)]
        await a.send("video.join", join_token=token_of(meeting))
        await a.expect("video.joined")

        janus.stop()  # the media server goes away mid-call
        ended = await a.expect("video.ended")
        assert ended == {"meeting_id": meeting["id"], "reason": "media_lost"}
        while (await b.expect("video.presence"))["participants"]:
            pass  # the card empties: nobody is in the call any more

        janus = start_janus(janus_folder, janus_port)  # back: the next join reconnects
        for _ in range(30):  # past the client's short reconnect backoff, if it was hit
            await a.send("video.join", join_token=token_of(meeting))
            frame = await _next_of(a, "video.joined", "video.error")
            if frame["type"] == "video.joined":
                break
            assert frame["data"]["code"] == "video_unavailable"
            await asyncio.sleep(0.2)
        assert frame["data"]["media"] == "janus"
        for peer in (a, b):
            await peer.ws.close()
    finally:
        janus.stop()
