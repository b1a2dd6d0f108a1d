"""Janus mode with Janus down (nothing listens at ``PARLAY_JANUS_URL``): the meeting page still
loads, and joining is refused with a ``video_unavailable`` error frame (the page says the call
can't start) on a socket that stays open: no 500, no hang, nobody announced in the call."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from parlay.settings import Settings
from parlay.video.janus_process import free_port
from tests.conftest import Person
from tests.web.test_signaling import NOW, book_meeting, member_socket, open_call, token_of


@pytest.fixture
def settings(make_settings: Any) -> Settings:
    return make_settings(now=NOW, janus_url=f"ws://127.0.0.1:{free_port()}")


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
