"""Moving the pinned clock (``PARLAY_ENV=test`` with ``PARLAY_NOW``), so tests can open a
meeting's join window or make reminders due without waiting."""

from __future__ import annotations

from datetime import UTC, datetime

from parlay.domain.errors import InvalidInput
from parlay.services.context import Context


def do_move_clock(ctx: Context, now: datetime) -> None:
    """Pin the clock at ``now``; it only moves forward (time never runs back for the jobs)."""
    if now.tzinfo is None:
        raise InvalidInput("Give an instant with its offset.", field="now")
    now = now.astimezone(UTC)
    if now < ctx.now():
        raise InvalidInput("The clock only moves forward.", field="now")
    ctx.clock = lambda: now
