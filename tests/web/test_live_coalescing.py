"""Wake-ups coalesce without losing one: a burst of commits costs each node a few reads of the
log and a few Redis messages, not one per commit, and every commit is still followed by a
wake-up the other nodes hear and a read that sees it."""

from __future__ import annotations

import asyncio
import random
import time

import pytest

from parlay.realtime.broker import RedisBroker
from parlay.realtime.hub import Hub, LiveEvent
from tests.services_available import REDIS_URL, require_redis


def _event(n: int) -> LiveEvent:
    return LiveEvent(n, "message.created", {"n": n}, frozenset({"u1"}))


async def test_a_short_batch_ends_the_drain_and_a_full_one_reads_on() -> None:
    log: list[LiveEvent] = []
    reads: list[int] = []

    async def fetch_after(last_id: int) -> list[LiveEvent]:
        reads.append(last_id)
        return [e for e in log if e.id > last_id][:3]

    async def last_id() -> int:
        return 0

    hub = Hub(fetch_after, last_id, poll_seconds=60, batch=3)
    await hub.start()
    sub = hub.subscribe("u1")
    try:
        log.extend(_event(n) for n in (1, 2))
        hub.wake()
        assert [(await sub.next()).id for _ in range(2)] == [1, 2]  # type: ignore[union-attr]
        assert reads == [0]  # two of at most three: everything there was; no second read

        log.extend(_event(n) for n in range(3, 10))  # seven more: batches of 3, 3 and 1
        hub.wake()
        got = [(await sub.next()).id for _ in range(7)]  # type: ignore[union-attr]
        assert got == list(range(3, 10))
        assert reads == [0, 2, 5, 8]
    finally:
        await hub.stop()


@pytest.mark.redis
async def test_every_notify_is_followed_by_a_wake_up_on_the_other_node() -> None:
    """Bursts of notifies on node A, some while a publish is on its way: node B hears a wake-up
    after each one (the last of a burst included), and far fewer than one per notify."""
    require_redis()
    node_a, node_b = RedisBroker(REDIS_URL), RedisBroker(REDIS_URL)
    heard: list[float] = []
    notified: list[float] = []
    news = asyncio.Event()

    def hear() -> None:
        heard.append(time.monotonic())
        news.set()

    async def hear_after_last_notify() -> None:
        async with asyncio.timeout(10):
            while not heard or heard[-1] < notified[-1]:
                news.clear()
                await news.wait()

    await node_a.start(lambda: None)
    await node_b.start(hear)
    await asyncio.sleep(0.2)  # both subscriptions are live
    rng = random.Random(7)
    try:

        async def notify() -> None:
            notified.append(time.monotonic())
            await node_a.notify()

        for _burst in range(20):
            tasks = []
            for _ in range(rng.randrange(1, 40)):
                tasks.append(asyncio.create_task(notify()))
                if rng.random() < 0.3:
                    await asyncio.sleep(rng.uniform(0, 0.002))  # lands mid-publish
            await asyncio.gather(*tasks)
            await asyncio.sleep(rng.uniform(0, 0.01))
        await hear_after_last_notify()
        for at in notified:
            assert any(wake > at for wake in heard), "a notify was never followed by a wake-up"

        await asyncio.sleep(0.2)  # a wake-up still owed to the last burst arrives first
        before = len(heard)
        await asyncio.gather(*(notify() for _ in range(100)))  # one burst: one message
        await hear_after_last_notify()
        await asyncio.sleep(0.1)  # a second message, if any, arrives
        assert 1 <= len(heard) - before <= 2
    finally:
        await node_a.stop()
        await node_b.stop()


async def test_commits_close_together_share_a_read_of_the_log() -> None:
    """Ten commits, each waking the hub as it lands: with a gap of a second between reads,
    the first read goes at once and the nine after it share one; every event arrives once,
    in order."""
    log: list[LiveEvent] = []
    reads: list[int] = []

    async def fetch_after(last_id: int) -> list[LiveEvent]:
        reads.append(last_id)
        await asyncio.sleep(0)
        return [e for e in log if e.id > last_id][:500]

    async def last_id() -> int:
        return 0

    hub = Hub(fetch_after, last_id, poll_seconds=60, batch=500, min_gap=1.0)
    await hub.start()
    sub = hub.subscribe("u1")
    try:
        for n in range(1, 11):
            log.append(_event(n))
            hub.wake()
            await asyncio.sleep(0)
        got = [(await sub.next()).id for _ in range(10)]  # type: ignore[union-attr]
        assert got == list(range(1, 11))
        assert len(reads) == 2
    finally:
        await hub.stop()
