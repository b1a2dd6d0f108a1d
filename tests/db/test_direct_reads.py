"""Direct reads (parlay.db.direct) see exactly what the ORM stored, on both backends."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import DateTime, Float, Integer, String, bindparam, cast, func, select
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.dialects.postgresql import asyncpg as postgresql_asyncpg

from parlay.db.base import UTCDateTime, new_id
from parlay.db.direct import DirectQuery, DirectWriteOutcomeUnknown, PostgresReader
from parlay.db.durable import ASYNC_COMMIT
from parlay.db.models import Room, RoomMember, User
from parlay.db.scheduling_models import Invite, Meeting
from parlay.db.session import Database
from parlay.domain.intervals import Interval
from parlay.services.busy import meeting_busy
from parlay.settings import to_async_url

T0 = datetime(2026, 12, 1, 9, 15, 30, 123456, tzinfo=UTC)
WEEKLY = {"mon": [{"start": "09:00", "end": "17:00"}]}

_MEETINGS_OF = DirectQuery(
    select(Meeting.id, Meeting.start, Meeting.end)
    .where(
        Meeting.host_id == bindparam("host"),
        Meeting.start >= bindparam("since", type_=UTCDateTime()),
    )
    .order_by(Meeting.start)
)
_INVITE = DirectQuery(select(*Invite.__table__.columns).where(Invite.id == bindparam("id")))


@pytest.fixture
async def db(database_url: str) -> Database:
    database = Database(to_async_url(database_url))
    yield database  # type: ignore[misc]
    await database.dispose()


def _invite(host: str, room: str) -> Invite:
    return Invite(
        room_id=room,
        host_id=host,
        time_zone="Europe/Berlin",
        weekly=WEEKLY,
        duration_minutes=30,
        horizon_days=30,
        min_notice_minutes=0,
        status="open",
        created_at=T0,
    )


async def _host_with_invite(db: Database) -> tuple[str, str, str]:
    async with db.write() as session:
        host = User(
            email="h@x.io", display_name="Hé", time_zone="UTC", password_hash="x", created_at=T0
        )
        session.add(host)
        await session.flush()
        room = Room(title="r", created_by=host.id, created_at=T0)
        session.add(room)
        await session.flush()
        session.add(RoomMember(room_id=room.id, user_id=host.id, joined_at=T0))
        invite = _invite(host.id, room.id)
        session.add(invite)
        await session.flush()
        return host.id, room.id, invite.id


def _meeting(host: str, invite: str, room: str, start: datetime) -> Meeting:
    return Meeting(
        invite_id=invite,
        room_id=room,
        host_id=host,
        booked_by=host,
        start=start,
        end=start + timedelta(minutes=30),
        status="scheduled",
        sequence=0,
        join_token=new_id(),
        created_at=T0,
    )


async def test_values_come_back_as_the_orm_stored_them(db: Database) -> None:
    host, room, invite_id = await _host_with_invite(db)
    row = await db.direct.fetch_one(_INVITE, id=invite_id)
    assert row is not None
    assert row["weekly"] == WEEKLY  # JSON decoded
    assert row["created_at"] == T0 and row["created_at"].tzinfo is UTC  # aware UTC, microseconds
    assert (row["host_id"], row["room_id"], row["meeting_id"]) == (host, room, None)
    assert await db.direct.fetch_one(_INVITE, id="no-such-invite") is None


async def test_datetime_binds_compare_like_the_orm(db: Database) -> None:
    """A bound instant is stored-format exact: ``>=`` an instant includes the meeting that
    starts on it (on SQLite a wrongly formatted string would compare differently)."""
    host, room, invite_id = await _host_with_invite(db)
    async with db.write() as session:
        session.add(_meeting(host, invite_id, room, T0))
    rows = await db.direct.fetch(_MEETINGS_OF, host=host, since=T0)
    assert [(r["start"], r["end"]) for r in rows] == [(T0, T0 + timedelta(minutes=30))]
    later = T0 + timedelta(microseconds=1)
    assert await db.direct.fetch(_MEETINGS_OF, host=host, since=later) == []
    # The same instant in another zone is the same instant.
    tokyo = T0.astimezone(ZoneInfo("Asia/Tokyo"))
    assert len(await db.direct.fetch(_MEETINGS_OF, host=host, since=tokyo)) == 1
    window = Interval(T0 - timedelta(hours=1), T0 + timedelta(hours=1))
    async with db.read() as session:
        assert await meeting_busy(session, host, window) == [
            Interval(T0, T0 + timedelta(minutes=30))
        ]


async def test_a_committed_write_is_seen_by_the_next_direct_read(db: Database) -> None:
    host, room, invite_id = await _host_with_invite(db)
    since = T0 - timedelta(days=1)
    assert await db.direct.fetch(_MEETINGS_OF, host=host, since=since) == []
    for hours in range(3):
        async with db.write() as session:
            invite = _invite(host, room)  # one meeting per invite
            session.add(invite)
            await session.flush()
            session.add(_meeting(host, invite.id, room, T0 + timedelta(hours=hours)))
        assert len(await db.direct.fetch(_MEETINGS_OF, host=host, since=since)) == hours + 1


async def test_many_concurrent_reads_share_few_connections(db: Database) -> None:
    host, room, invite_id = await _host_with_invite(db)
    rows = await asyncio.gather(*(db.direct.fetch_one(_INVITE, id=invite_id) for _ in range(40)))
    assert all(r is not None and r["id"] == invite_id for r in rows)
    reader = db.direct._backend
    if isinstance(reader, PostgresReader):
        assert 1 <= reader.opened <= reader._max_size < 40


async def test_sqlite_direct_reads_cannot_write(
    backend: str, database_url: str, db: Database
) -> None:
    if backend != "sqlite":
        pytest.skip("the PostgreSQL reader runs only the compiled SELECTs it is given")
    await db.direct.fetch_one(_INVITE, id="x")  # opens the connection
    connection = db.direct._backend._inline  # type: ignore[union-attr]
    assert connection is not None
    with pytest.raises(sqlite3.OperationalError, match="readonly|read-only|query_only"):
        connection.execute("DELETE FROM users")


async def test_sqlite_in_memory_is_refused_with_a_clear_message() -> None:
    db = Database("sqlite+aiosqlite:///:memory:")
    try:
        with pytest.raises(ValueError, match="SQLite in a file"):
            await db.direct.fetch_one(_INVITE, id="x")
    finally:
        await db.dispose()


def _sleep_query() -> DirectQuery:
    """Waits ``seconds`` in PostgreSQL, then answers ``tag``."""
    return DirectQuery(
        select(
            cast(func.pg_sleep(bindparam("seconds", type_=Float)), String).label("slept"),
            bindparam("tag", type_=String).label("tag"),
        )
    )


@pytest.fixture
async def pg_reader(backend: str, database_url: str) -> PostgresReader:
    if backend != "postgres":
        pytest.skip("the PostgreSQL reader's own connection handling")
    reader = PostgresReader(database_url, max_size=2)
    yield reader  # type: ignore[misc]
    await reader.close()


_WHOAMI = DirectQuery(select(func.pg_backend_pid().label("pid")))


async def _terminate(database_url: str, pid: int) -> None:
    """End backend ``pid`` as an administrator (or a restart) would."""
    admin = await asyncpg.connect(database_url)
    try:
        await admin.execute("SELECT pg_terminate_backend($1)", pid)
        await admin.execute("SELECT pg_sleep(0.05)")
    finally:
        await admin.close()


async def _fetch(reader: PostgresReader, query: DirectQuery, **values: object) -> list[Any]:
    compiled = query.compiled(postgresql_asyncpg.dialect())
    return await reader.fetch(compiled, [values[name] for name in compiled.names])


async def test_postgres_reader_hands_connections_to_waiters_in_order(
    backend: str, database_url: str
) -> None:
    if backend != "postgres":
        pytest.skip("the PostgreSQL reader's own connection handling")
    pg_reader = PostgresReader(database_url, max_size=1)
    query, finished = _sleep_query(), []

    async def one(tag: str, seconds: float) -> None:
        await _fetch(pg_reader, query, seconds=seconds, tag=tag)
        finished.append(tag)

    holders = [asyncio.create_task(one("hold", 0.2))]
    await asyncio.sleep(0.05)  # the only connection is busy now
    queued = []
    for i in range(6):
        queued.append(asyncio.create_task(one(f"w{i}", 0)))
        await asyncio.sleep(0)  # queue them in a known order
    # Newcomers arriving while the queue drains must not get ahead of it either.
    late = [asyncio.create_task(one(f"late{i}", 0)) for i in range(3)]
    try:
        await asyncio.gather(*holders, *queued, *late)
    finally:
        await pg_reader.close()
    assert finished == ["hold"] + [f"w{i}" for i in range(6)] + [f"late{i}" for i in range(3)]
    assert pg_reader.opened == 0


async def test_postgres_reader_survives_failures_and_cancellations(
    pg_reader: PostgresReader,
) -> None:
    query = _sleep_query()
    bad = DirectQuery(select(cast(bindparam("x", type_=String), Integer).label("n")))
    with pytest.raises(asyncpg.InvalidTextRepresentationError):
        await _fetch(pg_reader, bad, x="not a number")
    tasks = [
        asyncio.create_task(_fetch(pg_reader, query, seconds=0.1, tag=str(i))) for i in range(10)
    ]
    await asyncio.sleep(0.02)
    for task in tasks[::2]:  # cancel running and waiting ones alike
        task.cancel()
    done = await asyncio.gather(*tasks, return_exceptions=True)
    assert [type(d).__name__ for d in done[::2]] == ["CancelledError"] * 5
    assert [d[0][1] for d in done[1::2]] == ["1", "3", "5", "7", "9"]  # type: ignore[index]
    assert pg_reader.opened <= 2
    rows = await asyncio.gather(
        *(_fetch(pg_reader, query, seconds=0, tag=str(i)) for i in range(8))
    )
    assert [r[0][1] for r in rows] == [str(i) for i in range(8)]
    assert pg_reader.opened <= 2


async def test_postgres_reader_replaces_a_connection_the_server_closed(
    pg_reader: PostgresReader, database_url: str
) -> None:
    first = (await _fetch(pg_reader, _WHOAMI))[0][0]
    await _terminate(database_url, first)
    for _ in range(50):  # until the reader's idle connection has seen the server hang up
        await asyncio.sleep(0.02)
        if pg_reader._idle and pg_reader._idle[0][0].is_closed():
            break
    second = (await _fetch(pg_reader, _WHOAMI))[0][0]
    assert second != first
    assert pg_reader.opened == 1


class _StaleCheckout(PostgresReader):
    """Hands out its idle connection once without looking at it: the connection dies between
    the health check and the query."""

    stale_handed = False

    async def _take(self) -> asyncpg.Connection:
        if self._idle and not self.stale_handed:
            self.stale_handed = True
            return self._idle.pop()[0]
        return await super()._take()


async def test_postgres_reader_runs_a_read_again_when_its_connection_was_cut(
    backend: str, database_url: str
) -> None:
    """The server drops the connection after the reader last saw it alive: the read that
    finds it dead still answers, on a fresh connection."""
    if backend != "postgres":
        pytest.skip("the PostgreSQL reader's own connection handling")
    reader = _StaleCheckout(database_url, max_size=2)
    try:
        first = (await _fetch(reader, _WHOAMI))[0][0]
        await _terminate(database_url, first)
        assert (await _fetch(reader, _WHOAMI))[0][0] != first
        assert reader.stale_handed and reader.opened == 1
    finally:
        await reader.close()


class _CountingReader(PostgresReader):
    """Records how many places were counted each time a connection was opened."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.counts: list[int] = []

    async def _connect(self) -> asyncpg.Connection:
        self.counts.append(self.opened)
        return await super()._connect()


