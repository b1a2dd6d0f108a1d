"""A deliberately naive, independent model of the slot rules, in whole epoch minutes.

Nothing here uses the engine: wall times are converted to UTC by scanning UTC instants and
looking at what the zone's clock shows (zoneinfo's UTC -> local direction only), and slots
are found by walking the window minute by minute.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
STEP = timedelta(minutes=15)  # every modern UTC offset and transition is on this grid

Ranges = Sequence[Sequence[tuple[int, int]]]  # per weekday (0 = Mon): (start, end) minutes


def to_min(instant: datetime) -> int:
    return (instant - EPOCH) // MINUTE


def from_min(minutes: int) -> datetime:
    return EPOCH + timedelta(minutes=minutes)


def ref_wall_to_utc(zone: ZoneInfo, wall: datetime) -> int:
    """Epoch minute at which ``zone``'s clock first shows naive ``wall``.

    A wall time the clock skips (DST gap) takes the offset in force before the jump, which is
    what ``fold=0`` means.
    """
    u = wall.replace(tzinfo=UTC) - timedelta(hours=15)
    prev_local: datetime | None = None
    prev_offset: timedelta | None = None
    for _ in range(4 * 30):
        local = u.astimezone(zone)
        shown = local.replace(tzinfo=None)
        offset = local.utcoffset()
        assert offset is not None and offset % STEP == timedelta(0)
        if shown == wall:
            return to_min(u)
        if prev_local is not None and prev_offset is not None and prev_local < wall < shown:
            return to_min(wall.replace(tzinfo=UTC) - prev_offset)
        prev_local, prev_offset = shown, offset
        u += STEP
    raise AssertionError(f"no conversion for {wall}")


def ref_rule_intervals(
    zone: ZoneInfo, ranges: Ranges, first: date, last: date
) -> list[tuple[int, int]]:
    """(start, end) epoch minutes of every range on every local date first..last."""
    result = []
    day = first
    while day <= last:
        midnight = datetime.combine(day, time())
        for start, end in ranges[day.weekday()]:
            s = ref_wall_to_utc(zone, midnight + timedelta(minutes=start))
            e = ref_wall_to_utc(zone, midnight + timedelta(minutes=end))
            result.append((s, e))
        day += timedelta(days=1)
    return result


def ref_slot_starts(
    zone: ZoneInfo,
    ranges: Ranges,
    duration: int,
    busy: Iterable[tuple[int, int]],
    now: int,
    notice: int,
    horizon: int,
    window_start: int,
    window_end: int,
) -> tuple[list[int], set[int]]:
    """(bookable starts, rule starts blocked by busy) in ``[window_start, window_end)``."""
    first = from_min(window_start).astimezone(zone).date() - timedelta(days=2)
    last = from_min(window_end).astimezone(zone).date() + timedelta(days=2)
    intervals = ref_rule_intervals(zone, ranges, first, last)
    busy_minutes: set[int] = set()
    for s, e in busy:
        busy_minutes.update(range(s, e))
    free: list[int] = []
    blocked: set[int] = set()
    for t in range(window_start, window_end):
        if not (now + notice <= t < now + horizon):
            continue
        if not any(s <= t and (t - s) % duration == 0 and t + duration <= e for s, e in intervals):
            continue
        if any(m in busy_minutes for m in range(t, t + duration)):
            blocked.add(t)
        else:
            free.append(t)
    return free, blocked
