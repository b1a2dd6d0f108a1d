"""``GET /me/busy``: the busy times Parlay sees for a person, each with where it comes from
("why is this time missing?").

Their scheduled Parlay meetings (hosted or booked) and the stored busy blocks of their conflict
calendars, the same data ``dates``/``slots`` and ``viewer_busy`` read; never a provider call.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, true

from parlay.db.calendar_models import BusyBlock, CalendarConnection, LinkedCalendar
from parlay.domain.errors import InvalidInput
from parlay.domain.intervals import Interval
from parlay.services.busy import meeting_busy
from parlay.services.context import Context

#: The longest range one request may ask for (the mirror holds no more than this ahead).
MAX_RANGE = timedelta(days=92)


@dataclass(frozen=True)
class BusyTime:
    start: datetime
    end: datetime
    #: ``parlay`` for a meeting, else the provider key of the calendar's connection.
    source: str


def check_range(start: datetime, end: datetime) -> Interval:
    if end <= start:
        raise InvalidInput("`to` must be after `from`.", field="to")
    if end - start > MAX_RANGE:
        raise InvalidInput("`from` and `to` may be at most 92 days apart.", field="to")
    return Interval(start, end)


async def list_busy(ctx: Context, user_id: str, start: datetime, end: datetime) -> list[BusyTime]:
    """The user's busy times overlapping [start, end), by start."""
    window = check_range(start, end)
    async with ctx.db.read() as session:
        meetings = await meeting_busy(session, user_id, window)
        blocks = await session.execute(
            select(BusyBlock.start, BusyBlock.end, CalendarConnection.provider)
            .join(LinkedCalendar, LinkedCalendar.id == BusyBlock.calendar_id)
            .join(CalendarConnection, CalendarConnection.id == LinkedCalendar.connection_id)
            .where(
                BusyBlock.user_id == user_id,
                LinkedCalendar.user_id == user_id,
                LinkedCalendar.check_conflicts == true(),
                BusyBlock.start < window.end,
                BusyBlock.end > window.start,
            )
        )
        found = [BusyTime(m.start, m.end, "parlay") for m in meetings]
        found += [BusyTime(s, e, provider) for s, e, provider in blocks.tuples()]
    return sorted(found, key=lambda b: (b.start, b.end, b.source))
