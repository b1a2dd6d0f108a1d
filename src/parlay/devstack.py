"""The calendar emulators beside a local Parlay (``make run``, ``parlay dev``, browser tests).

Starts the Google and Microsoft emulators as child processes (their own packages import nothing
from Parlay, and Parlay imports nothing from them: they talk HTTP, as the real services do),
registers an OAuth client in each through its control API, seeds people with busy events, and
gives the ``PARLAY_GOOGLE_*`` / ``PARLAY_MICROSOFT_*`` settings that point Parlay at them. So a
newcomer clicks "Connect Google Calendar", consents in the emulator and sees busy times vanish
from the availability they share, with no internet and no real OAuth client.
"""

from __future__ import annotations

import contextlib
import ctypes
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo

import httpx

Kind = Literal["google", "microsoft"]
PREFERRED_PORTS: dict[Kind, int] = {"google": 8201, "microsoft": 8202}
CLIENTS: dict[Kind, tuple[str, str]] = {
    "google": ("parlay-dev.apps.googleusercontent.com", "parlay-dev-google-secret"),
    "microsoft": ("00000000-0000-4000-8000-00000000d3v0", "parlay-dev-microsoft-secret"),
}
STARTUP_SECONDS = 30


def port_for(preferred: int, host: str = "127.0.0.1") -> int:
    """``preferred`` when it is free, else any free port (``make run`` must not fail on it)."""
    for candidate in (preferred, 0):
        with socket.socket() as s:
            try:
                s.bind((host, candidate))
            except OSError:
                continue
            return int(s.getsockname()[1])
    raise OSError("no free port")


def die_with_parent() -> None:
    """Linux: this process gets SIGTERM when its parent dies, even by SIGKILL (the emulators
    with ``parlay dev``, and ``parlay dev`` with ``make run``)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


@dataclass
class Emulator:
    kind: Kind
    url: str
    process: subprocess.Popen[bytes]

    def control(self, method: str, path: str, body: object = None) -> httpx.Response:
        answer = httpx.request(method, f"{self.url}/_emulator{path}", json=body, timeout=10)
        answer.raise_for_status()
        return answer

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    # --- seeding through the control API -------------------------------------------------

    def register_client(self, redirect_uri: str) -> tuple[str, str]:
        client_id, secret = CLIENTS[self.kind]
        body = {"client_id": client_id, "client_secret": secret, "redirect_uris": [redirect_uri]}
        self.control("POST", "/clients", body)
        return client_id, secret

    def add_account(self, email: str, name: str, time_zone: str) -> None:
        if self.kind == "google":
            body = {"email": email, "name": name, "time_zone": time_zone}
        else:
            body = {"userPrincipalName": email, "mail": email, "displayName": name}
            body["time_zone"] = time_zone
        self.control("POST", "/accounts", body)

    def add_busy(self, email: str, start: datetime, end: datetime, title: str) -> None:
        """A confirmed, busy event in the account's primary (Google) / default (Graph) calendar."""
        if self.kind == "google":
            zone = str(start.tzinfo)
            event = {
                "summary": title,
                "start": {"dateTime": start.isoformat(), "timeZone": zone},
                "end": {"dateTime": end.isoformat(), "timeZone": zone},
            }
            self.control("POST", f"/calendars/{email}/events", event)
        else:
            event = {
                "subject": title,
                "showAs": "busy",
                "start": start.isoformat(),
                "end": end.isoformat(),
            }
            self.control("POST", f"/accounts/{email}/events", event)

    def events(self, email: str) -> list[dict[str, object]]:
        """Every stored event of the account's main calendar (as the emulator keeps it)."""
        if self.kind == "google":
            items: list[dict[str, object]] = self.control(
                "GET", f"/calendars/{email}/events"
            ).json()["items"]
            return items
        found: list[dict[str, object]] = self.control("GET", f"/accounts/{email}/events").json()[
            "events"
        ]
        return found


