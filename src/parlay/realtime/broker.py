"""Messages between app nodes: "new live events were committed", "this credential ended", and
ephemeral video signaling (``signal``: envelopes of ``parlay.realtime.signaling``, never stored).

The event log in the database is the source of truth; a wake-up only says when to look.
A revocation names principal keys (``"s:"``/``"t:"`` + a credential digest, as the principal
cache keys them) whose session ended or token was revoked: every node forgets them and closes
their sockets.  In-process by default; Redis pub/sub when ``PARLAY_REDIS_URL`` is set (one
channel each), so several nodes behind a balancer hear each other.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable, Sequence
from typing import Any, Protocol

log = logging.getLogger(__name__)
CHANNEL = "parlay:events"
REVOKE_CHANNEL = "parlay:revoke"
SIGNAL_CHANNEL = "parlay:signal"
#: How long ``RedisBroker.stop`` waits for a wake-up still being published.
STOP_PUBLISH_SECONDS = 2.0

OnRevoke = Callable[[Sequence[str]], None]
OnSignal = Callable[[str], None]


def _noop_revoke(_keys: Sequence[str]) -> None:
    return None


class Broker(Protocol):
    async def start(self, on_wake: Callable[[], None], on_revoke: OnRevoke = ...) -> None: ...
    async def notify(self) -> None: ...
    async def revoke(self, keys: Sequence[str]) -> None: ...
    def on_signal(self, listener: OnSignal) -> None: ...
    async def signal(self, data: str) -> None: ...
    async def stop(self) -> None: ...


def _tell(listeners: list[OnRevoke], keys: Sequence[str]) -> None:
    for listener in listeners:
        try:
            listener(keys)
        except Exception:  # one failing listener must not keep the others from hearing it
            log.exception("revocation listener failed")


def _hand(listeners: list[OnSignal], data: str) -> None:
    for listener in listeners:
        try:
            listener(data)
        except Exception:
            log.exception("signal listener failed")


class MemoryBroker:
    def __init__(self) -> None:
        self._listeners: list[Callable[[], None]] = []
        self._revoke_listeners: list[OnRevoke] = []
        self._signal_listeners: list[OnSignal] = []

    async def start(self, on_wake: Callable[[], None], on_revoke: OnRevoke = _noop_revoke) -> None:
        self._listeners.append(on_wake)
        self._revoke_listeners.append(on_revoke)

    async def notify(self) -> None:
        for listener in self._listeners:
            listener()

    async def revoke(self, keys: Sequence[str]) -> None:
        _tell(self._revoke_listeners, list(keys))

    def on_signal(self, listener: OnSignal) -> None:
        self._signal_listeners.append(listener)

    async def signal(self, data: str) -> None:
        _hand(self._signal_listeners, data)

    async def stop(self) -> None:
        self._listeners.clear()
        self._revoke_listeners.clear()
        self._signal_listeners.clear()


def _revoked_keys(data: Any) -> list[str]:
    """The keys in a revocation message; anything malformed names none."""
    try:
        keys = json.loads(data)
    except (TypeError, ValueError):
        return []
    if not isinstance(keys, list):
        return []
    return [k for k in keys if isinstance(k, str)]


class RedisBroker:
    def __init__(self, url: str) -> None:
        import redis.asyncio as redis

        self._redis = redis.from_url(url)
        self._task: asyncio.Task[None] | None = None
        #: Publishes wake-ups one at a time; the notifies that arrive while one is on its way
        #: are told to the other nodes by the next, together (see ``notify``).
        self._publisher: asyncio.Task[None] | None = None
        self._wake_pending = False
        self._listeners: list[Callable[[], None]] = []
        self._revoke_listeners: list[OnRevoke] = []
        self._signal_listeners: list[OnSignal] = []

    async def start(self, on_wake: Callable[[], None], on_revoke: OnRevoke = _noop_revoke) -> None:
        self._listeners.append(on_wake)
        self._revoke_listeners.append(on_revoke)
        if self._task is None:
            pubsub = self._redis.pubsub()
            await pubsub.subscribe(CHANNEL, REVOKE_CHANNEL, SIGNAL_CHANNEL)
            self._task = asyncio.create_task(self._listen(pubsub))

    def _dispatch(self, message: dict[str, Any]) -> None:
        if message.get("type") != "message":
            return
        channel = message.get("channel")
        if channel in (SIGNAL_CHANNEL, SIGNAL_CHANNEL.encode()):
            data = message.get("data")
            if isinstance(data, bytes):
                _hand(self._signal_listeners, data.decode("utf-8", "replace"))
            return
        if channel in (REVOKE_CHANNEL, REVOKE_CHANNEL.encode()):
            keys = _revoked_keys(message.get("data"))
            if keys:
                _tell(self._revoke_listeners, keys)
            return
        for listener in self._listeners:
            listener()

    async def _listen(self, pubsub: object) -> None:
        while True:
            try:
                async for message in pubsub.listen():  # type: ignore[attr-defined]
                    self._dispatch(message)
            except asyncio.CancelledError:
                raise
            except Exception:
                # The connection dropped: the pump's poll covers missed wake-ups; revocations
                # sent meanwhile are missed (other nodes' caches still expire within their ttl).
                log.warning("redis pub/sub interrupted; resubscribing", exc_info=True)
                await asyncio.sleep(1)
                with contextlib.suppress(Exception):
                    await pubsub.subscribe(  # type: ignore[attr-defined]
                        CHANNEL, REVOKE_CHANNEL, SIGNAL_CHANNEL
                    )

    async def notify(self) -> None:
        """Wake this node directly (no round trip through Redis for local clients) and the
        others through Redis, without waiting for it: a wake-up only says "look at the log",
        so the commits that notify while a publish is on its way share the next one, sent
        after it (always after their commit).  A burst of posts costs every node one wake-up
        per Redis round trip instead of one per post."""
        for listener in self._listeners:
            listener()
        self._wake_pending = True
        if self._publisher is None or self._publisher.done():
            self._publisher = asyncio.create_task(self._publish_wakes())

    async def _publish_wakes(self) -> None:
        while self._wake_pending:
            self._wake_pending = False
            try:
                await self._redis.publish(CHANNEL, b"1")
            except Exception:
                log.warning("redis publish failed; other nodes catch up by polling", exc_info=True)

    async def revoke(self, keys: Sequence[str]) -> None:
        # This node at once; the others (and this one again, harmlessly) through Redis.
        keys = list(keys)
        _tell(self._revoke_listeners, keys)
        try:
            await self._redis.publish(REVOKE_CHANNEL, json.dumps(keys))
        except Exception:
            log.warning("redis publish of a revocation failed", exc_info=True)

    def on_signal(self, listener: OnSignal) -> None:
        self._signal_listeners.append(listener)

    async def signal(self, data: str) -> None:
        # Every node, this one included, hears it through Redis: envelopes name their sender
        # node, and the relay delivers its own node's share before publishing.
        try:
            await self._redis.publish(SIGNAL_CHANNEL, data)
        except Exception:
            log.warning("redis publish of a signal failed", exc_info=True)

    async def stop(self) -> None:
        if self._publisher is not None:  # the last wake-up still goes out (bounded wait)
            await asyncio.wait({self._publisher}, timeout=STOP_PUBLISH_SECONDS)
            self._publisher.cancel()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        await self._redis.aclose()
