"""The edge holds: bounded bodies and header time, any header value, strictly typed instants and
dates, production defaults (secret key, HSTS), who may read /metrics, and /api/docs.

What happens at the edge does not depend on the database, so these run on SQLite only.
Socket tests talk to a real uvicorn (with Parlay's protocol classes) on a loopback port.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from parlay.main import create_app
from parlay.settings import Settings
from parlay.web.guard import MAX_BODY_BYTES
from parlay.web.server import http_protocol
from tests.conftest import Person
from tests.web.local_http import serving

NOW = datetime.fromisoformat("2026-11-30T08:00:00+00:00")
MORNINGS = {d: [{"start": "09:00", "end": "12:00"}] for d in ("mon", "tue", "wed", "thu", "fri")}
GENEROUS = 30.0  # seconds: a hang guard, never the thing asserted


@pytest.fixture
def backend() -> str:
    return "sqlite"


@pytest.fixture
def settings(make_settings: Any) -> Settings:
    return make_settings(now=NOW)


def error(r: httpx.Response) -> dict[str, Any]:
    body = r.json()
    assert set(body) == {"error"}, body
    return dict(body["error"])


class Consumed:
    """ASGI wrapper counting the body bytes the app took from the server."""

    def __init__(self, app: Any) -> None:
        self.app, self.bytes = app, 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        async def counted() -> Any:
            message = await receive()
            self.bytes += len(message.get("body", b""))
            return message

        await self.app(scope, counted, send)


@pytest.fixture
async def serve() -> AsyncIterator[Callable[..., Any]]:
    """``await serve(asgi_app, header_timeout=..., kind=...)`` -> (host, port) of a real uvicorn
    using Parlay's protocol classes (as ``parlay serve`` does)."""
    async with contextlib.AsyncExitStack() as servers:

        async def start(
            asgi: Any, header_timeout: float = 10.0, kind: str = "auto"
        ) -> tuple[str, int]:
            origin = await servers.enter_async_context(
                serving(asgi, http=http_protocol(header_timeout, kind))
            )
            host, port = origin.removeprefix("http://").split(":")
            return host, int(port)

        yield start


def _raw_exchange(address: tuple[str, int], head: bytes, chunks: list[bytes]) -> bytes:
    """Send ``head`` then ``chunks`` on a blocking socket, stopping as soon as the server
    answers or hangs up; return everything the server sent."""
    received = b""
    with socket.create_connection(address, timeout=GENEROUS) as sock:
        sock.sendall(head)
        for chunk in chunks:
            sock.setblocking(False)
            try:
                received += sock.recv(65536)
            except BlockingIOError:
                pass
            except ConnectionError:
                break
            finally:
                sock.settimeout(GENEROUS)
            if received:
                break
            try:
                sock.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError):
                break
        while True:
            try:
                data = sock.recv(65536)
            except ConnectionError:
                break
            if not data:
                break
            received += data
    return received