async def test_postgres_reader_never_opens_more_than_its_bound(
    backend: str, database_url: str
) -> None:
    """Failures free places while others wait and newcomers arrive: the bound still holds."""
    if backend != "postgres":
        pytest.skip("the PostgreSQL reader's own connection handling")
    reader = _CountingReader(database_url, max_size=2)
    query = _sleep_query()
    bad = DirectQuery(
        select(cast(cast(func.pg_sleep(bindparam("s", type_=Float)), String), Integer).label("n"))
    )

    async def one(i: int) -> str:
        await asyncio.sleep((i % 7) * 0.004)
        try:
            if i % 3 == 0:
                await _fetch(reader, bad, s=0.01)
            return str((await _fetch(reader, query, seconds=0.005, tag=str(i)))[0][1])
        except asyncpg.PostgresError:
            return "failed"

    try:
        done = await asyncio.gather(*(one(i) for i in range(150)))
    finally:
        await reader.close()
    assert done.count("failed") == 50
    assert max(reader.counts) <= 2, reader.counts
    assert reader.opened == 0


async def test_postgres_reader_times_out_a_slow_query_and_recovers(
    backend: str, database_url: str
) -> None:
    if backend != "postgres":
        pytest.skip("the PostgreSQL reader's own connection handling")
    reader = PostgresReader(database_url, max_size=1, command_timeout=0.2)
    try:
        with pytest.raises(TimeoutError):
            await _fetch(reader, _sleep_query(), seconds=30, tag="slow")
        assert reader.opened == 0
        assert (await _fetch(reader, _sleep_query(), seconds=0, tag="next"))[0][1] == "next"
    finally:
        await reader.close()


