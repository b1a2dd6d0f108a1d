"""A FIFO queue for one consumer, small enough to keep one per socket.

A connected socket keeps three queues for its whole life (its protocol's incoming frames, its
live events, its video signaling), almost always empty.  An ``asyncio.Queue`` allocates four
deques up front (items, getters, putters, and its ``join`` event's waiters), about 3 KiB,
whether anything is ever queued or not: with a few thousand idle sockets that is a tenth of
what each one costs.  This one holds nothing while empty (the deque exists only while items
wait) and, while its consumer waits, one future.

One consumer only: ``get`` is awaited by a single task at a time (each socket's sender).
Unbounded like ``asyncio.Queue()``; callers bound it themselves (``qsize``).

``on_put``, if set, is called after each put that found no consumer waiting: a socket starts
its sender task only when something is queued, instead of keeping one waiting for ever.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class LeanQueue(Generic[T]):
    __slots__ = ("_items", "_waiter", "on_put")

    def __init__(self) -> None:
        self._items: deque[T] | None = None
        self._waiter: asyncio.Future[None] | None = None
        self.on_put: Callable[[], None] | None = None

    def qsize(self) -> int:
        return len(self._items) if self._items is not None else 0

    def empty(self) -> bool:
        return not self._items

    def put_nowait(self, item: T) -> None:
        if self._items is None:
            self._items = deque()
        self._items.append(item)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        elif self.on_put is not None:
            self.on_put()

    async def get(self) -> T:
        if self._waiter is not None:
            raise RuntimeError("LeanQueue has one consumer; get() is already awaited")
        while not self._items:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        item = self._items.popleft()
        if not self._items:
            self._items = None  # an idle socket keeps no deque
        return item
