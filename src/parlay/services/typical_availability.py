"""A user's typical availability: the weekly hours that prefill the share window."""

from __future__ import annotations

from typing import Any

from parlay.db.models import User
from parlay.db.scheduling_models import TypicalAvailability
from parlay.domain.availability import parse_time_zone, parse_weekly, weekly_to_dict
from parlay.services.context import Context

WORKDAY = [{"start": "09:00", "end": "17:00"}]
DEFAULT_WEEKLY: dict[str, Any] = {day: WORKDAY for day in ("mon", "tue", "wed", "thu", "fri")}


async def get_typical(ctx: Context, user: User) -> dict[str, Any]:
    """The saved hours, or Mon–Fri 09:00–17:00 in the user's own zone."""
    async with ctx.db.read() as session:
        row = await session.get(TypicalAvailability, user.id)
    if row is None:
        return {"time_zone": user.time_zone, "weekly": DEFAULT_WEEKLY, "saved": False}
    return {"time_zone": row.time_zone, "weekly": row.weekly, "saved": True}


async def do_save_typical(
    ctx: Context, user: User, time_zone: str, weekly: dict[str, Any]
) -> dict[str, Any]:
    parse_time_zone(time_zone)
    normalized = weekly_to_dict(parse_weekly(weekly))
    async with ctx.db.write() as session:
        row = await session.get(TypicalAvailability, user.id)
        if row is None:
            row = TypicalAvailability(user_id=user.id)
            session.add(row)
        row.time_zone, row.weekly, row.updated_at = time_zone, normalized, ctx.now()
    return {"time_zone": time_zone, "weekly": normalized, "saved": True}
