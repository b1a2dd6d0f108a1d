"""Worked examples of the slot rules on real dates and zones."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from parlay.domain.availability import compute_open_intervals, parse_weekly
from parlay.domain.intervals import Interval
from parlay.domain.slots import (
    classify_start,
    compute_available_dates,
    compute_invite_dates,
    compute_invite_slots,
    compute_slots,
    group_by_local_date,
)

BERLIN = ZoneInfo("Europe/Berlin")
MIN = timedelta(minutes=1)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def slots_on(
    zone: str,
    weekly: dict,
    day: date,
    minutes: int = 30,
    busy: list[Interval] | None = None,
    now: datetime | None = None,
    notice: int = 0,
    horizon_days: int = 30,
) -> list[datetime]:
    """Slot starts (UTC) whose start lies within the UTC days day-1 .. day+1."""
    start = datetime.combine(day, datetime.min.time(), tzinfo=UTC) - timedelta(days=1)
    slots = compute_invite_slots(
        parse_weekly(weekly),
        ZoneInfo(zone),
        timedelta(minutes=minutes),
        busy or [],
        now or start - timedelta(days=1),
        timedelta(minutes=notice),
        timedelta(days=horizon_days),
        start,
        start + timedelta(days=3),
    )
    return [s.start for s in slots]


def rng(start: str, end: str) -> list[dict[str, str]]:
    return [{"start": start, "end": end}]


def test_45_minute_slots_fit_inside_the_range() -> None:
    starts = slots_on("UTC", {"mon": rng("09:00", "12:00")}, date(2026, 3, 2), minutes=45)
    assert starts == [utc(2026, 3, 2, 9), utc(2026, 3, 2, 9, 45), utc(2026, 3, 2, 10, 30),
                      utc(2026, 3, 2, 11, 15)]  # fmt: skip


def test_each_range_restarts_the_slot_grid() -> None:
    weekly = {"mon": [{"start": "09:00", "end": "10:00"}, {"start": "10:00", "end": "11:30"}]}
    starts = slots_on("UTC", weekly, date(2026, 3, 2), minutes=45)
    assert starts == [utc(2026, 3, 2, 9), utc(2026, 3, 2, 10), utc(2026, 3, 2, 10, 45)]


class TestBerlinDst:
    def test_spring_forward_day(self) -> None:
        # 2026-03-29: 02:00 CET jumps to 03:00 CEST (01:00 UTC).
        day = date(2026, 3, 29)
        assert slots_on("Europe/Berlin", {"sun": rng("01:00", "04:00")}, day) == [
            utc(2026, 3, 29, 0), utc(2026, 3, 29, 0, 30), utc(2026, 3, 29, 1),
            utc(2026, 3, 29, 1, 30),
        ]  # fmt: skip
        # 02:00-03:00 does not exist: both ends land on 01:00 UTC, so the interval is empty.
        assert slots_on("Europe/Berlin", {"sun": rng("02:00", "03:00")}, day) == []
        # 02:30 (in the gap) lands where fold=0 puts it: 01:30 UTC = 03:30 CEST.
        assert slots_on("Europe/Berlin", {"sun": rng("02:30", "04:00")}, day) == [
            utc(2026, 3, 29, 1, 30)
        ]

    def test_spring_forward_ranges_that_overlap_in_utc_are_deduplicated(self) -> None:
        weekly = {"sun": [{"start": "01:00", "end": "02:30"}, {"start": "03:00", "end": "04:00"}]}
        intervals = compute_open_intervals(
            parse_weekly(weekly), BERLIN, utc(2026, 3, 28), utc(2026, 3, 30)
        )
        assert intervals == [
            Interval(utc(2026, 3, 29, 0), utc(2026, 3, 29, 1, 30)),
            Interval(utc(2026, 3, 29, 1), utc(2026, 3, 29, 2)),
        ]
        assert slots_on("Europe/Berlin", weekly, date(2026, 3, 29)) == [
            utc(2026, 3, 29, 0), utc(2026, 3, 29, 0, 30), utc(2026, 3, 29, 1),
            utc(2026, 3, 29, 1, 30),
        ]  # fmt: skip

    def test_fall_back_day(self) -> None:
        # 2026-10-25: 03:00 CEST falls back to 02:00 CET (01:00 UTC); 02:00-03:00 happens twice.
        day = date(2026, 10, 25)
        assert slots_on("Europe/Berlin", {"sun": rng("02:00", "03:00")}, day) == [
            utc(2026, 10, 25, 0), utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 1),
            utc(2026, 10, 25, 1, 30),
        ]  # fmt: skip
        # An ambiguous end takes its first occurrence (02:30 CEST = 00:30 UTC).
        assert slots_on("Europe/Berlin", {"sun": rng("01:00", "02:30")}, day) == [
            utc(2026, 10, 24, 23), utc(2026, 10, 24, 23, 30), utc(2026, 10, 25, 0),
        ]  # fmt: skip


def test_range_ending_at_midnight() -> None:
    starts = slots_on("Europe/Berlin", {"mon": rng("22:00", "24:00")}, date(2026, 3, 2), 60)
    assert starts == [utc(2026, 3, 2, 21), utc(2026, 3, 2, 22)]
    grouped = group_by_local_date([Interval(s, s + timedelta(hours=1)) for s in starts], BERLIN)
    assert list(grouped) == [date(2026, 3, 2)]


@pytest.mark.parametrize(
    ("zone", "first_utc"),
    [
        ("America/St_Johns", utc(2026, 1, 5, 12, 30)),  # -03:30
        ("Asia/Kathmandu", utc(2026, 1, 5, 3, 15)),  # +05:45
    ],
)
def test_fractional_offsets(zone: str, first_utc: datetime) -> None:
    starts = slots_on(zone, {"mon": rng("09:00", "10:00")}, date(2026, 1, 5))
    assert starts == [first_utc, first_utc + 30 * MIN]


class TestLordHowe:
    """Lord Howe Island shifts by 30 minutes: +11:00 in summer, +10:30 in winter."""

    def test_dst_end_repeats_half_an_hour(self) -> None:
        # 2026-04-05 02:00 (+11) falls back to 01:30 (+10:30).
        starts = slots_on("Australia/Lord_Howe", {"sun": rng("01:00", "03:00")}, date(2026, 4, 4))
        assert starts == [utc(2026, 4, 4, 14) + k * 30 * MIN for k in range(5)]

    def test_dst_start_skips_half_an_hour(self) -> None:
        # 2026-10-04 02:00 (+10:30) jumps to 02:30 (+11); 02:00 lands at 15:30 UTC = 02:30.
        starts = slots_on(
            "Australia/Lord_Howe", {"sun": rng("02:00", "03:00")}, date(2026, 10, 3), 15
        )
        assert starts == [utc(2026, 10, 3, 15, 30), utc(2026, 10, 3, 15, 45)]


class TestDstAtMidnight:
    def test_beirut_skips_midnight(self) -> None:
        beirut = ZoneInfo("Asia/Beirut")
        # The zone data really switches at 00:00: 23:59 is +02, 00:00 does not exist.
        assert datetime(2026, 3, 28, 23, 59, tzinfo=beirut).utcoffset() == timedelta(hours=2)
        assert datetime(2026, 3, 29, 1, 0, tzinfo=beirut).utcoffset() == timedelta(hours=3)
        midnight = datetime(2026, 3, 29, tzinfo=beirut)
        assert midnight.astimezone(UTC).astimezone(beirut).hour == 1
        weekly = {"sat": rng("23:00", "24:00"), "sun": rng("00:00", "02:00")}
        starts = slots_on("Asia/Beirut", weekly, date(2026, 3, 28))
        assert starts == [utc(2026, 3, 28, 21), utc(2026, 3, 28, 21, 30),
                          utc(2026, 3, 28, 22), utc(2026, 3, 28, 22, 30)]  # fmt: skip
        slots = [Interval(s, s + 30 * MIN) for s in starts]
        assert {d: len(v) for d, v in group_by_local_date(slots, beirut).items()} == {
            date(2026, 3, 28): 2,
            date(2026, 3, 29): 2,
        }

    def test_santiago_skips_midnight_so_a_range_from_it_can_be_empty(self) -> None:
        santiago = ZoneInfo("America/Santiago")
        assert datetime(2026, 9, 5, 23, 59, tzinfo=santiago).utcoffset() == -timedelta(hours=4)
        assert datetime(2026, 9, 6, 1, 0, tzinfo=santiago).utcoffset() == -timedelta(hours=3)
        # 00:00 -> 04:00 UTC (fold=0, old offset) and 01:00 -03 -> 04:00 UTC: empty.
        assert slots_on("America/Santiago", {"sun": rng("00:00", "01:00")}, date(2026, 9, 6)) == []

    def test_santiago_repeats_the_hour_before_midnight(self) -> None:
        santiago = ZoneInfo("America/Santiago")
        # 2026-04-05 00:00 (-03) falls back to 2026-04-04 23:00 (-04).
        assert datetime(2026, 4, 4, 23, 30, tzinfo=santiago).utcoffset() == -timedelta(hours=3)
        assert datetime(2026, 4, 4, 23, 30, fold=1, tzinfo=santiago).utcoffset() == -timedelta(
            hours=4
        )
        starts = slots_on("America/Santiago", {"sat": rng("22:00", "24:00")}, date(2026, 4, 5), 60)
        assert starts == [utc(2026, 4, 5, 1), utc(2026, 4, 5, 2), utc(2026, 4, 5, 3)]
        slots = [Interval(s, s + 60 * MIN) for s in starts]
        assert compute_available_dates(slots, santiago) == [date(2026, 4, 4)]


class TestBusy:
    weekly = {"mon": rng("09:00", "12:00")}
    day = date(2026, 3, 2)

    def test_touching_busy_does_not_block(self) -> None:
        busy = [
            Interval(utc(2026, 3, 2, 8), utc(2026, 3, 2, 9)),  # ends at the first slot
            Interval(utc(2026, 3, 2, 10), utc(2026, 3, 2, 10, 30)),  # exactly one slot
            Interval(utc(2026, 3, 2, 11, 15), utc(2026, 3, 2, 11, 16)),  # one minute
        ]
        assert slots_on("UTC", self.weekly, self.day, busy=busy) == [
            utc(2026, 3, 2, 9), utc(2026, 3, 2, 9, 30), utc(2026, 3, 2, 10, 30),
            utc(2026, 3, 2, 11, 30),
        ]  # fmt: skip

    def test_busy_does_not_shift_the_grid(self) -> None:
        busy = [Interval(utc(2026, 3, 2, 9, 10), utc(2026, 3, 2, 9, 50))]
        starts = slots_on("UTC", self.weekly, self.day, minutes=45, busy=busy)
        assert starts == [utc(2026, 3, 2, 10, 30), utc(2026, 3, 2, 11, 15)]

    def test_overlapping_and_unsorted_busy(self) -> None:
        busy = [
            Interval(utc(2026, 3, 2, 10, 45), utc(2026, 3, 2, 11, 15)),
            Interval(utc(2026, 3, 2, 9), utc(2026, 3, 2, 10)),
            Interval(utc(2026, 3, 2, 9, 30), utc(2026, 3, 2, 10, 1)),
        ]
        assert slots_on("UTC", self.weekly, self.day, busy=busy) == [utc(2026, 3, 2, 11, 30)]


class TestNoticeAndHorizon:
    weekly = {"mon": rng("09:00", "12:00")}
    day = date(2026, 3, 2)

    def test_notice_is_inclusive(self) -> None:
        now = utc(2026, 3, 2, 8)
        assert slots_on("UTC", self.weekly, self.day, now=now, notice=60)[0] == utc(2026, 3, 2, 9)
        # One minute more notice drops 09:00; the grid is not shifted to 09:01.
        starts = slots_on("UTC", self.weekly, self.day, now=now, notice=61)
        assert starts[0] == utc(2026, 3, 2, 9, 30)

    def test_horizon_is_exclusive(self) -> None:
        intervals = [Interval(utc(2026, 3, 2, 9), utc(2026, 3, 2, 12))]
        now = utc(2026, 3, 1, 9, 30)
        slots = compute_slots(intervals, 30 * MIN, [], now, timedelta(0), timedelta(days=1))
        assert [s.start for s in slots] == [utc(2026, 3, 2, 9)]
        slots = compute_slots(
            intervals, 30 * MIN, [], now, timedelta(0), timedelta(days=1, microseconds=1)
        )
        assert [s.start for s in slots] == [utc(2026, 3, 2, 9), utc(2026, 3, 2, 9, 30)]

    def test_horizon_limits_the_start_not_the_end(self) -> None:
        intervals = [Interval(utc(2026, 3, 2, 9), utc(2026, 3, 2, 12))]
        now = utc(2026, 3, 1, 9, 1)
        slots = compute_slots(intervals, 60 * MIN, [], now, timedelta(0), timedelta(days=1))
        assert [s.start for s in slots] == [utc(2026, 3, 2, 9)]


def test_grouping_moves_a_slot_to_the_viewers_date() -> None:
    slots = [
        Interval(utc(2026, 3, 2, 2), utc(2026, 3, 2, 2, 30)),
        Interval(utc(2026, 3, 2, 23), utc(2026, 3, 2, 23, 30)),
    ]
    assert list(group_by_local_date(slots, ZoneInfo("UTC"))) == [date(2026, 3, 2)]
    assert group_by_local_date(slots, BERLIN) == {
        date(2026, 3, 2): [slots[0]],
        date(2026, 3, 3): [slots[1]],
    }
    assert compute_available_dates(slots, ZoneInfo("America/Los_Angeles")) == [
        date(2026, 3, 1),
        date(2026, 3, 2),
    ]


class TestClassifyStart:
    rules = parse_weekly({"mon": rng("09:00", "12:00")})
    now = utc(2026, 3, 1)

    def classify(self, start: datetime, busy: list[Interval] | None = None) -> str:
        return classify_start(
            self.rules, BERLIN, 30 * MIN, busy or [], self.now, 60 * MIN, timedelta(days=30), start
        )

    def test_verdicts(self) -> None:
        slot = utc(2026, 3, 2, 8, 30)  # 09:30 in Berlin
        assert self.classify(slot) == "ok"
        assert self.classify(slot.astimezone(BERLIN)) == "ok"
        assert self.classify(slot + 15 * MIN) == "not_a_slot"  # off the grid
        assert self.classify(utc(2026, 3, 2, 10, 30)) == "ok"  # ends at 12:00 in Berlin
        assert self.classify(utc(2026, 3, 2, 11)) == "not_a_slot"  # would end after 12:00
        assert self.classify(utc(2026, 3, 3, 8, 30)) == "not_a_slot"  # Tuesday
        assert self.classify(slot + timedelta(days=35)) == "not_a_slot"  # beyond the horizon
        busy = [Interval(utc(2026, 3, 2, 8, 45), utc(2026, 3, 2, 8, 50))]
        assert self.classify(slot, busy) == "busy"

    def test_naive_start_is_rejected(self) -> None:
        from parlay.domain.errors import InvalidInput

        with pytest.raises(InvalidInput) as info:
            self.classify(datetime(2026, 3, 2, 9, 30))
        assert info.value.field == "start"


@pytest.mark.parametrize(
    ("viewer", "thursday", "ranges", "dates"),
    [
        # 2010-03-05 02:00 +11 -> 2010-03-04 23:00 +08: the viewer's date goes back to the
        # 4th for an hour (15:00-16:00 UTC), after slots on the 5th (13:00-14:00 UTC).
        ("Antarctica/Casey", date(2010, 3, 4), [("13:00", "14:00"), ("15:00", "16:00")], (4, 5)),
        # 2026-10-29: no transition; 2026-11-01 01:00 CDT -> 00:00 CST repeats midnight on
        # the Sunday, the date stays: a control for the slower path taken on such days.
        ("America/Havana", date(2026, 10, 29), [("03:00", "06:00")], (28, 29)),
    ],
)
def test_dates_where_the_viewers_clock_goes_back_across_midnight(
    viewer: str, thursday: date, ranges: list[tuple[str, str]], dates: tuple[int, int]
) -> None:
    """Available dates read off the runs of slots (no slot built) equal the dates of the
    slots themselves when the viewer's local date goes backwards or midnight repeats."""
    weekly = {"thu": [{"start": s, "end": e} for s, e in ranges], "sun": rng("03:00", "06:00")}
    start = datetime.combine(thursday, datetime.min.time(), tzinfo=UTC) - timedelta(days=1)
    args = (
        parse_weekly(weekly), ZoneInfo("UTC"), timedelta(minutes=30), [],
        start - timedelta(days=1), timedelta(0), timedelta(days=30),
        start, start + timedelta(days=5),
    )  # fmt: skip
    zone = ZoneInfo(viewer)
    expected = compute_available_dates(compute_invite_slots(*args), zone)
    assert compute_invite_dates(*args, zone) == expected
    assert [d.day for d in expected][:2] == list(dates)
