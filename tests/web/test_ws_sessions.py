"""Sockets end with their credential: logging out or revoking a token closes exactly the
sockets signed in with it (code 4401), on every node; a resume cursor ahead of the log is
answered with the real cursor and ``resync`` (both backends; the two-node test needs
PostgreSQL and Redis)."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
import uvicorn
import websockets
from websockets.exceptions import ConnectionClosed, InvalidStatus

from parlay.main import create_app
from parlay.realtime.hub import Hub
from tests.conftest import PASSWORD, Person, sign_up_and_in
from tests.services_available import REDIS_URL, require_redis

WAIT = 10.0  # a bound on waiting for a frame or a close, never an assertion about speed


async def open_socket(
    server: str, *, token: str | None = None, cookie: str | None = None, since: str | None = None
) -> tuple[Any, dict[str, Any]]:
    url = f"ws://{server}/api/v1/ws" + (f"?since={since}" if since is not None else "")
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if cookie:
        headers["Cookie"] = f"parlay_session={cookie}"
    ws = await websockets.connect(url, additional_headers=headers, origin=f"http://{server}")  # type: ignore[arg-type]
    hello = json.loads(await asyncio.wait_for(ws.recv(), WAIT))
    assert hello["type"] == "hello"
    return ws, hello


async def closed_code(ws: Any) -> tuple[int, str]:
    """Read until the server closes the socket; its close code and reason."""
    with pytest.raises(ConnectionClosed) as closed:
        async with asyncio.timeout(WAIT):
            while True:
                await ws.recv()
    assert closed.value.rcvd is not None, "closed without a close frame from the server"
    return closed.value.rcvd.code, closed.value.rcvd.reason


async def next_message(ws: Any) -> dict[str, Any]:
    async with asyncio.timeout(WAIT):
        while True:
            frame = json.loads(await ws.recv())
            if frame["type"] == "message.created":
                return dict(frame)


async def post(person: Person, room_id: str, body: str) -> None:
    r = await person.client.post(f"/api/v1/rooms/{room_id}/messages", json={"body": body})
    assert r.status_code == 201, r.text


async def second_session(app: Any, person: Person) -> httpx.AsyncClient:
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")
    r = await client.post("/api/v1/auth/login", json={"email": person.email, "password": PASSWORD})
    assert r.status_code == 200, r.text
    client.headers["X-CSRF-Token"] = r.json()["csrf_token"]
    return client


async def test_logout_closes_that_sessions_socket_and_no_other(
    app: Any, server: str, room: dict[str, Any], alice: Person, bob: Person
) -> None:
    other = await second_session(app, bob)
    try:
        leaving, _ = await open_socket(server, cookie=bob.client.cookies["parlay_session"])
        staying, _ = await open_socket(server, cookie=other.cookies["parlay_session"])

        assert (await bob.client.post("/api/v1/auth/logout")).status_code == 204

        assert await closed_code(leaving) == (4401, "signed out")
        await post(alice, room["id"], "still for the other session")
        assert (await next_message(staying))["data"]["body"] == "still for the other session"
        await staying.close()
    finally:
        await other.aclose()


async def test_revoking_a_token_closes_its_sockets_only(
    server: str, room: dict[str, Any], alice: Person, bob: Person
) -> None:
    tokens = []
    for name in ("revoked", "kept"):
        r = await bob.client.post("/api/v1/me/tokens", json={"name": name})
        tokens.append(r.json())
    revoked, kept = tokens
    first, _ = await open_socket(server, token=revoked["token"])
    second, _ = await open_socket(server, token=revoked["token"])
    survivor, _ = await open_socket(server, token=kept["token"])

    assert (await bob.client.delete(f"/api/v1/me/tokens/{revoked['id']}")).status_code == 204

    assert await closed_code(first) == (4401, "signed out")
    assert await closed_code(second) == (4401, "signed out")
    await post(alice, room["id"], "after the revocation")
    assert (await next_message(survivor))["data"]["body"] == "after the revocation"
    await survivor.close()
    # And it cannot open a new one.
    with pytest.raises(InvalidStatus):
        await open_socket(server, token=revoked["token"])


async def test_a_cursor_ahead_of_the_log_gets_the_real_one_and_resync(
    server: str, room: dict[str, Any], alice: Person, bob: Person
) -> None:
    r = await bob.client.post("/api/v1/me/tokens", json={"name": "ws"})
    token = r.json()["token"]
    await post(alice, room["id"], "before")
    fresh, hello = await open_socket(server, token=token)
    newest = hello["cursor"]
    assert "resync" not in hello
    await fresh.close()

    ahead = str(int(newest) + 1000)
    ws, hello = await open_socket(server, token=token, since=ahead)
    assert hello == {"type": "hello", "cursor": newest, "resync": True}
    # From the real cursor on, live events arrive as usual.
    await post(alice, room["id"], "after resync")
    frame = await next_message(ws)
    assert frame["data"]["body"] == "after resync" and int(frame["cursor"]) > int(newest)
    await ws.close()

    # A cursor at the newest event is no reason to resync.
    ws, hello = await open_socket(server, token=token, since=frame["cursor"])
    assert hello == {"type": "hello", "cursor": frame["cursor"]}
    await ws.close()


def test_a_subscription_racing_its_revocation_is_ended_as_it_subscribes() -> None:
    async def nothing(_after: int) -> list[Any]:
        return []

    async def zero() -> int:
        return 0

    now = [0.0]
    hub = Hub(nothing, zero, monotonic=lambda: now[0])
    hub.revoke(["s:gone"])
    assert hub.subscribe("u1", "s:gone").ended
    assert not hub.subscribe("u1", "s:other").ended
    now[0] = 61.0  # remembered for a minute, not forever
    assert not hub.subscribe("u1", "s:gone").ended


# --- two nodes: one PostgreSQL database, Redis between them --------------------------------


@asynccontextmanager
async def serve(application: Any) -> AsyncIterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = uvicorn.Config(
        application, host="127.0.0.1", port=port, lifespan="off", log_level="warning"
    )
    srv = uvicorn.Server(config)
    task = asyncio.create_task(srv.serve())
    try:
        while not srv.started:  # noqa: ASYNC110 (uvicorn exposes a flag, not an event)
            await asyncio.sleep(0.01)
        yield f"127.0.0.1:{port}"
    finally:
        srv.should_exit = True
        await task


@pytest.mark.postgres
@pytest.mark.redis
async def test_logout_on_one_node_closes_the_socket_on_another(
    backend: str, make_settings: Any
) -> None:
    if backend != "postgres":
        pytest.skip("two nodes share a PostgreSQL database")
    require_redis()
    # A long principal cache: only the broker's revocation can make node B forget in time.
    settings = make_settings(redis_url=REDIS_URL, auth_cache_seconds=60)
    node_a, node_b = create_app(settings), create_app(settings)
    async with (
        node_a.router.lifespan_context(node_a),
        node_b.router.lifespan_context(node_b),
        serve(node_b) as server_b,
    ):
        bob = await sign_up_and_in(node_a, "bob")
        cookie = bob.client.cookies["parlay_session"]
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=node_b),
            base_url="http://testserver",
            cookies={"parlay_session": cookie},
        ) as bob_on_b:
            assert (await bob_on_b.get("/api/v1/me")).status_code == 200  # node B caches him
            ws, _ = await open_socket(server_b, cookie=cookie)

            assert (await bob.client.post("/api/v1/auth/logout")).status_code == 204  # on A

            assert await closed_code(ws) == (4401, "signed out")
            assert (await bob_on_b.get("/api/v1/me")).status_code == 401  # forgotten at once
        await bob.client.aclose()
