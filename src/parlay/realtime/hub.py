"""The WebSocket hub of one app node: reads committed live events in order and hands each to
the subscriptions of its recipients.

Ordering and completeness come from the event log: events get their ids in commit order
(see ``parlay.services.events``), the pump reads the log strictly after the last id it saw,
and a subscription never delivers an id at or below the last one it sent.  A reconnecting
client passes its cursor and is replayed from the log before live delivery resumes.

Each subscription also keeps the principal key of the credential its socket signed in with
(``"s:"``/``"t:"`` + digest).  ``revoke`` ends the subscriptions of ended credentials (their
sockets close) and remembers the keys for a minute, so a socket whose sign-in raced the
revocation is ended as it subscribes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from parlay.realtime.lean_queue import LeanQueue

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class LiveEvent:
    id: int
    type: str
    data: dict[str, Any]
    recipients: frozenset[str]

    def wire(self) -> dict[str, Any]:
        return {"cursor": str(self.id), "type": self.type, "data": self.data}

    def frame(self) -> bytes:
        """The event as a socket sends it (the JSON Starlette's ``send_json`` writes)."""
        return json.dumps(self.wire(), separators=(",", ":"), ensure_ascii=False).encode()


#: Writes an event's frame to a socket at once and says whether it did (see
#: ``Subscription.direct``).
DirectSend = Callable[[LiveEvent, bytes], bool]


class Subscription:
    """One socket's view of the stream: a bounded queue with duplicate suppression.

    ``direct``, when the socket's server can write a frame synchronously (``parlay serve``'s
    WebSocket protocol), is tried first for an event arriving while nothing is queued: the
    hub then writes one encoded frame to every idle socket in one pass, as
    ``websockets.broadcast`` does, instead of waking a task per socket to encode it again.  It
    returns False when the socket cannot take the frame now (another send is under way, its
    write buffer is full, it is closing), and the event is queued for the socket's sender.
    Either way events leave in id order: the direct path is taken only with an empty queue.
    """

    def __init__(self, user_id: str, key: str = "", max_backlog: int = 2000) -> None:
        self.user_id = user_id
        #: The principal key of the credential the socket signed in with.
        self.key = key
        self.last_sent = 0
        self.overflowed = False
        #: Its credential ended (logout, revoked token): the socket must close.
        self.ended = False
        self._queue: LeanQueue[LiveEvent | None] = LeanQueue()  # empty: no deque, no waiters
        self._max_backlog = max_backlog
        self.direct: DirectSend | None = None
        #: The sender holds an event from ``next`` it has not written yet (``done``).
        self.taken = False

    def end(self) -> None:
        if not self.ended:
            self.ended = True
            self._queue.put_nowait(None)  # wakes next()

    def offer(self, event: LiveEvent, frame: bytes | None = None) -> None:
        """Hand ``event`` to the socket: written at once through ``direct`` when it can be
        (``frame`` is ``event.frame()``, encoded once for all sockets), else queued."""
        if event.id <= self.last_sent or self.overflowed or self.ended:
            return
        direct = self.direct
        if (
            direct is not None
            and frame is not None
            and not self.taken
            and self._queue.empty()
            and direct(event, frame)
        ):
            self.last_sent = event.id
            return
        if self._queue.qsize() >= self._max_backlog:
            # A client this far behind reconnects with its cursor and is replayed from the log.
            self.overflowed = True
        self._queue.put_nowait(event)

    def mark_sent(self, event_id: int) -> None:
        self.last_sent = max(self.last_sent, event_id)

    async def next(self) -> LiveEvent | None:
        """The next event to send, or None once the subscription has ended.  The caller
        calls ``done`` once it is written; until then nothing is written directly."""
        while True:
            event = await self._queue.get()
            if event is None or self.ended:
                return None
            if event.id > self.last_sent:
                self.last_sent = event.id
                self.taken = True
                return event

    def done(self) -> None:
        """The event from ``next`` is written (or will never be)."""
        self.taken = False

    def pending(self) -> bool:
        """Whether ``next`` has something to return at once (an event, or the end)."""
        return not self._queue.empty()

    def on_queued(self, hook: Callable[[], None] | None) -> None:
        """Call ``hook`` when something is queued and no ``next`` is waiting for it."""
        self._queue.on_put = hook


#: How long, and how many, revoked keys a hub remembers (see ``Hub.subscribe``).
REVOKED_SECONDS = 60.0
REVOKED_MAX = 10_000

FetchAfter = Callable[[int], Awaitable[list[LiveEvent]]]


class Hub:
    def __init__(
        self,
        fetch_after: FetchAfter,
        last_id: Callable[[], Awaitable[int]],
        poll_seconds: float = 2.0,
        monotonic: Callable[[], float] = time.monotonic,
        batch: int = 0,
        min_gap: float = 0.0,
    ) -> None:
        self._fetch_after = fetch_after
        #: Under load, reads of the log start at least ``min_gap`` seconds apart: the commits
        #: of those few milliseconds share one read (fewer, fuller batches, for this node and
        #: the database) instead of each costing one.  When idle, nothing waits.
        #: ``fetch_after`` answers at most this many events (0: no bound known): a shorter
        #: answer holds everything committed when it was read, so the drain ends without
        #: asking again (whatever commits later wakes the pump again).
        self._batch = batch
        self._min_gap = min_gap
        self._last_id_source = last_id
        self._poll_seconds = poll_seconds
        self._monotonic = monotonic
        self._subs: dict[str, set[Subscription]] = defaultdict(set)
        self._by_key: dict[str, set[Subscription]] = defaultdict(set)
        self._revoked: dict[str, float] = {}  # key -> when heard, oldest first
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

    def subscribe(self, user_id: str, key: str = "") -> Subscription:
        """A subscription for a socket of ``user_id`` signed in with principal ``key``; it is
        already ended if that key was revoked within the last minute."""
        sub = Subscription(user_id, key)
        self._subs[user_id].add(sub)
        if key:
            self._by_key[key].add(sub)
            self._prune_revoked()
            if key in self._revoked:
                sub.end()
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        for index, name in ((self._subs, sub.user_id), (self._by_key, sub.key)):
            subs = index.get(name)
            if subs is not None:
                subs.discard(sub)
                if not subs:
                    del index[name]

    def revoke(self, keys: Iterable[str]) -> None:
        """End the subscriptions of these principal keys (a logout, a revoked token)."""
        now = self._monotonic()
        for key in keys:
            self._revoked.pop(key, None)
            self._revoked[key] = now
            for sub in self._by_key.get(key, ()):
                sub.end()
        self._prune_revoked()

    def _prune_revoked(self) -> None:
        now = self._monotonic()
        revoked = self._revoked
        while revoked and (
            len(revoked) > REVOKED_MAX or now - next(iter(revoked.values())) >= REVOKED_SECONDS
        ):
            revoked.pop(next(iter(revoked)))

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
            began = self._monotonic()
            try:
                await self._drain()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("live event pump failed; retrying")
                await asyncio.sleep(0.5)
            rest = self._min_gap - (self._monotonic() - began)
            if rest > 0 and self._wake.is_set():
                await asyncio.sleep(rest)

    async def _drain(self) -> None:
        while True:
            events = await self._fetch_after(self.last_id)
            if not events:
                return
            complete = len(events) < self._batch
            for event in events:
                frame: bytes | None = None  # encoded once, for every local socket
                for user_id in event.recipients:
                    subs = self._subs.get(user_id)
                    if subs:
                        if frame is None:
                            frame = event.frame()
                        for sub in subs:
                            sub.offer(event, frame)
                self.last_id = event.id
            if complete:
                return
