"""Notification fan-out: a meeting booked in a 50-member room, on a real ``parlay serve`` with
its embedded outbox worker, e-mail to a local aiosmtpd (SQLite, then PostgreSQL).

Reported per round (median of ``ROUNDS``, each a fresh invite and another booker): the time from
sending the booking until all 49 in-app notifications exist (they are written in the booking's
transaction, so that is the booking's answer; checked afterwards: every member but the booker
has exactly one more unread) and until all 50 e-mails (the booker's included) have been handed
to the SMTP server.
"""

from __future__ import annotations

import asyncio
import statistics
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from aiosmtpd.controller import Controller
from bench.booking_throughput import ALL_DAY, _token
from bench.common import Server, free_port, on_each_backend, progress

MEMBERS = 50
ROUNDS = 3
NOW = datetime(2026, 11, 30, tzinfo=UTC)
MAIL_WAIT_SECONDS = 120.0


class Catcher:
    """Counts accepted messages and when each arrived (monotonic clock)."""

    def __init__(self) -> None:
        self.arrivals: list[float] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        with self.lock:
            self.arrivals.append(time.perf_counter())
        return "250 OK"

    def count(self) -> int:
        with self.lock:
            return len(self.arrivals)


async def _unread(client: httpx.AsyncClient, token: str) -> int:
    r = await client.get(
        "/api/v1/notifications",
        params={"limit": 1},
        headers={"Authorization": f"Bearer {token}"},
    )
    r.raise_for_status()
    return int(r.json()["unread_count"])


async def _measure(backend: str, tmp: str, db_env: dict[str, str]) -> list[dict[str, Any]]:
    catcher = Catcher()
    smtp_port = free_port()
    controller = Controller(catcher, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    server = Server(
        {
            "PARLAY_ENV": "test",
            "PARLAY_DATA_DIR": tmp,
            "PARLAY_RATE_LIMITS": "off",
            "PARLAY_NOW": NOW.isoformat(),
            "PARLAY_SMTP_HOST": "127.0.0.1",
            "PARLAY_SMTP_PORT": str(smtp_port),
            **db_env,
        },
        log_path=Path(tmp) / "server.log",
    )
    server.start()
    in_app_ms: list[float] = []
    mail_ms: list[float] = []
    complete = True
    try:
        await server.wait_ready()
        async with httpx.AsyncClient(base_url=server.base_url, timeout=60) as client:
            progress(f"{backend}: {MEMBERS} members")
            people = [await _token(client, f"member{i}") for i in range(MEMBERS)]
            host = people[0][1]
            auth = {"Authorization": f"Bearer {host}"}
            r = await client.post(
                "/api/v1/rooms",
                json={"title": "Everyone", "member_emails": [e for e, _ in people[1:]]},
                headers=auth,
            )
            r.raise_for_status()
            room = r.json()["id"]
            for n in range(ROUNDS):
                r = await client.post(
                    f"/api/v1/rooms/{room}/invites",
                    json={"time_zone": "UTC", "weekly": ALL_DAY, "duration_minutes": 30},
                    headers=auth,
                )
                r.raise_for_status()
                booker = people[1 + n][1]
                before = [await _unread(client, t) for _e, t in people]
                mails_before = catcher.count()
                start = NOW + timedelta(days=1 + n, hours=9)
                began = time.perf_counter()
                r = await client.post(
                    f"/api/v1/invites/{r.json()['id']}/book",
                    json={"start": start.isoformat()},
                    headers={"Authorization": f"Bearer {booker}"},
                )
                r.raise_for_status()
                in_app_ms.append((time.perf_counter() - began) * 1000)
                deadline = time.monotonic() + MAIL_WAIT_SECONDS
                while catcher.count() < mails_before + MEMBERS and time.monotonic() < deadline:  # noqa: ASYNC110 (aiosmtpd counts in its own thread)
                    await asyncio.sleep(0.01)
                with catcher.lock:
                    arrived = catcher.arrivals[mails_before:]
                if len(arrived) < MEMBERS:
                    complete = False
                else:
                    mail_ms.append((arrived[MEMBERS - 1] - began) * 1000)
                after = [await _unread(client, t) for _e, t in people]
                told = sum(1 for b, a in zip(before, after, strict=True) if a == b + 1)
                complete = complete and told == MEMBERS - 1
                progress(
                    f"{backend}: round {n + 1}/{ROUNDS}: in-app {in_app_ms[-1]:.0f} ms, "
                    f"{len(arrived)} mails, {told} members told"
                )
    finally:
        server.stop()
        controller.stop()
    return [
        {
            "name": f"{backend}: 49 in-app notifications (booking answered)",
            "median_ms": round(statistics.median(in_app_ms), 1),
            "rounds": len(in_app_ms),
            "all_notified": complete,
        },
        {
            "name": f"{backend}: all 50 e-mails handed to SMTP",
            "median_ms": round(statistics.median(mail_ms), 1) if mail_ms else None,
            "rounds": len(mail_ms),
            "all_delivered": complete,
        },
    ]


def run() -> list[dict[str, Any]]:
    return on_each_backend(_measure, "fanout")


if __name__ == "__main__":
    for row in run():
        print(row)