def _status_and_body(raw: bytes) -> tuple[int, bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


# --- item 7: bodies are bounded in size and time -------------------------------------------------


async def test_chunked_body_past_the_limit_gets_413_and_is_not_read(
    app: Any, serve: Callable[..., Any]
) -> None:
    consumed = Consumed(app)
    address = await serve(consumed)
    head = (
        b"POST /api/v1/auth/login HTTP/1.1\r\nHost: parlay\r\n"
        b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    piece = b"x" * 65536
    chunks = [b"%x\r\n%s\r\n" % (len(piece), piece)] * 80  # 5 MiB, never terminated

    raw = await asyncio.to_thread(_raw_exchange, address, head, chunks)

    status, body = _status_and_body(raw)
    assert status == 413 and b'"code":"too_large"' in body
    assert b"connection: close" in raw.lower()
    # The app stopped taking the body just past the limit (the rest was never read).
    assert MAX_BODY_BYTES < consumed.bytes < MAX_BODY_BYTES + 4 * len(piece)


async def test_every_route_refuses_an_oversized_streamed_body(anon: httpx.AsyncClient) -> None:
    def stream() -> Any:
        async def gen() -> AsyncIterator[bytes]:
            for _ in range(20):
                yield b"x" * 100_000

        return gen()

    json = {"content-type": "application/json"}
    for path in (
        "/api/v1/auth/login",
        "/api/v1/auth/signup",
        "/api/v1/rooms",
        "/api/v1/rooms/r1/messages",
        "/api/v1/invites/i1/book",
        "/api/v1/me/tokens",
    ):
        r = await anon.post(path, content=stream(), headers=json)
        assert r.status_code == 413, (path, r.text)
        assert error(r)["code"] == "too_large" and r.headers["connection"] == "close"
    r = await anon.post("/api/v1/auth/login", content=b"x" * (MAX_BODY_BYTES + 1))
    assert r.status_code == 413 and error(r)["code"] == "too_large"
    # A route that never reads the body answers as usual, and the server hangs up rather
    # than read the rest.
    r = await anon.post("/nowhere", content=stream(), headers=json)
    assert r.status_code == 404 and r.headers["connection"] == "close"
    r = await anon.post("/api/v1/auth/login", json={"email": "a@b.c", "password": "x"})
    assert r.status_code == 401 and "connection" not in r.headers


async def test_a_body_that_does_not_arrive_in_time_gets_408(
    make_settings: Any, serve: Callable[..., Any]
) -> None:
    app = create_app(make_settings(body_timeout_seconds=0.5))
    async with app.router.lifespan_context(app):
        address = await serve(app)
        head = (
            b"POST /api/v1/auth/login HTTP/1.1\r\nHost: parlay\r\n"
            b'Content-Type: application/json\r\nContent-Length: 200\r\n\r\n{"email": '
        )
        raw = await asyncio.to_thread(_raw_exchange, address, head, [])
    status, body = _status_and_body(raw)
    assert status == 408 and b'"code":"timeout"' in body


# --- item 7: slowloris -----------------------------------------------------------------------


async def _held_open(address: tuple[str, int], kind: int) -> bool:
    """Open a connection that dawdles over its headers; True once the server hung up."""
    reader, writer = await asyncio.open_connection(*address)
    try:
        if kind == 1:
            writer.write(b"GET /heal")
        elif kind == 2:
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: parlay\r\nX-Slow: ")
        elif kind == 3:  # one complete request, then a second one that never ends
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: parlay\r\n\r\n")
            await writer.drain()
            await reader.readuntil(b'"ok"}')
            writer.write(b"GET /healthz HTTP/1.1\r\nHo")
        await writer.drain()  # kind 0 sends nothing at all
        try:
            while await asyncio.wait_for(reader.read(65536), GENEROUS):
                pass
        except ConnectionResetError:
            pass
        return True
    except TimeoutError:
        return False
    finally:
        writer.close()


@pytest.mark.parametrize("kind", ["httptools", "h11"])
async def test_connections_that_dawdle_over_headers_are_closed(
    app: Any, serve: Callable[..., Any], kind: str
) -> None:
    address = await serve(app, header_timeout=1.0, kind=kind)
    slow = [asyncio.create_task(_held_open(address, i % 4)) for i in range(52)]
    async with httpx.AsyncClient(base_url=f"http://{address[0]}:{address[1]}") as client:
        r = await client.get("/healthz")
    assert r.status_code == 200
    closed = await asyncio.gather(*slow)
    assert all(closed), f"{closed.count(False)} of {len(closed)} connections were left open"


async def test_a_patient_client_with_complete_headers_is_served(
    app: Any, serve: Callable[..., Any]
) -> None:
    """The header deadline does not cut a request whose headers arrived in time."""
    address = await serve(app, header_timeout=1.0)
    reader, writer = await asyncio.open_connection(*address)
    for _ in range(3):  # keep-alive: each request's headers get their own deadline
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: parlay\r\n\r\n")
        await writer.drain()
        assert (await reader.readline()).startswith(b"HTTP/1.1 200")
        await reader.readuntil(b'"ok"}')
    writer.close()


# --- item 8: any CSRF header value is a 403 --------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "é".encode(),
        b"\xff\xfe\xe9",
        "токен".encode(),
        b"x" * 8000,
        b"",
        b" ",
    ],
)
async def test_any_csrf_header_value_is_403(alice: Person, value: bytes) -> None:
    r = await alice.client.patch(
        "/api/v1/me", json={"display_name": "Mallory"}, headers={"X-CSRF-Token": value}
    )
    assert r.status_code == 403 and error(r)["code"] == "csrf_failed"
    assert (await alice.client.get("/api/v1/me")).json()["display_name"] == "Alice Adams"


async def test_csrf_token_with_trailing_non_ascii_is_refused(alice: Person) -> None:
    forged = alice.csrf.encode() + "é".encode("latin-1")
    r = await alice.client.patch(
        "/api/v1/me", json={"display_name": "Mallory"}, headers={"X-CSRF-Token": forged}
    )
    assert r.status_code == 403 and error(r)["code"] == "csrf_failed"


