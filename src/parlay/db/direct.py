"""Direct reads: one SELECT on the database driver, without the session and pool machinery.

The hottest reads (who is calling, on every request; an invite and its host's busy time, each
time someone looks at availability) are single statements.  Through ``AsyncSession`` a read
transaction costs about 1 ms and each ORM statement about 0.5 ms on the 2-core reference
machine: more than everything else the request does.  A ``DirectQuery`` is still written in
SQLAlchemy Core and compiled once per dialect, with SQLAlchemy's own bind and result processing
(so values are stored and read exactly as the ORM does), but it runs:

- on SQLite inline on the event loop, on a connection of its own that may only read
  (``query_only``).  A WAL reader never waits for writers and a lookup by key touches a few
  cached pages: ~10 us, less than one hop to aiosqlite's thread;
- on PostgreSQL on a few asyncpg connections of its own: one round trip, no BEGIN or COMMIT.

Every call is a snapshot of its own.  Reads that must agree with each other, and every read
that feeds a write, use ``Database.read()`` / ``Database.write()`` instead.

``DirectReader.sqlite_transaction`` runs a short synchronous write transaction inline on the
event loop (a chat post: five statements, well under a millisecond, no thread hops while the
write lock is held).  ``DirectReader.write`` (PostgreSQL only) runs one self-contained statement that commits by
itself (no BEGIN, no COMMIT, no pool ping: one round trip), then waits for its commit to be on
disk (``parlay.db.durable``: a flush shared with the other commits of those milliseconds).  It
is for a whole use case written as one statement (a chat post).  It is never retried here: if the connection breaks while it
runs, the outcome is unknown and ``DirectWriteOutcomeUnknown`` says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import asyncpg
from sqlalchemy import ClauseElement
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.sql.compiler import SQLCompiler

from parlay.db.durable import DurabilityUnknown, WalFlusher

Row = dict[str, Any]
_Processor = Callable[[Any], Any] | None
T = TypeVar("T")
#: One step of a SQLite write transaction: run a compiled statement with its parameters.
RawRun = Callable[["_Compiled", list[Any]], list[Any]]
Work = Callable[[RawRun], T]


@dataclass(frozen=True)
class _Compiled:
    sql: str
    names: tuple[str, ...]  # bind names in positional order
    defaults: dict[str, Any]  # values of the statement's literal binds
    binds: tuple[_Processor, ...]
    keys: tuple[str, ...]  # result column names
    results: tuple[_Processor, ...]


class DirectWriteOutcomeUnknown(Exception):
    """The connection broke while a direct write ran: it may or may not have committed."""


class DirectWriteUnavailable(Exception):
    """The database could not be reached before a direct write was sent: nothing was
    written."""


class DirectWriteLostRace(Exception):
    """A direct write was refused as a deadlock or serialization failure: nothing was
    written, and running it again is safe."""


#: SQLSTATEs of a statement that lost a race (serialization_failure, deadlock_detected).
_LOST_RACE = frozenset({"40001", "40P01"})


class DirectQuery:
    """A Core ``SELECT`` with ``bindparam`` placeholders, compiled once per dialect (a SELECT
    may carry data-modifying CTEs: that is a ``DirectReader.write``)."""

    def __init__(self, stmt: ClauseElement) -> None:
        self.stmt = stmt
        self._compiled: dict[str, _Compiled] = {}

    def compiled(self, dialect: Dialect) -> _Compiled:
        found = self._compiled.get(dialect.name)
        if found is None:
            compiled = cast(SQLCompiler, self.stmt.compile(dialect=dialect))
            names = tuple(compiled.positiontup or ())
            columns: list[Any] = list(
                getattr(self.stmt, "selected_columns", None)
                or getattr(self.stmt, "exported_columns", None)
                or ()
            )
            found = _Compiled(
                sql=str(compiled),
                names=names,
                defaults={k: b.value for k, b in compiled.binds.items() if not b.required},
                binds=tuple(
                    compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect)
                    for name in names
                ),
                keys=tuple(str(c.key) for c in columns),
                results=tuple(
                    c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns
                ),
            )
            self._compiled[dialect.name] = found
        return found


def _parameters(compiled: _Compiled, values: dict[str, Any]) -> list[Any]:
    merged = {**compiled.defaults, **values}
    return [
        merged[name] if process is None else process(merged[name])
        for name, process in zip(compiled.names, compiled.binds, strict=True)
    ]


def _rows(compiled: _Compiled, raw: Sequence[Sequence[Any]]) -> list[Row]:
    keys, results = compiled.keys, compiled.results
    return [
        {
            key: value if process is None else process(value)
            for key, value, process in zip(keys, row, results, strict=True)
        }
        for row in raw
    ]


class SQLiteReader:
    """One read-only connection used inline, and a second one for the rare read that must wait.

    A WAL reader almost never waits, so reads run inline on the event loop with no busy
    timeout; if SQLite does answer "busy" (a checkpoint truncating the WAL, a writer in
    exclusive locking mode), the read is retried on a thread that may wait up to
    ``busy_seconds``, so the event loop (every socket of the process) never stalls on a lock.
    Locks keep each connection safe if several threads run event loops over the same
    ``Database`` (tests do)."""

    def __init__(self, path: str, busy_seconds: float = 10.0) -> None:
        self._path = path
        self._busy_ms = int(busy_seconds * 1000)
        self._inline: sqlite3.Connection | None = None
        self._waiting: sqlite3.Connection | None = None
        self._inline_writer: sqlite3.Connection | None = None
        self._waiting_writer: sqlite3.Connection | None = None
        self._inline_lock = threading.Lock()
        self._waiting_lock = threading.Lock()
        self.waited = 0  # reads that had to wait on a thread (for tests and metrics)

    def _connect(self, busy_ms: int) -> sqlite3.Connection:
        if self._path in ("", ":memory:"):  # each connection would see a database of its own
            raise ValueError("Parlay keeps SQLite in a file: set a path in the database URL.")
        connection = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        connection.execute("PRAGMA query_only = ON")
        connection.execute(f"PRAGMA busy_timeout = {busy_ms}")
        return connection

    def _fetch_inline(self, compiled: _Compiled, parameters: list[Any]) -> list[Any]:
        with self._inline_lock:
            if self._inline is None:
                self._inline = self._connect(0)
            return self._inline.execute(compiled.sql, parameters).fetchall()

    def _fetch_waiting(self, compiled: _Compiled, parameters: list[Any]) -> list[Any]:
        with self._waiting_lock:
            if self._waiting is None:
                self._waiting = self._connect(self._busy_ms)
            return self._waiting.execute(compiled.sql, parameters).fetchall()

    async def fetch(self, compiled: _Compiled, parameters: list[Any]) -> list[Any]:
        try:
            return self._fetch_inline(compiled, parameters)
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode not in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
                raise
        self.waited += 1
        return await asyncio.to_thread(self._fetch_waiting, compiled, parameters)

    def _writer(self, busy_ms: int) -> sqlite3.Connection:
        if self._path in ("", ":memory:"):
            raise ValueError("Parlay keeps SQLite in a file: set a path in the database URL.")
        connection = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON"):
            connection.execute(f"PRAGMA {pragma}")
        connection.execute(f"PRAGMA busy_timeout = {busy_ms}")
        return connection

    def _transaction(self, connection: sqlite3.Connection, work: Work[T]) -> T:
        connection.execute("BEGIN IMMEDIATE")
        try:
            result = work(lambda c, p: connection.execute(c.sql, p).fetchall())
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        return result

    def _write_inline(self, work: Work[T]) -> T:
        with self._inline_lock:
            if self._inline_writer is None:
                self._inline_writer = self._writer(0)
            return self._transaction(self._inline_writer, work)

    def _write_waiting(self, work: Work[T]) -> T:
        with self._waiting_lock:
            if self._waiting_writer is None:
                self._waiting_writer = self._writer(self._busy_ms)
            return self._transaction(self._waiting_writer, work)

    async def transaction(self, work: Work[T]) -> T:
        """Run ``work`` in one write transaction (``BEGIN IMMEDIATE`` ... ``COMMIT``) inline
        on the event loop; if another process holds the write lock, on a thread that waits.
        The caller holds ``Database.writing()`` so no writer of this process is in one."""
        try:
            return self._write_inline(work)
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode not in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
                raise
        self.waited += 1
        return await asyncio.to_thread(self._write_waiting, work)

    async def close(self) -> None:
        for name in ("_inline_writer", "_waiting_writer"):
            connection = getattr(self, name)
            if connection is not None:
                connection.close()
                setattr(self, name, None)
        for lock, name in ((self._inline_lock, "_inline"), (self._waiting_lock, "_waiting")):
            with lock:
                connection = getattr(self, name)
                if connection is not None:
                    connection.close()
                    setattr(self, name, None)


async def _json_codecs(connection: asyncpg.Connection) -> None:
    for name in ("json", "jsonb"):
        await connection.set_type_codec(
            name, encoder=json.dumps, decoder=json.loads, schema="pg_catalog"
        )


def _connection_lost(exc: BaseException) -> bool:
    """Whether ``exc`` says the connection is gone (the query itself may be fine)."""
    if isinstance(exc, asyncpg.InterfaceError | ConnectionError | OSError):
        return True
    state = getattr(exc, "sqlstate", None) or ""
    return state.startswith("08") or state in ("57P01", "57P02", "57P03")


class PostgresReader:
    """Up to ``max_size`` asyncpg connections of its own, opened on demand.

    Not ``asyncpg.Pool``, for two measured reasons (50 concurrent clients, 2 cores): its
    acquire/release machinery cost about as much CPU as the query, and under contention a
    released connection can be taken by a newcomer ahead of the tasks already waiting, which
    gave a p99 of ~300 ms against a p50 of ~17 ms.  Here a released connection goes straight
    to the oldest waiter.  What the pool would otherwise give is here too:

    - a bound: ``opened`` counts live connections *and* places handed to a waiter that is
      still connecting, so it never exceeds ``max_size``;
    - timeouts: connecting (``connect_timeout``) and each query (``command_timeout``, after
      which the connection is discarded and ``TimeoutError`` raised).  A query's deadline is
      kept by one watchdog task per reader, which closes the connections of overdue queries
      (within a ``tick`` past their deadline), not by a timer per query as asyncpg's own
      ``timeout=`` arms: that costs about a quarter of asyncpg's CPU per query (measured:
      ~35 vs ~26 us a fetch, 50 concurrent callers);
    - health: an idle connection the server closed, or idle longer than ``max_idle``, is
      replaced; a query that finds its connection gone (a restart, ``pg_terminate_backend``)
      runs once more on a fresh one — it is a read, so running it again is harmless;
    - a query that fails or is cancelled closes its connection (its state is unknown).
    """

    def __init__(
        self,
        dsn: str,
        max_size: int = 8,
        *,
        connect_timeout: float = 5.0,
        command_timeout: float = 10.0,
        max_idle: float = 300.0,
    ) -> None:
        self._dsn = dsn
        self._max_size = max_size
        self._connect_timeout = connect_timeout
        self._command_timeout = command_timeout
        self._max_idle = max_idle
        self._idle: list[tuple[asyncpg.Connection, float]] = []
        self._waiters: deque[asyncio.Future[asyncpg.Connection | None]] = deque()
        self.opened = 0
        self._closed = False
        #: Queries in flight: their connection and deadline (``monotonic``).
        self._deadlines: dict[asyncpg.Connection, float] = {}
        #: Connections the watchdog closed because their query was overdue.
        self._overdue: set[asyncpg.Connection] = set()
        self._tick = min(1.0, command_timeout / 4)
        self._watchdog: asyncio.Task[None] | None = None

    async def _connect(self) -> asyncpg.Connection:
        connection = await asyncpg.connect(self._dsn, timeout=self._connect_timeout)
        await _json_codecs(connection)
        return connection

    async def _take(self) -> asyncpg.Connection:
        if self._closed:
            raise RuntimeError("the database reader is closed")
        now = time.monotonic()
        while self._idle:
            connection, since = self._idle.pop()
            if not connection.is_closed() and now - since < self._max_idle:
                return connection
            connection.terminate()  # the server closed it, or it idled too long
            self.opened -= 1
        if self.opened >= self._max_size:
            waiter: asyncio.Future[asyncpg.Connection | None] = (
                asyncio.get_running_loop().create_future()
            )
            self._waiters.append(waiter)
            try:
                handed = await waiter
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled():
                    given = waiter.result()  # pass on what we were given
                    if given is None:
                        self._free_place()
                    else:
                        self._hand_on(given)
                raise
            if handed is not None:
                return handed
            # None: a place was reserved for us (already counted in ``opened``).
        else:
            self.opened += 1
        try:
            return await self._connect()
        except BaseException:
            self._free_place()
            raise

    def _free_place(self) -> None:
        """A counted place has no connection any more: give it to the oldest live waiter
        (still counted, they connect in it), or uncount it."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self.opened -= 1

    def _hand_on(self, connection: asyncpg.Connection) -> None:
        """Give ``connection`` to the oldest live waiter, or keep it idle."""
        if self._closed:
            connection.terminate()
            self.opened -= 1
            return
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(connection)
                return
        self._idle.append((connection, time.monotonic()))

    async def fetch(
        self, compiled: _Compiled, parameters: list[Any], *, retry: bool = True
    ) -> list[Any]:
        """Run the statement; ``retry``: once more on a fresh connection if the connection
        was lost (reads); without it a lost connection raises ``DirectWriteOutcomeUnknown``."""
        watchdog = self._watchdog  # one per reader, on the loop its connections belong to
        if (
            watchdog is None
            or watchdog.done()
            or watchdog.get_loop() is not asyncio.get_running_loop()
        ):
            self._watchdog = asyncio.create_task(self._watch(), name="parlay-db-watchdog")
        for attempt in (1, 2):
            connection = await self._take()
            self._deadlines[connection] = time.monotonic() + self._command_timeout
            try:
                rows = await connection.fetch(compiled.sql, *parameters)
            except BaseException as exc:
                connection.terminate()
                self._free_place()
                if connection in self._overdue:
                    self._overdue.discard(connection)
                    if not retry:
                        raise DirectWriteOutcomeUnknown() from exc
                    raise TimeoutError("the database did not answer in time") from exc
                if attempt == 1 and retry and _connection_lost(exc):
                    continue
                if not retry and _connection_lost(exc):
                    raise DirectWriteOutcomeUnknown() from exc
                if getattr(exc, "sqlstate", None) in _LOST_RACE:
                    raise DirectWriteLostRace() from exc
                raise
            finally:
                self._deadlines.pop(connection, None)
            if connection in self._overdue:  # answered as the watchdog closed it
                self._overdue.discard(connection)
                self._free_place()
            else:
                self._hand_on(connection)
            return list(rows)
        raise AssertionError("unreachable")

    async def _watch(self) -> None:
        """Close the connection of every query past its deadline (its ``fetch`` then raises
        ``TimeoutError``, or ``DirectWriteOutcomeUnknown`` for a write)."""
        while True:
            await asyncio.sleep(self._tick)
            now = time.monotonic()
            for connection, deadline in list(self._deadlines.items()):
                if deadline <= now:
                    del self._deadlines[connection]
                    self._overdue.add(connection)
                    connection.terminate()

    async def close(self) -> None:
        self._closed = True
        if self._watchdog is not None:
            self._watchdog.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watchdog
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_exception(RuntimeError("the database reader is closed"))
        idle, self._idle = self._idle, []
        for connection, _since in idle:
            self.opened -= 1
            await connection.close()


