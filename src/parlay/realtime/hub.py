"""The WebSocket hub of one app node: reads committed live events in order and hands each to
the subscriptions of its recipients.

Ordering and completeness come from the event log: events get their ids in commit order
(see ``parlay.services.events``), the pump reads the log strictly after the last id it saw,
and a subscription never delivers an id at or below the last one it sent.  A reconnecting
client passes its cursor and is replayed from the log before live delivery resumes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class LiveEvent:
    id: int
    type: str
    data: dict[str, Any]
    recipients: frozenset[str]

    def wire(self) -> dict[str, Any]:
        return {"cursor": str(self.id), "type": self.type, "data": self.data}


class Subscription:
    """One socket's view of the stream: a bounded queue with duplicate suppression."""

    def __init__(self, user_id: str, max_backlog: int = 2000) -> None:
        self.user_id = user_id
        self.last_sent = 0
        self.overflowed = False
        self._queue: asyncio.Queue[LiveEvent] = asyncio.Queue()
        self._max_backlog = max_backlog

    def offer(self, event: LiveEvent) -> None:
        if event.id <= self.last_sent or self.overflowed:
            return
        if self._queue.qsize() >= self._max_backlog:
            # A client this far behind reconnects with its cursor and is replayed from the log.
            self.overflowed = True
        self._queue.put_nowait(event)

    def mark_sent(self, event_id: int) -> None:
        self.last_sent = max(self.last_sent, event_id)

    async def next(self) -> LiveEvent:
        while True:
            event = await self._queue.get()
            if event.id > self.last_sent:
                self.last_sent = event.id
                return event


FetchAfter = Callable[[int], Awaitable[list[LiveEvent]]]
Direct = Callable[[str, dict[str, Any]], None]


class Hub:
    def __init__(
        self,
        fetch_after: FetchAfter,
        last_id: Callable[[], Awaitable[int]],
        poll_seconds: float = 2.0,
    ) -> None:
        self._fetch_after = fetch_after
        self._last_id_source = last_id
        self._poll_seconds = poll_seconds
        self._subs: dict[str, set[Subscription]] = defaultdict(set)
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.last_id = 0

    async def start(self) -> None:
        self.last_id = await self._last_id_source()
        self._task = asyncio.create_task(self._pump(), name="parlay-hub-pump")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def wake(self) -> None:
        self._wake.set()

    def subscribe(self, user_id: str) -> Subscription:
        sub = Subscription(user_id)
        self._subs[user_id].add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        subs = self._subs.get(sub.user_id)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del self._subs[sub.user_id]

    def connected_users(self) -> int:
        return len(self._subs)

    async def _pump(self) -> None:
        while True:
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a cancellation
            # that arrives as the wake-up fires, and stop() would then wait forever.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._poll_seconds):
                    await self._wake.wait()
            self._wake.clear()
            try:
                await self._drain()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("live event pump failed; retrying")
                await asyncio.sleep(0.5)

    async def _drain(self) -> None:
        while True:
            events = await self._fetch_after(self.last_id)
            if not events:
                return
            for event in events:
                for user_id in event.recipients:
                    for sub in self._subs.get(user_id, ()):
                        sub.offer(event)
                self.last_id = event.id
