"""Two real ``parlay serve`` processes sharing one PostgreSQL database and Redis.

Live events posted through one node reach sockets held by the other (Redis pub/sub wakes the
other node; the safety-net poll is set to a minute so it cannot be what delivers them), and a
socket that resumes with ``?since=<cursor>`` on the other node is replayed exactly what it
missed, in order, once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import asyncpg
import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect

from parlay.db.migrate import upgrade
from tests.services_available import PG_URL, REDIS_URL, require_postgres, require_redis

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

PASSWORD = "correct horse battery"
STARTUP_SECONDS = 60.0
FRAME_SECONDS = 10.0


@dataclass
class Node:
    name: str
    port: int
    proc: subprocess.Popen[bytes]
    log: Path

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}/api/v1/ws"

    def log_tail(self, lines: int = 40) -> str:
        with contextlib.suppress(OSError):
            text = self.log.read_text(errors="replace").splitlines()[-lines:]
            return f"--- node {self.name} log ---\n" + "\n".join(text)
        return ""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _parlay() -> list[str]:
    exe = Path(sys.executable).with_name("parlay")
    return (
        [str(exe)] if exe.exists() else [sys.executable, "-c", "from parlay.cli import app; app()"]
    )


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(PG_URL)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def _start(name: str, database_url: str, tmp_path: Path) -> Node:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARLAY_")}
    env.update(
        PARLAY_ENV="test",
        PARLAY_DATABASE_URL=database_url,
        PARLAY_REDIS_URL=REDIS_URL,
        PARLAY_RATE_LIMITS="off",
        PARLAY_SECRET_KEY="two-processes-secret-key",
        PARLAY_DATA_DIR=str(tmp_path / f"data-{name}"),
        # Only Redis may wake the other node in time; the poll is a safety net.
        PARLAY_EVENT_POLL_SECONDS="60",
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


def _stop(node: Node) -> None:
    if node.proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            node.proc.send_signal(signal.SIGTERM)
        try:
            node.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                node.proc.kill()
            node.proc.wait(timeout=10)


def _wait_healthy(nodes: list[Node]) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    pending = list(nodes)
    with httpx.Client(timeout=2.0, trust_env=False) as client:
        while pending:
            for node in list(pending):
                if node.proc.poll() is not None:
                    pytest.fail(f"node {node.name} exited early\n{node.log_tail()}")
                with contextlib.suppress(httpx.HTTPError):
                    if client.get(f"{node.http}/healthz").status_code == 200:
                        pending.remove(node)
            if pending and time.monotonic() > deadline:
                tails = "\n".join(n.log_tail() for n in pending)
                pytest.fail(f"nodes not healthy after {STARTUP_SECONDS:.0f} s\n{tails}")
            if pending:
                time.sleep(0.1)


@pytest.fixture
def nodes(tmp_path: Path) -> Iterator[tuple[Node, Node]]:
    require_postgres()
    require_redis()
    name = f"parlay_2p_{uuid.uuid4().hex[:10]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    started: list[Node] = []
    try:
        url = f"{PG_URL.rsplit('/', 1)[0]}/{name}"
        # Migrate once up front, then start both nodes at the same time (each `serve` still
        # runs its own, now empty, upgrade).  Two nodes migrating a fresh database at once
        # race each other (no migration lock yet), which is not what this test is about.
        upgrade(url.replace("postgresql://", "postgresql+asyncpg://"))
        started.append(_start("A", url, tmp_path))
        started.append(_start("B", url, tmp_path))
        _wait_healthy(started)
        yield started[0], started[1]
    finally:
        for node in started:
            _stop(node)
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@dataclass
class User:
    email: str
    token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


async def _sign_up(node: Node, email: str, display_name: str) -> User:
    async with httpx.AsyncClient(base_url=node.http, timeout=30, trust_env=False) as client:
        r = await client.post(
            "/api/v1/auth/signup",
            json={
                "email": email,
                "password": PASSWORD,
                "display_name": display_name,
                "time_zone": "UTC",
            },
        )
        assert r.status_code == 201, r.text
        r = await client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
        assert r.status_code == 200, r.text
        r = await client.post(
            "/api/v1/me/tokens",
            json={"name": "two-processes"},
            headers={"X-CSRF-Token": r.json()["csrf_token"]},
        )
        assert r.status_code == 201, r.text
        return User(email=email, token=r.json()["token"])


async def _post(node: Node, user: User, room_id: str, body: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=node.http, timeout=30, trust_env=False) as client:
        r = await client.post(
            f"/api/v1/rooms/{room_id}/messages", json={"body": body}, headers=user.auth
        )
        assert r.status_code == 201, r.text
        return dict(r.json())


@contextlib.asynccontextmanager
async def _socket(url: str, user: User) -> AsyncIterator[ClientConnection]:
    async with connect(
        url, additional_headers=user.auth, proxy=None, open_timeout=10, close_timeout=2
    ) as ws:
        yield ws


async def _frame(ws: ClientConnection) -> dict[str, Any]:
    try:
        async with asyncio.timeout(FRAME_SECONDS):
            return dict(json.loads(await ws.recv()))
    except TimeoutError:
        pytest.fail(f"no frame within {FRAME_SECONDS:.0f} s")


async def _next_message(ws: ClientConnection) -> dict[str, Any]:
    """The next ``message.created`` frame (other kinds of event are skipped, as clients do)."""
    while True:
        frame = await _frame(ws)
        if frame.get("type") == "message.created":
            return frame


async def test_events_cross_nodes_and_resume_on_the_other_node(nodes: tuple[Node, Node]) -> None:
    node_a, node_b = nodes
    alice, bob = await asyncio.gather(
        _sign_up(node_a, "alice@example.com", "Alice Adams"),
        _sign_up(node_a, "bob@example.com", "Bob Brown"),
    )
    async with httpx.AsyncClient(base_url=node_a.http, timeout=30, trust_env=False) as client:
        r = await client.post(
            "/api/v1/rooms",
            json={"title": "Across nodes", "member_emails": [bob.email]},
            headers=alice.auth,
        )
        assert r.status_code == 201, r.text
        room_id = r.json()["id"]

    # Bob listens on node B; Alice posts through node A.
    async with _socket(node_b.ws, bob) as ws:
        hello = await _frame(ws)
        assert hello["type"] == "hello"
        sent = await _post(node_a, alice, room_id, "hello from node A")
        frame = await _next_message(ws)
        assert frame["data"]["body"] == "hello from node A"
        assert frame["data"]["id"] == sent["id"]
        assert frame["data"]["room_id"] == room_id
        last_cursor = frame["cursor"]
        assert int(last_cursor) > int(hello["cursor"])

    # While Bob is away, Alice posts two messages through node B.
    missed = [await _post(node_b, alice, room_id, body) for body in ("second", "third")]

    # Bob resumes on node A from his last cursor: exactly the two, in order, once.
    async with _socket(f"{node_a.ws}?since={quote(last_cursor)}", bob) as ws:
        hello = await _frame(ws)
        assert hello["type"] == "hello"
        # A live message afterwards marks the end: nothing before it may repeat the two.
        live = await _post(node_b, alice, room_id, "fourth, live")
        replayed: list[dict[str, Any]] = []
        while True:
            frame = await _next_message(ws)
            if frame["data"]["id"] == live["id"]:
                break
            replayed.append(frame)

    assert [f["data"]["body"] for f in replayed] == ["second", "third"]
    assert [f["data"]["id"] for f in replayed] == [m["id"] for m in missed]
    cursors = [int(f["cursor"]) for f in replayed]
    assert cursors[0] > int(last_cursor)
    assert cursors == sorted(set(cursors))
    assert int(frame["cursor"]) > cursors[-1]
