"""Invite terms validation."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from parlay.domain.errors import (
    DomainError,
    InvalidAvailability,
    InvalidDuration,
    InvalidInput,
    UnknownTimeZone,
)
from parlay.domain.invites import DURATIONS, check_invite_terms

WEEKLY = {"mon": [{"start": "09:00", "end": "12:00"}]}


def test_valid_terms_with_defaults() -> None:
    terms = check_invite_terms("Europe/Berlin", WEEKLY, 45)
    assert terms.zone.key == "Europe/Berlin" and terms.zone_name == "Europe/Berlin"
    assert terms.duration == timedelta(minutes=45)
    assert terms.horizon == timedelta(days=30)
    assert terms.min_notice == timedelta(minutes=60)
    assert terms.rules.range_count == 1
    assert DURATIONS == (15, 30, 45, 60)


def test_bounds_are_inclusive() -> None:
    terms = check_invite_terms("UTC", WEEKLY, 15, horizon_days=90, min_notice_minutes=10080)
    assert terms.horizon == timedelta(days=90) and terms.min_notice == timedelta(days=7)
    terms = check_invite_terms("UTC", WEEKLY, 60, horizon_days=1, min_notice_minutes=0)
    assert terms.horizon == timedelta(days=1) and terms.min_notice == timedelta(0)


@pytest.mark.parametrize(
    ("args", "error", "field"),
    [
        (("Nowhere/City", WEEKLY, 30), UnknownTimeZone, "time_zone"),
        (("UTC", {}, 30), InvalidAvailability, "weekly"),
        (("UTC", {"mon": [], "tue": []}, 30), InvalidAvailability, "weekly"),
        (("UTC", {"funday": []}, 30), InvalidAvailability, "weekly.funday"),
        (("UTC", WEEKLY, 20), InvalidDuration, "duration_minutes"),
        (("UTC", WEEKLY, True), InvalidDuration, "duration_minutes"),
        (("UTC", WEEKLY, "30"), InvalidDuration, "duration_minutes"),
        (("UTC", WEEKLY, 30, 0), InvalidInput, "horizon_days"),
        (("UTC", WEEKLY, 30, 91), InvalidInput, "horizon_days"),
        (("UTC", WEEKLY, 30, 30, -1), InvalidInput, "min_notice_minutes"),
        (("UTC", WEEKLY, 30, 30, 10081), InvalidInput, "min_notice_minutes"),
        (("UTC", WEEKLY, 30, 30, 1.5), InvalidInput, "min_notice_minutes"),
    ],
)
def test_invalid_terms(args: tuple[Any, ...], error: type[DomainError], field: str) -> None:
    with pytest.raises(error) as info:
        check_invite_terms(*args)
    assert type(info.value) is error
    assert info.value.field == field
