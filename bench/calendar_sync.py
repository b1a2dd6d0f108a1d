"""Linked calendars: ``dates`` with 1,000 mirrored busy events, and how long syncing them takes.

Per backend (SQLite, then PostgreSQL when it answers): a real Radicale holding 1,000 events
over the next 92 days (one bulk PUT of the collection), a real ``parlay serve``; alice links it
over the API (the first, full sync happens in that request), shares Mon–Fri 09:00–17:00 and
bob asks for 30 days of dates.

- Sync times, in process against the same database: a full sync of the calendar (its token
  forgotten first) and an incremental one after one event changed; medians of a few runs.
- Then Radicale is stopped, and ``dates`` is measured beside ``/healthz`` as in
  ``http_latency`` (50 keep-alive clients, rounds of healthz-then-dates): the read path must
  not call a provider, so a stopped provider changes nothing.  Target: dates p50 within 3x of
  healthz p50.

The same sync times against the Google emulator (``python -m parlay_emulators.google``, 1,000
events seeded through its control API, tokens from its consent flow).
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from bench.common import Server, free_port, live_cpu_seconds, on_each_backend, percentile, progress
from bench.http_latency import WEEKDAYS, _measure, _person, _request
from sqlalchemy import func, select, update
from tests.providers.google_fixtures import GoogleEmulator

from parlay.container import Container
from parlay.db.calendar_models import BusyBlock, CalendarConnection, LinkedCalendar
from parlay.providers.dto import Credentials
from parlay.settings import Settings

EVENTS = 1000
WINDOW = timedelta(days=92)
FULL_RUNS = 1
INCREMENTAL_RUNS = 3
ROUNDS = 3
SECRET_KEY = "bench-calendar-sync-secret"
RADICALE_USER, RADICALE_PASSWORD = "alice", "alice-app-password"
MIRRORED, PLAIN = f"dates, {EVENTS} mirrored", "dates, no calendar"


def _event(uid: str, start: datetime, minutes: int = 30) -> str:
    end = start + timedelta(minutes=minutes)
    return (
        f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20260101T000000Z\r\n"
        f"DTSTART:{start:%Y%m%dT%H%M%SZ}\r\nDTEND:{end:%Y%m%dT%H%M%SZ}\r\n"
        f"SUMMARY:Busy\r\nEND:VEVENT\r\n"
    )


def _calendar(body: str) -> str:
    return (
        f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//parlay bench//EN\r\n{body}END:VCALENDAR\r\n"
    )


def event_starts(now: datetime) -> list[datetime]:
    """EVENTS starts spread evenly over the sync window, on the quarter hour."""
    first = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    step = (WINDOW - timedelta(days=1)) / EVENTS
    return [
        first + step * i - timedelta(minutes=(first + step * i).minute % 15) for i in range(EVENTS)
    ]


@contextlib.contextmanager
def radicale(folder: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A Radicale on loopback with one user (htpasswd ``plain``); yields its URL."""
    users = folder / "users"
    users.write_text(f"{RADICALE_USER}:{RADICALE_PASSWORD}\n")
    port = free_port()
    config = folder / "radicale.conf"
    config.write_text(
        f"[server]\nhosts = 127.0.0.1:{port}\n"
        f"[auth]\ntype = htpasswd\nhtpasswd_filename = {users}\nhtpasswd_encryption = plain\n"
        f"delay = 0\n[storage]\nfilesystem_folder = {folder / 'radicale'}\n"
        "[rights]\ntype = owner_only\n[logging]\nlevel = warning\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "radicale", "--config", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait(url)
        yield url, proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=10)


def _wait(url: str) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(url, timeout=0.5)
            return
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def _dav(url: str) -> httpx.Client:
    return httpx.Client(base_url=url, auth=(RADICALE_USER, RADICALE_PASSWORD), timeout=60)


def fill_radicale(url: str, path: str, now: datetime) -> float:
    """One PUT of a whole calendar (Radicale imports it as one item per UID); seconds taken."""
    body = "".join(_event(f"bench-{i}", start) for i, start in enumerate(event_starts(now)))
    began = time.perf_counter()
    with _dav(url) as dav:
        answer = dav.put(path, content=_calendar(body), headers={"Content-Type": "text/calendar"})
    if answer.status_code not in (201, 204):
        raise RuntimeError(f"bulk import: {answer.status_code} {answer.text[:200]}")
    return time.perf_counter() - began


