"""Engines and transactions.

``Database.write()`` opens a read-write transaction and ``Database.read()`` a read-only one.
On SQLite a write transaction starts with ``BEGIN IMMEDIATE``, so writers are serialized by the
database itself (no lost updates, no double booking); reads use WAL snapshots and never wait.
Services own the unit of work: they open a transaction, and it commits when the block ends.
"""

from __future__ import annotations

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
                url, pool_size=10, max_overflow=20, pool_pre_ping=True, pool_timeout=10
            )
            self.read_engine = self.write_engine
        self._write = async_sessionmaker(self.write_engine, expire_on_commit=False)
        self._read = async_sessionmaker(self.read_engine, expire_on_commit=False)
        #: Single-statement reads on the hottest paths (see ``parlay.db.direct``).
        self.direct = DirectReader(url, self.write_engine.dialect)

    def session(self) -> AsyncSession:
        """A read-write session whose transaction the caller begins and ends (the unit of
        work does, to tell a failed commit from a failure before it)."""
        return self._write()

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """A read-write transaction: commits when the block ends, rolls back on error."""
        async with self._write() as session, session.begin():
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
