"""HTTP latency of the ``dates`` endpoint beside ``/healthz``, measured in the same run.

One real ``parlay serve`` (SQLite, in-process workers; then PostgreSQL when it answers);
alice shares Mon–Fri 09:00–17:00 Europe/Berlin, 30-minute slots; bob asks for 30 days of
available dates.  50 concurrent keep-alive clients each send their share of requests; latency
is per request, client-side; the server's CPU time per request is read from /proc.  Five
rounds of healthz-then-dates; medians are reported.  Target: dates p50 within 3x of healthz p50.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from datetime import UTC, datetime, timedelta
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

CLIENTS = 50
REQUESTS = 2000
ROUNDS = 5
WEEKDAYS = {d: [{"start": "09:00", "end": "17:00"}] for d in ("mon", "tue", "wed", "thu", "fri")}


async def _person(client: httpx.AsyncClient, name: str) -> str:
    email = f"{name}@bench.example"
    r = await client.post(
        "/api/v1/auth/signup",
        json={
            "email": email,
            "password": PASSWORD,
            "display_name": name,
            "time_zone": "Europe/Berlin",
        },
    )
    r.raise_for_status()
    r = await client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    csrf = r.json()["csrf_token"]
    r = await client.post(
        "/api/v1/me/tokens", json={"name": "bench"}, headers={"X-CSRF-Token": csrf}
    )
    client.cookies.clear()
    return str(r.json()["token"])


async def _keep_alive_client(
    host: str, port: int, target: bytes, samples: list[float], count: int
) -> None:
    """One client: ``count`` GETs, one after another, on one keep-alive connection."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        for _ in range(count):
            started = time.perf_counter()
            writer.write(target)
            status, body = await read_response(reader)
            samples.append((time.perf_counter() - started) * 1000)
            if status != 200:
                raise RuntimeError(f"{status} {body[:200]!r}")
    finally:
        writer.close()


async def _measure(base_url: str, path: str, params: dict[str, str], token: str) -> list[float]:
    """Per-request latency at CLIENTS concurrent keep-alive connections.

    The clients speak HTTP/1.1 over plain asyncio streams: a general-purpose client such as
    httpx spends several milliseconds of CPU per request, which on a shared 2-core machine
    makes the *client* the bottleneck and hides what the server costs (measured: /healthz
    p50 ~180 ms through httpx, ~20 ms through these clients, same server)."""
    url = httpx.URL(base_url).join(path).copy_merge_params(params)
    host, port = url.host, url.port or 80
    target = (
        f"GET {url.raw_path.decode()} HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Authorization: Bearer {token}\r\n\r\n"
    ).encode()
    samples: list[float] = []
    await asyncio.gather(
        *(
            _keep_alive_client(host, port, target, samples, REQUESTS // CLIENTS)
            for _ in range(CLIENTS)
        )
    )
    return samples


async def _measure_server(backend: str, tmp: str, db_env: dict[str, str]) -> list[dict[str, Any]]:
    server = Server(
        {"PARLAY_ENV": "test", "PARLAY_DATA_DIR": tmp, "PARLAY_RATE_LIMITS": "off", **db_env},
        log_path=Path(tmp) / "server.log",
    )
    server.start()
    try:
        await server.wait_ready()
        async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as client:
            alice = await _person(client, "alice")
            bob = await _person(client, "bob")
            auth = {"Authorization": f"Bearer {alice}"}
            room = await client.post(
                "/api/v1/rooms",
                json={"title": "bench", "member_emails": ["bob@bench.example"]},
                headers=auth,
            )
            invite = await client.post(
                f"/api/v1/rooms/{room.json()['id']}/invites",
                json={"time_zone": "Europe/Berlin", "weekly": WEEKDAYS, "duration_minutes": 30},
                headers=auth,
            )
        today = datetime.now(UTC).date()
        params = {
            "from": today.isoformat(),
            "to": (today + timedelta(days=30)).isoformat(),
            "tz": "Europe/Berlin",
        }
        dates_path = f"/api/v1/invites/{invite.json()['id']}/dates"
        await _measure(server.base_url, dates_path, params, bob)  # warm-up
        rounds: list[dict[str, tuple[float, float, float]]] = []
        for n in range(1, ROUNDS + 1):
            found = {}
            for name, path, query in (
                ("healthz", "/healthz", {}),
                ("dates", dates_path, params),
            ):
                progress(f"round {n}/{ROUNDS}: {name}, {REQUESTS} requests, {CLIENTS} clients")
                cpu = _cpu_seconds(server.pid)
                samples = await _measure(server.base_url, path, query, bob)
                cpu_ms = (_cpu_seconds(server.pid) - cpu) * 1000 / len(samples)
                found[name] = (percentile(samples, 50), percentile(samples, 99), cpu_ms)
            rounds.append(found)
    finally:
        server.stop()
    return _rows(backend, rounds)


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time the server process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rows(
    backend: str, rounds: list[dict[str, tuple[float, float, float]]]
) -> list[dict[str, Any]]:
    """Medians over the rounds; the ratio is taken within each round (same machine load for
    both endpoints) and then its median, so one noisy round does not decide it."""
    tag = f"[{backend}] "
    rows: list[dict[str, Any]] = []
    for name, label in (("healthz", "healthz"), ("dates", "dates 30 days")):
        for index, what in ((0, "p50"), (1, "p99")):
            value = statistics.median(r[name][index] for r in rounds)
            rows.append(
                {
                    "name": f"{tag}{label} {what} ({CLIENTS} clients)",
                    "value": round(value, 2),
                    "unit": "ms",
                }
            )
        cpu = statistics.median(r[name][2] for r in rounds)
        rows.append(
            {"name": f"{tag}{label} server CPU per request", "value": round(cpu, 3), "unit": "ms"}
        )
    ratios = [r["dates"][0] / r["healthz"][0] for r in rounds]
    ratio = statistics.median(ratios)
    rows.append(
        {
            "name": tag
            + "dates p50 / healthz p50 (median of rounds: "
            + ", ".join(f"{x:.2f}" for x in ratios)
            + ")",
            "value": round(ratio, 2),
            "unit": "x",
            "target": "<= 3",
            "meets_target": ratio <= 3,
        }
    )
    return rows


def run() -> list[dict[str, Any]]:
    return on_each_backend(_measure_server, "http")


if __name__ == "__main__":
    for row in run():
        print(row)