def change_one_event(url: str, path: str, start: datetime) -> None:
    with _dav(url) as dav:
        answer = dav.put(
            f"{path}moving.ics",
            content=_calendar(_event("bench-moving", start)),
            headers={"Content-Type": "text/calendar"},
        )
    if answer.status_code not in (201, 204):
        raise RuntimeError(f"change: {answer.status_code}")


GOOGLE_EMAIL = "alice@bench.example"


@contextlib.contextmanager
def google_emulator(port: int) -> Iterator[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "parlay_emulators.google", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait(url + "/_emulator/accounts")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _google_event(start: datetime, summary: str = "Busy") -> dict[str, Any]:
    end = start + timedelta(minutes=30)
    return {
        "summary": summary,
        "start": {"dateTime": start.isoformat()},
        "end": {"dateTime": end.isoformat()},
    }


async def fill_google(url: str, now: datetime) -> float:
    """An account and EVENTS events in its primary calendar; seconds taken."""
    began = time.perf_counter()
    async with httpx.AsyncClient(base_url=url, timeout=60) as http:
        (await http.post("/_emulator/accounts", json={"email": GOOGLE_EMAIL})).raise_for_status()
        semaphore = asyncio.Semaphore(16)

        async def seed(start: datetime) -> None:
            async with semaphore:
                answer = await http.post(
                    f"/_emulator/calendars/{GOOGLE_EMAIL}/events", json=_google_event(start)
                )
                answer.raise_for_status()

        await asyncio.gather(*(seed(start) for start in event_starts(now)))
    return time.perf_counter() - began


class InProcess:
    """The application's own services over the server's database (sync timings, counts)."""

    def __init__(self, tmp: str, db_env: dict[str, str], google_url: str) -> None:

        database: dict[str, Any] = {"database_url": db_env["PARLAY_DATABASE_URL"]} if db_env else {}
        settings = Settings(
            env="test",
            data_dir=Path(tmp),
            secret_key=SECRET_KEY,
            inprocess_worker=False,
            google_api_url=google_url,
            google_userinfo_url=f"{google_url}/v1/userinfo",
            **database,
        )
        self.container = Container.build(settings)

    async def blocks(self) -> int:

        async with self.container.ctx.db.read() as session:
            return int(await session.scalar(select(func.count()).select_from(BusyBlock)) or 0)

    async def sync(self, connection: str, *, full: bool) -> tuple[float, set[str]]:
        """Seconds one sync took and what it did ({"full"} / {"incremental"})."""

        if full:
            async with self.container.ctx.db.write() as session:
                await session.execute(
                    update(LinkedCalendar)
                    .where(LinkedCalendar.connection_id == connection)
                    .values(sync_token=None)
                )
        calendars = self.container.calendars
        assert calendars is not None
        began = time.perf_counter()
        report = await calendars.busy_sync.sync(connection)
        took = time.perf_counter() - began
        if report is None:
            raise RuntimeError("the sync found no usable connection")
        return took, set(report.applied.values())

    async def link_google(self, user_id: str, emulator_url: str) -> str:
        """Link the emulator's account for ``user_id`` as the OAuth callback would (tokens from
        the emulator's own consent flow); the connection id."""

        with httpx.Client(base_url=emulator_url, timeout=30) as http:
            tokens = GoogleEmulator(emulator_url, http).tokens(GOOGLE_EMAIL)
        credentials = Credentials(
            access_token=tokens["access_token"], refresh_token=tokens.get("refresh_token")
        )
        calendars = self.container.calendars
        assert calendars is not None
        linked = await calendars.provider("google", credentials, "").link()
        return await calendars.store_link(user_id, "google", linked, credentials)

    async def disconnect(self, connection: str) -> None:

        calendars = self.container.calendars
        assert calendars is not None
        async with self.container.ctx.db.read() as session:
            row = await session.get(CalendarConnection, connection)
            assert row is not None
            user_id = row.user_id
        await calendars.disconnect(user_id, connection)

    async def close(self) -> None:
        await self.container.ctx.db.dispose()


async def sync_times(
    local: InProcess, connection: str, change: Any, tag: str, label: str
) -> list[dict[str, Any]]:
    """Medians of a few full and incremental (one event changed) syncs."""
    full, incremental = [], []
    for n in range(FULL_RUNS):
        progress(f"{tag}{label}: full sync {n + 1}/{FULL_RUNS}")
        took, did = await local.sync(connection, full=True)
        assert did == {"full"}, did
        full.append(took * 1000)
    for n in range(INCREMENTAL_RUNS):
        change(n)
        took, did = await local.sync(connection, full=False)
        assert did == {"incremental"}, did
        incremental.append(took * 1000)
    return [
        {
            "name": f"{tag}{label} full sync, {EVENTS} events",
            "median_ms": round(statistics.median(full), 1),
            "runs_ms": [round(x, 1) for x in full],
        },
        {
            "name": f"{tag}{label} incremental sync, 1 changed",
            "median_ms": round(statistics.median(incremental), 1),
            "runs_ms": [round(x, 1) for x in incremental],
        },
    ]


async def _measure_backend(backend: str, tmp: str, db_env: dict[str, str]) -> list[dict[str, Any]]:
    tag = f"[{backend}] "
    now = datetime.now(UTC)
    with google_emulator(free_port()) as google_url:
        return await _measure_with(backend, tmp, db_env, google_url, now, tag)


async def _measure_with(
    backend: str, tmp: str, db_env: dict[str, str], google_url: str, now: datetime, tag: str
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    with radicale(Path(tmp)) as (dav_url, dav_proc):
        path = f"/{RADICALE_USER}/bench/"
        seconds = fill_radicale(dav_url, path, now)
        progress(f"{tag}{EVENTS} events imported into Radicale in {seconds:.1f} s")
        server = Server(
            {
                "PARLAY_ENV": "test",
                "PARLAY_DATA_DIR": tmp,
                "PARLAY_RATE_LIMITS": "off",
                "PARLAY_SECRET_KEY": SECRET_KEY,
                **db_env,
            },
            log_path=Path(tmp) / "server.log",
        )
        server.start()
        local: InProcess | None = None
        try:
            await server.wait_ready()
            async with httpx.AsyncClient(base_url=server.base_url, timeout=120) as client:
                alice = await _person(server.base_url, "alice")
                bob = await _person(server.base_url, "bob")
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
                plain = await client.post(  # a host without a calendar, for comparison
                    f"/api/v1/rooms/{room.json()['id']}/invites",
                    json={"time_zone": "Europe/Berlin", "weekly": WEEKDAYS, "duration_minutes": 30},
                    headers={"Authorization": f"Bearer {bob}"},
                )
                began = time.perf_counter()
                linked = await client.post(
                    "/api/v1/calendars/caldav",
                    json={
                        "url": dav_url + path,
                        "username": RADICALE_USER,
                        "password": RADICALE_PASSWORD,
                    },
                    headers=auth,
                )
                link_seconds = time.perf_counter() - began
                if linked.status_code != 201 or not linked.json()["last_synced_at"]:
                    raise RuntimeError(f"link: {linked.status_code} {linked.text[:300]}")
                alice_id = str((await client.get("/api/v1/me", headers=auth)).json()["id"])
            connection = str(linked.json()["id"])
            local = InProcess(tmp, db_env, google_url)
            mirrored = await local.blocks()
            if mirrored != EVENTS:
                raise RuntimeError(f"{mirrored} busy blocks mirrored, expected {EVENTS}")
            rows.append(
                {
                    "name": f"{tag}caldav link + first sync, {EVENTS} events",
                    "value": round(link_seconds, 2),
                    "unit": "s",
                }
            )

            def change(n: int) -> None:
                change_one_event(dav_url, path, now + timedelta(days=3, hours=n))

            rows += await sync_times(local, connection, change, tag, "caldav")
            rows += await google_sync_times(local, alice_id, google_url, now, tag)
            dav_proc.terminate()  # from here on, no provider answers
            dav_proc.wait(timeout=10)
            rows += await dates_vs_healthz(
                server,
                {
                    MIRRORED: (invite.json()["id"], bob),
                    PLAIN: (plain.json()["id"], alice),
                },
                tag,
            )
        finally:
            server.stop()
            if local is not None:
                await local.close()
    return rows


async def google_sync_times(
    local: InProcess, user_id: str, url: str, now: datetime, tag: str
) -> list[dict[str, Any]]:
    seconds = await fill_google(url, now)
    progress(f"{tag}{EVENTS} events seeded into the Google emulator in {seconds:.1f} s")
    connection = await local.link_google(user_id, url)

    def change(n: int) -> None:
        with httpx.Client(base_url=url, timeout=30) as http:
            http.post(
                f"/_emulator/calendars/{GOOGLE_EMAIL}/events",
                json=_google_event(now + timedelta(days=4, hours=n), "Changed"),
            ).raise_for_status()

    await local.sync(connection, full=True)  # the first read, as linking does
    if await local.blocks() < 2 * EVENTS:
        raise RuntimeError("the Google calendar's events are not all in the mirror")
    rows = await sync_times(local, connection, change, tag, "google")
    await local.disconnect(connection)  # the dates figures below are the CalDAV mirror's
    return rows


async def dates_vs_healthz(
    server: Server, invites: dict[str, tuple[str, str]], tag: str
) -> list[dict[str, Any]]:
    """Rounds of healthz, then ``dates`` of each invite (name -> (invite id, viewer token)):
    p50 latency and the server's CPU time per request; medians over the rounds."""
    today = datetime.now(UTC).date()
    params = {
        "from": today.isoformat(),
        "to": (today + timedelta(days=30)).isoformat(),
        "tz": "Europe/Berlin",
    }
    targets: dict[str, tuple[str, dict[str, str], str]] = {
        "healthz": ("/healthz", {}, next(iter(invites.values()))[1])
    }
    for name, (invite, token) in invites.items():
        targets[name] = (f"/api/v1/invites/{invite}/dates", params, token)
    requests = {
        name: [_request(server.base_url, path, query, token)]
        for name, (path, query, token) in targets.items()
    }
    for wanted in requests.values():
        await _measure(server.base_url, wanted)  # warm-up
    p50: dict[str, list[float]] = {name: [] for name in targets}
    cpu: dict[str, list[float]] = {name: [] for name in targets}
    for n in range(1, ROUNDS + 1):
        progress(f"{tag}round {n}/{ROUNDS}: {', '.join(targets)} (provider stopped)")
        for name, wanted in requests.items():
            began = live_cpu_seconds(server.pid)
            samples = await _measure(server.base_url, wanted)
            cpu[name].append((live_cpu_seconds(server.pid) - began) * 1000 / len(samples))
            p50[name].append(percentile(samples, 50))
    rows: list[dict[str, Any]] = []
    for name in targets:
        rows.append(
            {
                "name": f"{tag}{name} p50",
                "value": round(statistics.median(p50[name]), 2),
                "unit": "ms",
            }
        )
        rows.append(
            {
                "name": f"{tag}{name} server CPU per request",
                "value": round(statistics.median(cpu[name]), 3),
                "unit": "ms",
            }
        )
    for name in invites:
        ratios = [d / h for d, h in zip(p50[name], p50["healthz"], strict=True)]
        ratio = statistics.median(ratios)
        row: dict[str, Any] = {
            "name": f"{tag}{name} / healthz p50 (" + ", ".join(f"{x:.2f}" for x in ratios) + ")",
            "value": round(ratio, 2),
            "unit": "x",
        }
        if name == MIRRORED:
            row.update(target="<= 3", meets_target=ratio <= 3)
        rows.append(row)
    if MIRRORED in p50 and PLAIN in p50:
        ratios = [m / p for m, p in zip(p50[MIRRORED], p50[PLAIN], strict=True)]
        rows.append(
            {
                "name": f"{tag}what the mirror adds: {MIRRORED} / {PLAIN} p50",
                "value": round(statistics.median(ratios), 2),
                "unit": "x",
            }
        )
    return rows


def run() -> list[dict[str, Any]]:
    rows = on_each_backend(_measure_backend, "calendar-sync")
    return rows


if __name__ == "__main__":
    for row in run():
        print(row)
