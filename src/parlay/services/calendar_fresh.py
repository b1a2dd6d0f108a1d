"""Rule 2 at Book and Reschedule: the host's conflict calendars read fresh for the chosen time.

``dates`` and ``slots`` read the stored mirror; only Book and Reschedule ask the providers, so an
event added since the last sync refuses the slot (409 ``slot_taken``).  The read runs before the
booking's transaction opens (no provider call ever holds the database's write lock), all
connections at once under one short overall deadline.  A provider that fails or does not answer
in time contributes nothing: the stored busy times, which the booking reads anyway, decide.
Nothing is stored here (the sync keeps the mirror).  A host without a conflict calendar costs
one indexed select.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from typing import TYPE_CHECKING

from sqlalchemy import select, true

from parlay.db.calendar_models import CalendarConnection, LinkedCalendar
from parlay.domain.intervals import Interval
from parlay.providers import errors as perr
from parlay.services.calendar_busy import busy_intervals
from parlay.services.secrets import SecretUnreadable

if TYPE_CHECKING:
    from parlay.services.calendars import CalendarService

log = logging.getLogger(__name__)

#: The most a booking waits for the providers, all connections together (seconds).
FRESH_TIMEOUT = 4.0


class FreshCalendarBusy:
    """``busy(user_id, window)``: the blocking events of the user's conflict calendars, read
    from the providers now (rule 1 applied: Parlay's own events never count)."""

    def __init__(self, calendars: CalendarService, *, timeout: float = FRESH_TIMEOUT) -> None:
        self.calendars = calendars
        self.timeout = timeout

    async def busy(self, user_id: str, window: Interval) -> list[Interval]:
        async with self.calendars.ctx.db.read() as session:
            rows = (
                await session.execute(
                    select(
                        CalendarConnection.id,
                        CalendarConnection.provider,
                        CalendarConnection.secret,
                        LinkedCalendar.external_id,
                    )
                    .join(CalendarConnection, CalendarConnection.id == LinkedCalendar.connection_id)
                    .where(
                        LinkedCalendar.user_id == user_id,
                        LinkedCalendar.check_conflicts == true(),
                        CalendarConnection.status == "active",
                    )
                )
            ).all()
        if not rows:
            return []
        by_connection: dict[tuple[str, str, str], list[str]] = defaultdict(list)
        for connection_id, provider, secret, external_id in rows:
            by_connection[(connection_id, provider, secret)].append(external_id)
        tasks = [
            asyncio.create_task(self._read(key, calendars, window))
            for key, calendars in by_connection.items()
        ]
        done, pending = await asyncio.wait(tasks, timeout=self.timeout)
        for task in pending:
            task.cancel()
        if pending:
            log.info("fresh busy read: %d connection(s) did not answer in time", len(pending))
        found: list[Interval] = []
        for task in done:
            if task.exception() is None:
                found += task.result()
            else:
                log.warning("fresh busy read failed", exc_info=task.exception())
        return found

    async def _read(
        self, key: tuple[str, str, str], calendar_ids: list[str], window: Interval
    ) -> list[Interval]:
        """One connection's blocking intervals; nothing when it cannot be read now."""
        connection_id, provider_key, secret = key
        try:
            credentials = self.calendars.unseal(secret)
        except SecretUnreadable:
            return []
        provider = self.calendars.provider(provider_key, credentials, connection_id)
        found: list[Interval] = []
        for calendar_id in calendar_ids:
            try:
                events = await provider.busy_events(calendar_id, window.start, window.end)
            except perr.NotFound:
                continue
            except perr.ProviderError as exc:
                log.info(
                    "fresh busy read: connection=%s %s; the stored busy times decide",
                    connection_id,
                    type(exc).__name__,
                )
                return found
            found += busy_intervals(events)
        return found
