"""Engines and transactions.

``Database.write()`` opens a read-write transaction and ``Database.read()`` a read-only one.
On SQLite a write transaction starts with ``BEGIN IMMEDIATE``, so writers are serialized by the
database itself (no lost updates, no double booking); reads use WAL snapshots and never wait.
Services own the unit of work: they open a transaction, and it commits when the block ends.

Writers of one process also queue on an ``asyncio.Lock`` before ``BEGIN IMMEDIATE``
(``Database.writing``).  Without it, the writers that find the database locked sleep in
SQLite's busy handler (1, 2, 5 ... 100 ms steps) and the lock sits idle until one wakes: with
50 posts in flight that idle time was most of a post's latency.  The queue hands the lock on at
once, first come first served; the busy timeout still arbitrates between processes.

Durability: WAL with ``synchronous=NORMAL`` writes every commit to the WAL file before the
commit returns but syncs it to the disk only at checkpoints.  A killed process (``kill -9``, a
crash) loses nothing acknowledged: the WAL is in the OS page cache and is replayed on the next
open.  A power cut or kernel crash can lose the last transactions before the checkpoint (the
database stays consistent); ``FULL`` would close that window with an fsync per commit, which
costs more than the rest of a message post.  Deployments that cannot accept it use PostgreSQL.

PostgreSQL: asyncpg prepares every statement and keeps it per connection (SQLAlchemy's cache of
``PREPARED_STATEMENTS`` per connection), so a hot statement is parsed and planned once.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from parlay.db.direct import DirectReader

#: Statements asyncpg keeps prepared per connection (SQLAlchemy's default is 100; the app's
#: distinct hot statements approach that, and a miss re-prepares: one more round trip).
PREPARED_STATEMENTS = 500
#: How long a writer waits for this process's write queue before answering "try again"
#: (the same bound as SQLite's busy timeout between processes).
WRITE_WAIT_SECONDS = 30.0


class WriteQueueTimeout(TimeoutError):
    """A writer waited ``WRITE_WAIT_SECONDS`` for this process's SQLite write queue."""


def _sqlite_engine(url: str, *, immediate: bool) -> AsyncEngine:
    engine = create_async_engine(url, connect_args={"timeout": 30})

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let us issue BEGIN ourselves (pysqlite's implicit transactions are wrong for us).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


class Database:
    def __init__(self, url: str) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            self.write_engine = _sqlite_engine(url, immediate=True)
            self.read_engine = _sqlite_engine(url, immediate=False)
        else:
            # pool_pre_ping: a connection the server closed (a restart, pg_terminate_backend,
            # an idle timeout in a proxy) is replaced at checkout instead of failing a request.
            self.write_engine = create_async_engine(
                url,
                pool_size=10,
                max_overflow=20,
                pool_pre_ping=True,
                pool_timeout=10,
                connect_args={"prepared_statement_cache_size": PREPARED_STATEMENTS},
            )
            self.read_engine = self.write_engine
        self._write = async_sessionmaker(self.write_engine, expire_on_commit=False)
        self._read = async_sessionmaker(self.read_engine, expire_on_commit=False)
        #: Single-statement reads on the hottest paths (see ``parlay.db.direct``).
        self.direct = DirectReader(url, self.write_engine.dialect)
        # One queue per event loop (tests run several loops over one Database).
        self._write_queues: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )

    @asynccontextmanager
    async def writing(self) -> AsyncIterator[None]:
        """Hold this process's SQLite write queue for a write transaction (no-op elsewhere:
        PostgreSQL writers only wait for the rows they touch).  Raises ``WriteQueueTimeout`` after
        ``WRITE_WAIT_SECONDS`` in the queue."""
        if not self.is_sqlite:
            yield
            return
        loop = asyncio.get_running_loop()
        queue = self._write_queues.get(loop)
        if queue is None:
            queue = self._write_queues[loop] = asyncio.Lock()
        try:
            async with asyncio.timeout(WRITE_WAIT_SECONDS):
                await queue.acquire()
        except TimeoutError:
            raise WriteQueueTimeout() from None
        try:
            yield
        finally:
            queue.release()

    def session(self) -> AsyncSession:
        """A read-write session whose transaction the caller begins and ends (the unit of
        work does, to tell a failed commit from a failure before it)."""
        return self._write()

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """A read-write transaction: commits when the block ends, rolls back on error."""
        async with self.writing(), self._write() as session, session.begin():
            yield session

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        async with self._read() as session, session.begin():
            yield session

    async def dispose(self) -> None:
        await self.direct.close()
        await self.write_engine.dispose()
        if self.read_engine is not self.write_engine:
            await self.read_engine.dispose()
