"""Parlay's sockets against raw ``websockets`` in one run: ``python bench/ws_fanout.py``.

Raw baselines (a plain ``websockets`` server in its own process, loopback): the idle echo
round trip (p50 of ``ECHOES``), and ``websockets.broadcast`` of one frame to ``MEMBERS``
subscribers, timed from the trigger leaving the client until the last subscriber has it
(median of ``ROUNDS``).  Parlay (``parlay serve`` on SQLite, deflate off as in production):
the ping/pong round trip on an idle socket (target <= 2x raw echo), and one message posted in
a room of ``MEMBERS`` members, each with a socket open, timed from the POST (HTTP/1.1 written
by hand on a kept-alive connection, as ws_delivery posts: like the raw trigger, no client
library's CPU in the figure) until all
``MEMBERS`` sockets have its ``message.created`` (median of ``ROUNDS``; target <= 1.5x the raw
broadcast).  ``BENCH_FANOUT_MEMBERS`` lowers the room size for a quick check.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from common import bounded_gather, free_port, percentile, progress
from websockets.asyncio.client import ClientConnection, connect
from ws_delivery import SIGNUP_CONCURRENCY, LeanPoster, Member, _env, _serving, _sign_up

MEMBERS = int(os.environ.get("BENCH_FANOUT_MEMBERS", "1000"))
ROUNDS = 5
ECHOES = 200
WAIT = 30.0

RAW_SERVER = r"""
import asyncio, sys
import websockets
from websockets.asyncio.server import serve
subscribers = set()
async def handler(ws):
    if ws.request.path == "/echo":
        async for message in ws:
            await ws.send(message)
        return
    if ws.request.path == "/trigger":
        async for message in ws:
            websockets.broadcast(subscribers, message)
        return
    subscribers.add(ws)
    try:
        await ws.send("subscribed")
        await ws.wait_closed()
    finally:
        subscribers.discard(ws)
async def main():
    async with serve(handler, "127.0.0.1", int(sys.argv[1]), compression=None):
        print("ready", flush=True)
        await asyncio.Future()
