"""What the server acknowledged survives ``kill -9`` (SQLite, WAL with ``synchronous=NORMAL``)
and a crash of PostgreSQL (whose event-writing commits are asynchronous, ``parlay.db.durable``).

A real ``parlay serve`` takes a burst of posts, is killed with SIGKILL the moment the last one is
answered (no shutdown, no checkpoint: the commits are only in the WAL file), and a new server on
the same file shows every acknowledged message.  NORMAL may lose the last commits on a power cut
(the WAL is synced at checkpoints, not per commit): that trade is documented in the README and
cannot be tested here; a process kill must lose nothing.

On PostgreSQL, a private server of the test's own (``tests.pg_cluster``) takes the burst and
crashes the moment the last write is answered; the server then reconnects and shows them all.
(``tests/db/test_durable.py`` does the same without the live-event hub, whose reads also wait
for the disk and would cover for a writer that did not.)
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.pg_cluster import private_postgres

PASSWORD = "correct horse battery"
POSTS = 60


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def _serve(database: Path | str, data: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """``parlay serve`` on ``database`` (a SQLite file, or a database URL)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARLAY_")}
    env.update(
        PARLAY_ENV="test",
        PARLAY_DATABASE_URL=database if isinstance(database, str) else f"sqlite:///{database}",
        PARLAY_DATA_DIR=str(data),
        PARLAY_SECRET_KEY="durability-secret-key",
        PARLAY_RATE_LIMITS="off",
        PARLAY_INPROCESS_WORKER="false",
    )
    port = _free_port()
    exe = Path(sys.executable).with_name("parlay")
    command = (
        [str(exe)] if exe.exists() else [sys.executable, "-c", "from parlay.cli import app; app()"]
    )
    log = (data / f"server-{port}.log").open("wb")
    proc = subprocess.Popen(
        [*command, "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                pytest.fail("parlay serve exited early")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base}/healthz", timeout=2, trust_env=False).status_code == 200:
                    break
            if time.monotonic() > deadline:
                pytest.fail("parlay serve did not answer within 60 s")
            time.sleep(0.1)
        yield proc, base
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        log.close()


async def _person(base: str, name: str) -> httpx.AsyncClient:
    client = httpx.AsyncClient(base_url=base, timeout=30, trust_env=False)
    email = f"{name}@example.com"
    r = await client.post(
        "/api/v1/auth/signup",
        json={"email": email, "password": PASSWORD, "display_name": name, "time_zone": "UTC"},
    )
    assert r.status_code == 201, r.text
    r = await client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    client.headers["X-CSRF-Token"] = r.json()["csrf_token"]
    return client


async def _burst(base: str) -> tuple[str, set[str], httpx.Cookies]:
    alice, bob = await _person(base, "alice"), await _person(base, "bob")
    room = await alice.post(
        "/api/v1/rooms", json={"title": "t", "member_emails": ["bob@example.com"]}
    )
    room_id = room.json()["id"]

    async def post(n: int) -> str:
        author = alice if n % 2 else bob
        r = await author.post(f"/api/v1/rooms/{room_id}/messages", json={"body": f"m{n}"})
        assert r.status_code == 201, r.text
        return f"m{n}"

    acknowledged = set(await asyncio.gather(*(post(n) for n in range(POSTS))))
    cookies = alice.cookies
    await bob.aclose()
    await alice.aclose()
    return room_id, acknowledged, cookies


async def test_acknowledged_messages_survive_kill_9(sqlite_template: Path, tmp_path: Path) -> None:
    database = tmp_path / "parlay.db"
    shutil.copy(sqlite_template, database)
    with _serve(database, tmp_path) as (proc, base):
        room_id, acknowledged, cookies = await _burst(base)
        os.kill(proc.pid, signal.SIGKILL)  # no shutdown, no checkpoint
        proc.wait(timeout=10)
    wal = database.with_name("parlay.db-wal")
    assert wal.exists() and wal.stat().st_size > 0  # the commits live in the WAL only
    with _serve(database, tmp_path) as (_proc, base):
        async with httpx.AsyncClient(base_url=base, cookies=cookies, trust_env=False) as alice:
            r = await alice.get(f"/api/v1/rooms/{room_id}/messages", params={"limit": 200})
            assert r.status_code == 200, r.text
            bodies = {m["body"] for m in r.json()["messages"] if m["kind"] == "text"}
    assert bodies == acknowledged


async def _after_restart(client: httpx.AsyncClient, path: str) -> httpx.Response:
    """GET ``path`` once the server has reconnected (its connections died with the database)."""
    deadline = time.monotonic() + 30
    while True:
        r = await client.get(path)
        if r.status_code == 200 or time.monotonic() > deadline:
            assert r.status_code == 200, r.text
            return r
        await asyncio.sleep(0.2)


async def test_acknowledged_writes_survive_a_postgres_crash(tmp_path: Path) -> None:
    """Chat posts (one self-committing statement each), then new rooms (a unit of work with a
    system message), are all there after PostgreSQL crashed the moment the last was answered,
    and the server carries on with the restarted database (its connections are replaced)."""
    with private_postgres() as (cluster, url), _serve(url, tmp_path) as (_proc, base):
        room_id, acknowledged, cookies = await _burst(base)
        cluster.crash()
        cluster.start()
        async with httpx.AsyncClient(base_url=base, cookies=cookies, trust_env=False) as alice:
            r = await _after_restart(alice, f"/api/v1/rooms/{room_id}/messages?limit=200")
            assert {m["body"] for m in r.json()["messages"] if m["kind"] == "text"} == acknowledged
            alice.headers["X-CSRF-Token"] = (await alice.get("/api/v1/me")).json()["csrf_token"]

            async def room(n: int) -> str:
                r = await alice.post("/api/v1/rooms", json={"title": f"room {n}"})
                assert r.status_code == 201, r.text
                return f"room {n}"

            titles = set(await asyncio.gather(*(room(n) for n in range(20))))
            cluster.crash()
            cluster.start()
            r = await _after_restart(alice, "/api/v1/rooms?limit=100")
            assert titles <= {room["title"] for room in r.json()["rooms"]}
