"""What an open WebSocket holds, served as ``parlay serve`` serves it (the ``server`` fixture):
no per-message deflate (two zlib contexts a socket), a bounded message size, a bounded number
of tasks per socket that all end with it.  Behaviour stays: live events, ping/pong.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
import websockets
from websockets.exceptions import ConnectionClosed

from parlay.web.server import WS_MAX_MESSAGE
from tests.conftest import Person
from tests.web.test_live import next_of_type, post, token_of


async def _open(server: str, token: str) -> Any:
    # The client offers permessage-deflate (websockets does by default, as browsers do).
    ws = await websockets.connect(
        f"ws://{server}/api/v1/ws",
        additional_headers={"Authorization": f"Bearer {token}"},
        ping_interval=None,  # no client keepalive task: the count below is the server's
    )
    assert json.loads(await asyncio.wait_for(ws.recv(), 5))["type"] == "hello"
    return ws


async def test_no_deflate_and_live_events_still_flow(
    server: str, room: dict[str, Any], alice: Person, bob: Person
) -> None:
    ws = await _open(server, await token_of(bob))
    assert ws.response.headers.get("Sec-WebSocket-Extensions") is None
    sent = await post(alice, room["id"], "uncompressed")
    assert (await next_of_type(ws, "message.created"))["data"] == sent
    await ws.send(json.dumps({"type": "ping"}))
    assert (await next_of_type(ws, "pong"))["type"] == "pong"
    await ws.close()


async def test_an_oversized_message_closes_only_that_socket(
    server: str, room: dict[str, Any], alice: Person, bob: Person
) -> None:
    token = await token_of(bob)
    big, good = await _open(server, token), await _open(server, token)
    await big.send(json.dumps({"type": "ping", "pad": "x" * (WS_MAX_MESSAGE + 1)}))
    with pytest.raises(ConnectionClosed) as closed:
        await asyncio.wait_for(big.recv(), 5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009  # message too big
    sent = await post(alice, room["id"], "still here")
    assert (await next_of_type(good, "message.created"))["data"] == sent
    await good.close()


def _server_tasks() -> int:
    """Tasks of the server under test: the test's own websockets clients share this event loop
    (their reader and keepalive tasks), and are not what is being counted."""
    count = 0
    for task in asyncio.all_tasks():
        code = getattr(task.get_coro(), "cr_code", None)
        if code is not None and "/websockets/" in code.co_filename:
            continue
        count += 1
    return count


async def test_tasks_per_socket_are_bounded_and_end_with_it(
    server: str, room: dict[str, Any], bob: Person
) -> None:
    token = await token_of(bob)
    # A first socket and a first message start the node's own tasks (the video heartbeat,
    # the database readers' watchdogs); they are per node.
    first = await _open(server, token)
    r = await bob.client.post(f"/api/v1/rooms/{room['id']}/messages", json={"body": "first"})
    assert r.status_code == 201, r.text
    await first.close()
    await asyncio.sleep(0.1)
    before = _server_tasks()
    sockets = [await _open(server, token) for _ in range(5)]
    await asyncio.sleep(0.1)
    # An idle socket keeps one task, its ASGI one: a sender runs only while it has something
    # to send.
    assert _server_tasks() - before <= len(sockets)
    # A message to bob reaches all five sockets and leaves no task behind either.
    r = await bob.client.post(f"/api/v1/rooms/{room['id']}/messages", json={"body": "to all"})
    assert r.status_code == 201, r.text
    for ws in sockets:
        while json.loads(await asyncio.wait_for(ws.recv(), 5))["type"] != "message.created":
            pass
    await asyncio.sleep(0.1)
    assert _server_tasks() - before <= len(sockets)
    for ws in sockets:
        await ws.close()
    for _ in range(100):  # the server notices each close; no task outlives its socket
        if _server_tasks() <= before:
            break
        await asyncio.sleep(0.05)
    assert _server_tasks() <= before