asyncio.run(main())
"""


async def _echo_p50(ws: ClientConnection, frame: str, reply_type: str | None = None) -> float:
    samples = []
    for _ in range(ECHOES):
        started = time.perf_counter()
        await ws.send(frame)
        while True:
            got = await ws.recv()
            if reply_type is None or json.loads(got).get("type") == reply_type:
                break
        samples.append((time.perf_counter() - started) * 1000)
    return percentile(samples, 50)


async def _all_receive(sockets: list[ClientConnection], marker: str) -> None:
    async def one(ws: ClientConnection) -> None:
        while marker not in str(await ws.recv()):
            pass

    await asyncio.wait_for(asyncio.gather(*(one(ws) for ws in sockets)), WAIT)


async def _open_many(urls: list[tuple[str, dict[str, str]]]) -> list[ClientConnection]:
    async def one(item: tuple[str, dict[str, str]]) -> ClientConnection:
        ws = await connect(
            item[0], additional_headers=item[1], proxy=None, open_timeout=60, max_queue=None
        )
        await ws.recv()  # "subscribed" / Parlay's hello
        return ws

    return await bounded_gather(urls, one, limit=50, label="sockets")


async def _raw() -> tuple[float, float]:
    port = free_port()
    proc = subprocess.Popen(  # noqa: ASYNC220 (started once, before anything is timed)
        [sys.executable, "-c", RAW_SERVER, str(port)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        await asyncio.to_thread(proc.stdout.readline)
        base = f"ws://127.0.0.1:{port}"
        async with connect(f"{base}/echo", proxy=None, compression=None) as echo:
            echo_p50 = await _echo_p50(echo, "x" * 200)
        subs = await _open_many([(f"{base}/sub", {}) for _ in range(MEMBERS)])
        times = []
        async with connect(f"{base}/trigger", proxy=None, compression=None) as trigger:
            for n in range(ROUNDS):
                started = time.perf_counter()
                await trigger.send(f"round {n} " + "x" * 200)
                await _all_receive(subs, f"round {n} ")
                times.append((time.perf_counter() - started) * 1000)
        await asyncio.gather(*(ws.close() for ws in subs), return_exceptions=True)
        return echo_p50, statistics.median(times)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


async def _parlay(data: Path) -> tuple[float, float]:
    with _serving([_env(data, {})], data) as servers:
        server = servers[0]
        await server.wait_ready()
        members = [Member(i, f"fan{i}@example.com") for i in range(MEMBERS)]
        await bounded_gather(
            members, lambda m: _sign_up(server.base_url, m), limit=SIGNUP_CONCURRENCY, label="users"
        )
        owner = members[0]
        auth = {"Authorization": f"Bearer {owner.token}"}
        async with httpx.AsyncClient(base_url=server.base_url, timeout=60, trust_env=False) as c:
            r = await c.post("/api/v1/rooms", json={"title": "Town hall"}, headers=auth)
            r.raise_for_status()
            room_id = r.json()["id"]

            async def add(member: Member) -> None:
                answer = await c.post(
                    f"/api/v1/rooms/{room_id}/members", json={"email": member.email}, headers=auth
                )
                answer.raise_for_status()

            await bounded_gather(members[1:], add, limit=16, label="members")
            url = f"{server.ws_url}/api/v1/ws"
            sockets = await _open_many(
                [(url, {"Authorization": f"Bearer {m.token}"}) for m in members]
            )
            ping_p50 = await _echo_p50(sockets[1], json.dumps({"type": "ping"}), "pong")
            # The timed POST goes out as ws_delivery's do, over a kept-alive connection spoken
            # by hand: httpx's own client CPU (milliseconds a request) would be counted as
            # fan-out time, which the raw baseline's trigger (one WebSocket send) does not pay.
            poster = LeanPoster(server.base_url, 1)
            times = []
            for n in range(ROUNDS):
                started = time.perf_counter()
                status, answer = await poster.post(
                    f"/api/v1/rooms/{room_id}/messages", {"body": f"fan {n} "}, owner.token
                )
                if status != 201:
                    raise RuntimeError(f"POST answered {status}: {answer[:200]!r}")
                await _all_receive(sockets, f"fan {n} ")
                times.append((time.perf_counter() - started) * 1000)
            await poster.close()
            await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
    return ping_p50, statistics.median(times)


def run() -> list[dict[str, Any]]:
    progress(f"ws_fanout: raw websockets, {MEMBERS} subscribers")
    raw_echo, raw_broadcast = asyncio.run(_raw())
    progress(f"ws_fanout: parlay serve (SQLite), a room of {MEMBERS}")
    with tempfile.TemporaryDirectory(prefix="parlay-bench-fanout-") as tmp:
        ping, fanout = asyncio.run(_parlay(Path(tmp)))
    common = {"members": MEMBERS, "rounds": ROUNDS}
    return [
        {"name": "raw_ws_echo_p50", "value": raw_echo, "unit": "ms", "note": "websockets echo"},
        {"name": "ws_idle_roundtrip_p50", "value": ping, "unit": "ms", "note": "ping -> pong",
         "target": f"<= {2 * raw_echo:.3f}", "meets_target": ping <= 2 * raw_echo},
        {"name": "raw_ws_broadcast", "value": raw_broadcast, "unit": "ms",
         "note": "websockets.broadcast, median", **common},
        {"name": "ws_room_fanout", "value": fanout, "unit": "ms",
         "note": "POST until all members' sockets have it, median",
         "target": f"<= {1.5 * raw_broadcast:.1f}", "meets_target": fanout <= 1.5 * raw_broadcast,
         **common},
    ]  # fmt: skip


if __name__ == "__main__":
    for row in run():
        print(f"{row['name']:<28}{row['value']:>10.2f} {row['unit']}  {row.get('target', '')}")
