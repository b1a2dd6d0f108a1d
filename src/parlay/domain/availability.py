"""Weekly availability rules, their validation, and their expansion into UTC intervals.

A host's week is a list of wall-clock ranges per weekday in one IANA time zone.  Rule 1 of
the slot contract lives in :func:`compute_open_intervals`: each range on each local date is
converted separately with zoneinfo's defaults (``fold=0``), and ranges are never merged.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from operator import itemgetter
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from parlay.domain.errors import InvalidAvailability, UnknownTimeZone
from parlay.domain.intervals import Interval, epoch_us, from_epoch_us

WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MINUTES_PER_DAY = 1440
GRID_MINUTES = 15

_UTC = UTC
_ONE_DAY = timedelta(days=1)
_first = itemgetter(0)
_HHMM = re.compile(r"([0-9]{2}):([0-9]{2})")
_ZONE_NAME = re.compile(r"[A-Za-z0-9_+\-]+(/[A-Za-z0-9_+\-]+)*")
_NOT_ZONES = frozenset({"localtime", "posixrules", "Factory"})


# --- time zones ----------------------------------------------------------------------------
def parse_time_zone(name: object, *, field: str = "time_zone") -> ZoneInfo:
    """The IANA zone called ``name``; raises UnknownTimeZone for anything else."""
    if (
        not isinstance(name, str)
        or len(name) > 64
        or not _ZONE_NAME.fullmatch(name)
        or name in _NOT_ZONES
        or name.startswith(("posix/", "right/"))
    ):
        raise UnknownTimeZone(field=field)
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise UnknownTimeZone(field=field) from exc


# --- weekly rules --------------------------------------------------------------------------
@dataclass(frozen=True, slots=True, order=True)
class TimeRange:
    """Wall-clock range ``[start, end)`` in minutes from local midnight (``end`` may be 1440)."""

    start: int
    end: int

    def __post_init__(self) -> None:
        if not 0 <= self.start < self.end <= MINUTES_PER_DAY:
            raise ValueError(f"Bad time range {self.start}..{self.end}.")


@dataclass(frozen=True, slots=True)
class WeeklyRules(Mapping[int, tuple[TimeRange, ...]]):
    """Immutable mapping weekday (0 = Monday) -> sorted, non-overlapping ranges.

    All seven weekdays are keys; an unavailable day maps to ``()``.
    """

    days: tuple[tuple[TimeRange, ...], ...]

    def __post_init__(self) -> None:
        if len(self.days) != 7:
            raise ValueError("WeeklyRules needs exactly seven days.")
        for ranges in self.days:
            for a, b in zip(ranges, ranges[1:], strict=False):
                if b.start < a.end:
                    raise ValueError("Ranges must be sorted and must not overlap.")

    @classmethod
    def of(cls, by_weekday: Mapping[int, Sequence[TimeRange]]) -> WeeklyRules:
        return cls(tuple(tuple(sorted(by_weekday.get(d, ()))) for d in range(7)))

    def __getitem__(self, weekday: int) -> tuple[TimeRange, ...]:
        return self.days[weekday]

    def __iter__(self) -> Iterator[int]:
        return iter(range(7))

    def __len__(self) -> int:
        return 7

    @property
    def range_count(self) -> int:
        return sum(len(ranges) for ranges in self.days)


def _parse_hhmm(value: object, field: str, *, allow_24: bool) -> int:
    match = _HHMM.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise InvalidAvailability("Use a time like 09:30.", field=field)
    hours, minutes = int(match[1]), int(match[2])
    if allow_24 and (hours, minutes) == (24, 0):
        return MINUTES_PER_DAY
    if hours > 23 or minutes > 59:
        raise InvalidAvailability("This is not a valid time of day.", field=field)
    if minutes % GRID_MINUTES:
        raise InvalidAvailability("Times must be on the quarter hour.", field=field)
    return hours * 60 + minutes


def _bound(item: object, key: str) -> object:
    if isinstance(item, Mapping):
        return item.get(key)
    return getattr(item, key, None)


def _parse_day(day: str, ranges: object) -> tuple[TimeRange, ...]:
    if ranges is None:
        return ()
    if isinstance(ranges, str | bytes) or not isinstance(ranges, Sequence):
        raise InvalidAvailability("Give a list of time ranges.", field=f"weekly.{day}")
    parsed: list[tuple[TimeRange, int]] = []
    for i, item in enumerate(ranges):
        field = f"weekly.{day}[{i}]"
        start = _parse_hhmm(_bound(item, "start"), f"{field}.start", allow_24=False)
        end = _parse_hhmm(_bound(item, "end"), f"{field}.end", allow_24=True)
        if end <= start:
            raise InvalidAvailability("The end must be after the start.", field=f"{field}.end")
        parsed.append((TimeRange(start, end), i))
    parsed.sort()
    for (prev, _), (cur, i) in zip(parsed, parsed[1:], strict=False):
        if cur.start < prev.end:
            raise InvalidAvailability(
                "This range overlaps another one on the same day.",
                field=f"weekly.{day}[{i}].start",
            )
    return tuple(r for r, _ in parsed)


def parse_weekly(weekly: Mapping[str, Sequence[Any]]) -> WeeklyRules:
    """Validate the API's weekly shape (``{"mon": [{"start": "09:00", "end": "12:00"}]}``)."""
    if not isinstance(weekly, Mapping):
        raise InvalidAvailability("Give availability per weekday.", field="weekly")
    days: dict[int, tuple[TimeRange, ...]] = {}
    for key, ranges in weekly.items():
        if key not in WEEKDAYS:
            raise InvalidAvailability(
                "Unknown weekday; use mon, tue, wed, thu, fri, sat or sun.", field=f"weekly.{key}"
            )
        days[WEEKDAYS.index(key)] = _parse_day(key, ranges)
    return WeeklyRules.of(days)


