"""Shared fixtures: a migrated database per backend, the app, and named people.

``backend`` runs a test on SQLite and on PostgreSQL (the latter skips, or fails in CI, when
PostgreSQL does not answer).  Each PostgreSQL test session makes its own database and drops it.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from parlay.db.base import Base
from parlay.db.migrate import upgrade
from parlay.main import create_app
from parlay.settings import Settings
from tests.services_available import PG_URL, require_postgres

PASSWORD = "correct horse battery"
PEOPLE = {
    "alice": ("alice@example.com", "Alice Adams", "Europe/Berlin"),
    "bob": ("bob@example.com", "Bob Brown", "America/New_York"),
    "carol": ("carol@example.com", "Carol Chen", "Asia/Tokyo"),
}


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "parlay.db"
    upgrade(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    require_postgres()
    name = f"parlay_test_{uuid.uuid4().hex[:10]}"
    admin = PG_URL

    async def run(sql: str) -> None:
        conn = await asyncpg.connect(admin)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run(f'CREATE DATABASE "{name}"'))
    base = admin.rsplit("/", 1)[0]
    url = f"{base}/{name}"
    upgrade(url.replace("postgresql://", "postgresql+asyncpg://"))
    try:
        yield url
    finally:
        asyncio.run(run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _truncate(url: str) -> None:
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
    finally:
        await conn.close()


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty database of the chosen backend (a plain URL, as operators give)."""
    if backend == "sqlite":
        path = tmp_path / "parlay.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("postgres_database")
    asyncio.run(_truncate(url))
    return url


@pytest.fixture
def make_settings(database_url: str, tmp_path: Path) -> Any:
    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "env": "test",
            "database_url": database_url,
            "data_dir": tmp_path / "var",
            "secret_key": "test-secret-key",
            "event_poll_seconds": 0.2,
            # Tests drive the outbox worker themselves (tests/test_jobs.py).
            "inprocess_worker": False,
        }
        values.update(overrides)
        return Settings(**values)

    return make


@pytest.fixture
def settings(make_settings: Any) -> Settings:
    return make_settings()


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[Any]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@asynccontextmanager
async def another_node(
    settings: Settings, **client_options: Any
) -> AsyncIterator[tuple[Any, httpx.AsyncClient]]:
    """A second app node over the same database (caches, hub and broker of its own), started,
    and a client of it (``client_options``: cookies, headers)."""
    node = create_app(settings)
    async with (
        node.router.lifespan_context(node),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=node), base_url="http://testserver", **client_options
        ) as client,
    ):
        yield node, client


@pytest.fixture
async def anon(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as client:
        yield client


@dataclass
class Person:
    """A signed-in person: ``client`` carries their session cookie and CSRF header."""

    name: str
    id: str
    email: str
    client: httpx.AsyncClient
    csrf: str


async def sign_up_and_in(
    app: Any, name: str, *, email: str | None = None, zone: str = "UTC"
) -> Person:
    """Sign up and in: one of PEOPLE by ``name``, or anyone else given their ``email``."""
    email, display, zone = PEOPLE[name] if email is None else (email, name, zone)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")
    r = await client.post(
        "/api/v1/auth/signup",
        json={"email": email, "password": PASSWORD, "display_name": display, "time_zone": zone},
    )
    assert r.status_code == 201, r.text
    r = await client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert r.status_code == 200, r.text
    csrf = r.json()["csrf_token"]
    client.headers["X-CSRF-Token"] = csrf
    return Person(name=name, id=r.json()["user"]["id"], email=email, client=client, csrf=csrf)


@pytest.fixture
async def alice(app: Any) -> AsyncIterator[Person]:
    person = await sign_up_and_in(app, "alice")
    yield person
    await person.client.aclose()


@pytest.fixture
async def bob(app: Any) -> AsyncIterator[Person]:
    person = await sign_up_and_in(app, "bob")
    yield person
    await person.client.aclose()


@pytest.fixture
async def carol(app: Any) -> AsyncIterator[Person]:
    person = await sign_up_and_in(app, "carol")
    yield person
    await person.client.aclose()


@pytest.fixture
async def room(alice: Person, bob: Person) -> dict[str, Any]:
    r = await alice.client.post(
        "/api/v1/rooms", json={"title": "Alice & Bob", "member_emails": [bob.email]}
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


@pytest.fixture
async def other_room(alice: Person, carol: Person) -> dict[str, Any]:
    """A second room of Alice's, with Carol (not Bob)."""
    r = await alice.client.post(
        "/api/v1/rooms", json={"title": "A&C", "member_emails": [carol.email]}
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


def artifacts_dir() -> Path:
    path = Path(os.environ.get("PARLAY_ARTIFACTS", "test-artifacts"))
    path.mkdir(parents=True, exist_ok=True)
    return path
