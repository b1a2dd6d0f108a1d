"""The slot engine: bookable slots from open intervals, busy time, notice and horizon.

Rules 2-4 of the slot contract: slots start at each open interval's start and step by the
duration; a slot must fit in its interval, satisfy ``now + notice <= start < now + horizon``
and overlap no busy interval (half-open, so touching is fine).  Busy time is merged once and
each interval is swept left to right, jumping over busy blocks, so a call costs
O((intervals + busy) log busy) rather than slots x busy.  The sweep yields runs of
back-to-back slots; slots are built from them only when asked for, and available dates are
read off them one date at a time.  The sweep works on integer microseconds since the epoch
(``epoch_us``), about twice as fast as on datetimes; only slots handed out are datetimes.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from operator import attrgetter
from typing import Literal
from zoneinfo import ZoneInfo

from parlay.domain.availability import (
    WeeklyRules,
    compute_open_intervals,
    open_bounds,
    wall_to_epoch_us,
    wall_to_utc,
)
from parlay.domain.errors import InvalidInput
from parlay.domain.intervals import Interval, epoch_us, from_epoch_us, merged_bounds

StartVerdict = Literal["ok", "not_a_slot", "busy"]

_by_start = attrgetter("start")
_MICROSECOND = timedelta(microseconds=1)
_ONE_DAY = timedelta(days=1)


def minute_ceiling(instant: datetime) -> datetime:
    """The first whole minute at or after ``instant``.  Slot starts, notice and horizon are
    whole minutes, so the engine's answer for ``now`` equals its answer for
    ``minute_ceiling(now)``: callers may share one computation per minute."""
    floor = instant.replace(second=0, microsecond=0)
    return floor if floor == instant else floor + timedelta(minutes=1)


def to_utc(instant: datetime, field: str) -> datetime:
    """``instant`` in UTC; InvalidInput(field) when it is naive."""
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise InvalidInput("The time needs a time zone offset.", field=field)
    return instant.astimezone(UTC)


#: A run of back-to-back slots: the first start (``epoch_us``) and how many follow at
#: ``duration`` steps.
Run = tuple[int, int]


def _sweep(
    open_intervals: Iterable[tuple[int, int]],
    duration: int,
    busy_starts: Sequence[int],
    busy_ends: Sequence[int],
    earliest: int,
    latest: int,
) -> tuple[list[Run], bool]:
    """Runs of slots with ``earliest <= start < latest``; every instant and span in
    microseconds (``epoch_us``), busy bounds merged (sorted, disjoint).  The flag says runs
    may overlap or be out of order (open intervals that overlap at odd DST edges)."""
    if duration <= 0:
        raise ValueError("duration must be positive")
    runs: list[Run] = []
    append = runs.append
    n = len(busy_ends)
    unordered = False
    last_start: int | None = None
    for base, end in open_intervals:
        stop = min(end - duration + 1, latest)  # exclusive bound on slot starts
        t = base
        if t < earliest:
            t = base - ((base - earliest) // duration) * duration  # first aligned >= earliest
        if t >= stop:
            continue
        if last_start is not None and t <= last_start:
            unordered = True
        i = bisect_right(busy_ends, t)  # first busy block ending after t
        while t < stop:
            while i < n and busy_ends[i] <= t:
                i += 1
            limit = stop
            if i < n:
                free_stop = busy_starts[i] - duration + 1  # t + duration <= busy start
                if t >= free_stop:  # blocked: jump to the first aligned start >= block end
                    t = base - ((base - busy_ends[i]) // duration) * duration
                    continue
                limit = min(stop, free_stop)
            if t < limit:
                count = -((t - limit) // duration)  # starts t, t + d, ... below limit
                append((t, count))
                t += count * duration
                last_start = t - duration
    return runs, unordered


def _expand(runs: list[Run], duration: timedelta, unordered: bool) -> list[Interval]:
    slots: list[Interval] = []
    append = slots.append
    for first, count in runs:
        t = from_epoch_us(first)
        for _ in range(count):
            end = t + duration
            append(Interval(t, end))
            t = end
    if unordered:  # dedupe and re-sort
        slots = sorted({s.start: s for s in slots}.values(), key=_by_start)
    return slots


@lru_cache(maxsize=4096)
def _local_date_span(day: date, tz: ZoneInfo) -> tuple[int, int] | None:
    """``[start, end)`` of the local ``day`` in ``tz`` (``epoch_us``), in which every instant
    has that local date; None when its midnight occurs twice.  A clock going back across
    midnight may give part of the day the previous date again (Antarctica/Casey, 2010-03-05)
    or only repeat its first hour (America/Havana each November): either way the caller
    takes the slower path, one conversion per date."""
    once = datetime.combine(day, time(0), tzinfo=tz)
    if once.replace(fold=1).astimezone(UTC) > once.astimezone(UTC):
        return None
    return wall_to_epoch_us(day, 0, tz), wall_to_epoch_us(day + _ONE_DAY, 0, tz)


def _run_dates(runs: Iterable[Run], duration: int, tz: ZoneInfo) -> set[date]:
    """The local dates in ``tz`` on which a slot of ``runs`` starts, visiting one slot per
    date and run instead of every slot.  A run within the local date of the run before it,
    or of a few dates after it, costs no time zone conversion."""
    found: set[date] = set()
    day = date.min
    low = high = 0  # the span of ``day``: none yet
    for first, count in runs:
        last = first + (count - 1) * duration
        steps = 0
        while first >= high > low and steps < 7:  # the next few dates
            day += _ONE_DAY
            low, high = _local_date_span(day, tz) or (0, 0)
            steps += 1
        if not low <= first < high:
            day = from_epoch_us(first).astimezone(tz).date()
            low, high = _local_date_span(day, tz) or (0, 0)
        if low <= first and last < high:  # the usual case: a run within one date
            found.add(day)
            continue
        t = first
        while t <= last:
            on = from_epoch_us(t).astimezone(tz).date()
            found.add(on)
            next_day = wall_to_epoch_us(on + _ONE_DAY, 0, tz)  # where the next date begins
            t = max(t + duration, first - ((first - next_day) // duration) * duration)
    return found


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
    runs, unordered = _sweep(
        ((epoch_us(iv.start), epoch_us(iv.end)) for iv in open_intervals),
        duration // _MICROSECOND,
        [epoch_us(b) for b in busy_starts],
        [epoch_us(b) for b in busy_ends],
        epoch_us(now + min_notice),
        epoch_us(now + horizon),
    )
    return _expand(runs, duration, unordered)


def _invite_runs(
    rules: WeeklyRules,
    zone: ZoneInfo,
    duration: timedelta,
    busy: Iterable[Interval],
    now: datetime,
    min_notice: timedelta,
    horizon: timedelta,
    window_start: datetime,
    window_end: datetime,
) -> tuple[list[Run], bool]:
    now = to_utc(now, "now")
    earliest = max(now + min_notice, to_utc(window_start, "window_start"))
    latest = min(now + horizon, to_utc(window_end, "window_end"))
    if earliest >= latest:
        return [], False
    busy_starts, busy_ends = merged_bounds(busy)
    return _sweep(
        open_bounds(rules, zone, earliest, latest),
        duration // _MICROSECOND,
        [epoch_us(b) for b in busy_starts],
        [epoch_us(b) for b in busy_ends],
        epoch_us(earliest),
        epoch_us(latest),
    )


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
    runs, unordered = _invite_runs(
        rules, zone, duration, busy, now, min_notice, horizon, window_start, window_end
    )
    return _expand(runs, duration, unordered)


def compute_invite_dates(
    rules: WeeklyRules,
    zone: ZoneInfo,
    duration: timedelta,
    busy: Iterable[Interval],
    now: datetime,
    min_notice: timedelta,
    horizon: timedelta,
    window_start: datetime,
    window_end: datetime,
    viewer: ZoneInfo,
) -> list[date]:
    """``compute_available_dates(compute_invite_slots(...), viewer)`` without building every
    slot: the cost follows the number of free stretches and days, not of slots."""
    runs, _ = _invite_runs(
        rules, zone, duration, busy, now, min_notice, horizon, window_start, window_end
    )
    return sorted(_run_dates(runs, duration // _MICROSECOND, viewer))


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
