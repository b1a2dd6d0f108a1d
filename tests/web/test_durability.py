"""What the server acknowledged survives ``kill -9`` (SQLite, WAL with ``synchronous=NORMAL``).

A real ``parlay serve`` takes a burst of posts, is killed with SIGKILL the moment the last one is
answered (no shutdown, no checkpoint: the commits are only in the WAL file), and a new server on
the same file shows every acknowledged message.  NORMAL may lose the last commits on a power cut
(the WAL is synced at checkpoints, not per commit): that trade is documented in the README and
cannot be tested here; a process kill must lose nothing.
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

PASSWORD = "correct horse battery"
POSTS = 60


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def _serve(database: Path, data: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARLAY_")}
    env.update(
        PARLAY_ENV="test",
        PARLAY_DATABASE_URL=f"sqlite:///{database}",
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