class DirectReader:
    def __init__(self, url: str, dialect: Dialect) -> None:
        parsed = make_url(url)
        self._dialect = dialect
        self._writer: PostgresReader | None = None
        self._flusher: WalFlusher | None = None
        self._backend: SQLiteReader | PostgresReader
        if parsed.get_backend_name() == "sqlite":
            self._backend = SQLiteReader(parsed.database or "")
        else:
            dsn = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
            self._backend = PostgresReader(dsn)
            self._writer = PostgresReader(dsn, max_size=10)
            self._flusher = WalFlusher(dsn)

    async def fetch(self, query: DirectQuery, **values: Any) -> list[Row]:
        compiled = query.compiled(self._dialect)
        raw = await self._backend.fetch(compiled, _parameters(compiled, values))
        return _rows(compiled, raw)

    async def fetch_one(self, query: DirectQuery, **values: Any) -> Row | None:
        rows = await self.fetch(query, **values)
        return rows[0] if rows else None

    async def fetch_flushed(self, query: DirectQuery, **values: Any) -> list[Row]:
        """``fetch``, answered (on PostgreSQL) only once every commit it saw is on disk: for
        reads that hand event ids to clients (``parlay.db.durable``)."""
        mark = await self.durable_mark()
        rows = await self.fetch(query, **values)
        if rows:
            await self.wait_durable(mark)
        return rows

    async def durable_mark(self) -> float:
        """Before a commit (or a read) to ``wait_durable`` for: see ``WalFlusher.mark``."""
        return 0.0 if self._flusher is None else await self._flusher.mark()

    async def wait_durable(self, mark: float) -> None:
        """PostgreSQL: return once every commit before this call is on disk, or raise
        ``DurabilityUnknown`` (``parlay.db.durable``).  SQLite: at once (its commits are
        written to the WAL file before they return)."""
        if self._flusher is not None:
            await self._flusher.wait(mark)

    async def sqlite_transaction(self, body: Callable[[Callable[..., list[Row]]], T]) -> T:
        """SQLite only: ``body(run)`` inside one write transaction on the event loop, where
        ``run(query, **values)`` executes a ``DirectQuery`` (any statement) and returns its
        rows.  ``body`` is synchronous: the transaction never spans an await.  The caller
        holds ``Database.writing()``."""
        backend = self._backend
        if not isinstance(backend, SQLiteReader):
            raise RuntimeError("sqlite_transaction needs SQLite")
        dialect = self._dialect

        def work(raw: RawRun) -> T:
            def run(query: DirectQuery, **values: Any) -> list[Row]:
                compiled = query.compiled(dialect)
                return _rows(compiled, raw(compiled, _parameters(compiled, values)))

            return body(run)

        return await backend.transaction(work)

    @property
    def writes(self) -> bool:
        """Whether ``write`` is available (PostgreSQL)."""
        return self._writer is not None

    async def write(self, query: DirectQuery, **values: Any) -> list[Row]:
        """Run one self-committing statement on a connection of its own (PostgreSQL only).
        When it answers rows (it wrote), answer once its commit is on disk: it may commit
        asynchronously (``parlay.db.durable``); if that cannot be confirmed, the outcome is
        unknown."""
        if self._writer is None:
            raise RuntimeError("direct writes need PostgreSQL")
        compiled = query.compiled(self._dialect)
        try:
            mark = await self.durable_mark()
        except DurabilityUnknown as exc:
            raise DirectWriteUnavailable() from exc
        raw = await self._writer.fetch(compiled, _parameters(compiled, values), retry=False)
        if raw:
            try:
                await self.wait_durable(mark)
            except DurabilityUnknown as exc:
                raise DirectWriteOutcomeUnknown() from exc
        return _rows(compiled, raw)

    async def close(self) -> None:
        await self._backend.close()
        if self._writer is not None:
            await self._writer.close()
        if self._flusher is not None:
            await self._flusher.close()