def start(kind: Kind, port: int | None = None, host: str = "127.0.0.1") -> Emulator:
    """Start one emulator (not yet waited for: see :func:`wait_up`)."""
    port = port or port_for(PREFERRED_PORTS[kind], host)
    process = subprocess.Popen(
        [sys.executable, "-m", f"parlay_emulators.{kind}", "--host", host, "--port", str(port)],
        preexec_fn=die_with_parent if sys.platform == "linux" else None,  # noqa: PLW1509
    )
    return Emulator(kind, f"http://{host}:{port}", process)


def wait_up(emulator: Emulator, seconds: float = STARTUP_SECONDS) -> None:
    deadline = time.monotonic() + seconds
    while True:
        if emulator.process.poll() is not None:
            raise RuntimeError(
                f"the {emulator.kind} emulator exited ({emulator.process.returncode})"
            )
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{emulator.url}/_emulator/accounts", timeout=0.5).status_code == 200:
                return
        if time.monotonic() > deadline:
            raise RuntimeError(f"the {emulator.kind} emulator did not start at {emulator.url}")
        time.sleep(0.05)


@contextlib.contextmanager
def running(host: str = "127.0.0.1") -> Iterator[dict[Kind, Emulator]]:
    """Both emulators, started side by side; stopped when the block ends, however it ends."""
    emulators: dict[Kind, Emulator] = {}
    try:
        for kind in ("google", "microsoft"):
            emulators[kind] = start(kind, host=host)
        for emulator in emulators.values():
            wait_up(emulator)
        yield emulators
    finally:
        for emulator in emulators.values():
            emulator.stop()


def settings_env(google: Emulator, microsoft: Emulator, base_url: str) -> dict[str, str]:
    """Register Parlay as an OAuth client in both; the settings that point Parlay at them."""
    g_id, g_secret = google.register_client(f"{base_url}/oauth/google/callback")
    m_id, m_secret = microsoft.register_client(f"{base_url}/oauth/microsoft/callback")
    return {
        "PARLAY_GOOGLE_CLIENT_ID": g_id,
        "PARLAY_GOOGLE_CLIENT_SECRET": g_secret,
        "PARLAY_GOOGLE_AUTH_URL": f"{google.url}/o/oauth2/v2/auth",
        "PARLAY_GOOGLE_TOKEN_URL": f"{google.url}/token",
        "PARLAY_GOOGLE_API_URL": google.url,
        "PARLAY_GOOGLE_USERINFO_URL": f"{google.url}/v1/userinfo",
        "PARLAY_MICROSOFT_CLIENT_ID": m_id,
        "PARLAY_MICROSOFT_CLIENT_SECRET": m_secret,
        "PARLAY_MICROSOFT_AUTHORITY": f"{microsoft.url}/common",
        "PARLAY_MICROSOFT_GRAPH_URL": f"{microsoft.url}/v1.0",
    }


def seed_people(
    emulators: dict[Kind, Emulator], people: list[tuple[str, str, str]], now: datetime
) -> list[str]:
    """Each person an account in both emulators, with a busy afternoon tomorrow (their zone):
    15:00–17:00 for the first, 10:00–11:00 for the others. Returns lines to print."""
    lines = []
    for index, (email, name, zone) in enumerate(people):
        tomorrow = now.astimezone(ZoneInfo(zone)).date().toordinal() + 1
        day = datetime.fromordinal(tomorrow).date()
        hours = (15, 17) if index == 0 else (10, 11)
        start = datetime(day.year, day.month, day.day, hours[0], tzinfo=ZoneInfo(zone))
        end = datetime(day.year, day.month, day.day, hours[1], tzinfo=ZoneInfo(zone))
        for emulator in emulators.values():
            emulator.add_account(email, name, zone)
            emulator.add_busy(email, start, end, "Busy (from the emulator)")
        lines.append(
            f"  {email}: busy {day.isoformat()} {hours[0]}:00–{hours[1]}:00 {zone} in both emulators"
        )
    return lines
