"""The WebSocket: live delivery, resume with ``since``, isolation of bad sockets (both backends).

The app is served by a real uvicorn server on a free port, and clients are real WebSockets.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import websockets
from websockets.exceptions import ConnectionClosed, InvalidStatus

from parlay.main import create_app
from tests.conftest import Person
from tests.services_available import REDIS_URL, require_redis
from tests.web.local_http import production_options, serving


async def token_of(person: Person) -> str:
    r = await person.client.post("/api/v1/me/tokens", json={"name": "ws"})
    return str(r.json()["token"])


async def connect(server: str, token: str, since: str | None = None) -> Any:
    url = f"ws://{server}/api/v1/ws" + (f"?since={since}" if since is not None else "")
    ws = await websockets.connect(url, additional_headers={"Authorization": f"Bearer {token}"})
    hello = json.loads(await asyncio.wait_for(ws.recv(), 5))
    assert hello["type"] == "hello"
    return ws, hello


async def next_of_type(ws: Any, type_: str) -> dict[str, Any]:
    while True:
        frame = json.loads(await asyncio.wait_for(ws.recv(), 5))
        if frame["type"] == type_:
            return dict(frame)


async def post(person: Person, room_id: str, body: str) -> dict[str, Any]:
    r = await person.client.post(f"/api/v1/rooms/{room_id}/messages", json={"body": body})
    assert r.status_code == 201
    return dict(r.json())


async def test_message_reaches_the_other_member_live(
    server: str, room: dict[str, Any], alice: Person, bob: Person, carol: Person
) -> None:
    bob_ws, _ = await connect(server, await token_of(bob))
    carol_ws, _ = await connect(server, await token_of(carol))
    sent = await post(alice, room["id"], "hello bob")
    frame = await next_of_type(bob_ws, "message.created")
    assert frame["data"] == sent
    assert frame["cursor"]
    # carol is not in the room: her socket hears nothing of it.
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(carol_ws.recv(), 0.5)
    await bob_ws.close()
    await carol_ws.close()


async def test_resume_replays_missed_events_in_order_once(
    server: str, room: dict[str, Any], alice: Person, bob: Person
) -> None:
    token = await token_of(bob)
    ws, _ = await connect(server, token)
    await post(alice, room["id"], "seen live")
    cursor = (await next_of_type(ws, "message.created"))["cursor"]
    await ws.close()

    for body in ("missed 1", "missed 2", "missed 3"):
        await post(alice, room["id"], body)

    ws, hello = await connect(server, token, since=cursor)
    assert hello["cursor"] == cursor
    frames = [json.loads(await asyncio.wait_for(ws.recv(), 5)) for _ in range(3)]
    assert [f["data"]["body"] for f in frames] == ["missed 1", "missed 2", "missed 3"]
    cursors = [int(f["cursor"]) for f in frames]
    assert cursors == sorted(set(cursors))
    # Live delivery continues after the replay, with nothing repeated.
    await post(alice, room["id"], "live again")
    frame = await next_of_type(ws, "message.created")
    assert frame["data"]["body"] == "live again" and int(frame["cursor"]) > cursors[-1]
    await ws.close()


async def test_garbage_frame_closes_only_that_socket(
    server: str, room: dict[str, Any], alice: Person, bob: Person
) -> None:
    token = await token_of(bob)
    bad, _ = await connect(server, token)
    good, _ = await connect(server, token)
    await bad.send("\x00 this is not json")
    with pytest.raises(ConnectionClosed) as closed:
        await asyncio.wait_for(bad.recv(), 5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1003
    await good.send(json.dumps({"type": "ping"}))
    assert (await next_of_type(good, "pong"))["type"] == "pong"
    await post(alice, room["id"], "still here")
    assert (await next_of_type(good, "message.created"))["data"]["body"] == "still here"
    await good.close()


async def test_unauthenticated_and_cross_site_sockets_are_refused(
    server: str, alice: Person
) -> None:
    # Refused at the handshake: the upgrade is answered 403 and no socket opens.
    with pytest.raises(InvalidStatus) as refused:
        await websockets.connect(f"ws://{server}/api/v1/ws")
    assert refused.value.response.status_code == 403

    cookie = alice.client.cookies.get("parlay_session")
    with pytest.raises(InvalidStatus):
        await websockets.connect(
            f"ws://{server}/api/v1/ws",
            additional_headers={"Cookie": f"parlay_session={cookie}"},
            origin="http://evil.example",  # type: ignore[arg-type]
        )

    same_site, hello = await connect_cookie(server, cookie)
    assert hello["type"] == "hello"
    await same_site.close()


async def connect_cookie(server: str, cookie: str | None) -> Any:
    ws = await websockets.connect(
        f"ws://{server}/api/v1/ws",
        additional_headers={"Cookie": f"parlay_session={cookie}"},
        origin=f"http://{server}",  # type: ignore[arg-type]
    )
    return ws, json.loads(await asyncio.wait_for(ws.recv(), 5))


async def test_history_gives_the_cursor_to_resume_the_stream_from(
    server: str, room: dict[str, Any], alice: Person, bob: Person
) -> None:
    """A client reads history, then opens its socket late: with the history's ``live_cursor``
    it still receives everything posted in between, and nothing the page already showed."""
    await post(alice, room["id"], "before the page")
    page = (await bob.client.get(f"/api/v1/rooms/{room['id']}/messages")).json()
    assert page["messages"][-1]["body"] == "before the page"
    for body in ("between 1", "between 2"):
        await post(alice, room["id"], body)
    ws, hello = await connect(server, await token_of(bob), since=page["live_cursor"])
    assert hello["cursor"] == page["live_cursor"]
    created = [await next_of_type(ws, "message.created") for _ in range(2)]
    assert [f["data"]["body"] for f in created] == ["between 1", "between 2"]
    await ws.close()


@contextlib.asynccontextmanager
async def _node(settings: Any) -> AsyncIterator[tuple[Any, str]]:
    """An app node on the test's database, served on a port of its own."""
    node = create_app(settings)
    async with (
        node.router.lifespan_context(node),
        serving(node, **production_options()) as origin,
    ):
        yield node, origin.removeprefix("http://")


