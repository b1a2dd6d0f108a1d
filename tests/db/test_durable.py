"""The WAL flusher (parlay.db.durable): commits that did not wait for the disk are confirmed on
disk by flushes shared among everyone waiting, and never confirmed across a lost connection."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest

from parlay.container import Container
from parlay.db.durable import DurabilityUnknown, WalFlusher
from parlay.db.migrate import upgrade
from parlay.domain.errors import TryAgain
from parlay.services.accounts import do_signup
from parlay.services.messages import do_post_message
from parlay.services.rooms import do_create_room
from parlay.settings import Settings, to_async_url
from tests.pg_cluster import free_port, private_postgres
from tests.services_available import PG_URL, require_postgres


@pytest.fixture
async def flusher() -> WalFlusher:
    require_postgres()
    found = WalFlusher(PG_URL)
    yield found  # type: ignore[misc]
    await found.close()


async def _flushed_lsn() -> str:
    connection = await asyncpg.connect(PG_URL)
    try:
        return str(await connection.fetchval("SELECT pg_current_wal_flush_lsn()"))
    finally:
        await connection.close()


async def test_an_asynchronous_commit_is_on_disk_once_the_wait_returns(
    flusher: WalFlusher,
) -> None:
    connection = await asyncpg.connect(PG_URL)
    try:
        mark = await flusher.mark()
        async with connection.transaction():
            await connection.execute("SELECT set_config('synchronous_commit', 'off', true)")
            await connection.execute("SELECT pg_logical_emit_message(true, 'parlay-test', 'x')")
        written = await connection.fetchval("SELECT pg_current_wal_insert_lsn()")
        await flusher.wait(mark)
        flushed = await connection.fetchval(
            "SELECT pg_current_wal_flush_lsn() >= $1::pg_lsn", written
        )
        assert flushed
    finally:
        await connection.close()


async def test_everyone_waiting_at_once_shares_a_few_flushes(flusher: WalFlusher) -> None:
    mark = await flusher.mark()
    await asyncio.gather(*(flusher.wait(mark) for _ in range(100)))
    assert flusher.flushes == 1  # all asked before it started: one flush answers them all
    first = asyncio.create_task(flusher.wait(mark))
    for _ in range(2):  # its wait asks for a flush, the flusher takes it and starts
        await asyncio.sleep(0)
    assert flusher._task is not None and not flusher._task.done() and flusher._next is None
    later = [asyncio.create_task(flusher.wait(mark)) for _ in range(50)]
    await asyncio.gather(first, *later)
    # The 50 who asked while it ran were not answered by it (it may have started before
    # their commits) but share the next one.
    assert flusher.flushes == 3


async def test_a_wait_across_a_lost_connection_is_unknown_then_it_recovers(
    flusher: WalFlusher,
) -> None:
    """The server may have restarted between the commit and the flush (its connection was
    closed): no flush on a newer connection may vouch for the commit."""
    mark = await flusher.mark()
    admin = await asyncpg.connect(PG_URL)
    try:
        pid = flusher._connection.get_server_pid()  # type: ignore[union-attr]
        await admin.execute("SELECT pg_terminate_backend($1)", pid)
    finally:
        await admin.close()
    await asyncio.sleep(0.1)  # the client hears the connection close
    with pytest.raises(DurabilityUnknown):
        await flusher.wait(mark)
    await flusher.wait(await flusher.mark())  # a commit after the new connection is fine


async def test_writers_wait_for_the_disk_themselves(tmp_path: Path) -> None:
    """With no live-event hub reading (its reads flush too), chat posts and then new rooms are
    all on disk once answered: a private PostgreSQL crashes right after each burst and has them
    all when it comes back."""
    with private_postgres() as (cluster, url):
        await asyncio.to_thread(upgrade, to_async_url(url))
        settings = Settings(
            env="test",
            database_url=url,
            data_dir=tmp_path,
            secret_key="durable-secret-key",
            inprocess_worker=False,
            rate_limits="off",
        )
        ctx = Container.build(settings).ctx  # not started: no hub
        try:
            alice = await do_signup(
                ctx, email="a@example.com", password="x" * 12, display_name="A", time_zone="UTC"
            )
            room = await do_create_room(ctx, alice, title="chat", member_emails=[])
            posted = await asyncio.gather(
                *(do_post_message(ctx, alice, room.id, f"m{n}") for n in range(60))
            )
            cluster.crash()
            cluster.start()
            assert await _column(url, "SELECT body FROM messages WHERE kind = 'text'") == {
                m.body for m in posted
            }
            rooms = await asyncio.gather(
                *(
                    do_create_room(ctx, alice, title=f"room {n}", member_emails=[])
                    for n in range(20)
                )
            )
            cluster.crash()
            cluster.start()
            assert {r.title for r in rooms} <= await _column(url, "SELECT title FROM rooms")
        finally:
            await ctx.db.dispose()


async def _column(url: str, sql: str) -> set[str]:
    connection = await asyncpg.connect(url)
    try:
        return {row[0] for row in await connection.fetch(sql)}
    finally:
        await connection.close()


async def test_writes_when_the_flusher_cannot_connect_are_refused_and_write_nothing(
    backend: str, settings: Settings
) -> None:
    """If the connection that confirms commits cannot be opened, a post and a new room are
    refused as "try again" (503) before anything is written, never a 500 or a half-write."""
    if backend != "postgres":
        pytest.skip("PostgreSQL's asynchronous commits")
    ctx = Container.build(settings).ctx
    try:
        alice = await do_signup(
            ctx, email="a@example.com", password="x" * 12, display_name="A", time_zone="UTC"
        )
        room = await do_create_room(ctx, alice, title="chat", member_emails=[])
        flusher = ctx.db.direct._flusher
        assert flusher is not None
        await flusher.close()
        flusher._dsn = f"postgresql://nobody@127.0.0.1:{free_port()}/none"  # nothing listens
        with pytest.raises(TryAgain):
            await do_post_message(ctx, alice, room.id, "lost?")
        with pytest.raises(TryAgain):
            await do_create_room(ctx, alice, title="second", member_emails=[])
        assert "lost?" not in await _column(settings.database_url, "SELECT body FROM messages")
        assert await _column(settings.database_url, "SELECT title FROM rooms") == {"chat"}
    finally:
        await ctx.db.dispose()


async def test_closing_the_flusher_answers_everyone_still_waiting(flusher: WalFlusher) -> None:
    mark = await flusher.mark()
    waiting = [asyncio.create_task(flusher.wait(mark)) for _ in range(5)]
    await asyncio.sleep(0)  # they ask; the flush starts
    await flusher.close()
    outcomes = await asyncio.wait_for(asyncio.gather(*waiting, return_exceptions=True), 5)
    assert all(o is None or isinstance(o, DurabilityUnknown) for o in outcomes)


async def test_a_long_idle_connection_is_replaced_before_the_next_commit() -> None:
    """A connection idle for long may have been dropped on the way without a word (a proxy's
    idle timeout): it is replaced at the next mark, before the commit, so the commit's flush
    neither hangs on it nor is refused."""
    require_postgres()
    flusher = WalFlusher(PG_URL, max_idle=0.05)
    try:
        await flusher.wait(await flusher.mark())
        first = flusher._connection
        await asyncio.sleep(0.1)
        mark = await flusher.mark()
        assert flusher._connection is not first and first is not None and first.is_closed()
        await flusher.wait(mark)  # confirmed on the new connection
    finally:
        await flusher.close()
