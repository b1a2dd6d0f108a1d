"""Failed-login throttling behind a trusted proxy: per pair, per address, progressive per
e-mail; shared through Redis; bounded in memory (both backends; counts in memory and Redis).

The throttle's clock is moved by the tests (no sleeping): ``Clock`` replaces it.
"""

from __future__ import annotations

import logging
import random
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from parlay.main import create_app
from parlay.services.ratelimits import (
    ADDRESS,
    EMAIL,
    EMAIL_CAP,
    LOOKUP,
    PAIR,
    MemoryStore,
    RedisStore,
)
from parlay.settings import Settings
from tests.conftest import PASSWORD, Person
from tests.services_available import REDIS_URL, require_redis

NOW = datetime.fromisoformat("2026-11-30T08:00:00+00:00")
LOGIN = "/api/v1/auth/login"
WRONG = "wrong-wrong-wrong"


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def settings(make_settings: Any) -> Settings:
    # The test client's peer is 127.0.0.1: it plays the reverse proxy.
    return make_settings(now=NOW, trusted_proxies="127.0.0.1")


@pytest.fixture
def clock(app: Any) -> Clock:
    clock = Clock(NOW)
    app.state.ctx.limiter.clock = clock
    return clock


@pytest.fixture(params=["memory", "redis"])
def store(request: pytest.FixtureRequest, app: Any) -> str:
    """Run a test with the counts in this node's memory, then in Redis (a fresh key prefix)."""
    if request.param == "redis":
        require_redis()
        app.state.ctx.limiter.store = RedisStore(REDIS_URL, prefix=f"test-{uuid.uuid4().hex}")
    return str(request.param)


async def login(
    client: httpx.AsyncClient, email: str, password: str, via: str | None = None
) -> httpx.Response:
    headers = {"X-Forwarded-For": via} if via else {}
    return await client.post(LOGIN, json={"email": email, "password": password}, headers=headers)


def refused(r: httpx.Response) -> int:
    """The Retry-After of a 429 ``rate_limited``."""
    assert r.status_code == 429, r.text
    assert r.json()["error"]["code"] == "rate_limited"
    return int(r.headers["Retry-After"])


async def test_many_failures_from_one_client_do_not_lock_out_another(
    anon: httpx.AsyncClient, alice: Person, clock: Clock, store: str
) -> None:
    """Behind the proxy every request comes from 127.0.0.1; the client is X-Forwarded-For's."""
    attacker = "203.0.113.9"
    for i in range(20):
        r = await login(anon, f"spray{i}@example.com", WRONG, via=attacker)
        assert r.status_code == 401, (i, r.text)
    assert 0 < refused(await login(anon, "spray20@example.com", WRONG, via=attacker)) <= 900
    # The attacker's address stays locked even with a right password...
    refused(await login(anon, alice.email, PASSWORD, via=attacker))
    # ...while Alice, from her own address behind the same proxy, signs in.
    r = await login(anon, alice.email, PASSWORD, via="198.51.100.7")
    assert r.status_code == 200, r.text
    # The proxy appends the peer it saw: a client cannot pick its address by sending its own.
    r = await login(anon, alice.email, PASSWORD, via=f"198.51.100.7, {attacker}")
    refused(r)


