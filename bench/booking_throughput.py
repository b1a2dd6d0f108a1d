"""Booking throughput under contention: 50 bookers confirming at once across 50 invites of 10
hosts, on a real ``parlay serve`` (SQLite, then PostgreSQL when it answers).

Each booker is in a room of their own with one of the 10 hosts (5 bookers per host).  A round
shares a fresh all-day 30-minute invite in every room, then all 50 bookers confirm at once, each
a start drawn from 8 hours of one day: bookers of one host collide often (409 ``slot_taken``),
hosts never wait on each other.  Reported: successful bookings per second of wall time,
per-request latency p50/p99, the answers by status, and two invariants checked afterwards —
zero 500s and no host or booker in two overlapping meetings.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import httpx
from bench.common import (
    PASSWORD,
    Server,
    on_each_backend,
    percentile,
    progress,
    read_response,
)

HOSTS = 10
BOOKERS = 50
ROUNDS = 12
NOW = datetime(2026, 11, 30, tzinfo=UTC)
ALL_DAY = {
    d: [{"start": "00:00", "end": "24:00"}]
    for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
}


async def _token(client: httpx.AsyncClient, name: str) -> tuple[str, str]:
    email = f"{name}@bench.example"
    r = await client.post(
        "/api/v1/auth/signup",
        json={"email": email, "password": PASSWORD, "display_name": name, "time_zone": "UTC"},
    )
    r.raise_for_status()
    r = await client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    r.raise_for_status()
    csrf = r.json()["csrf_token"]
    r = await client.post(
        "/api/v1/me/tokens", json={"name": "bench"}, headers={"X-CSRF-Token": csrf}
    )
    r.raise_for_status()
    client.cookies.clear()
    return email, str(r.json()["token"])


class Booker:
    """One HTTP/1.1 connection over plain asyncio streams (a general-purpose
    client's own CPU cost would dominate on 2 shared cores; see bench/http_latency.py)."""

    def __init__(self, host: str, port: int, token: str) -> None:
        self.host, self.port, self.token = host, port, token
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: dict[str, Any]) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        payload = json.dumps(body).encode()
        self.writer.write(
            (
                f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
                f"Authorization: Bearer {self.token}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(payload)}\r\n\r\n"
            ).encode()
            + payload
        )
        return await read_response(self.reader)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def _measure(backend: str, tmp: str, db_env: dict[str, str]) -> list[dict[str, Any]]:
    server = Server(
        {
            "PARLAY_ENV": "test",
            "PARLAY_DATA_DIR": tmp,
            "PARLAY_RATE_LIMITS": "off",
            "PARLAY_NOW": NOW.isoformat(),
            **db_env,
        },
        log_path=Path(tmp) / "server.log",
    )
    server.start()
    rng = random.Random(7)
    try:
        await server.wait_ready()
        async with httpx.AsyncClient(base_url=server.base_url, timeout=60) as client:
            progress(f"{backend}: {HOSTS} hosts, {BOOKERS} bookers")
            hosts = [await _token(client, f"host{i}") for i in range(HOSTS)]
            bookers = [await _token(client, f"booker{i}") for i in range(BOOKERS)]
            rooms = []
            for i, (email, _) in enumerate(bookers):
                host_token = hosts[i % HOSTS][1]
                r = await client.post(
                    "/api/v1/rooms",
                    json={"title": f"room {i}", "member_emails": [email]},
                    headers={"Authorization": f"Bearer {host_token}"},
                )
                r.raise_for_status()
                rooms.append((r.json()["id"], host_token))
            url = httpx.URL(server.base_url)
            clients = [Booker(url.host, url.port or 80, token) for _email, token in bookers]
            latencies: list[float] = []
            answers: Counter[str] = Counter()
            busy_seconds = 0.0
            for n in range(ROUNDS):
                invites = []
                for room_id, host_token in rooms:
                    r = await client.post(
                        f"/api/v1/rooms/{room_id}/invites",
                        json={
                            "time_zone": "UTC",
                            "weekly": ALL_DAY,
                            "duration_minutes": 30,
                            "min_notice_minutes": 0,
                        },
                        headers={"Authorization": f"Bearer {host_token}"},
                    )
                    r.raise_for_status()
                    invites.append(r.json()["id"])
                day = NOW + timedelta(days=1 + n)
                starts = [day + timedelta(hours=9 + rng.randrange(8)) for _ in clients]

                async def one(booker: Booker, invite: str, start: datetime) -> None:
                    started = time.perf_counter()
                    status, body = await booker.post(
                        f"/api/v1/invites/{invite}/book", {"start": start.isoformat()}
                    )
                    latencies.append((time.perf_counter() - started) * 1000)
                    code = json.loads(body)["error"]["code"] if status >= 400 else ""
                    answers[f"{status} {code}".strip()] += 1

                began = time.perf_counter()
                await asyncio.gather(*map(one, clients, invites, starts))
                busy_seconds += time.perf_counter() - began
                for c in clients:  # idle through the next round's setup: the server may close
                    c.close()
                progress(f"{backend}: round {n + 1}/{ROUNDS}: {dict(answers)}")
            overlaps = 0
            for _email, token in hosts + bookers:
                r = await client.get(
                    "/api/v1/meetings",
                    params={"limit": 200},
                    headers={"Authorization": f"Bearer {token}"},
                )
                spans = sorted(
                    (m["start"], m["end"])
                    for m in r.json()["meetings"]
                    if m["status"] == "scheduled"
                )
                overlaps += sum(1 for a, b in pairwise(spans) if a[1] > b[0])
    finally:
        server.stop()
    booked = answers.get("201", 0)
    errors = sum(v for k, v in answers.items() if k.startswith("5"))
    tag = f"[{backend}] "
    details = {"answers": dict(answers), "requests": len(latencies)}
    return [
        {
            "name": f"{tag}bookings/s ({BOOKERS} at once)",
            "value": round(booked / busy_seconds, 1),
            "unit": "/s",
            **details,
        },
        {"name": f"{tag}book p50", "value": round(percentile(latencies, 50), 1), "unit": "ms"},
        {"name": f"{tag}book p99", "value": round(percentile(latencies, 99), 1), "unit": "ms"},
        {
            "name": f"{tag}book 5xx answers",
            "value": errors,
            "unit": "count",
            "target": 0,
            "meets_target": errors == 0,
        },
        {
            "name": f"{tag}overlapping meetings",
            "value": overlaps,
            "unit": "count",
            "target": 0,
            "meets_target": overlaps == 0,
        },
    ]


def run() -> list[dict[str, Any]]:
    return on_each_backend(_measure, "book")


if __name__ == "__main__":
    for row in run():
        print(row)
