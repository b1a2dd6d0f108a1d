"""Invite terms: the one place where an invite's scheduling parameters are validated."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from parlay.domain.availability import WeeklyRules, parse_time_zone, parse_weekly
from parlay.domain.errors import InvalidAvailability, InvalidDuration, InvalidInput

DURATIONS: tuple[int, ...] = (15, 30, 45, 60)
HORIZON_DAYS_RANGE = (1, 90)
MIN_NOTICE_MINUTES_RANGE = (0, 10080)
DEFAULT_HORIZON_DAYS = 30
DEFAULT_MIN_NOTICE_MINUTES = 60


@dataclass(frozen=True, slots=True)
class InviteTerms:
    zone: ZoneInfo
    zone_name: str
    rules: WeeklyRules
    duration: timedelta
    horizon: timedelta
    min_notice: timedelta


def _check_int(value: object, field: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidInput(f"Must be a whole number from {low} to {high}.", field=field)
    return value


def check_invite_terms(
    time_zone: str,
    weekly: Mapping[str, Sequence[Any]],
    duration_minutes: int,
    horizon_days: int = DEFAULT_HORIZON_DAYS,
    min_notice_minutes: int = DEFAULT_MIN_NOTICE_MINUTES,
) -> InviteTerms:
    """Validated terms, or the first problem as a DomainError naming its field."""
    zone = parse_time_zone(time_zone)
    rules = parse_weekly(weekly)
    if rules.range_count == 0:
        raise InvalidAvailability("Choose at least one time range.", field="weekly")
    if isinstance(duration_minutes, bool) or duration_minutes not in DURATIONS:
        raise InvalidDuration(field="duration_minutes")
    horizon = _check_int(horizon_days, "horizon_days", *HORIZON_DAYS_RANGE)
    notice = _check_int(min_notice_minutes, "min_notice_minutes", *MIN_NOTICE_MINUTES_RANGE)
    return InviteTerms(
        zone=zone,
        zone_name=time_zone,
        rules=rules,
        duration=timedelta(minutes=duration_minutes),
        horizon=timedelta(days=horizon),
        min_notice=timedelta(minutes=notice),
    )
