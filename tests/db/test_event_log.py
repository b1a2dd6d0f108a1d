"""The hub's reads of the event log (direct reads) return every event once, in order, with
exactly its recipients, across batch boundaries and for events nobody receives."""

from __future__ import annotations

from datetime import UTC, datetime

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
