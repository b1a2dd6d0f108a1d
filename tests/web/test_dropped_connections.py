"""A database connection the server drops (a restart, a proxy's idle timeout,
``pg_terminate_backend``) costs no request: the next requests of every kind succeed."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import httpx
import pytest

from tests.conftest import PASSWORD, Person
from tests.web.test_scheduling import NOW, share


@pytest.fixture
def settings(make_settings: Any) -> Any:
    return make_settings(now=NOW)


async def _cut_every_connection(database_url: str) -> int:
    """Terminate every backend connected to the test database but our own."""
    admin = await asyncpg.connect(database_url)
    try:
        pids = await admin.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()"
        )
        for row in pids:
            await admin.execute("SELECT pg_terminate_backend($1)", row["pid"])
        return len(pids)
    finally:
        await admin.close()


async def test_requests_after_the_server_cut_every_connection(
    backend: str, database_url: str, app: Any, room: dict[str, Any], alice: Person, bob: Person
) -> None:
    if backend != "postgres":
        pytest.skip("PostgreSQL connections")
    invite = await share(alice, room["id"])
    # Warm every path up, so each pool holds connections that are about to die.
    assert (
        await bob.client.get(f"/api/v1/invites/{invite['id']}/slots?date=2026-12-01")
    ).is_success
    assert (
        await bob.client.post(f"/api/v1/rooms/{room['id']}/messages", json={"body": "hi"})
    ).is_success
    for attempt in range(2):
        assert await _cut_every_connection(database_url) > 0
        await asyncio.sleep(0.1)  # the backends are gone
        new = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        )
        email = f"dora{attempt}@example.com"
        signup = await new.post(
            "/api/v1/auth/signup",
            json={"email": email, "password": PASSWORD, "display_name": "Dora", "time_zone": "UTC"},
        )
        assert signup.status_code == 201, signup.text
        login = await new.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
        assert login.status_code == 200, login.text
        await new.aclose()
        assert (await bob.client.get("/api/v1/rooms")).status_code == 200
        slots = await bob.client.get(
            f"/api/v1/invites/{invite['id']}/slots?date=2026-12-0{2 + attempt}"
        )
        assert slots.status_code == 200, slots.text
        posted = await bob.client.post(
            f"/api/v1/rooms/{room['id']}/messages", json={"body": f"after cut {attempt}"}
        )
        assert posted.status_code == 201, posted.text
        history = await alice.client.get(f"/api/v1/rooms/{room['id']}/messages")
        assert history.json()["messages"][-1]["body"] == f"after cut {attempt}"
    start = (await bob.client.get(f"/api/v1/invites/{invite['id']}/slots?date=2026-12-03")).json()
    booked = await bob.client.post(
        f"/api/v1/invites/{invite['id']}/book", json={"start": start["slots"][0]["start"]}
    )
    assert booked.status_code == 201, booked.text
