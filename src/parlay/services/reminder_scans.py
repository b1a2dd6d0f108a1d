"""The reminder scan's place in the outbox: one ``reminders.scan`` job (key ``reminders:scan``)
that finds due reminders and queues its own successor while meetings lie ahead
(``parlay.services.reminders``).  Booking or moving a meeting makes sure it runs, so the chain
restarts by itself after it stopped for lack of meetings (or was lost)."""

from __future__ import annotations

from parlay.services.uow import UnitOfWork

SCAN_KIND = "reminders.scan"
SCAN_KEY = "reminders:scan"


async def ensure_scanning(uow: UnitOfWork) -> None:
    """In a booking's transaction: a scan soon (coalesces into the pending one, if any)."""
    await uow.enqueue(SCAN_KIND, SCAN_KEY, {})
