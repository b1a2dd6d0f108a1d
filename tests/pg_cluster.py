"""A PostgreSQL server of a test's own, to crash: ``initdb`` into a fresh directory, started on
a free port, stopped in ``immediate`` mode (its processes quit at once, as in a crash, and WAL
still in its shared buffers is lost).  Its WAL writer writes only every 10 s, so whatever a
commit did not flush itself is still in those buffers when it crashes."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _postgres_bin() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: p.parts[-3])
    return found[-1].parent if found else None


class _Cluster:
    """A PostgreSQL server of the test's own, in a directory of its own (run as the
    ``postgres`` user when the test runs as root: the server refuses root)."""

    def __init__(self, bin_dir: Path, root: Path, port: int) -> None:
        self.bin, self.data, self.port = bin_dir, root / "data", port
        self.log = root / "server.log"
        self._root = root

    def _run(self, *command: str) -> None:
        as_owner = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run([*as_owner, *command], check=True, capture_output=True, timeout=120)

    def init(self) -> None:
        if os.geteuid() == 0:
            shutil.chown(self._root, "postgres")
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust")

    def start(self) -> None:
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={self.port} "
            f"-c unix_socket_directories={self._root} "
            # The WAL writer leaves recent WAL in shared buffers for up to 10 s.
            "-c wal_writer_delay=10000 -c wal_writer_flush_after=1GB -c fsync=on"
        )
        self._run(
            str(self.bin / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.log),
            "-w",
            "-o",
            options,
            "start",
        )

    def crash(self) -> None:
        """Stop at once, as a crash does: no checkpoint, WAL buffers dropped."""
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop")


@contextlib.contextmanager
def private_postgres() -> Iterator[tuple[_Cluster, str]]:
    bin_dir = _postgres_bin()
    if bin_dir is None or (os.geteuid() == 0 and shutil.which("runuser") is None):
        if os.environ.get("PARLAY_REQUIRE_SERVICES") == "1":
            pytest.fail("PostgreSQL's server programs are not installed")
        pytest.skip("PostgreSQL's server programs are not installed")
    root = Path(tempfile.mkdtemp(prefix="parlay-pg-"))  # not under pytest's private tmp
    cluster = _Cluster(bin_dir, root, free_port())
    try:
        cluster.init()
        cluster.start()
        yield cluster, f"postgresql://postgres@127.0.0.1:{cluster.port}/postgres"
    finally:
        with contextlib.suppress(Exception):
            cluster.crash()
        shutil.rmtree(root, ignore_errors=True)
