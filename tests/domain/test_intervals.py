"""Interval algebra, by example and against a minute-set model."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from parlay.domain.intervals import Interval, clip, merge, merged_bounds, subtract

T0 = datetime(2026, 3, 2, tzinfo=UTC)


def iv(a: int, b: int) -> Interval:
    return Interval(T0 + timedelta(minutes=a), T0 + timedelta(minutes=b))


def minutes(intervals: list[Interval]) -> set[int]:
    result: set[int] = set()
    for x in intervals:
        result.update(
            range((x.start - T0) // timedelta(minutes=1), (x.end - T0) // timedelta(minutes=1))
        )
    return result


intervals = st.lists(
    st.builds(lambda a, n: iv(a, a + n), st.integers(0, 200), st.integers(0, 40)), max_size=12
)


def test_overlap_is_half_open() -> None:
    assert iv(0, 10).overlaps(iv(9, 20))
    assert not iv(0, 10).overlaps(iv(10, 20))
    assert not iv(10, 20).overlaps(iv(0, 10))
    assert iv(0, 30).overlaps(iv(10, 20))
    assert not iv(0, 30).overlaps(iv(10, 10)) and not iv(10, 10).overlaps(iv(0, 30))


@given(intervals, intervals)
def test_overlaps_matches_minute_sets(xs: list[Interval], ys: list[Interval]) -> None:
    for x in xs:
        for y in ys:
            assert x.overlaps(y) == bool(minutes([x]) & minutes([y]))


def test_merge_coalesces_overlapping_and_touching() -> None:
    assert merge([iv(30, 40), iv(0, 10), iv(10, 20), iv(15, 25), iv(50, 50)]) == [
        iv(0, 25),
        iv(30, 40),
    ]


def test_subtract_and_clip() -> None:
    assert subtract([iv(0, 100)], [iv(10, 20), iv(20, 30), iv(90, 120)]) == [iv(0, 10), iv(30, 90)]
    assert clip([iv(0, 10), iv(20, 40), iv(50, 60)], iv(5, 30)) == [iv(5, 10), iv(20, 30)]


def test_naive_bounds_are_rejected() -> None:
    with pytest.raises(ValueError):
        Interval(datetime(2026, 1, 1), datetime(2026, 1, 2))


@given(intervals)
def test_merge_matches_minute_sets(xs: list[Interval]) -> None:
    merged = merge(xs)
    assert minutes(merged) == minutes(xs)
    assert all(not x.is_empty for x in merged)
    assert all(
        a.end < b.start for a, b in zip(merged, merged[1:], strict=False)
    )  # sorted, gaps non-empty
    starts, ends = merged_bounds(xs)
    assert [Interval(s, e) for s, e in zip(starts, ends, strict=True)] == merged


@given(intervals, intervals)
def test_subtract_matches_minute_sets(xs: list[Interval], ys: list[Interval]) -> None:
    result = subtract(xs, ys)
    assert minutes(result) == minutes(xs) - minutes(ys)
    assert result == merge(result)


@given(intervals, st.integers(0, 240), st.integers(0, 60))
def test_clip_matches_minute_sets(xs: list[Interval], a: int, n: int) -> None:
    window = iv(a, a + n)
    result = clip(xs, window)
    assert minutes(result) == minutes(xs) & minutes([window])
    assert all(not x.is_empty and window.start <= x.start and x.end <= window.end for x in result)


def test_bounds_are_stored_in_utc() -> None:
    from zoneinfo import ZoneInfo

    havana = ZoneInfo("America/Havana")
    # 2025-11-02 00:00-01:00 happens twice in Havana; fold=1 is the second time (-05:00).
    second = datetime(2025, 11, 2, 0, 30, fold=1, tzinfo=havana)
    x = Interval(second, second + timedelta(minutes=15))  # wall-clock add: 00:45 fold=0 (-04:00)
    assert x.start == datetime(2025, 11, 2, 5, 30, tzinfo=UTC) and x.start.tzinfo is UTC
    assert x.end == datetime(2025, 11, 2, 4, 45, tzinfo=UTC) and x.is_empty
    assert Interval(second, second).duration == timedelta(0)