async def test_forwarded_for_from_an_untrusted_peer_is_ignored(
    app: Any, alice: Person, clock: Clock
) -> None:
    transport = httpx.ASGITransport(app=app, client=("192.0.2.50", 4000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as direct:
        for i in range(20):
            r = await login(direct, f"nobody{i}@example.com", WRONG, via=f"198.18.0.{i}")
            assert r.status_code == 401, r.text
        # Twenty different X-Forwarded-For values, one real address: it is locked.
        refused(await login(direct, alice.email, PASSWORD, via="198.18.1.1"))


async def test_five_failures_lock_the_pair_only(
    anon: httpx.AsyncClient, alice: Person, clock: Clock, store: str
) -> None:
    home, phone = "198.51.100.20", "198.51.100.21"
    for _ in range(5):
        assert (await login(anon, alice.email, WRONG, via=home)).status_code == 401
    assert refused(await login(anon, alice.email, PASSWORD, via=home)) == 900
    clock.advance(10 * 60)
    assert refused(await login(anon, alice.email, PASSWORD, via=home)) == 5 * 60
    assert (await login(anon, alice.email, PASSWORD, via=phone)).status_code == 200
    clock.advance(5 * 60)
    assert (await login(anon, alice.email, PASSWORD, via=home)).status_code == 200


async def test_spread_guessing_is_slowed_progressively_yet_the_owner_gets_in(
    anon: httpx.AsyncClient, alice: Person, clock: Clock, store: str
) -> None:
    """An attacker with a fresh address for every guess: after five failures each guess must
    wait twice as long as the last (capped); refused guesses do not lengthen the wait."""
    addresses = (f"198.18.{i // 250}.{i % 250 + 1}" for i in range(1000))
    for _ in range(5):
        assert (await login(anon, alice.email, WRONG, via=next(addresses))).status_code == 401
    waits = []
    for _ in range(11):
        wait = refused(await login(anon, alice.email, WRONG, via=next(addresses)))
        clock.advance(1)
        assert refused(await login(anon, alice.email, WRONG, via=next(addresses))) == wait - 1
        clock.advance(wait - 1)
        assert (await login(anon, alice.email, WRONG, via=next(addresses))).status_code == 401
        waits.append(wait)
    assert waits == [2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300]
    # Alice, from an address of her own, waits at most the cap, then the right password works.
    mine = "192.0.2.77"
    assert refused(await login(anon, alice.email, PASSWORD, via=mine)) == EMAIL_CAP
    clock.advance(EMAIL_CAP)
    assert (await login(anon, alice.email, PASSWORD, via=mine)).status_code == 200


async def test_a_correct_login_clears_its_pair(
    anon: httpx.AsyncClient, alice: Person, clock: Clock, store: str
) -> None:
    home = "198.51.100.30"
    for _ in range(4):
        assert (await login(anon, alice.email, WRONG, via=home)).status_code == 401
    assert (await login(anon, alice.email, PASSWORD, via=home)).status_code == 200
    assert (await login(anon, alice.email, WRONG, via=home)).status_code == 401
    clock.advance(2)  # the e-mail has five failures now: the next try waits 2 s
    # Without the clearing the pair would hold five failures and refuse this.
    assert (await login(anon, alice.email, PASSWORD, via=home)).status_code == 200


async def test_limits_off_turn_all_of_it_off(make_settings: Any) -> None:
    app = create_app(make_settings(rate_limits="off", trusted_proxies="127.0.0.1"))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client,
    ):
        for _ in range(30):
            r = await login(client, "someone@example.com", WRONG, via="198.51.100.1")
            assert r.status_code == 401


@pytest.fixture
async def two_nodes(make_settings: Any) -> AsyncIterator[list[httpx.AsyncClient]]:
    """Two app nodes on one Redis (and one database), each with its own client."""
    require_redis()
    settings = make_settings(
        now=NOW,
        trusted_proxies="127.0.0.1",
        redis_url=REDIS_URL,
        redis_key_prefix=f"test-{uuid.uuid4().hex}",
    )
    apps = [create_app(settings), create_app(settings)]
    async with apps[0].router.lifespan_context(apps[0]), apps[1].router.lifespan_context(apps[1]):
        clients = [
            httpx.AsyncClient(transport=httpx.ASGITransport(app=a), base_url="http://t")
            for a in apps
        ]
        yield clients
        for client in clients:
            await client.aclose()


@pytest.mark.redis
async def test_counts_are_shared_through_redis(two_nodes: list[httpx.AsyncClient]) -> None:
    one, two = two_nodes
    r = await one.post(
        "/api/v1/auth/signup",
        json={
            "email": "dora@example.com",
            "password": PASSWORD,
            "display_name": "Dora",
            "time_zone": "UTC",
        },
    )
    assert r.status_code == 201
    for node in (one, two, one, two, one):
        assert (
            await login(node, "dora@example.com", WRONG, via="198.51.100.40")
        ).status_code == 401
    # Each node saw some of the five failures; both refuse the pair now.
    for node in (one, two):
        assert refused(await login(node, "dora@example.com", PASSWORD, via="198.51.100.40")) > 0
    r = await login(two, "dora@example.com", PASSWORD, via="198.51.100.41")
    assert refused(r) <= 2  # the e-mail's progressive delay, shared too


async def test_redis_failure_falls_back_to_local_counts(
    anon: httpx.AsyncClient,
    app: Any,
    alice: Person,
    clock: Clock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    app.state.ctx.limiter.store = RedisStore("redis://127.0.0.1:1/0", prefix="unreachable")
    with caplog.at_level(logging.WARNING, logger="parlay.services.ratelimits"):
        for _ in range(5):
            assert (await login(anon, alice.email, WRONG, via="198.51.100.50")).status_code == 401
        refused(await login(anon, alice.email, PASSWORD, via="198.51.100.50"))
        clock.advance(2)
        r = await login(anon, alice.email, PASSWORD, via="198.51.100.51")
        assert r.status_code == 200, r.text
    assert any("Redis failed" in m for m in caplog.messages)


async def test_memory_is_bounded(
    anon: httpx.AsyncClient, app: Any, alice: Person, clock: Clock
) -> None:
    store = MemoryStore(max_keys=10)
    app.state.ctx.limiter.store = store
    for i in range(40):
        r = await login(anon, f"guess{i}@example.com", WRONG, via=f"198.18.3.{i}")
        assert r.status_code == 401
    assert max(store.sizes().values()) == 10
    # The newest keys are kept and still count.
    for _ in range(5):
        await login(anon, alice.email, WRONG, via="198.18.3.99")
    refused(await login(anon, alice.email, PASSWORD, via="198.18.3.99"))
    # Expired keys go: a day later one new failure leaves one key of each kind.
    clock.advance(24 * 3600)
    await login(anon, "late@example.com", WRONG, via="198.18.4.1")
    assert store.sizes() == {"pair": 1, "addr": 1, "email": 1}


@pytest.mark.redis
async def test_redis_decides_exactly_as_memory_does() -> None:
    """The Lua script mirrors the in-memory rules: the same random history of attempts,
    charges, successes and clock moves gets the same answers from both."""
    require_redis()
    memory = MemoryStore()
    shared = RedisStore(REDIS_URL, prefix=f"test-{uuid.uuid4().hex}")
    rng = random.Random(7)
    now = NOW.timestamp()
    try:
        for step in range(400):
            now += rng.choice([0, 0, 1, 3, 30, 200, 1000])
            e, a = rng.choice("xy"), rng.choice("pq")
            login = ((PAIR, e + a), (ADDRESS, a), (EMAIL, e))
            op = rng.random()
            if op < 0.6:
                members = [f"m{step}"]
                checks: tuple[Any, ...] = login
            elif op < 0.8:
                members = [f"m{step}-{i}" for i in range(rng.randint(0, 5))]
                checks = ((LOOKUP, e),)
            else:
                victim = f"m{rng.randrange(max(step, 1))}"
                for store in (memory, shared):
                    await store.forget(login[2], victim)
                    await store.clear(login[0])
                continue
            waits = [await s.acquire(checks, now, members) for s in (memory, shared)]
            assert waits[0] == pytest.approx(waits[1], abs=1e-6), (step, waits)
    finally:
        await shared.close()
