"""Video signaling across two ``parlay serve`` processes sharing PostgreSQL and Redis: peers on
different nodes see each other join, exchange offers, and a guest waiting on one node is
admitted by a member on the other (the broker's signal channel carries it all)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect

from parlay.db.migrate import upgrade
from tests.services_available import PG_URL, REDIS_URL, require_postgres, require_redis
from tests.web.test_two_processes import (
    Node,
    User,
    _admin,
    _free_port,
    _parlay,
    _sign_up,
    _stop,
    _wait_healthy,
)

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

NOW = "2026-11-30T08:00:00Z"
OPEN = "2026-12-01T08:35:00Z"
MORNINGS = {d: [{"start": "09:00", "end": "12:00"}] for d in ("mon", "tue", "wed", "thu", "fri")}
SDP = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"


def _start(name: str, database_url: str, tmp_path: Path) -> Node:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARLAY_")}
    env.update(
        PARLAY_ENV="test",
        PARLAY_NOW=NOW,
        PARLAY_DATABASE_URL=database_url,
        PARLAY_REDIS_URL=REDIS_URL,
        PARLAY_RATE_LIMITS="off",
        PARLAY_SECRET_KEY="two-nodes-video-secret",  # one key: a guest pass works on both
        PARLAY_DATA_DIR=str(tmp_path / f"data-{name}"),
        PARLAY_VIDEO_HEARTBEAT_SECONDS="0.5",  # a crashed node's peers drop within seconds
    )
    port = _free_port()
    log = tmp_path / f"node-{name}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [*_parlay(), "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Node(name=name, port=port, proc=proc, log=log)


@pytest.fixture
def video_db() -> Iterator[str]:
    """A fresh PostgreSQL database, migrated, for the nodes to share."""
    require_postgres()
    require_redis()
    name = f"parlay_2v_{uuid.uuid4().hex[:10]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    try:
        url = f"{PG_URL.rsplit('/', 1)[0]}/{name}"
        upgrade(url.replace("postgresql://", "postgresql+asyncpg://"))
        yield url
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def video_nodes(video_db: str, tmp_path: Path) -> Iterator[tuple[Node, Node]]:
    started: list[Node] = []
    try:
        started += [_start("A", video_db, tmp_path), _start("B", video_db, tmp_path)]
        _wait_healthy(started)
        yield started[0], started[1]
    finally:
        for node in started:
            _stop(node)


class Peer:
    def __init__(self, ws: Any) -> None:
        self.ws = ws

    async def send(self, type_: str, **data: Any) -> None:
        await self.ws.send(json.dumps({"type": type_, "data": data}))

    async def expect(self, type_: str) -> dict[str, Any]:
        async with asyncio.timeout(10):
            while True:
                frame = json.loads(await self.ws.recv())
                if frame["type"] == type_:
                    return dict(frame.get("data", frame))


async def _api(node: Node, user: User, method: str, path: str, body: Any) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=node.http, timeout=30, trust_env=False) as client:
        r = await client.request(method, path, json=body, headers=user.auth)
        assert r.status_code in (200, 201), r.text
        return dict(r.json())


async def test_a_call_spans_two_nodes(video_nodes: tuple[Node, Node]) -> None:
    node_a, node_b = video_nodes
    alice = await _sign_up(node_a, "alice@example.com", "Alice Adams")
    bob = await _sign_up(node_b, "bob@example.com", "Bob Brown")
    room = await _api(
        node_a, alice, "POST", "/api/v1/rooms", {"title": "Nodes", "member_emails": [bob.email]}
    )
    invite = await _api(
        node_a,
        alice,
        "POST",
        f"/api/v1/rooms/{room['id']}/invites",
        {"time_zone": "Europe/Berlin", "weekly": MORNINGS, "duration_minutes": 45},
    )
    meeting = await _api(
        node_b,
        bob,
        "POST",
        f"/api/v1/invites/{invite['id']}/book",
        {"start": "2026-12-01T09:45:00+01:00"},
    )
    join = meeting["join_url"].rsplit("/", 1)[1]
    async with httpx.AsyncClient(timeout=30, trust_env=False) as client:
        for node in (node_a, node_b):  # each node has its own pinned clock
            r = await client.post(f"{node.http}/api/v1/test/clock", json={"now": OPEN})
            assert r.status_code == 204, r.text
        r = await client.post(f"{node_b.http}/m/{join}/guests", json={"name": "Gina Guest"})
        assert r.status_code == 201, r.text
        guest_pass = r.json()["token"]

    async with contextlib.AsyncExitStack() as stack:
        a = Peer(await stack.enter_async_context(connect(node_a.ws, additional_headers=alice.auth)))
        b = Peer(await stack.enter_async_context(connect(node_b.ws, additional_headers=bob.auth)))
        await a.send("video.join", join_token=join)
        alice_id = (await a.expect("video.joined"))["peer_id"]
        await b.send("video.join", join_token=join)
        joined_b = await b.expect("video.joined")
        assert [p["peer_id"] for p in joined_b["peers"]] == [alice_id]  # the roster crossed over
        assert (await a.expect("video.peer_joined"))["name"] == "Bob Brown"
        await b.send("video.offer", to=alice_id, sdp=SDP)
        offer = await a.expect("video.offer")
        assert offer["peer_id"] == joined_b["peer_id"] and offer["sdp"] == SDP

        # A guest on node B, admitted by Alice on node A.
        g = Peer(await stack.enter_async_context(connect(f"{node_b.ws}?guest={guest_pass}")))
        await g.send("video.knock")
        knock = await a.expect("video.knock")
        assert knock["name"] == "Gina Guest"
        await a.send("video.admit", peer_id=knock["peer_id"])
        await g.expect("video.admitted")
        await g.send("video.join")
        peers = (await g.expect("video.joined"))["peers"]
        assert sorted(p["name"] for p in peers) == ["Alice Adams", "Bob Brown"]
        await g.send("video.answer", to=alice_id, sdp=SDP)
        assert (await a.expect("video.answer"))["name"] == "Gina Guest"


async def _booked_call(node_a: Node, node_b: Node) -> tuple[User, User, str]:
    """Alice (signed up on A) and Bob (on B) share a room and a meeting whose call is open."""
    alice = await _sign_up(node_a, "alice@example.com", "Alice Adams")
    bob = await _sign_up(node_b, "bob@example.com", "Bob Brown")
    room = await _api(
        node_a, alice, "POST", "/api/v1/rooms", {"title": "Nodes", "member_emails": [bob.email]}
    )
    body = {"time_zone": "Europe/Berlin", "weekly": MORNINGS, "duration_minutes": 45}
    invite = await _api(node_a, alice, "POST", f"/api/v1/rooms/{room['id']}/invites", body)
    meeting = await _api(
        node_b,
        bob,
        "POST",
        f"/api/v1/invites/{invite['id']}/book",
        {"start": "2026-12-01T09:45:00+01:00"},
    )
    async with httpx.AsyncClient(timeout=30, trust_env=False) as client:
        for node in (node_a, node_b):
            r = await client.post(f"{node.http}/api/v1/test/clock", json={"now": OPEN})
            assert r.status_code == 204, r.text
    return alice, bob, str(meeting["join_url"].rsplit("/", 1)[1])


async def test_peers_of_a_crashed_node_leave_the_call(video_nodes: tuple[Node, Node]) -> None:
    """Bob's node is killed without a word: Alice, on the other node, sees him leave the call
    and the meeting's presence without him (no ghost tile until the call empties)."""
    node_a, node_b = video_nodes
    alice, bob, join = await _booked_call(node_a, node_b)
    async with contextlib.AsyncExitStack() as stack:
        a = Peer(await stack.enter_async_context(connect(node_a.ws, additional_headers=alice.auth)))
        b = Peer(await stack.enter_async_context(connect(node_b.ws, additional_headers=bob.auth)))
        await a.send("video.join", join_token=join)
        await a.expect("video.joined")
        await b.send("video.join", join_token=join)
        bob_id = (await b.expect("video.joined"))["peer_id"]
        assert (await a.expect("video.peer_joined"))["peer_id"] == bob_id

        os.killpg(node_b.proc.pid, signal.SIGKILL)
        node_b.proc.wait(timeout=10)

        async with asyncio.timeout(30):  # a deadline for the poll, many heartbeats long
            while True:
                got = json.loads(await a.ws.recv())
                if got["type"] == "video.peer_left":
                    assert got["data"]["peer_id"] == bob_id
                    break
        async with asyncio.timeout(30):
            while True:
                got = json.loads(await a.ws.recv())
                if got["type"] == "video.presence":
                    people = [p["name"] for p in got["data"]["participants"]]
                    if people == ["Alice Adams"]:
                        break


