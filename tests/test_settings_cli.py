"""Settings refuse unsafe combinations; the CLI's demo data is idempotent."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urljoin

import httpx
import pytest
from pydantic import ValidationError

from parlay.settings import Settings

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def test_pinned_clock_only_in_test_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARLAY_NOW", "2026-12-01T09:00:00Z")
    with pytest.raises(ValidationError, match="PARLAY_NOW"):
        Settings(env="development")
    assert Settings(env="test").now is not None


def test_production_needs_secret_and_database() -> None:
    with pytest.raises(ValidationError, match="SECRET_KEY"):
        Settings(env="production", database_url="postgresql://x@h/db")
    with pytest.raises(ValidationError, match="DATABASE_URL"):
        Settings(env="production", secret_key="k" * 32)
    prod = Settings(env="production", secret_key="k" * 32, database_url="postgresql://x@h/db")
    assert prod.cookie_secure and prod.resolved_database_url.startswith("postgresql+asyncpg://")


def test_database_urls_get_async_drivers() -> None:
    assert Settings(database_url="sqlite:///a/b.db").resolved_database_url == (
        "sqlite+aiosqlite:///a/b.db"
    )
    with pytest.raises(ValueError, match="PARLAY_DATABASE_URL"):
        _ = Settings(database_url="mysql://x").resolved_database_url


def test_generated_secret_key_is_kept(tmp_path: Path) -> None:
    first = Settings(data_dir=tmp_path).resolved_secret_key()
    assert len(first) > 40 and first == Settings(data_dir=tmp_path).resolved_secret_key()
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_demo_is_idempotent(tmp_path: Path) -> None:
    env = {"PARLAY_DATA_DIR": str(tmp_path), "PARLAY_ENV": "test", "PATH": "/usr/bin:/bin"}
    cli = [sys.executable, "-c", "from parlay.cli import app; app()"]
    for _ in range(2):
        done = subprocess.run([*cli, "demo"], env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert "alice@example.com" in done.stdout
    import sqlite3

    with sqlite3.connect(tmp_path / "parlay.db") as db:
        assert db.execute("select count(*) from users").fetchone() == (3,)
        assert db.execute("select count(*) from rooms").fetchone() == (1,)


def test_listen_address_decides_the_default_base_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PARLAY_BASE_URL", raising=False)
    assert Settings().for_listen_address("127.0.0.1", 8101).base_url == "http://127.0.0.1:8101"
    assert Settings().for_listen_address("0.0.0.0", 9000).base_url == "http://127.0.0.1:9000"
    assert Settings().for_listen_address("::", 9000).base_url == "http://[::1]:9000"
    assert Settings().for_listen_address("::1", 9000).base_url == "http://[::1]:9000"
    assert Settings().for_listen_address("localhost", 80).base_url == "http://localhost:80"
    monkeypatch.setenv("PARLAY_BASE_URL", "")  # empty counts as unset
    assert Settings().for_listen_address("127.0.0.1", 8101).base_url == "http://127.0.0.1:8101"
    # An explicit PARLAY_BASE_URL (a proxy, a real domain) wins.
    monkeypatch.setenv("PARLAY_BASE_URL", "https://meet.example.org")
    assert Settings().for_listen_address("0.0.0.0", 8101).base_url == "https://meet.example.org"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_links_follow_its_port(tmp_path: Path) -> None:
    """`parlay serve --port P` without PARLAY_BASE_URL: the join link, the .ics (its URL and its
    LOCATION/URL/DESCRIPTION) and the Google/Outlook links all point at port P."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("PARLAY_")}
    env = {
        **inherited,
        "PARLAY_ENV": "test",
        "PARLAY_DATA_DIR": str(tmp_path),
        "PARLAY_RATE_LIMITS": "off",
        "PARLAY_NOW": "2026-12-01T06:00:00Z",
    }
    cli = [sys.executable, "-c", "from parlay.cli import app; app()"]
    log = (tmp_path / "serve.log").open("wb")
    proc = subprocess.Popen(
        [*cli, "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, (tmp_path / "serve.log").read_text()
            assert time.monotonic() < deadline, "parlay serve did not answer /healthz"
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)  # polling the health check

        people = []
        for name in ("Hana Host", "Bo Booker"):
            client = httpx.Client(base_url=url, timeout=10)
            email = f"{name.split()[0].lower()}-{port}@example.com"
            body = {"email": email, "password": "a good password", "display_name": name}
            assert client.post("/api/v1/auth/signup", json=body).status_code == 201
            login = {"email": email, "password": body["password"]}
            assert client.post("/api/v1/auth/login", json=login).status_code == 200
            client.headers["X-CSRF-Token"] = client.get("/api/v1/me").json()["csrf_token"]
            people.append((client, email))
        (host, _), (booker, booker_email) = people
        room = host.post("/api/v1/rooms", json={"title": "Port", "member_emails": [booker_email]})
        assert room.status_code == 201, room.text
        every_day = {d: [{"start": "00:00", "end": "24:00"}] for d in WEEKDAYS}
        invite = host.post(
            f"/api/v1/rooms/{room.json()['id']}/invites",
            json={"time_zone": "UTC", "weekly": every_day, "duration_minutes": 30},
        )
        assert invite.status_code == 201, invite.text
        booked = booker.post(
            f"/api/v1/invites/{invite.json()['id']}/book", json={"start": "2026-12-02T10:00:00Z"}
        )
        assert booked.status_code == 201, booked.text
        meeting = booked.json()
        meeting = meeting.get("meeting", meeting)

        assert meeting["join_url"].startswith(f"{url}/m/")
        assert f"127.0.0.1%3A{port}" in meeting["google_url"]
        assert f"127.0.0.1%3A{port}" in meeting["outlook_url"]
        assert ":8000" not in meeting["google_url"] + meeting["outlook_url"]
        ics_url = urljoin(url + "/", meeting["ics_url"])
        assert ics_url.startswith(f"{url}/")
        ics = booker.get(ics_url)
        assert ics.status_code == 200
        unfolded = ics.text.replace("\r\n ", "")
        assert f"LOCATION:{meeting['join_url']}" in unfolded
        assert f"URL:{meeting['join_url']}" in unfolded
        assert f"DESCRIPTION:Join the video meeting: {meeting['join_url']}" in unfolded
        assert ":8000" not in unfolded
        # The join link itself answers on this server.
        assert httpx.get(meeting["join_url"], timeout=10).status_code == 200
        for client, _ in people:
            client.close()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
