"""Accounts over HTTP: signup, login, sessions, CSRF, tokens, rate limits (both backends)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from parlay.db.models import User
from parlay.services.principals import PrincipalCache
from tests.conftest import PASSWORD, Person, another_node


def error(r: httpx.Response) -> dict[str, Any]:
    body = r.json()
    assert set(body) == {"error"}, body
    return dict(body["error"])


async def test_signup_rejects_duplicates_and_bad_input(anon: httpx.AsyncClient) -> None:
    ok = {"email": "Dana@Example.com", "password": "0123456789", "display_name": "Dana"}
    r = await anon.post("/api/v1/auth/signup", json={**ok, "time_zone": "Europe/Paris"})
    assert r.status_code == 201
    assert r.json()["email"] == "dana@example.com"
    assert "password" not in r.text and "hash" not in r.text

    r = await anon.post("/api/v1/auth/signup", json={**ok, "email": "dana@EXAMPLE.com"})
    assert r.status_code == 409 and error(r)["code"] == "email_taken"

    r = await anon.post("/api/v1/auth/signup", json={**ok, "email": "e@x.io", "password": "short"})
    assert r.status_code == 422 and error(r)["field"] == "password"

    r = await anon.post(
        "/api/v1/auth/signup", json={**ok, "email": "e@x.io", "time_zone": "Mars/Base"}
    )
    assert r.status_code == 422 and error(r) == {
        "code": "unknown_time_zone",
        "message": error(r)["message"],
        "field": "time_zone",
    }

    r = await anon.post("/api/v1/auth/signup", json={**ok, "email": "e@x.io", "display_name": 7})
    assert r.status_code == 422 and error(r)["field"] == "display_name"

    r = await anon.post("/api/v1/auth/signup", json={**ok, "email": "e@x.io", "admin": True})
    assert r.status_code == 422

    r = await anon.post(
        "/api/v1/auth/signup", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert r.status_code == 422 and error(r)["code"] == "invalid_json"


async def test_login_session_and_logout(app: Any, alice: Person) -> None:
    me = await alice.client.get("/api/v1/me")
    assert me.status_code == 200
    assert me.json()["email"] == alice.email and me.json()["csrf_token"] == alice.csrf

    cookie = alice.client.cookies.get("parlay_session")
    assert cookie
    r = await alice.client.post("/api/v1/auth/logout")
    assert r.status_code == 204

    # The old cookie is dead on the server, not just forgotten by this client.
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://testserver",
        cookies={"parlay_session": cookie},
    ) as replay:
        assert (await replay.get("/api/v1/me")).status_code == 401


async def test_wrong_password_and_unknown_email_look_the_same(
    anon: httpx.AsyncClient, alice: Person
) -> None:
    a = await anon.post(
        "/api/v1/auth/login", json={"email": alice.email, "password": "nope-nope-nope"}
    )
    b = await anon.post(
        "/api/v1/auth/login", json={"email": "who@example.com", "password": "nope-nope-nope"}
    )
    assert a.status_code == b.status_code == 401
    assert error(a) == error(b) and error(a)["code"] == "bad_credentials"


async def test_repeated_failures_are_rate_limited(anon: httpx.AsyncClient, alice: Person) -> None:
    for _ in range(5):
        r = await anon.post(
            "/api/v1/auth/login", json={"email": alice.email, "password": "wrong-wrong"}
        )
        assert r.status_code == 401
    r = await anon.post("/api/v1/auth/login", json={"email": alice.email, "password": PASSWORD})
    assert r.status_code == 429 and error(r)["code"] == "rate_limited"
    assert int(r.headers["Retry-After"]) > 0


async def test_cookie_writes_need_csrf(alice: Person) -> None:
    r = await alice.client.patch(
        "/api/v1/me", json={"display_name": "Mallory"}, headers={"X-CSRF-Token": "forged"}
    )
    assert r.status_code == 403 and error(r)["code"] == "csrf_failed"
    assert (await alice.client.get("/api/v1/me")).json()["display_name"] == "Alice Adams"


async def test_profile_update(alice: Person) -> None:
    r = await alice.client.patch("/api/v1/me", json={"time_zone": "Asia/Kolkata"})
    assert r.status_code == 200 and r.json()["time_zone"] == "Asia/Kolkata"
    r = await alice.client.patch("/api/v1/me", json={"time_zone": "Asia/Nowhere"})
    assert r.status_code == 422
    assert (await alice.client.get("/api/v1/me")).json()["time_zone"] == "Asia/Kolkata"


async def test_personal_access_token(anon: httpx.AsyncClient, alice: Person) -> None:
    r = await alice.client.post("/api/v1/me/tokens", json={"name": "script"})
    assert r.status_code == 201
    token = r.json()["token"]
    bearer = {"Authorization": f"Bearer {token}"}
    me = await anon.get("/api/v1/me", headers=bearer)
    assert me.status_code == 200 and me.json()["id"] == alice.id
    # A bearer token needs no CSRF header for writes.
    r = await anon.patch("/api/v1/me", json={"display_name": "Alice A."}, headers=bearer)
    assert r.status_code == 200 and r.json()["display_name"] == "Alice A."
    bad = await anon.get("/api/v1/me", headers={"Authorization": f"Bearer {token}x"})
    assert bad.status_code == 401 and error(bad)["code"] == "unauthenticated"


async def test_health_and_metrics(anon: httpx.AsyncClient) -> None:
    assert (await anon.get("/healthz")).json() == {"status": "ok"}
    await anon.get("/api/v1/me")
    metrics = (await anon.get("/metrics")).text
    assert 'parlay_http_requests_total{method="GET",route="/api/v1/me",status="401"}' in metrics


async def test_another_node_trusts_a_session_at_most_the_cache_seconds(
    app: Any, settings: Any, alice: Person
) -> None:
    """Logout ends a session everywhere: at once on the node that handled it, and within
    PARLAY_AUTH_CACHE_SECONDS on a node that had just looked it up (stated in
    parlay.services.principals)."""
    seconds = [100.0]
    app.state.ctx.principals.monotonic = lambda: seconds[0]
    assert (await alice.client.get("/api/v1/me")).status_code == 200  # node A remembers

    async with another_node(
        settings,
        cookies={"parlay_session": alice.client.cookies["parlay_session"]},
        headers={"X-CSRF-Token": alice.csrf},
    ) as (_other, on_b):
        assert (await on_b.post("/api/v1/auth/logout")).status_code == 204
        assert (await on_b.get("/api/v1/me")).status_code == 401

    seconds[0] += settings.auth_cache_seconds - 0.01
    assert (await alice.client.get("/api/v1/me")).status_code == 200  # within the bound
    seconds[0] += 0.01
    assert (await alice.client.get("/api/v1/me")).status_code == 401  # and not a moment more


def test_principal_cache_bounds() -> None:
    now = [0.0]
    cache = PrincipalCache(ttl=2.0, max_entries=2, monotonic=lambda: now[0])
    u1, u2 = User(id="u1"), User(id="u2")
    cache.put("a", u1)
    cache.put("b", u2)
    cache.put("c", u1)  # full: the oldest entry goes
    assert cache.get("a") is None and cache.get("b") is not None
    cache.forget_user("u1")
    assert cache.get("c") is None and cache.get("b") is not None
    now[0] = 2.0
    assert cache.get("b") is None  # expired
    off = PrincipalCache(ttl=0)
    assert off.put("a", u1).user is u1 and off.get("a") is None


async def test_a_cached_caller_is_read_again_in_the_background_once_half_its_ttl_old() -> None:
    """Served from the entry all along; half a ttl in, one read (however many requests) in
    the background replaces it; a read that finds the credential gone forgets it."""
    now = [0.0]
    cache = PrincipalCache(ttl=2.0, monotonic=lambda: now[0])
    reads: list[float] = []
    release = asyncio.Event()
    answer: list[Any] = [(User(id="u1", display_name="Alice B."), None, None)]

    async def read() -> Any:
        reads.append(now[0])
        await release.wait()
        return answer[0]

    found = cache.put("t:a", User(id="u1", display_name="Alice"))
    now[0] = 0.9
    cache.refresh("t:a", found, read)
    await asyncio.sleep(0)
    assert reads == []  # not yet half its ttl old

    now[0] = 1.0
    for _ in range(3):
        cache.refresh("t:a", found, read)
        await asyncio.sleep(0)
    assert reads == [1.0]  # one read for the three requests
    release.set()
    await cache.settled()
    now[0] = 2.5  # the first entry would have expired at 2.0
    fresh = cache.get("t:a")
    assert fresh is not None and fresh.user.display_name == "Alice B."
    now[0] = 3.0  # the refreshed entry counts from its read, at 1.0
    assert cache.get("t:a") is None

    gone = cache.put("t:a", User(id="u1"))
    now[0] = 4.0
    answer[0] = None  # the token was revoked meanwhile
    cache.refresh("t:a", gone, read)
    await cache.settled()
    assert cache.get("t:a") is None


async def test_a_refresh_under_way_when_a_credential_is_forgotten_does_not_bring_it_back() -> None:
    now = [0.0]
    cache = PrincipalCache(ttl=2.0, monotonic=lambda: now[0])
    release = asyncio.Event()

    async def read() -> Any:
        await release.wait()
        return (User(id="u1"), None, None)  # read before the logout committed

    found = cache.put("s:a", User(id="u1"))
    now[0] = 1.5
    cache.refresh("s:a", found, read)
    await asyncio.sleep(0)
    cache.forget("s:a")  # logout, heard while the read was on its way
    release.set()
    await cache.settled()
    assert cache.get("s:a") is None


async def test_a_failed_background_read_leaves_the_entry_to_age_out() -> None:
    now = [0.0]
    cache = PrincipalCache(ttl=2.0, monotonic=lambda: now[0])

    async def read() -> Any:
        raise ConnectionError("database unreachable")

    found = cache.put("t:a", User(id="u1"))
    now[0] = 1.5
    cache.refresh("t:a", found, read)
    await cache.settled()
    assert cache.get("t:a") is found  # still served, within its ttl
    now[0] = 2.0
    assert cache.get("t:a") is None  # and not a moment past it
