"""A real Radicale (htpasswd ``plain``, so a wrong password is refused) for the whole session,
plus two small HTTP servers that are *not* CalDAV: one serving a web page, one answering every
request with a 207 whose XML is garbage."""

from __future__ import annotations

import contextlib
import http.server
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

USERS = {"alice": "alice-app-password", "bob": "bob-app-password"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Radicale:
    url: str

    def client(self, user: str) -> httpx.Client:
        return httpx.Client(base_url=self.url, auth=(user, USERS[user]), timeout=10)

    def make_calendar(self, user: str, name: str | None = None, *, display: str = "") -> str:
        """MKCALENDAR a fresh collection; returns its path (``/user/name/``)."""
        path = f"/{user}/{name or uuid.uuid4().hex[:12]}/"
        body = (
            '<?xml version="1.0" encoding="utf-8"?>'
            '<C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:set><D:prop>'
            f"<D:displayname>{display or path.strip('/').split('/')[-1]}</D:displayname>"
            "</D:prop></D:set></C:mkcalendar>"
        )
        with self.client(user) as dav:
            answer = dav.request("MKCALENDAR", path, content=body)
        assert answer.status_code == 201, answer.text
        return path

    def put(self, user: str, calendar: str, name: str, ics: str) -> None:
        with self.client(user) as dav:
            answer = dav.put(
                f"{calendar}{name}.ics",
                content=ics.replace("\n", "\r\n"),
                headers={"Content-Type": "text/calendar; charset=utf-8"},
            )
        assert answer.status_code in (201, 204), answer.text

    def items(self, user: str, calendar: str) -> list[str]:
        """The resource paths in a collection (PROPFIND Depth 1)."""
        with self.client(user) as dav:
            answer = dav.request("PROPFIND", calendar, headers={"Depth": "1"})
        assert answer.status_code == 207
        import re

        hrefs = re.findall(r"<(?:\w+:)?href>([^<]+)</(?:\w+:)?href>", answer.text)
        return sorted(h for h in hrefs if h.endswith(".ics"))

    def get(self, user: str, path: str) -> httpx.Response:
        with self.client(user) as dav:
            return dav.get(path)


def _wait(url: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=0.5)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


@contextlib.contextmanager
def start_radicale(folder: Path) -> Iterator[Radicale]:
    """A real Radicale with htpasswd users (a wrong password is refused), stopped afterwards."""
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
        _wait(url)
        yield Radicale(url)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(scope="session")
def radicale(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Radicale]:
    with start_radicale(tmp_path_factory.mktemp("radicale")) as server:
        yield server


class _WebPage(http.server.BaseHTTPRequestHandler):
    def _answer(self) -> None:
        body = b"<!doctype html><title>Shop</title><p>Welcome to our web shop."
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = do_PROPFIND = do_REPORT = do_OPTIONS = _answer

    def log_message(self, format: str, *args: object) -> None:
        pass


class _Garbage(_WebPage):
    def _answer(self) -> None:
        body = b'<?xml version="1.0"?><D:multistatus xmlns:D="DAV:"><D:response><D:href>/x'
        self.send_response(207)
        self.send_header("Content-Type", "application/xml; charset=utf-8")
        self.send_header("DAV", "1, 2, calendar-access")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = do_PROPFIND = do_REPORT = do_OPTIONS = _answer


def _serve(handler: type[http.server.BaseHTTPRequestHandler]) -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="session")
def web_page_server() -> Iterator[str]:
    yield from _serve(_WebPage)


@pytest.fixture(scope="session")
def garbage_server() -> Iterator[str]:
    yield from _serve(_Garbage)