async def test_an_overdue_write_is_an_unknown_outcome_and_nothing_waits_for_it(
    backend: str, database_url: str
) -> None:
    """A write past its deadline is not retried (it may have happened): its caller hears
    the outcome is unknown; queries within their deadline on the same reader are unharmed."""
    if backend != "postgres":
        pytest.skip("the PostgreSQL reader's own connection handling")
    reader = PostgresReader(database_url, max_size=2, command_timeout=0.3)
    compiled = _sleep_query().compiled(postgresql_asyncpg.dialect())
    try:
        slow = reader.fetch(compiled, [30.0, "slow"], retry=False)
        quick = reader.fetch(compiled, [0.1, "quick"], retry=False)
        outcomes = await asyncio.gather(slow, quick, return_exceptions=True)
        assert isinstance(outcomes[0], DirectWriteOutcomeUnknown)
        assert not isinstance(outcomes[1], BaseException) and outcomes[1][0][1] == "quick"
        assert reader.opened == 1  # the overdue one's connection is gone, the other kept
    finally:
        await reader.close()


async def test_a_write_not_confirmed_on_disk_is_an_unknown_outcome(
    backend: str, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A direct write commits without waiting for the disk, then waits for a flush
    (parlay.db.durable).  If the flush fails, the caller hears the outcome is unknown (never a
    success, never a plain error), though the row was written."""
    if backend != "postgres":
        pytest.skip("PostgreSQL's asynchronous commits")
    host, _room, _invite = await _host_with_invite(db)
    rename = DirectQuery(
        User.__table__.update()
        .where(User.id == bindparam("id"))
        .values(display_name=bindparam("name"))
        .returning(User.id, ASYNC_COMMIT.label("commit"))
    )
    assert await db.direct.write(rename, id=host, name="First") == [{"id": host, "commit": "off"}]
    monkeypatch.setattr(
        "parlay.db.durable.FLUSH_SQL", "SELECT pg_terminate_backend(pg_backend_pid())"
    )
    with pytest.raises(DirectWriteOutcomeUnknown):
        await db.direct.write(rename, id=host, name="Second")
    async with db.read() as session:
        assert (await session.get(User, host)).display_name == "Second"  # type: ignore[union-attr]


async def test_postgres_reader_gives_up_on_a_server_that_never_answers(backend: str) -> None:
    if backend != "postgres":
        pytest.skip("the PostgreSQL reader's own connection handling")
    silent = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = silent.sockets[0].getsockname()[1]
    reader = PostgresReader(f"postgresql://x@127.0.0.1:{port}/x", connect_timeout=0.3)
    try:
        with pytest.raises(TimeoutError):
            await _fetch(reader, _sleep_query(), seconds=0, tag="x")
        assert reader.opened == 0
    finally:
        await reader.close()
        silent.close()


async def test_sqlite_read_waits_off_the_event_loop_when_the_database_is_locked(
    backend: str, database_url: str
) -> None:
    """A reader that must wait for a lock does so on a thread: other tasks keep running."""
    if backend != "sqlite":
        pytest.skip("SQLite's locking")
    db = Database(to_async_url(database_url))
    path = database_url.removeprefix("sqlite:///")
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        await db.direct.fetch_one(_INVITE, id="warm-up")
        holder.execute("PRAGMA locking_mode = EXCLUSIVE")
        holder.execute("BEGIN EXCLUSIVE")
        holder.execute("DELETE FROM invites WHERE id = 'none'")  # takes the exclusive lock
        read = asyncio.create_task(db.direct.fetch_one(_INVITE, id="x"))
        ticks = 0
        while ticks < 5:
            await asyncio.sleep(0.01)
            ticks += 1
        assert not read.done()  # it waits for the lock ...
        holder.execute("COMMIT")
        holder.close()  # ... which is released now
        assert await read is None
        assert db.direct._backend.waited == 1  # type: ignore[union-attr]
    finally:
        holder.close()
        await db.dispose()


@settings(max_examples=300, deadline=None)
@given(
    moment=st.datetimes(
        min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)
    ),
    offset_minutes=st.integers(-14 * 60, 14 * 60),
)
def test_an_instant_is_stored_on_sqlite_as_sqlalchemy_writes_it(
    moment: datetime, offset_minutes: int
) -> None:
    """The fast bind of ``UTCDateTime`` on SQLite writes the very text SQLAlchemy's DATETIME
    would (stored rows and bound bounds compare as text), whatever zone the instant is in."""
    dialect = sqlite_dialect.dialect()
    local = moment.astimezone(timezone(timedelta(minutes=offset_minutes)))
    theirs = DateTime(timezone=True).dialect_impl(dialect).bind_processor(dialect)
    assert theirs is not None
    ours = UTCDateTime().bind_processor(dialect)
    assert ours(local) == theirs(moment.replace(tzinfo=None))
    assert ours(None) is None
    with pytest.raises(ValueError):
        ours(moment.replace(tzinfo=None))