# --- item 9: instants and dates are strictly typed --------------------------------------------


@pytest.fixture
async def invite(room: dict[str, Any], alice: Person) -> dict[str, Any]:
    body = {"time_zone": "Europe/Berlin", "weekly": MORNINGS, "duration_minutes": 45}
    r = await alice.client.post(f"/api/v1/rooms/{room['id']}/invites", json=body)
    assert r.status_code == 201, r.text
    return dict(r.json())


@pytest.mark.parametrize(
    "start",
    [
        1796112000,  # a Unix time: 2026-12-01T08:00:00Z, an offered slot
        1796112000.0,
        "1796112000",
        "2026-12-01T09:00:00",  # no offset
        "2026-12-01T08:00Z",  # no seconds
        "2026-12-01",
        "2026-12-01 08:00:00Z",
        None,
        ["2026-12-01T08:00:00Z"],
        {"at": "2026-12-01T08:00:00Z"},
    ],
)
async def test_book_takes_only_rfc3339_strings_with_an_offset(
    invite: dict[str, Any], bob: Person, start: Any
) -> None:
    r = await bob.client.post(f"/api/v1/invites/{invite['id']}/book", json={"start": start})
    assert r.status_code == 422, r.text
    assert error(r)["code"] == "invalid" and error(r)["field"] == "start"
    r = await bob.client.get(f"/api/v1/invites/{invite['id']}")
    assert r.json()["status"] == "open"


async def test_reschedule_takes_only_rfc3339_strings_with_an_offset(
    invite: dict[str, Any], bob: Person
) -> None:
    r = await bob.client.post(
        f"/api/v1/invites/{invite['id']}/book", json={"start": "2026-12-01T08:00:00Z"}
    )
    assert r.status_code == 201, r.text
    meeting = r.json()
    for start in (1796114700, "2026-12-01T08:45:00", "2026-12-01T09:45:00 +01:00"):
        r = await bob.client.post(
            f"/api/v1/meetings/{meeting['id']}/reschedule", json={"start": start}
        )
        assert r.status_code == 422, (start, r.text)
        assert error(r)["code"] == "invalid" and error(r)["field"] == "start"
    # The same time written properly moves it.
    r = await bob.client.post(
        f"/api/v1/meetings/{meeting['id']}/reschedule", json={"start": "2026-12-01T09:45:00+01:00"}
    )
    assert r.status_code == 200 and r.json()["start"] == "2026-12-01T08:45:00Z"


async def test_booking_with_a_proper_instant_still_works(
    invite: dict[str, Any], bob: Person
) -> None:
    r = await bob.client.post(
        f"/api/v1/invites/{invite['id']}/book", json={"start": "2026-12-01T09:00:00.000+01:00"}
    )
    assert r.status_code == 201 and r.json()["start"] == "2026-12-01T08:00:00Z"


@pytest.mark.parametrize(
    "value", ["2026-12-01T00:00", "2026-12-01T00:00:00Z", "1796112000", "20261201", "2026-12-1"]
)
async def test_dates_and_slots_take_only_yyyy_mm_dd(
    invite: dict[str, Any], bob: Person, value: str
) -> None:
    base = f"/api/v1/invites/{invite['id']}"
    r = await bob.client.get(f"{base}/slots", params={"date": value})
    assert r.status_code == 422 and error(r)["field"] == "date", r.text
    r = await bob.client.get(f"{base}/dates", params={"from": value, "to": "2026-12-31"})
    assert r.status_code == 422 and error(r)["field"] == "from", r.text
    r = await bob.client.get(f"{base}/dates", params={"from": "2026-12-01", "to": value})
    assert r.status_code == 422 and error(r)["field"] == "to", r.text

    r = await bob.client.get(f"{base}/slots", params={"date": "2026-12-01"})
    assert r.status_code == 200 and r.json()["slots"]
    r = await bob.client.get(f"{base}/dates", params={"from": "2026-12-01", "to": "2026-12-04"})
    assert r.status_code == 200 and r.json()["dates"]
    r = await bob.client.get(f"{base}/slots", params={"date": "1999-12-31"})
    assert r.status_code == 422 and error(r)["field"] == "date"


