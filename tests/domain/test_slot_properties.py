"""The slot engine against the brute-force reference in ``_reference``."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from parlay.domain.availability import TimeRange, WeeklyRules, parse_weekly, weekly_to_dict
from parlay.domain.intervals import Interval
from parlay.domain.slots import (
    classify_start,
    compute_available_dates,
    compute_invite_dates,
    compute_invite_slots,
    compute_local_day_window,
    group_by_local_date,
    minute_ceiling,
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
def transitions(name: str) -> tuple[int, ...]:
    """Epoch minutes of the zone's offset changes in 2025-2027 (15-minute precision)."""
    zone = ZoneInfo(name)
    found = []
    t = datetime(2025, 1, 1, tzinfo=UTC)
    previous = t.astimezone(zone).utcoffset()
    while t.year < 2028:
        t += timedelta(days=1)
        if t.astimezone(zone).utcoffset() != previous:
            u = t - timedelta(days=1)
            while u.astimezone(zone).utcoffset() == previous:
                u += timedelta(minutes=15)
            found.append(to_min(u))
            previous = u.astimezone(zone).utcoffset()
    return tuple(found)


INTERESTING_DAYS = (
    ((0, 1440),),  # all day: every DST edge of the day is inside
    ((0, 60), (60, 180), (180, 240)),  # touching ranges across typical 02:00/03:00 switches
    ((60, 150), (180, 240)),
    ((1380, 1440),),  # late evening up to 24:00 (midnight switches)
    ((0, 120), (1320, 1440)),
    ((540, 1020),),
)


@st.composite
def random_day_ranges(draw: st.DrawFn) -> tuple[tuple[int, int], ...]:
    """Sorted, non-overlapping ranges on the 15-minute grid; touching and 24:00 included."""
    ranges: list[tuple[int, int]] = []
    cursor = draw(st.integers(0, 95)) * 15
    for _ in range(draw(st.integers(0, 4))):
        start = cursor + draw(st.sampled_from((0, 0, 1, 2, 8, 20))) * 15
        end = start + draw(st.integers(1, 40)) * 15
        if start < 1440 and end < 1440 and draw(st.integers(0, 3)) == 0:
            end = 1440
        if end > 1440:
            break
        ranges.append((start, end))
        cursor = end
        if end == 1440:
            break
    return tuple(ranges)


day_ranges = random_day_ranges() | st.sampled_from(INTERESTING_DAYS)


weekly_ranges = st.lists(day_ranges, min_size=7, max_size=7).map(tuple)


def to_rules(ranges: tuple[tuple[tuple[int, int], ...], ...]) -> WeeklyRules:
    return WeeklyRules(tuple(tuple(TimeRange(s, e) for s, e in day) for day in ranges))


@st.composite
def switch_ranges(draw: st.DrawFn, zone: ZoneInfo, switch: int) -> tuple[tuple[int, int], ...]:
    """Ranges whose ends sit on and around the wall times just before and after a switch."""
    at = from_min(switch)
    points: set[int] = {0, 1440}
    for instant in (at - timedelta(minutes=1), at):
        offset = instant.astimezone(zone).utcoffset()
        assert offset is not None
        wall = (switch + offset // timedelta(minutes=1)) % 1440
        points |= {wall + 15 * k for k in range(-4, 5) if 0 <= wall + 15 * k <= 1440}
    chosen = sorted(draw(st.sets(st.sampled_from(sorted(points)), min_size=2)))
    pairs = list(zip(chosen, chosen[1:], strict=False))
    keep = draw(st.lists(st.booleans(), min_size=len(pairs), max_size=len(pairs)))
    return tuple(pair for pair, kept in zip(pairs, keep, strict=True) if kept)


@st.composite
def scenarios(draw: st.DrawFn) -> dict:
    zone_name = draw(st.sampled_from(ZONES))
    switches = transitions(zone_name)
    near_switch = bool(switches) and draw(st.booleans())
    ranges: tuple[tuple[tuple[int, int], ...], ...]
    if near_switch:
        # Around a DST switch, with the same ranges every day so the switch day has some.
        switch = draw(st.sampled_from(switches))
        window_start = switch - draw(st.integers(0, 36 * 60))
        window_end = switch + draw(st.integers(1, 36 * 60))
        pattern = draw(switch_ranges(ZoneInfo(zone_name), switch) | day_ranges)
        ranges = (pattern,) * 7
    else:
        day = draw(st.dates(date(2025, 1, 1), date(2027, 12, 31)))
        window_start = to_min(datetime.combine(day, time(), tzinfo=UTC)) + draw(
            st.integers(0, 1439)
        )
        window_end = window_start + draw(st.integers(1, 3 * 1440))
        ranges = draw(weekly_ranges)
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
        "ranges": ranges,
        "duration": draw(st.sampled_from((15, 30, 45, 60))),
        "busy": busy,
        "now": window_start + draw(st.integers(-2 * 1440, 0) | st.integers(0, 1440)),
        "notice": draw(st.sampled_from((0, 15, 60)) | st.integers(0, 3 * 1440)),
        "horizon": draw(st.just(90 * 1440) | st.integers(1, 5 * 1440)),
        "window_start": window_start,
        "window_end": window_end,
    }


def engine_args(sc: dict, now: datetime | None = None) -> tuple[Any, ...]:
    """The engine's arguments for scenario ``sc`` (at ``now``, or the scenario's own)."""
    return (
        to_rules(sc["ranges"]),
        ZoneInfo(sc["zone_name"]),
        timedelta(minutes=sc["duration"]),
        [Interval(from_min(s), from_min(e)) for s, e in sc["busy"]],
        from_min(sc["now"]) if now is None else now,
        timedelta(minutes=sc["notice"]),
        timedelta(minutes=sc["horizon"]),
        from_min(sc["window_start"]),
        from_min(sc["window_end"]),
    )


def run_engine(sc: dict) -> list[Interval]:
    return compute_invite_slots(*engine_args(sc))


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


@given(scenarios(), st.sampled_from(ZONES))
def test_dates_without_slots_match_dates_of_slots(sc: dict, viewer_name: str) -> None:
    viewer = ZoneInfo(viewer_name)
    dates = compute_invite_dates(*engine_args(sc), viewer)
    expected, _ = run_reference(sc)
    assert dates == sorted({from_min(t).astimezone(viewer).date() for t in expected})


@given(scenarios(), st.sampled_from(ZONES), st.integers(1, 60_000_000))
def test_answers_depend_on_now_only_through_its_minute(
    sc: dict, viewer_name: str, micros: int
) -> None:
    """Between two whole minutes the engine cannot tell instants apart, which is what lets
    the service share one computation per minute (``minute_ceiling``)."""
    now = from_min(sc["now"]) + timedelta(microseconds=micros)
    assert minute_ceiling(now) == from_min(sc["now"] + 1)
    assert minute_ceiling(from_min(sc["now"])) == from_min(sc["now"])
    exact, rounded = engine_args(sc, now), engine_args(sc, minute_ceiling(now))
    viewer = ZoneInfo(viewer_name)
    assert compute_invite_slots(*exact) == compute_invite_slots(*rounded)
    assert compute_invite_dates(*exact, viewer) == compute_invite_dates(*rounded, viewer)