def _on(node: Any, person: Person) -> httpx.AsyncClient:
    """``person``'s session on ``node`` (sessions live in the shared database)."""
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=node), base_url="http://testserver"
    )
    client.cookies = person.client.cookies
    client.headers["X-CSRF-Token"] = person.csrf
    return client


async def _frames(ws: Any, count: int) -> list[tuple[int, int]]:
    """``(cursor, message id)`` of the next ``count`` message.created frames."""
    found = []
    while len(found) < count:
        frame = json.loads(await asyncio.wait_for(ws.recv(), 20))
        if frame["type"] == "message.created":
            found.append((int(frame["cursor"]), int(frame["data"]["id"])))
    return found


POSTS_PER_WRITER = 8


async def test_many_writers_on_two_nodes_keep_one_cursor_order(
    make_settings: Any, room: dict[str, Any], alice: Person, bob: Person, carol: Person
) -> None:
    """Six writers post at once through two nodes sharing the database and Redis (three on
    each).  A socket on each node sees every message once, cursors strictly increasing, in the
    same order as the other node's socket; a socket resuming from before the first on the
    other node is replayed exactly that sequence: the order is the log's own, on both nodes."""
    require_redis()
    r = await alice.client.post(f"/api/v1/rooms/{room['id']}/members", json={"email": carol.email})
    assert r.status_code == 201, r.text
    prefix = f"parlay-test-{uuid.uuid4().hex[:8]}"
    settings = make_settings(redis_url=REDIS_URL, redis_key_prefix=prefix)
    async with _node(settings) as (node_a, url_a), _node(settings) as (node_b, url_b):
        token = await token_of(carol)
        on_a, hello = await connect(url_a, token)
        on_b, _ = await connect(url_b, token)
        writers = [_on(node, p) for node in (node_a, node_b) for p in (alice, bob, alice)]

        async def write(n: int, client: httpx.AsyncClient) -> None:
            for k in range(POSTS_PER_WRITER):
                r = await client.post(
                    f"/api/v1/rooms/{room['id']}/messages", json={"body": f"w{n}.{k}"}
                )
                assert r.status_code == 201, r.text

        await asyncio.gather(*(write(n, c) for n, c in enumerate(writers)))
        total = len(writers) * POSTS_PER_WRITER
        seen_a, seen_b = await _frames(on_a, total), await _frames(on_b, total)
        cursors = [c for c, _ in seen_a]
        assert cursors == sorted(set(cursors)), "cursors out of order or repeated"
        assert seen_b == seen_a, "the two nodes delivered different orders"
        assert len({m for _, m in seen_a}) == total
        resumed, _ = await connect(url_b, token, since=hello["cursor"])
        assert await _frames(resumed, total) == seen_a
        for ws in (on_a, on_b, resumed):
            await ws.close()
        for client in writers:
            await client.aclose()
