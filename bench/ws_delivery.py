"""Live delivery over WebSockets: ``python bench/ws_delivery.py``.

One real ``parlay serve`` (SQLite in a temp dir, rate limits off) on loopback; 500 users in 250
rooms of two, each with a bearer token and one open ``WS /api/v1/ws``.  Then, round after round,
one member of every room posts a message (at most 50 POSTs in flight; the posting member
alternates per round) whose body carries the client's send timestamp, and the latency is the
moment the OTHER member's socket receives the ``message.created`` frame minus the moment just
before the POST was sent.  A short first phase posts one message at a time (no queueing) to show
the latency of the path itself.  Every message must arrive exactly once.

Figures: p50/p95/p99/max latency (ms), messages delivered / expected, duplicates, POST
throughput, and the server's resident memory (``VmRSS``) before the sockets open and with all
500 connected.  Sizes can be lowered for a quick check with ``BENCH_WS_USERS`` (even) and
``BENCH_WS_ROUNDS``.  The whole run is bounded by ``HARD_TIMEOUT`` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from common import PASSWORD, Server, bounded_gather, percentile, progress, rss_kib
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

USERS = int(os.environ.get("BENCH_WS_USERS", "500"))
ROUNDS = int(os.environ.get("BENCH_WS_ROUNDS", "10"))
IN_FLIGHT = 50
IDLE_MESSAGES = 50  # posted one at a time before the loaded rounds
SIGNUP_CONCURRENCY = 8  # argon2 hashing is CPU- and memory-bound on the server
ROUND_WAIT = 30.0  # seconds a round may take to be delivered after its last POST
HARD_TIMEOUT = 900.0
PREFIX = "bench"


@dataclass
class Member:
    index: int
    email: str
    token: str = ""
    user_id: str = ""
    ws: ClientConnection | None = None


@dataclass
class Tally:
    """What the receiving sockets saw, keyed by message key ``r<round>.<room>``."""

    expected_receiver: dict[str, int] = field(default_factory=dict)
    latency_ms: dict[str, float] = field(default_factory=dict)
    post_ms: dict[str, float] = field(default_factory=dict)
    duplicates: int = 0
    misrouted: int = 0
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    waiting_for: int = 0

    def record(self, receiver: int, frame: dict[str, Any], received_at: float) -> None:
        if frame.get("type") != "message.created":
            return
        body = str((frame.get("data") or {}).get("body", ""))
        parts = body.split(" ")
        if len(parts) != 3 or parts[0] != PREFIX:
            return
        key, sent_at = parts[1], float(parts[2])
        owner = self.expected_receiver.get(key)
        if owner is None or owner != receiver:
            if owner is None:
                self.misrouted += 1
            return  # the sender's own copy of its message
        if key in self.latency_ms:
            self.duplicates += 1
            return
        self.latency_ms[key] = (received_at - sent_at) * 1000
        if self.waiting_for and len(self.latency_ms) >= self.waiting_for:
            self.arrived.set()


def _summary(samples: list[float]) -> dict[str, float]:
    return {
        "p50": percentile(samples, 50),
        "p95": percentile(samples, 95),
        "p99": percentile(samples, 99),
        "max": max(samples) if samples else float("nan"),
    }


async def _sign_up(base_url: str, member: Member) -> None:
    async with httpx.AsyncClient(base_url=base_url, timeout=120, trust_env=False) as client:
        r = await client.post(
            "/api/v1/auth/signup",
            json={
                "email": member.email,
                "password": PASSWORD,
                "display_name": f"Bench {member.index}",
                "time_zone": "UTC",
            },
        )
        r.raise_for_status()
        member.user_id = r.json()["id"]
        r = await client.post(
            "/api/v1/auth/login", json={"email": member.email, "password": PASSWORD}
        )
        r.raise_for_status()
        csrf = r.json()["csrf_token"]
        r = await client.post(
            "/api/v1/me/tokens", json={"name": "bench"}, headers={"X-CSRF-Token": csrf}
        )
        r.raise_for_status()
        member.token = r.json()["token"]


async def _reader(member: Member, tally: Tally) -> None:
    assert member.ws is not None
    try:
        async for raw in member.ws:
            received_at = time.perf_counter()
            tally.record(member.index, json.loads(raw), received_at)
    except ConnectionClosed as exc:
        progress(f"socket of user {member.index} closed early: {exc}")
    except (ValueError, KeyError, TypeError) as exc:
        progress(f"socket of user {member.index}: unreadable frame: {exc!r}")


async def _post_round(
    client: httpx.AsyncClient,
    rooms: list[tuple[str, Member, Member]],
    tally: Tally,
    *,
    label: str,
    limit: int,
    flip: bool,
) -> int:
    """Post one message per room; returns how many POSTs failed."""
    failures = 0

    async def post(item: tuple[int, tuple[str, Member, Member]]) -> None:
        nonlocal failures
        number, (room_id, first, second) = item
        sender, receiver = (second, first) if flip else (first, second)
        key = f"{label}.{number}"
        tally.expected_receiver[key] = receiver.index
        sent_at = time.perf_counter()
        try:
            r = await client.post(
                f"/api/v1/rooms/{room_id}/messages",
                json={"body": f"{PREFIX} {key} {sent_at!r}"},
                headers={"Authorization": f"Bearer {sender.token}"},
            )
        except httpx.TransportError as exc:  # counted, never retried (no double posts)
            progress(f"POST {key} failed: {exc!r}")
            failures += 1
            return
        tally.post_ms[key] = (time.perf_counter() - sent_at) * 1000
        if r.status_code != 201:
            progress(f"POST {key} answered {r.status_code}: {r.text[:200]}")
            failures += 1

    semaphore = asyncio.Semaphore(limit)

    async def bounded(item: tuple[int, tuple[str, Member, Member]]) -> None:
        async with semaphore:
            await post(item)

    await asyncio.gather(*(bounded(item) for item in enumerate(rooms)))
    return failures


async def _wait_delivered(tally: Tally, expected: int, within: float) -> None:
    if len(tally.latency_ms) >= expected:
        return
    tally.waiting_for = expected
    tally.arrived.clear()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(tally.arrived.wait(), within)
    tally.waiting_for = 0


async def _bench(server: Server) -> list[dict[str, Any]]:
    started = time.perf_counter()
    members = [Member(i, f"bench{i}@example.com") for i in range(USERS)]
    await bounded_gather(
        members,
        lambda m: _sign_up(server.base_url, m),
        limit=SIGNUP_CONCURRENCY,
        label="users",
    )
    setup_users_s = time.perf_counter() - started

    # uvicorn drops idle keep-alive connections after 5 s; closing them first on our side
    # avoids reusing one just as the server closes it (a spurious ReadError).
    limits = httpx.Limits(
        max_connections=IN_FLIGHT, max_keepalive_connections=IN_FLIGHT, keepalive_expiry=2.0
    )
    async with httpx.AsyncClient(
        base_url=server.base_url, timeout=60, limits=limits, trust_env=False
    ) as client:
        pairs = [(members[i], members[i + 1]) for i in range(0, USERS - 1, 2)]

        async def make_room(pair: tuple[Member, Member]) -> tuple[str, Member, Member]:
            first, second = pair
            r = await client.post(
                "/api/v1/rooms",
                json={"title": f"Room {first.index}", "member_emails": [second.email]},
                headers={"Authorization": f"Bearer {first.token}"},
            )
            r.raise_for_status()
            return r.json()["id"], first, second

        rooms = await bounded_gather(pairs, make_room, limit=IN_FLIGHT, label="rooms")
        await asyncio.sleep(1.0)
        rss_before = rss_kib(server.pid)

        tally = Tally()

        async def open_socket(member: Member) -> None:
            member.ws = await connect(
                f"{server.ws_url}/api/v1/ws",
                additional_headers={"Authorization": f"Bearer {member.token}"},
                proxy=None,
                open_timeout=60,
                close_timeout=2,
                max_queue=None,
            )
            hello = json.loads(await member.ws.recv())
            if hello.get("type") != "hello":
                raise RuntimeError(f"first frame was not hello: {hello}")

        sockets_started = time.perf_counter()
        await bounded_gather(members, open_socket, limit=IN_FLIGHT, label="sockets")
        connect_s = time.perf_counter() - sockets_started
        readers = [asyncio.create_task(_reader(m, tally)) for m in members]
        try:
            await asyncio.sleep(1.0)
            rss_connected = rss_kib(server.pid)
            connected_gauge = await _connected_users(client)

            # Phase 1: one message at a time, so nothing queues.
            idle_rooms = rooms[:IDLE_MESSAGES]
            failures = 0
            for number, room in enumerate(idle_rooms):
                failures += await _post_round(
                    client, [room], tally, label=f"i{number}", limit=1, flip=False
                )
                await _wait_delivered(tally, number + 1, ROUND_WAIT)
            idle_keys = [k for k in tally.expected_receiver if k.startswith("i")]
            progress(f"idle phase {len(tally.latency_ms)}/{len(idle_rooms)} delivered")

            # Phase 2: every room posts each round, IN_FLIGHT POSTs at a time.
            load_started = time.perf_counter()
            for number in range(ROUNDS):
                failures += await _post_round(
                    client, rooms, tally, label=f"r{number}", limit=IN_FLIGHT, flip=number % 2 == 1
                )
                await _wait_delivered(tally, len(tally.expected_receiver), ROUND_WAIT)
                progress(
                    f"round {number + 1}/{ROUNDS}: delivered "
                    f"{len(tally.latency_ms)}/{len(tally.expected_receiver)}"
                )
            load_s = time.perf_counter() - load_started
            await asyncio.sleep(0.5)  # a late duplicate would show up here
            rss_after = rss_kib(server.pid)
        finally:
            for task in readers:
                task.cancel()
            await asyncio.gather(*readers, return_exceptions=True)
            await asyncio.gather(
                *(m.ws.close() for m in members if m.ws is not None), return_exceptions=True
            )

    idle = _summary([tally.latency_ms[k] for k in idle_keys if k in tally.latency_ms])
    loaded_samples = [v for k, v in tally.latency_ms.items() if k.startswith("r")]
    loaded = _summary(loaded_samples)
    idle_post = _summary([tally.post_ms[k] for k in idle_keys if k in tally.post_ms])
    loaded_post = _summary([v for k, v in tally.post_ms.items() if k.startswith("r")])
    expected = len(tally.expected_receiver)
    delivered = len(tally.latency_ms)
    loaded_expected = ROUNDS * len(rooms)
    common = {"users": USERS, "rooms": len(rooms), "rounds": ROUNDS, "in_flight": IN_FLIGHT}

    def mib(kib: int | None) -> float | None:
        return None if kib is None else round(kib / 1024, 1)

    rows: list[dict[str, Any]] = [
        {"name": "ws_delivery_p50", "value": loaded["p50"], "unit": "ms", **common},
        {"name": "ws_delivery_p95", "value": loaded["p95"], "unit": "ms", **common},
        {"name": "ws_delivery_p99", "value": loaded["p99"], "unit": "ms", **common},
        {"name": "ws_delivery_max", "value": loaded["max"], "unit": "ms", **common},
        {
            "name": "ws_delivery_idle_p50",
            "value": idle["p50"],
            "unit": "ms",
            "note": "one POST in flight",
        },
        {"name": "ws_delivery_idle_p99", "value": idle["p99"], "unit": "ms"},
        {
            "name": "ws_post_response_p50",
            "value": loaded_post["p50"],
            "unit": "ms",
            "note": "POST round trip under load",
            "p95": loaded_post["p95"],
            "p99": loaded_post["p99"],
        },
        {
            "name": "ws_post_response_idle_p50",
            "value": idle_post["p50"],
            "unit": "ms",
            "note": "POST round trip, one in flight",
        },
        {
            "name": "ws_delivered",
            "value": delivered,
            "unit": f"of {expected}",
            "target": expected,
            "meets_target": delivered == expected and failures == 0,
            "post_failures": failures,
            "misrouted": tally.misrouted,
        },
        {"name": "ws_duplicates", "value": tally.duplicates, "unit": "frames", "target": 0},
        {
            "name": "ws_post_throughput",
            "value": loaded_expected / load_s if load_s else float("nan"),
            "unit": "msg/s",
            "note": "POST + delivery, SQLite",
        },
        {
            "name": "ws_server_rss_connected",
            "value": mib(rss_connected),
            "unit": "MiB",
            "note": f"{USERS} sockets open; gauge {connected_gauge}",
        },
        {"name": "ws_server_rss_before_sockets", "value": mib(rss_before), "unit": "MiB"},
        {"name": "ws_server_rss_after_rounds", "value": mib(rss_after), "unit": "MiB"},
        {
            "name": "ws_rss_per_socket",
            "value": (
                (rss_connected - rss_before) / USERS
                if rss_connected is not None and rss_before is not None
                else None
            ),
            "unit": "KiB",
        },
        {"name": "ws_connect_all", "value": connect_s, "unit": "s"},
        {"name": "ws_setup_users", "value": setup_users_s, "unit": "s", "note": "signup+login"},
    ]
    return rows


async def _connected_users(client: httpx.AsyncClient) -> int | None:
    with contextlib.suppress(httpx.HTTPError, ValueError):
        for line in (await client.get("/metrics")).text.splitlines():
            if line.startswith("parlay_ws_connected_users "):
                return int(float(line.split()[1]))
    return None


def run() -> list[dict[str, Any]]:
    if USERS < 2 or USERS % 2:
        raise ValueError("BENCH_WS_USERS must be an even number >= 2")
    with tempfile.TemporaryDirectory(prefix="parlay-bench-ws-") as tmp:
        data = Path(tmp)
        server = Server(
            {
                "PARLAY_ENV": "test",
                "PARLAY_DATABASE_URL": f"sqlite:///{data / 'parlay.db'}",
                "PARLAY_DATA_DIR": str(data),
                "PARLAY_SECRET_KEY": "bench-secret-key",
                "PARLAY_RATE_LIMITS": "off",
            },
            log_path=data / "server.log",
        )
        progress(f"ws_delivery: parlay serve on {server.base_url}")
        server.start()
        try:

            async def main() -> list[dict[str, Any]]:
                await server.wait_ready()
                return await _bench(server)

            return asyncio.run(asyncio.wait_for(main(), HARD_TIMEOUT))
        except BaseException:
            print(server.log_tail(), file=sys.stderr)
            raise
        finally:
            server.stop()


def main() -> None:
    for row in run():
        value = row["value"]
        shown = f"{value:.2f}" if isinstance(value, float) else str(value)
        print(f"{row['name']:<30}{shown:>12} {row['unit']}")


if __name__ == "__main__":
    main()
