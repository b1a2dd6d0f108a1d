"""Helpers shared by the bench modules: a real ``parlay serve`` on loopback, progress output,
percentiles and process memory.

Every bench module exposes ``run() -> list[dict]``; each dict has at least ``name`` and either
``value`` + ``unit`` or ``median_ms`` (see ``bench/run.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "bench password 123"
T = TypeVar("T")


def progress(message: str) -> None:
    """One progress line on stderr (the figures go to stdout)."""
    print(f"  [bench] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def parlay_command() -> list[str]:
    """``parlay`` from the venv next to the running interpreter, else ``python -m``-style."""
    exe = Path(sys.executable).with_name("parlay")
    if exe.exists():
        return [str(exe)]
    return [sys.executable, "-c", "from parlay.cli import app; app()"]


def rss_kib(pid: int) -> int | None:
    """Resident set size of ``pid`` in KiB (``VmRSS`` from /proc), or None if unknown."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time ``pid`` has used so far (Linux /proc), or None if unknown."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def live_cpu_seconds(pid: int) -> float:
    """``cpu_seconds`` of a process a bench is measuring, which must still be running: an
    unreadable figure stops the bench instead of being counted as zero."""
    used = cpu_seconds(pid)
    if used is None:
        raise RuntimeError(f"cannot read the CPU time of process {pid}: has it exited?")
    return used


def postgres_pids() -> list[int]:
    """This machine's PostgreSQL server processes (postmaster and backends), by name."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if (entry / "comm").read_text().strip() == "postgres":
                    found.append(int(entry.name))
    return found


class CpuTally:
    """CPU seconds used from its creation to ``used()`` by named groups of processes (each
    found again at the end: a process that started meanwhile counts from zero; one that
    ended meanwhile is missed, so the figures are a floor)."""

    def __init__(self, groups: dict[str, Callable[[], list[int]]]) -> None:
        self._groups = groups
        self._start = {name: self._read(find()) for name, find in groups.items()}

    @staticmethod
    def _read(pids: list[int]) -> dict[int, float]:
        return {pid: cpu for pid in pids if (cpu := cpu_seconds(pid)) is not None}

    def used(self) -> dict[str, float]:
        used = {}
        for name, find in self._groups.items():
            before = self._start[name]
            now = self._read(find())
            used[name] = sum(cpu - before.get(pid, 0.0) for pid, cpu in now.items())
        return used


def percentile(samples: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (``pct`` in 0..100) of unsorted ``samples``."""
    if not samples:
        return math.nan
    ordered = sorted(samples)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


class Server:
    """One ``parlay serve`` subprocess on loopback; always stopped by ``stop()``."""

    def __init__(self, env: dict[str, str], *, log_path: Path, port: int | None = None) -> None:
        self.port = port or free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}"
        # Inherited PARLAY_* settings (a Redis URL, a pinned clock) must not leak in.
        inherited = {k: v for k, v in os.environ.items() if not k.startswith("PARLAY_")}
        self._env = {**inherited, **env}
        self._log_path = log_path
        self._log: Any = None
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self) -> None:
        self._log = self._log_path.open("wb")
        self.proc = subprocess.Popen(
            [*parlay_command(), "serve", "--host", "127.0.0.1", "--port", str(self.port)],
            env=self._env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=str(ROOT),
            start_new_session=True,
        )

    async def wait_ready(self, within: float = 60.0) -> None:
        deadline = time.monotonic() + within
        async with httpx.AsyncClient(base_url=self.base_url, timeout=2.0) as client:
            while time.monotonic() < deadline:
                if self.proc is not None and self.proc.poll() is not None:
                    raise RuntimeError(f"parlay serve exited early:\n{self.log_tail()}")
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get("/healthz")).status_code == 200:
                        return
                await asyncio.sleep(0.1)
        raise TimeoutError(f"parlay serve not ready after {within:.0f} s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self._log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def stop(self) -> None:
        proc = self.proc
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                proc.wait(timeout=10)
        if self._log is not None:
            self._log.close()
            self._log = None


async def bounded_gather(
    items: Iterable[T],
    worker: Callable[[T], Awaitable[Any]],
    *,
    limit: int,
    label: str,
    every: int = 50,
) -> list[Any]:
    """Run ``worker`` over ``items`` with at most ``limit`` in flight; progress on stderr."""
    todo = list(items)
    semaphore = asyncio.Semaphore(limit)
    done = 0

    async def one(item: T) -> Any:
        nonlocal done
        async with semaphore:
            result = await worker(item)
        done += 1
        if done % every == 0 or done == len(todo):
            progress(f"{label} {done}/{len(todo)}")
        return result

    return list(await asyncio.gather(*(one(item) for item in todo)))


PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"


@contextlib.asynccontextmanager
async def database(backend: str) -> AsyncIterator[dict[str, str]]:
    """Settings for a fresh database of ``backend``: the embedded SQLite default, or a
    throwaway PostgreSQL database (dropped afterwards)."""
    if backend == "sqlite":
        yield {}
        return
    name = f"parlay_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(PG_ADMIN)
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield {"PARLAY_DATABASE_URL": PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"}
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def postgres_answers() -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", 5432), timeout=0.5):
        return True
    return False


def on_each_backend(
    measure: Callable[[str, str, dict[str, str]], Awaitable[list[dict[str, Any]]]], label: str
) -> list[dict[str, Any]]:
    """``measure(backend, data_dir, database_env)`` on SQLite, then on a throwaway PostgreSQL
    database when one answers; the rows of both."""

    async def on(backend: str) -> list[dict[str, Any]]:
        with tempfile.TemporaryDirectory(prefix=f"parlay-bench-{label}-") as tmp:
            async with database(backend) as db_env:
                return await measure(backend, tmp, db_env)

    rows = asyncio.run(on("sqlite"))
    if postgres_answers():
        rows += asyncio.run(on("postgres"))
    else:
        progress("PostgreSQL does not answer on 127.0.0.1:5432: measured SQLite only")
    return rows


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """One HTTP/1.1 response with a Content-Length body: ``(status, body)``."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    return status, await reader.readexactly(length)
