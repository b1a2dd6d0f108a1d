"""Helpers for the browser tests that link calendars: a Radicale server (the providers suite's
``Radicale`` client, with its users), what the emulators and Radicale hold, and polling the
outside world with a deadline (the outbox worker writes there in the background)."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import httpx

from tests.providers.conftest import USERS, Radicale, free_port

T = TypeVar("T")
DEADLINE_SECONDS = 30


@contextlib.contextmanager
def start_radicale(folder: Path) -> Iterator[Radicale]:
    """Radicale with htpasswd users (a wrong password is refused), stopped afterwards."""
    users = folder / "users"
    users.write_text("".join(f"{u}:{p}\n" for u, p in USERS.items()))
    port = free_port()
    config = folder / "config"
    config.write_text(
        f"[server]\nhosts = 127.0.0.1:{port}\n"
        f"[auth]\ntype = htpasswd\nhtpasswd_filename = {users}\nhtpasswd_encryption = plain\n"
        "delay = 0\n"
        f"[storage]\nfilesystem_folder = {folder / 'collections'}\n"
        "[rights]\ntype = owner_only\n[logging]\nlevel = warning\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "radicale", "--config", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        eventually(lambda: _answers(url), "Radicale to start")
        yield Radicale(url)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _answers(url: str) -> bool:
    try:
        httpx.get(url, timeout=0.5)
    except httpx.HTTPError:
        return False
    return True


def eventually(check: Callable[[], T | None], what: str, seconds: float = DEADLINE_SECONDS) -> T:
    """Poll ``check`` until it returns something truthy; fail after ``seconds`` saying ``what``."""
    deadline = time.monotonic() + seconds
    last: T | None = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.2)
    raise AssertionError(f"gave up waiting for {what} (last seen: {last!r})")
