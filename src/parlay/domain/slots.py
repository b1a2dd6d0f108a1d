"""The slot engine: bookable slots from open intervals, busy time, notice and horizon.

Rules 2-4 of the slot contract: slots start at each open interval's start and step by the
duration; a slot must fit in its interval, satisfy ``now + notice <= start < now + horizon``
and overlap no busy interval (half-open, so touching is fine).  Busy time is merged once and
each interval is swept left to right, jumping over busy blocks, so a call costs
O((slots + busy) log busy) rather than slots x busy.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from operator import attrgetter
from typing import Literal
from zoneinfo import ZoneInfo

from parlay.domain.availability import WeeklyRules, compute_open_intervals, wall_to_utc
from parlay.domain.errors import InvalidInput
from parlay.domain.intervals import Interval, merged_bounds

StartVerdict = Literal["ok", "not_a_slot", "busy"]

_by_start = attrgetter("start")
_TICK = timedelta(microseconds=1)  # datetime resolution: t <= x  <=>  t < x + _TICK


def to_utc(instant: datetime, field: str) -> datetime:
    """``instant`` in UTC; InvalidInput(field) when it is naive."""
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise InvalidInput("The time needs a time zone offset.", field=field)
    return instant.astimezone(UTC)


def _sweep(
    open_intervals: Iterable[Interval],
    duration: timedelta,
    busy_starts: Sequence[datetime],
    busy_ends: Sequence[datetime],
    earliest: datetime,
    latest: datetime,
) -> list[Interval]:
    """Slots with ``earliest <= start < latest``; busy bounds are merged (sorted, disjoint)."""
    if duration <= timedelta(0):
        raise ValueError("duration must be positive")
    slots: list[Interval] = []
    append = slots.append
    n = len(busy_ends)
    unordered = False
    for iv in open_intervals:
        base = iv.start
        stop = min(iv.end - duration + _TICK, latest)  # exclusive bound on slot starts
        t = base
        if t < earliest:
            t = base - ((base - earliest) // duration) * duration  # first aligned >= earliest
        if t >= stop:
            continue
        if slots and t <= slots[-1].start:
            unordered = True
        i = bisect_right(busy_ends, t)  # first busy block ending after t
        while t < stop:
            while i < n and busy_ends[i] <= t:
                i += 1
            limit = stop
            if i < n:
                free_stop = busy_starts[i] - duration + _TICK  # t + duration <= busy start
                if t >= free_stop:  # blocked: jump to the first aligned start >= block end
                    t = base - ((base - busy_ends[i]) // duration) * duration
                    continue
                limit = min(stop, free_stop)
            while t < limit:
                end = t + duration
                append(Interval(t, end))
                t = end
    if unordered:  # only when open intervals overlap (odd DST edges): dedupe and re-sort
        slots = sorted({s.start: s for s in slots}.values(), key=_by_start)
    return slots


def compute_slots(
    open_intervals: Iterable[Interval],
    duration: timedelta,
    busy: Iterable[Interval],
    now: datetime,
    min_notice: timedelta,
    horizon: timedelta,
) -> list[Interval]:
    """Distinct, ascending slots of ``open_intervals`` (sorted by start) per rules 2-3."""
    now = to_utc(now, "now")
    busy_starts, busy_ends = merged_bounds(busy)
    return _sweep(open_intervals, duration, busy_starts, busy_ends, now + min_notice, now + horizon)


def compute_invite_slots(
    rules: WeeklyRules,
    zone: ZoneInfo,
    duration: timedelta,
    busy: Iterable[Interval],
    now: datetime,
    min_notice: timedelta,
    horizon: timedelta,
    window_start: datetime,
    window_end: datetime,
) -> list[Interval]:
    """Slots of the weekly ``rules`` whose start lies in ``[window_start, window_end)``."""
    now = to_utc(now, "now")
    earliest = max(now + min_notice, to_utc(window_start, "window_start"))
    latest = min(now + horizon, to_utc(window_end, "window_end"))
    if earliest >= latest:
        return []
    open_intervals = compute_open_intervals(rules, zone, earliest, latest)
    busy_starts, busy_ends = merged_bounds(busy)
    return _sweep(open_intervals, duration, busy_starts, busy_ends, earliest, latest)


def classify_start(
    rules: WeeklyRules,
    zone: ZoneInfo,
    duration: timedelta,
    busy: Iterable[Interval],
    now: datetime,
    min_notice: timedelta,
    horizon: timedelta,
    start: datetime,
) -> StartVerdict:
    """Whether ``start`` is bookable: ``"ok"``, ``"not_a_slot"`` (rules, notice or horizon
    do not produce it: 422) or ``"busy"`` (a rule slot blocked by busy time: 409)."""
    now, start = to_utc(now, "now"), to_utc(start, "start")
    if not now + min_notice <= start < now + horizon:
        return "not_a_slot"
    slot = Interval(start, start + duration)
    if not any(
        iv.start <= start and slot.end <= iv.end and (start - iv.start) % duration == timedelta(0)
        for iv in compute_open_intervals(rules, zone, start, slot.end)
    ):
        return "not_a_slot"
    return "busy" if any(slot.overlaps(b) for b in busy) else "ok"


def compute_local_day_window(day: date, tz: ZoneInfo) -> Interval:
    """UTC instants from local midnight of ``day`` to the next local midnight in ``tz``."""
    return Interval(wall_to_utc(day, 0, tz), wall_to_utc(day + timedelta(days=1), 0, tz))


def group_by_local_date(slots: Iterable[Interval], tz: ZoneInfo) -> dict[date, list[Interval]]:
    """Slots grouped by the local date of their start in the viewer's ``tz``, both ascending."""
    groups: dict[date, list[Interval]] = {}
    for slot in sorted(slots, key=_by_start):
        groups.setdefault(slot.start.astimezone(tz).date(), []).append(slot)
    return dict(sorted(groups.items()))


def compute_available_dates(slots: Iterable[Interval], tz: ZoneInfo) -> list[date]:
    """The local dates in ``tz`` (ascending) on which at least one slot starts."""
    return sorted({slot.start.astimezone(tz).date() for slot in slots})