async def test_a_declined_guest_cannot_knock_again_through_the_other_node(
    video_nodes: tuple[Node, Node],
) -> None:
    """Declined on node B, the guest comes back through node A at once: still refused (the
    block is shared through Redis, not kept by the node that saw the verdict)."""
    node_a, node_b = video_nodes
    alice, _bob, join = await _booked_call(node_a, node_b)
    async with httpx.AsyncClient(timeout=30, trust_env=False) as client:
        r = await client.post(f"{node_b.http}/m/{join}/guests", json={"name": "Dan Decline"})
        assert r.status_code == 201, r.text
        guest_pass = r.json()["token"]
    async with contextlib.AsyncExitStack() as stack:
        a = Peer(await stack.enter_async_context(connect(node_a.ws, additional_headers=alice.auth)))
        await a.send("video.join", join_token=join)
        await a.expect("video.joined")
        async with connect(f"{node_b.ws}?guest={guest_pass}") as ws:
            g = Peer(ws)
            await g.send("video.knock")
            knock = await a.expect("video.knock")
            await a.send("video.decline", peer_id=knock["peer_id"])
            assert (await g.expect("video.declined"))["retry_after"] > 0
        again = Peer(await stack.enter_async_context(connect(f"{node_a.ws}?guest={guest_pass}")))
        await again.send("video.knock")
        refused = await again.expect("video.error")
        assert refused["code"] == "rate_limited" and refused["retry_after"] > 0


