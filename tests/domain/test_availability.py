"""Weekly rules: parsing, validation errors, round trips, time zones."""

from __future__ import annotations

from typing import Any

import pytest

from parlay.domain.availability import (
    TimeRange,
    WeeklyRules,
    parse_time_zone,
    parse_weekly,
    weekly_to_dict,
)
from parlay.domain.errors import InvalidAvailability, UnknownTimeZone


def test_parse_sorts_and_round_trips() -> None:
    weekly = {
        "mon": [{"start": "13:00", "end": "17:00"}, {"start": "09:00", "end": "12:00"}],
        "wed": [{"start": "12:00", "end": "13:00"}, {"start": "13:00", "end": "24:00"}],
        "sun": [],
    }
    rules = parse_weekly(weekly)
    assert rules[0] == (TimeRange(540, 720), TimeRange(780, 1020))
    assert rules[2] == (TimeRange(720, 780), TimeRange(780, 1440))
    assert rules[1] == () and rules[6] == ()
    assert list(rules) == list(range(7)) and len(rules) == 7 and rules.range_count == 4
    out = weekly_to_dict(rules)
    assert out["mon"] == [{"start": "09:00", "end": "12:00"}, {"start": "13:00", "end": "17:00"}]
    assert out["wed"][1] == {"start": "13:00", "end": "24:00"}
    assert out["tue"] == [] and list(out) == ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    assert parse_weekly(out) == rules
    assert hash(rules) == hash(parse_weekly(out))


def test_accepts_objects_with_start_and_end() -> None:
    class Range:
        def __init__(self, start: str, end: str) -> None:
            self.start, self.end = start, end

    assert parse_weekly({"fri": [Range("08:15", "09:45")]})[4] == (TimeRange(495, 585),)


@pytest.mark.parametrize(
    ("weekly", "field"),
    [
        ({"xyz": []}, "weekly.xyz"),
        ({"Mon": []}, "weekly.Mon"),
        ({"mon": "09:00-12:00"}, "weekly.mon"),
        ({"mon": [{"start": "9:00", "end": "12:00"}]}, "weekly.mon[0].start"),
        ({"mon": [{"start": "09:00"}]}, "weekly.mon[0].end"),
        ({"mon": [{"start": "09:00", "end": "12:00"}, {"start": "12:00", "end": "12:10"}]},
         "weekly.mon[1].end"),
        ({"mon": [{"start": "09:00", "end": "09:00"}]}, "weekly.mon[0].end"),
        ({"mon": [{"start": "10:00", "end": "09:00"}]}, "weekly.mon[0].end"),
        ({"mon": [{"start": "24:00", "end": "24:00"}]}, "weekly.mon[0].start"),
        ({"mon": [{"start": "23:00", "end": "24:15"}]}, "weekly.mon[0].end"),
        ({"mon": [{"start": "25:00", "end": "26:00"}]}, "weekly.mon[0].start"),
        ({"tue": [{"start": "09:00", "end": "12:00"}, {"start": "11:45", "end": "13:00"}]},
         "weekly.tue[1].start"),
        ({"tue": [{"start": "11:45", "end": "13:00"}, {"start": "09:00", "end": "12:00"}]},
         "weekly.tue[0].start"),
        (["mon"], "weekly"),
    ],
)  # fmt: skip
def test_invalid_weekly(weekly: Any, field: str) -> None:
    with pytest.raises(InvalidAvailability) as info:
        parse_weekly(weekly)
    assert info.value.field == field
    assert info.value.code == "invalid_availability"


def test_weekly_rules_invariants() -> None:
    with pytest.raises(ValueError):
        TimeRange(600, 600)
    with pytest.raises(ValueError):
        TimeRange(0, 1441)
    with pytest.raises(ValueError):
        WeeklyRules(((),) * 6)
    with pytest.raises(ValueError):
        WeeklyRules(((TimeRange(0, 60), TimeRange(30, 90)),) + ((),) * 6)


@pytest.mark.parametrize("name", ["Europe/Berlin", "UTC", "America/Argentina/Buenos_Aires"])
def test_known_time_zones(name: str) -> None:
    assert parse_time_zone(name).key == name


@pytest.mark.parametrize(
    "name",
    ["", "Mars/Olympus", "../etc/passwd", "Europe/../UTC", "/usr/share/zoneinfo/UTC", "localtime",
     "zone.tab", "right/UTC", "posix/Europe/Berlin", "Europe/Berlin\x00", None, 42],
)  # fmt: skip
def test_unknown_time_zones(name: Any) -> None:
    with pytest.raises(UnknownTimeZone) as info:
        parse_time_zone(name)
    assert info.value.field == "time_zone"
    assert info.value.code == "unknown_time_zone"
