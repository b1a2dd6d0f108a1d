"""The reminder scan's place in the outbox: one ``reminders.scan`` job (key ``reminders:scan``)
that finds due reminders and queues its own successor while meetings lie ahead
(``parlay.services.reminders``).  Booking or moving a meeting makes sure one is queued, so the
chain restarts by itself after it stopped for lack of meetings (or was lost).

A booking only *reads* whether a scan is queued: coalescing into the pending row would lock
that one row in every booking transaction and serialize all bookings behind each other.  A
scan already queued is at most ``SCAN_SECONDS`` away, soon enough for a reminder.
"""

from __future__ import annotations

from sqlalchemy import literal_column, select

from parlay.db.scheduling_models import OutboxJob
from parlay.services.uow import UnitOfWork

SCAN_KIND = "reminders.scan"
SCAN_KEY = "reminders:scan"


async def ensure_scanning(uow: UnitOfWork) -> None:
    """In a booking's transaction: queue a scan unless one is pending (a running one queues
    its successor).  The status is a literal so PostgreSQL uses the partial unique index."""
    queued = await uow.session.scalar(
        select(OutboxJob.id)
        .where(OutboxJob.dedupe_key == SCAN_KEY, OutboxJob.status == literal_column("'pending'"))
        .limit(1)
    )
    if queued is None:
        await uow.enqueue(SCAN_KIND, SCAN_KEY, {})
