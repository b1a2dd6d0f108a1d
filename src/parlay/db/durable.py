"""PostgreSQL: event-writing transactions commit without waiting for the disk, and nothing
is acknowledged, or shown to anyone, before it is on disk.

Event ids become visible in commit order because every event-writing transaction holds one
advisory lock from its event insert to its commit (``parlay.services.events``).  A commit with
``synchronous_commit = on`` writes its WAL to disk (an fsync) *before* it releases its locks,
so the lock was held across one fsync per transaction: event writers could not share a flush,
and the whole cluster's event rate was capped at one fsync each (measured on the 2-core
reference machine, two app nodes: the lock holder was in ``WALSync`` in 73% of samples, with
~6 writers queued behind it).

So an event-writing transaction sets ``synchronous_commit = off`` for itself where it takes
the lock (``ASYNC_COMMIT`` in a chat post's statement; the trigger that publishes a unit of
work's events, migration 0015): its commit becomes visible, in order, and releases the lock as
soon as its commit record is in the WAL buffers.  Durability is then waited for *after*
the lock is gone, by a flush (``FLUSH_SQL``): a statement whose own (synchronous) commit writes
WAL, so it returns only once the WAL up to its own commit record, hence up to every commit
before it, is on disk.

``WalFlusher`` runs those flushes for a whole process on one connection of its own, one after
another: everyone who asks while a flush is under way shares the next one (under load, one
round trip and one fsync for every commit of the last few milliseconds, instead of one each).
Its connection must have been open *before* the commit it vouches for: a crash of the server
closes every connection, so a flush answered on a connection that was open across the commit
proves the server did not restart in between; otherwise the outcome is unknown (so is it
after a restart the flusher had not yet noticed: a rare false alarm, never a false promise).
``mark()`` is taken before the commit (opening that connection first if need be),
``wait(mark)`` after it.

- **Writers** answer only after the flush: a post or booking acknowledged is on disk, as
  before.  A failed flush is an unknown outcome (503 ``outcome_unknown``), as a lost commit
  is; a read that cannot be confirmed answers 503 ``try_again``.
- **Readers** that hand event ids to clients (the hub, a replay, a history page's live
  cursor) flush after reading and before answering: a commit they saw is then on disk.
  Otherwise a crash could lose an event a client already holds the id of; the sequence,
  restored from disk, would give that id again, and the client resuming after it would skip
  the new event.

A server whose default is ``synchronous_commit = off`` keeps its choice: the flush then waits
for nothing, as every commit there.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

import asyncpg
from sqlalchemy import ColumnElement, func

log = logging.getLogger(__name__)

#: In the statement that takes the event lock: this transaction's commit does not wait for
#: the disk (``set_config(..., is_local => true)``: this transaction only).
ASYNC_COMMIT: ColumnElement[str] = func.set_config("synchronous_commit", "off", True)

#: Returns once every commit before it is on disk: a transactional logical message assigns
#: the statement's transaction an id and writes WAL, so its commit is a synchronous one
#: (a transaction that writes no WAL commits without flushing).  Logical decoding, if any
#: runs, sees a message with the prefix ``parlay`` and an empty body.
FLUSH_SQL = "SELECT pg_logical_emit_message(true, 'parlay', '')"

#: How long a flush (or opening the flusher's connection) may take before the commits waiting
#: on it are reported as unknown outcomes.
FLUSH_TIMEOUT_SECONDS = 10.0
#: A flusher connection idle longer than this is replaced before the next commit (as the
#: direct readers replace theirs).
MAX_IDLE_SECONDS = 300.0


class DurabilityUnknown(Exception):
    """A commit could not be confirmed on disk: it may or may not survive a crash."""


class WalFlusher:
    """One connection that flushes the WAL for this process, shared by all who wait on it."""

    def __init__(
        self, dsn: str, timeout: float = FLUSH_TIMEOUT_SECONDS, max_idle: float = MAX_IDLE_SECONDS
    ) -> None:
        self._dsn = dsn
        self._timeout = timeout
        self._max_idle = max_idle
        self._connection: asyncpg.Connection | None = None
        self._opened_at = 0.0
        self._used_at = 0.0
        self._opening: asyncio.Lock | None = None
        #: The flush the next callers of ``wait`` share: it starts after the one under way.
        self._next: asyncio.Future[float] | None = None
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.flushes = 0

    def _on_this_loop(self) -> None:
        """Connections, futures and tasks belong to one event loop (tests run several over
        one process): on another, start afresh."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            self._loop, self._connection, self._next, self._task = loop, None, None, None
            self._opening = None

    async def mark(self) -> float:
        """Call before a commit: the moment its flush's connection must have been open by
        (that connection is opened now if there is none)."""
        self._on_this_loop()
        connection = self._connection
        if connection is not None and time.monotonic() - self._used_at > self._max_idle:
            # Idle this long, it may have been dropped on the way (a proxy's or a NAT's idle
            # timeout) without this side knowing: a flush on it would hang, then fail.
            self._drop()
            connection = None
        if connection is None or connection.is_closed():
            await self._connect()
        return time.monotonic()

    async def wait(self, mark: float) -> None:
        """Return once every commit that ended before this call is on disk; raises
        ``DurabilityUnknown`` if that cannot be confirmed (the flush failed, or ran on a
        connection opened after ``mark``: the server may have restarted in between)."""
        self._on_this_loop()
        waiter = self._next
        if waiter is None:
            waiter = self._next = asyncio.get_running_loop().create_future()
            waiter.add_done_callback(_retrieve)
            if self._task is None or self._task.done():
                self._task = asyncio.create_task(self._run(), name="parlay-wal-flusher")
        opened_at = await asyncio.shield(waiter)
        if opened_at > mark:
            raise DurabilityUnknown("the database connection was replaced after the commit")

    async def _run(self) -> None:
        while self._next is not None:
            waiter, self._next = self._next, None
            try:
                connection = self._connection
                if connection is None or connection.is_closed():
                    connection = await self._connect()
                opened_at = self._opened_at
                self._used_at = time.monotonic()  # in use: not to be replaced as idle
                await connection.fetch(FLUSH_SQL, timeout=self._timeout)
            except asyncio.CancelledError:  # closing: nobody is left waiting for nothing
                for pending in (waiter, self._next):
                    if pending is not None and not pending.done():
                        pending.set_exception(DurabilityUnknown("shutting down"))
                self._next = None
                raise
            except Exception as exc:
                log.warning("could not confirm commits reached the disk: %r", exc)
                self._drop()
                waiter.set_exception(DurabilityUnknown(str(exc)))
                continue
            self.flushes += 1
            self._used_at = time.monotonic()
            waiter.set_result(opened_at)

    async def _connect(self) -> asyncpg.Connection:
        if self._opening is None:
            self._opening = asyncio.Lock()
        async with self._opening:
            connection = self._connection
            if connection is not None and not connection.is_closed():
                return connection  # opened by whoever held the lock
            self._drop()
            try:
                connection = await asyncpg.connect(self._dsn, timeout=self._timeout)
            except Exception as exc:
                raise DurabilityUnknown(f"could not connect: {exc!r}") from exc
            # Open from now on (not from when connecting began: a commit in between could
            # have been lost to a crash before this connection was made).
            self._connection, self._opened_at = connection, time.monotonic()
            self._used_at = self._opened_at
            return connection

    def _drop(self) -> None:
        if self._connection is not None:
            self._connection.terminate()
            self._connection = None

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._next is not None and not self._next.done():  # asked before a flush began
            self._next.set_exception(DurabilityUnknown("shutting down"))
        self._next = None
        if self._connection is not None:
            with contextlib.suppress(Exception):
                await self._connection.close(timeout=2)
            self._connection = None


def _retrieve(future: asyncio.Future[Any]) -> None:
    """Every waiter may have gone (cancelled): the failure is still seen, not warned about."""
    if not future.cancelled():
        future.exception()