@pytest.mark.parametrize("name", ["from", "to"])
async def test_meetings_list_takes_only_instants(bob: Person, name: str) -> None:
    for value in ("1796112000", "2026-12-01T00:00:00", "2026-12-01"):
        r = await bob.client.get("/api/v1/meetings", params={name: value})
        assert r.status_code == 422 and error(r)["field"] == name, (value, r.text)
    r = await bob.client.get("/api/v1/meetings", params={name: "2026-12-01T00:00:00Z"})
    assert r.status_code == 200 and r.json()["meetings"] == []


# --- item 16: production defaults ------------------------------------------------------------


@pytest.mark.parametrize("key", [None, "", " " * 40, "k" * 31])
def test_production_refuses_a_short_secret_key(key: str | None) -> None:
    with pytest.raises(ValidationError, match="at least 32 characters") as caught:
        Settings(env="production", secret_key=key, database_url="postgresql://x@h/db")
    if key:
        assert key.strip() == "" or key not in str(caught.value)  # the key is not echoed


def test_an_empty_secret_key_means_generate_outside_production(tmp_path: Any) -> None:
    settings = Settings(env="development", secret_key="", data_dir=tmp_path)
    assert len(settings.resolved_secret_key()) >= 32
    assert Settings(env="production", secret_key="k" * 32, database_url="sqlite:///x")


async def test_hsts_in_production_only(make_settings: Any) -> None:
    for env, key, expected in (
        ("production", "p" * 40, "max-age=63072000; includeSubDomains"),
        ("test", "t", None),
    ):
        app = create_app(make_settings(env=env, secret_key=key, now=None))
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://testserver"
            ) as client,
        ):
            for path in ("/healthz", "/login", "/api/v1/me", "/static/app.css", "/nowhere"):
                r = await client.get(path)
                assert r.headers.get("strict-transport-security") == expected, (env, path)
            r = await client.post("/api/v1/auth/login", content=b"x" * (MAX_BODY_BYTES + 1))
            assert r.headers.get("strict-transport-security") == expected


def _client(app: Any, host: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=(host, 50000)), base_url="http://testserver"
    )


async def test_metrics_only_for_loopback_by_default(app: Any) -> None:
    for host, headers, status in (
        ("127.0.0.1", {}, 200),
        ("127.8.9.10", {}, 200),
        ("::1", {}, 200),
        ("203.0.113.7", {}, 404),
        ("10.0.0.2", {}, 404),
        ("2001:db8::1", {}, 404),
        # A request relayed by a proxy on this host is not a local scrape.
        ("127.0.0.1", {"X-Forwarded-For": "203.0.113.7"}, 404),
        ("127.0.0.1", {"Forwarded": "for=203.0.113.7"}, 404),
    ):
        async with _client(app, host) as client:
            r = await client.get("/metrics", headers=headers)
        assert r.status_code == status, (host, headers)
        if status == 200:
            assert "parlay_http_requests" in r.text
        else:
            assert error(r)["code"] == "not_found"


async def test_metrics_with_a_token_want_it_from_everyone(make_settings: Any) -> None:
    token = "scrape-" + "s" * 30
    app = create_app(make_settings(metrics_token=token))
    async with app.router.lifespan_context(app):
        for host, authorization, status in (
            ("127.0.0.1", None, 404),
            ("127.0.0.1", b"Bearer wrong", 404),
            ("203.0.113.7", b"Bearer " + token.encode() + "é".encode(), 404),
            ("203.0.113.7", b"Bearer \xff\xfe", 404),
            ("203.0.113.7", b"Basic " + token.encode(), 404),
            ("203.0.113.7", b"Bearer " + token.encode(), 200),
            ("127.0.0.1", b"bearer " + token.encode(), 200),
        ):
            headers = {"Authorization": authorization} if authorization else {}
            async with _client(app, host) as client:
                r = await client.get("/metrics", headers=headers)
            assert r.status_code == status, (host, authorization)


async def test_api_docs_are_served_from_our_origin_without_inline_script(
    anon: httpx.AsyncClient,
) -> None:
    r = await anon.get("/api/docs")
    assert r.status_code == 200 and "text/html" in r.headers["content-type"]
    assert "script-src 'self'" in r.headers["content-security-policy"]
    page = r.text
    assert "<script>" not in page and "cdn" not in page.lower()
    assert 'src="/static/js/docs.js"' in page
    for asset in ("/api/docs/assets/swagger-ui-bundle.js", "/api/docs/assets/swagger-ui.css"):
        assert asset in page
        r = await anon.get(asset)
        assert r.status_code == 200 and len(r.content) > 10_000
    assert (await anon.get("/static/js/docs.js")).status_code == 200