def _format_minutes(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def weekly_to_dict(rules: WeeklyRules) -> dict[str, list[dict[str, str]]]:
    """The API shape of ``rules``; every weekday is present (unavailable days as ``[]``)."""
    return {
        name: [{"start": _format_minutes(r.start), "end": _format_minutes(r.end)} for r in rules[d]]
        for d, name in enumerate(WEEKDAYS)
    }


# --- expansion to UTC ----------------------------------------------------------------------
def wall_to_utc(day: date, minutes: int, zone: ZoneInfo) -> datetime:
    """Wall time ``minutes`` after midnight of ``day`` in ``zone`` as UTC (fold=0 semantics)."""
    days, minute_of_day = divmod(minutes, MINUTES_PER_DAY)
    local_day = day + timedelta(days=days) if days else day
    hour, minute = divmod(minute_of_day, 60)
    wall = datetime.combine(local_day, time(hour, minute), tzinfo=zone)
    return wall.astimezone(_UTC)


@lru_cache(maxsize=16384)
def wall_to_epoch_us(day: date, minutes: int, zone: ZoneInfo) -> int:
    """``wall_to_utc`` in microseconds since the Unix epoch, remembered (the least recently
    used first forgotten, 16,384 kept: about 4 MB): every availability read converts each
    range bound on each date of its window, the same few dates, bounds and zones over and
    over; a conversion takes ~1.5 µs, a repeat ~0.1 µs."""
    return epoch_us(wall_to_utc(day, minutes, zone))


def compute_open_intervals(
    rules: WeeklyRules, zone: ZoneInfo, window_start: datetime, window_end: datetime
) -> list[Interval]:
    """UTC intervals of every range on every local date touching the window (rule 1).

    Intervals are sorted by start, never merged and never clipped (slot alignment depends on
    each interval's own start); empty ones and those not overlapping the window are dropped.
    """
    return [
        Interval(from_epoch_us(s), from_epoch_us(e))
        for s, e in open_bounds(rules, zone, window_start, window_end)
    ]


def open_bounds(
    rules: WeeklyRules, zone: ZoneInfo, window_start: datetime, window_end: datetime
) -> list[tuple[int, int]]:
    """``compute_open_intervals`` as ``(start, end)`` pairs of ``epoch_us``, what the slot
    engine sweeps."""
    low, high = epoch_us(window_start), epoch_us(window_end)
    day = window_start.astimezone(zone).date() - _ONE_DAY  # a date of margin either side
    last = window_end.astimezone(zone).date() + _ONE_DAY
    days = rules.days
    result: list[tuple[int, int]] = []
    while day <= last:
        for r in days[day.weekday()]:
            start = wall_to_epoch_us(day, r.start, zone)
            end = wall_to_epoch_us(day, r.end, zone)
            if start < end and start < high and end > low:
                result.append((start, end))
        day += _ONE_DAY
    result.sort(key=_first)
    return result
