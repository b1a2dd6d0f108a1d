"""The slot engine against the brute-force reference in ``_reference``."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from parlay.domain.availability import TimeRange, WeeklyRules, parse_weekly, weekly_to_dict
from parlay.domain.intervals import Interval
from parlay.domain.slots import (
    classify_start,
    compute_available_dates,
    compute_invite_slots,
    compute_local_day_window,
    group_by_local_date,
)

from ._reference import from_min, ref_slot_starts, to_min

ZONES = (
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "America/St_Johns",  # -03:30 / -02:30
    "Asia/Kathmandu",  # +05:45
    "Asia/Kolkata",  # +05:30
    "Pacific/Chatham",  # +12:45 / +13:45
    "Australia/Lord_Howe",  # 30-minute DST
    "Australia/Adelaide",  # +09:30 / +10:30
    "America/Santiago",  # DST at midnight
    "Asia/Beirut",  # DST at midnight
    "America/Havana",  # spring forward at midnight
)


@cache
def transition_days(name: str) -> tuple[date, ...]:
    """UTC dates in 2025-2027 on which the zone's offset changes."""
    zone = ZoneInfo(name)
    days = []
    t = datetime(2025, 1, 1, tzinfo=UTC)
    previous = t.astimezone(zone).utcoffset()
    while t.year < 2028:
        t += timedelta(days=1)
        offset = t.astimezone(zone).utcoffset()
        if offset != previous:
            days.append(t.date() - timedelta(days=1))
        previous = offset
    return tuple(days)


@st.composite
def day_ranges(draw: st.DrawFn) -> tuple[tuple[int, int], ...]:
    """Sorted, non-overlapping ranges on the 15-minute grid; touching and 24:00 included."""
    ranges: list[tuple[int, int]] = []
    cursor = draw(st.integers(0, 95)) * 15
    for _ in range(draw(st.integers(0, 4))):
        start = cursor + draw(st.sampled_from((0, 0, 1, 2, 8, 20))) * 15
        end = start + draw(st.integers(1, 40)) * 15
        if draw(st.booleans()) and start < 1440 and end < 1440 and len(ranges) == 3:
            end = 1440
        if end > 1440:
            break
        ranges.append((start, end))
        cursor = end
    return tuple(ranges)


weekly_ranges = st.lists(day_ranges(), min_size=7, max_size=7).map(tuple)


def to_rules(ranges: tuple[tuple[tuple[int, int], ...], ...]) -> WeeklyRules:
    return WeeklyRules(tuple(tuple(TimeRange(s, e) for s, e in day) for day in ranges))


@st.composite
def scenarios(draw: st.DrawFn) -> dict:
    zone_name = draw(st.sampled_from(ZONES))
    days = transition_days(zone_name)
    base_day = draw(
        st.sampled_from(days)
        if days and draw(st.integers(0, 3))
        else st.dates(date(2026, 1, 1), date(2026, 12, 31))
    )
    base = to_min(datetime.combine(base_day, datetime.min.time(), tzinfo=UTC))
    window_start = base + draw(st.integers(-2 * 1440, 1440))
    window_end = window_start + draw(st.integers(1, 3 * 1440))
    on_grid = draw(st.booleans())
    busy = []
    for _ in range(draw(st.integers(0, 12))):
        start = draw(st.integers(window_start - 1440, window_end + 1440))
        length = draw(st.integers(0, 240))
        if on_grid:
            start, length = start - start % 15, length - length % 15
        busy.append((start, start + length))
    return {
        "zone_name": zone_name,
        "ranges": draw(weekly_ranges),
        "duration": draw(st.sampled_from((15, 30, 45, 60))),
        "busy": busy,
        "now": window_start + draw(st.integers(-2 * 1440, 1440)),
        "notice": draw(st.sampled_from((0, 0, 60, 15)) | st.integers(0, 3 * 1440)),
        "horizon": draw(st.integers(1, 5 * 1440)),
        "window_start": window_start,
        "window_end": window_end,
    }


def run_engine(sc: dict) -> list[Interval]:
    return compute_invite_slots(
        to_rules(sc["ranges"]),
        ZoneInfo(sc["zone_name"]),
        timedelta(minutes=sc["duration"]),
        [Interval(from_min(s), from_min(e)) for s, e in sc["busy"]],
        from_min(sc["now"]),
        timedelta(minutes=sc["notice"]),
        timedelta(minutes=sc["horizon"]),
        from_min(sc["window_start"]),
        from_min(sc["window_end"]),
    )


def run_reference(sc: dict) -> tuple[list[int], set[int]]:
    return ref_slot_starts(
        ZoneInfo(sc["zone_name"]),
        sc["ranges"],
        sc["duration"],
        sc["busy"],
        sc["now"],
        sc["notice"],
        sc["horizon"],
        sc["window_start"],
        sc["window_end"],
    )


@given(scenarios())
def test_engine_matches_minute_by_minute_reference(sc: dict) -> None:
    slots = run_engine(sc)
    expected, _ = run_reference(sc)
    assert [to_min(s.start) for s in slots] == expected
    assert all(s.end - s.start == timedelta(minutes=sc["duration"]) for s in slots)
    assert all(s.start.tzinfo is UTC for s in slots)


@given(scenarios(), st.data())
def test_classify_start_agrees_with_reference(sc: dict, data: st.DataObject) -> None:
    free, blocked = run_reference(sc)
    probes = set(free[:40]) | set(sorted(blocked)[:40])
    probes |= set(
        data.draw(st.lists(st.integers(sc["window_start"], sc["window_end"] - 1), max_size=20))
    )
    zone = ZoneInfo(sc["zone_name"])
    rules = to_rules(sc["ranges"])
    busy = [Interval(from_min(s), from_min(e)) for s, e in sc["busy"]]
    free_set = set(free)
    for t in probes:
        verdict = classify_start(
            rules,
            zone,
            timedelta(minutes=sc["duration"]),
            busy,
            from_min(sc["now"]),
            timedelta(minutes=sc["notice"]),
            timedelta(minutes=sc["horizon"]),
            from_min(t).astimezone(zone),  # any offset is accepted
        )
        expected = "ok" if t in free_set else "busy" if t in blocked else "not_a_slot"
        assert verdict == expected, (t, from_min(t))


@given(scenarios(), st.sampled_from(ZONES))
def test_grouping_by_viewer_date(sc: dict, viewer_name: str) -> None:
    viewer = ZoneInfo(viewer_name)
    slots = run_engine(sc)
    groups = group_by_local_date(slots, viewer)
    assert list(groups) == sorted(groups)
    assert [s for day in groups.values() for s in day] == slots
    assert compute_available_dates(slots, viewer) == list(groups)
    for day, day_slots in groups.items():
        window = compute_local_day_window(day, viewer)
        assert all(s.start.astimezone(viewer).date() == day for s in day_slots)
        assert all(window.contains(s.start) for s in day_slots)


@given(weekly_ranges)
def test_weekly_dict_round_trip(ranges: tuple[tuple[tuple[int, int], ...], ...]) -> None:
    rules = to_rules(ranges)
    as_dict = weekly_to_dict(rules)
    assert parse_weekly(as_dict) == rules
    assert weekly_to_dict(parse_weekly(as_dict)) == as_dict
