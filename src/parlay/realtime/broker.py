"""Wake-ups between app nodes: "new live events were committed".

The event log in the database is the source of truth; the broker only says when to look.
In-process by default; Redis pub/sub when ``PARLAY_REDIS_URL`` is set, so several nodes
behind a balancer deliver each other's events.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Protocol

log = logging.getLogger(__name__)
CHANNEL = "parlay:events"


class Broker(Protocol):
    async def start(self, on_wake: Callable[[], None]) -> None: ...
    async def notify(self) -> None: ...
    async def stop(self) -> None: ...


class MemoryBroker:
    def __init__(self) -> None:
        self._listeners: list[Callable[[], None]] = []

    async def start(self, on_wake: Callable[[], None]) -> None:
        self._listeners.append(on_wake)

    async def notify(self) -> None:
        for listener in self._listeners:
            listener()

    async def stop(self) -> None:
        self._listeners.clear()


class RedisBroker:
    def __init__(self, url: str) -> None:
        import redis.asyncio as redis

        self._redis = redis.from_url(url)
        self._task: asyncio.Task[None] | None = None
        self._listeners: list[Callable[[], None]] = []

    async def start(self, on_wake: Callable[[], None]) -> None:
        self._listeners.append(on_wake)
        if self._task is None:
            pubsub = self._redis.pubsub()
            await pubsub.subscribe(CHANNEL)
            self._task = asyncio.create_task(self._listen(pubsub))

    async def _listen(self, pubsub: object) -> None:
        while True:
            try:
                async for message in pubsub.listen():  # type: ignore[attr-defined]
                    if message.get("type") == "message":
                        for listener in self._listeners:
                            listener()
            except asyncio.CancelledError:
                raise
            except Exception:  # the connection dropped: the pump's poll covers the gap
                log.warning("redis pub/sub interrupted; resubscribing", exc_info=True)
                await asyncio.sleep(1)
                with contextlib.suppress(Exception):
                    await pubsub.subscribe(CHANNEL)  # type: ignore[attr-defined]

    async def notify(self) -> None:
        # Also wake this node directly: no round trip through Redis for local clients.
        for listener in self._listeners:
            listener()
        try:
            await self._redis.publish(CHANNEL, b"1")
        except Exception:
            log.warning("redis publish failed; other nodes catch up by polling", exc_info=True)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        await self._redis.aclose()