async def test_a_node_started_later_learns_who_is_in_the_call(
    video_nodes: tuple[Node, Node], video_db: str, tmp_path: Path
) -> None:
    """Node C starts after Alice joined on A (it heard none of the joins): Bob joining through
    C is offered Alice among the peers, from the rosters the other nodes announce."""
    node_a, node_b = video_nodes
    alice, bob, join = await _booked_call(node_a, node_b)
    async with contextlib.AsyncExitStack() as stack:
        a = Peer(await stack.enter_async_context(connect(node_a.ws, additional_headers=alice.auth)))
        await a.send("video.join", join_token=join)
        alice_id = (await a.expect("video.joined"))["peer_id"]
        node_c = _start("C", video_db, tmp_path)
        stack.callback(_stop, node_c)
        _wait_healthy([node_c])
        async with httpx.AsyncClient(timeout=30, trust_env=False) as client:
            r = await client.post(f"{node_c.http}/api/v1/test/clock", json={"now": OPEN})
            assert r.status_code == 204, r.text
        c = Peer(await stack.enter_async_context(connect(node_c.ws, additional_headers=bob.auth)))
        async with asyncio.timeout(30):  # poll: rejoin until C's mirror has caught up
            while True:
                await c.send("video.join", join_token=join)
                peers = (await c.expect("video.joined"))["peers"]
                if [p["peer_id"] for p in peers] == [alice_id]:
                    break
                await c.send("video.leave")
                await c.expect("video.left")
                await asyncio.sleep(0.2)
