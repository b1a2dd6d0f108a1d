"""The hub's reads of the event log (direct reads) return every event once, in order, with
exactly its recipients, across batch boundaries and for events nobody receives; on PostgreSQL a
unit of work's events take the event lock only inside its commit."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import asyncpg
import pytest
from sqlalchemy import func, select

from parlay.db.models import EventDraft
from parlay.db.session import Database
from parlay.services import events
from parlay.settings import to_async_url

T0 = datetime(2026, 12, 1, 9, tzinfo=UTC)


async def test_reading_the_log_in_batches(database_url: str) -> None:
    db = Database(to_async_url(database_url))
    try:
        expected: list[tuple[str, frozenset[str]]] = []
        total = events.BATCH * 2 + 37
        per_transaction = 100
        for start in range(0, total, per_transaction):
            pending = []
            for n in range(start, min(start + per_transaction, total)):
                # zero to three recipients; every 7th event and every 4th have none
                recipients = (
                    frozenset(f"u{n % k}" for k in (2, 3, 5)[: n % 4]) if n % 7 else frozenset()
                )
                pending.append(events.PendingEvent(f"t{n}", {"n": n}, recipients))
                expected.append((f"t{n}", recipients))
            async with db.write() as session:
                await events.append_events(session, pending, now=T0)

        seen: list[tuple[int, str, frozenset[str]]] = []
        cursor, reads = 0, 0
        while batch := await events.fetch_after(db, cursor):
            reads += 1
            assert len(batch) <= events.BATCH
            assert all(e.data == {"n": int(e.type[1:])} for e in batch)
            assert all(e.id > cursor for e in batch)
            assert [e.id for e in batch] == sorted({e.id for e in batch})
            seen += [(e.type, e.recipients) for e in batch]
            cursor = batch[-1].id
        assert seen == expected
        assert await events.last_event_id(db) == cursor
        assert reads == 3
    finally:
        await db.dispose()


async def test_a_transaction_takes_the_event_lock_only_as_it_commits(
    backend: str, database_url: str
) -> None:
    """A use case that has written its events but not committed (still waiting on the
    database, or for its turn on a busy event loop) does not hold the cluster's event lock:
    other writers' events go on.  Its events get their ids, in order, as it commits."""
    if backend != "postgres":
        pytest.skip("SQLite serializes writers; no event lock")
    db = Database(to_async_url(database_url))
    other = await asyncpg.connect(database_url)
    try:
        pending = [events.PendingEvent(f"t{n}", {"n": n}, frozenset({f"u{n}"})) for n in range(3)]
        async with db.write() as session:
            await events.append_events(session, pending, now=T0)
            async with other.transaction():  # another writer takes the lock meanwhile
                taken = await asyncio.wait_for(
                    other.fetchval("SELECT pg_try_advisory_xact_lock($1)", events.EVENT_LOCK_KEY),
                    10,
                )
            assert taken
            assert await events.last_event_id(db) == 0  # nothing published yet
        found = await events.fetch_after(db, 0)
        assert [(e.type, e.recipients) for e in found] == [(p.type, p.recipients) for p in pending]
        async with db.read() as session:
            assert await session.scalar(select(func.count()).select_from(EventDraft)) == 0
        definition = await other.fetchval(
            "SELECT pg_get_functiondef('parlay_publish_event_draft'::regproc)"
        )
        assert f"pg_advisory_xact_lock({events.EVENT_LOCK_KEY})" in definition
    finally:
        await other.close()
        await db.dispose()
