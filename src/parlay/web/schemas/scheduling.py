from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, Field, StringConstraints

from parlay.web.schemas.common import Body

HHMM = Annotated[str, StringConstraints(pattern=r"^\d{2}:\d{2}$")]


def check_instant(value: datetime) -> datetime:
    """An aware instant in the supported years, as UTC."""
    if value.tzinfo is None:
        raise ValueError("the time needs an offset, e.g. 2026-12-01T09:30:00+01:00")
    if not 2000 <= value.year < 2200:
        raise ValueError("the time must lie between the years 2000 and 2199")
    return value.astimezone(UTC)


Instant = Annotated[datetime, Field(strict=False), AfterValidator(check_instant)]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)]


class TimeRangeIn(Body):
    start: HHMM
    end: HHMM


DayRanges = Annotated[list[TimeRangeIn], Field(max_length=48)]


class WeeklyIn(Body):
    mon: DayRanges = []
    tue: DayRanges = []
    wed: DayRanges = []
    thu: DayRanges = []
    fri: DayRanges = []
    sat: DayRanges = []
    sun: DayRanges = []

    def as_dict(self) -> dict[str, Any]:
        return self.model_dump()


class AvailabilityIn(Body):
    time_zone: Annotated[str, Field(min_length=1, max_length=64)]
    weekly: WeeklyIn


class InviteIn(AvailabilityIn):
    duration_minutes: int
    horizon_days: int = 30
    min_notice_minutes: int = 60


class BookIn(Body):
    start: Instant


class RescheduleIn(Body):
    start: Instant
    reason: Reason | None = None


class CancelIn(Body):
    reason: Reason | None = None
