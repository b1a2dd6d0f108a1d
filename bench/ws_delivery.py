"""Live delivery over WebSockets: ``python bench/ws_delivery.py``.

Three configurations, side by side in one run: one ``parlay serve`` on SQLite; one on
PostgreSQL; two on that same PostgreSQL database behind Redis (the members of each room on
different nodes, so every message crosses from one node to the other).  Rate limits off,
loopback.  500 users in 250 rooms of two, each with a bearer token and one open
``WS /api/v1/ws``.  Then, round after round,
(after one unmeasured round, in which each node opens its connection pools) one member of
every room posts a message (at most 50 POSTs in flight; the posting member
alternates per round and from one room to the next, so that with two nodes half the POSTs of
every round go to each, as a balancer spreads them) whose body carries the client's send timestamp, and the latency is the
moment the OTHER member's socket receives the ``message.created`` frame minus the moment just
before the POST was sent.  A short first phase posts one message at a time (no queueing) to show
the latency of the path itself.  Every message must arrive exactly once.

Figures per configuration: p50/p95/p99/max latency (ms), messages delivered / expected,
duplicates, POST throughput, the CPU each message costs the servers, PostgreSQL and this client
during the loaded rounds (where a second node's work goes), and the servers' resident memory (``VmRSS``) before the sockets
open (after ``WARM_SOCKETS`` warm-up sockets per node) and with all 500 connected.  Sizes can be lowered for a quick check with
``BENCH_WS_USERS`` (even) and ``BENCH_WS_ROUNDS``; ``BENCH_WS_CONFIGS`` picks configurations
(``sqlite,postgres,postgres-x2``).  Each configuration is bounded by ``HARD_TIMEOUT`` seconds.
The PostgreSQL runs share their users and rooms (signed up once, through the API).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from common import (
    PASSWORD,
    CpuTally,
    Server,
    bounded_gather,
    database,
    percentile,
    postgres_answers,
    postgres_pids,
    progress,
    read_response,
    rss_kib,
)
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

USERS = int(os.environ.get("BENCH_WS_USERS", "500"))
ROUNDS = int(os.environ.get("BENCH_WS_ROUNDS", "20"))  # ~0.2 s each: enough to steady the figures
CONFIGS = os.environ.get("BENCH_WS_CONFIGS", "sqlite,postgres,postgres-x2").split(",")
IN_FLIGHT = 50
#: Sockets each node gets before its memory is read (an extra socket of some members, open
#: to the end and counted in neither reading): the per-socket figure is the cost of one more.
WARM_SOCKETS = 10
IDLE_MESSAGES = 50  # posted one at a time before the loaded rounds
SIGNUP_CONCURRENCY = 16  # argon2 hashing (cheap with PARLAY_ENV=test) is CPU-bound
ROUND_WAIT = 30.0  # seconds a round may take to be delivered after its last POST
HARD_TIMEOUT = 600.0
REDIS_URL = "redis://127.0.0.1:6379/0"
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


class LeanPoster:
    """POSTs over up to ``size`` persistent HTTP/1.1 connections spoken by hand.

    httpx spends several milliseconds of client CPU per request: on this 2-core machine that
    made the bench's own process the bottleneck (the server sat 60% idle while "throughput"
    was measured).  A connection idle for more than ``EXPIRY`` seconds is closed by us before
    uvicorn's 5 s keep-alive timeout can close it under a request (no retries: a failed POST
    is counted, never sent twice)."""

    EXPIRY = 2.0

    def __init__(self, base_url: str, size: int) -> None:
        url = httpx.URL(base_url)
        self._host, self._port = url.host, url.port or 80
        self._size = size
        self._opened = 0
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter, float]] = []
        self._free = asyncio.Condition()

    async def _take(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        async with self._free:
            while True:
                now = time.monotonic()
                while self._idle:
                    reader, writer, since = self._idle.pop()
                    if now - since < self.EXPIRY:
                        return reader, writer
                    writer.close()
                    self._opened -= 1
                if self._opened < self._size:
                    self._opened += 1
                    break
                await self._free.wait()
        try:
            return await asyncio.open_connection(self._host, self._port)
        except BaseException:
            await self._give_up()
            raise

    async def _give_up(self) -> None:
        async with self._free:
            self._opened -= 1
            self._free.notify()

    async def post(self, path: str, payload: dict[str, Any], token: str) -> tuple[int, bytes]:
        body = json.dumps(payload).encode()
        request = (
            f"POST {path} HTTP/1.1\r\nHost: {self._host}:{self._port}\r\n"
            f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode() + body
        reader, writer = await self._take()
        try:
            writer.write(request)
            answer = await read_response(reader)
        except BaseException:
            writer.close()
            await self._give_up()
            raise
        async with self._free:
            self._idle.append((reader, writer, time.monotonic()))
            self._free.notify()
        return answer

    async def close(self) -> None:
        for _reader, writer, _since in self._idle:
            writer.close()
        self._idle.clear()


async def _post_round(
    clients: list[LeanPoster],
    rooms: list[tuple[str, Member, Member]],
    tally: Tally,
    *,
    label: str,
    limit: int,
    flip: bool,
) -> int:
    """Post one message per room, each on its sender's node; returns how many POSTs failed.
    The sender is the room's first or second member, alternately from room to room (and the
    other way round with ``flip``): with two nodes each takes half the posts."""
    failures = 0

    async def post(item: tuple[int, tuple[str, Member, Member]]) -> None:
        nonlocal failures
        number, (room_id, first, second) = item
        sender, receiver = (second, first) if flip != (number % 2 == 1) else (first, second)
        client = clients[sender.index % len(clients)]
        key = f"{label}.{number}"
        tally.expected_receiver[key] = receiver.index
        sent_at = time.perf_counter()
        try:
            status, answer = await client.post(
                f"/api/v1/rooms/{room_id}/messages",
                {"body": f"{PREFIX} {key} {sent_at!r}"},
                sender.token,
            )
        except (OSError, asyncio.IncompleteReadError) as exc:  # counted, never retried
            progress(f"POST {key} failed: {exc!r}")
            failures += 1
            return
        tally.post_ms[key] = (time.perf_counter() - sent_at) * 1000
        if status != 201:
            progress(f"POST {key} answered {status}: {answer[:200]!r}")
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


def _client(base_url: str) -> httpx.AsyncClient:
    # uvicorn drops idle keep-alive connections after 5 s; closing them first on our side
    # avoids reusing one just as the server closes it (a spurious ReadError).
    limits = httpx.Limits(
        max_connections=IN_FLIGHT, max_keepalive_connections=IN_FLIGHT, keepalive_expiry=2.0
    )
    return httpx.AsyncClient(base_url=base_url, timeout=60, limits=limits, trust_env=False)


async def _setup(server: Server) -> tuple[list[Member], list[tuple[str, Member, Member]], float]:
    """Sign up USERS people (token each) and pair them in rooms, through the API."""
    started = time.perf_counter()
    members = [Member(i, f"bench{i}@example.com") for i in range(USERS)]
    await bounded_gather(
        members,
        lambda m: _sign_up(server.base_url, m),
        limit=SIGNUP_CONCURRENCY,
        label="users",
    )
    setup_users_s = time.perf_counter() - started
    async with _client(server.base_url) as client:
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
    return members, rooms, setup_users_s


async def _open_socket(server: Server, member: Member) -> None:
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


def _rss_sum(servers: list[Server]) -> int | None:
    found = [rss_kib(s.pid) for s in servers]
    return None if any(v is None for v in found) else sum(v for v in found if v is not None)


async def _measure(
    servers: list[Server],
    members: list[Member],
    rooms: list[tuple[str, Member, Member]],
    tag: str,
) -> list[dict[str, Any]]:
    """Open every member's socket on its node (member i on node i mod n), then the idle phase
    and the loaded rounds; the rows are named with ``tag``."""
    clients = [_client(s.base_url) for s in servers]
    posters = [LeanPoster(s.base_url, IN_FLIGHT) for s in servers]
    tally = Tally()
    warm: list[ClientConnection] = []
    try:
        # A few sockets per node first, kept open to the end: a node's first sockets pay
        # once for what every later one shares (code paths run for the first time, caches,
        # allocator arenas); the per-socket figure is what each further socket adds.
        for n, server in enumerate(servers):
            for member in members[n : n + WARM_SOCKETS * len(servers) : len(servers)]:
                await _open_socket(server, member)
                assert member.ws is not None
                warm.append(member.ws)
                member.ws = None
        await asyncio.sleep(1.0)
        rss_before = _rss_sum(servers)
        sockets_started = time.perf_counter()
        await bounded_gather(
            members,
            lambda m: _open_socket(servers[m.index % len(servers)], m),
            limit=IN_FLIGHT,
            label="sockets",
        )
        connect_s = time.perf_counter() - sockets_started
        readers = [asyncio.create_task(_reader(m, tally)) for m in members]
        try:
            await asyncio.sleep(1.0)
            rss_connected = _rss_sum(servers)
            gauges = [await _connected_users(c) for c in clients]

            # Phase 1: one message at a time, so nothing queues.
            idle_rooms = rooms[:IDLE_MESSAGES]
            failures = 0
            for number, room in enumerate(idle_rooms):
                failures += await _post_round(
                    posters, [room], tally, label=f"i{number}", limit=1, flip=False
                )
                await _wait_delivered(tally, number + 1, ROUND_WAIT)
            idle_keys = [k for k in tally.expected_receiver if k.startswith("i")]
            progress(f"{tag}idle phase {len(tally.latency_ms)}/{len(idle_rooms)} delivered")

            # Phase 2: every room posts each round, IN_FLIGHT POSTs at a time.  One round
            # first, not measured: the nodes open their pools' connections on its first
            # POSTs (tens of ms each while the others queue), once per process lifetime.
            failures += await _post_round(
                posters, rooms, tally, label="w", limit=IN_FLIGHT, flip=False
            )
            await _wait_delivered(tally, len(tally.expected_receiver), ROUND_WAIT)
            progress(f"{tag}warm-up round delivered")
            tally_cpu = CpuTally(
                {
                    "servers": lambda: [s.pid for s in servers],
                    "postgres": postgres_pids,
                    "client": lambda: [os.getpid()],
                }
            )
            load_started = time.perf_counter()
            for number in range(ROUNDS):
                failures += await _post_round(
                    posters, rooms, tally, label=f"r{number}", limit=IN_FLIGHT, flip=number % 2 == 1
                )
                await _wait_delivered(tally, len(tally.expected_receiver), ROUND_WAIT)
                progress(
                    f"{tag}round {number + 1}/{ROUNDS}: delivered "
                    f"{len(tally.latency_ms)}/{len(tally.expected_receiver)}"
                )
            load_s = time.perf_counter() - load_started
            cpu_used = tally_cpu.used()
            await asyncio.sleep(0.5)  # a late duplicate would show up here
            rss_after = _rss_sum(servers)
        finally:
            for task in readers:
                task.cancel()
            await asyncio.gather(*readers, return_exceptions=True)
            await asyncio.gather(
                *(m.ws.close() for m in members if m.ws is not None), return_exceptions=True
            )
            for m in members:
                m.ws = None
    finally:
        await asyncio.gather(*(ws.close() for ws in warm), return_exceptions=True)
        for client in clients:
            await client.aclose()
        for poster in posters:
            await poster.close()

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

    return [
        {"name": f"{tag}ws_delivery_p50", "value": loaded["p50"], "unit": "ms", **common},
        {"name": f"{tag}ws_delivery_p95", "value": loaded["p95"], "unit": "ms", **common},
        {
            "name": f"{tag}ws_delivery_p99",
            "value": loaded["p99"],
            "unit": "ms",
            "target": "<= 100",
            "meets_target": loaded["p99"] <= 100,
            **common,
        },
        {"name": f"{tag}ws_delivery_max", "value": loaded["max"], "unit": "ms", **common},
        {
            "name": f"{tag}ws_delivery_idle_p50",
            "value": idle["p50"],
            "unit": "ms",
            "note": "one POST in flight",
        },
        {"name": f"{tag}ws_delivery_idle_p99", "value": idle["p99"], "unit": "ms"},
        {
            "name": f"{tag}ws_post_response_p50",
            "value": loaded_post["p50"],
            "unit": "ms",
            "note": "POST round trip under load",
            "p95": loaded_post["p95"],
            "p99": loaded_post["p99"],
        },
        {
            "name": f"{tag}ws_post_response_idle_p50",
            "value": idle_post["p50"],
            "unit": "ms",
            "note": "POST round trip, one in flight",
        },
        {
            "name": f"{tag}ws_delivered",
            "value": delivered,
            "unit": f"of {expected}",
            "target": expected,
            "meets_target": delivered == expected and failures == 0,
            "post_failures": failures,
            "misrouted": tally.misrouted,
        },
        {"name": f"{tag}ws_duplicates", "value": tally.duplicates, "unit": "frames", "target": 0},
        {
            "name": f"{tag}ws_post_throughput",
            "value": loaded_expected / load_s if load_s else float("nan"),
            "unit": "msg/s",
            "note": "POST + delivery",
        },
        {
            "name": f"{tag}ws_server_rss_connected",
            "value": mib(rss_connected),
            "unit": "MiB",
            "note": f"{USERS} sockets open; gauges {gauges}",
        },
        {"name": f"{tag}ws_server_rss_before_sockets", "value": mib(rss_before), "unit": "MiB"},
        {"name": f"{tag}ws_server_rss_after_rounds", "value": mib(rss_after), "unit": "MiB"},
        {
            "name": f"{tag}ws_rss_per_socket",
            "value": (
                (rss_connected - rss_before) / USERS
                if rss_connected is not None and rss_before is not None
                else None
            ),
            "unit": "KiB",
        },
        {"name": f"{tag}ws_connect_all", "value": connect_s, "unit": "s"},
        *(
            {
                "name": f"{tag}ws_cpu_per_post_{group}",
                "value": seconds * 1000 / loaded_expected,
                "unit": "ms",
                "note": "CPU of the loaded rounds per message (a floor: see CpuTally)",
            }
            for group, seconds in cpu_used.items()
            if not (group == "postgres" and "sqlite" in tag)
        ),
    ]


async def _connected_users(client: httpx.AsyncClient) -> int | None:
    with contextlib.suppress(httpx.HTTPError, ValueError):
        for line in (await client.get("/metrics")).text.splitlines():
            if line.startswith("parlay_ws_connected_users "):
                return int(float(line.split()[1]))
    return None


def _env(data: Path, db_env: dict[str, str], **more: str) -> dict[str, str]:
    return {
        "PARLAY_ENV": "test",
        "PARLAY_DATABASE_URL": f"sqlite:///{data / 'parlay.db'}",
        "PARLAY_DATA_DIR": str(data),
        "PARLAY_SECRET_KEY": "bench-secret-key",
        "PARLAY_RATE_LIMITS": "off",
        **db_env,
        **more,
    }


@contextlib.contextmanager
def _serving(envs: list[dict[str, str]], data: Path) -> Iterator[list[Server]]:
    servers = [Server(env, log_path=data / f"server{n}.log") for n, env in enumerate(envs)]
    try:
        for server in servers:
            server.start()
        yield servers
    except BaseException:
        for server in servers:
            print(server.log_tail(), file=sys.stderr)
        raise
    finally:
        for server in servers:
            server.stop()


async def _on_sqlite(data: Path) -> list[dict[str, Any]]:
    with _serving([_env(data, {})], data) as servers:
        await servers[0].wait_ready()
        members, rooms, setup_s = await _setup(servers[0])
        rows = await _measure(servers, members, rooms, "[sqlite] ")
    return [*rows, _setup_row("[sqlite] ", setup_s)]


async def _on_postgres(data: Path, db_env: dict[str, str]) -> list[dict[str, Any]]:
    """One node, then two behind Redis, on one database (the users are signed up once)."""
    rows: list[dict[str, Any]] = []
    with _serving([_env(data, db_env)], data) as servers:
        await servers[0].wait_ready()
        members, rooms, setup_s = await _setup(servers[0])
        rows += [_setup_row("[postgres] ", setup_s)]
        if "postgres" in CONFIGS:
            rows += await _measure(servers, members, rooms, "[postgres] ")
    if "postgres-x2" in CONFIGS:
        if not _redis_answers():
            progress("Redis does not answer on 127.0.0.1:6379: no two-node run")
            return rows
        prefix = f"parlay-bench-{uuid.uuid4().hex[:8]}"
        redis_env = {"PARLAY_REDIS_URL": REDIS_URL, "PARLAY_REDIS_KEY_PREFIX": prefix}
        envs = [_env(data, db_env, **redis_env) for _ in range(2)]
        # The second node leaves the outbox to the first (one worker, as in production).
        envs[1]["PARLAY_INPROCESS_WORKER"] = "false"
        with _serving(envs, data) as servers:
            for server in servers:
                await server.wait_ready()
            rows += await _measure(servers, members, rooms, "[postgres x2 redis] ")
    return rows


def _setup_row(tag: str, seconds: float) -> dict[str, Any]:
    return {"name": f"{tag}ws_setup_users", "value": seconds, "unit": "s", "note": "signup+login"}


def _redis_answers() -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", 6379), timeout=0.5):
        return True
    return False


def run() -> list[dict[str, Any]]:
    if USERS < 2 or USERS % 2:
        raise ValueError("BENCH_WS_USERS must be an even number >= 2")
    rows: list[dict[str, Any]] = []
    if "sqlite" in CONFIGS:
        with tempfile.TemporaryDirectory(prefix="parlay-bench-ws-") as tmp:
            progress("ws_delivery: SQLite, one node")
            rows += asyncio.run(asyncio.wait_for(_on_sqlite(Path(tmp)), HARD_TIMEOUT))
    if {"postgres", "postgres-x2"} & set(CONFIGS):
        if not postgres_answers():
            progress("PostgreSQL does not answer on 127.0.0.1:5432: SQLite only")
            return rows

        async def on_postgres(tmp: str) -> list[dict[str, Any]]:
            async with database("postgres") as db_env:
                return await asyncio.wait_for(_on_postgres(Path(tmp), db_env), 2 * HARD_TIMEOUT)

        with tempfile.TemporaryDirectory(prefix="parlay-bench-ws-") as tmp:
            progress("ws_delivery: PostgreSQL, one node then two behind Redis")
            rows += asyncio.run(on_postgres(tmp))
    return rows


def main() -> None:
    for row in run():
        value = row["value"]
        shown = f"{value:.2f}" if isinstance(value, float) else str(value)
        print(f"{row['name']:<40}{shown:>12} {row['unit']}")


if __name__ == "__main__":
    main()
