from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, StringConstraints

from parlay.web.schemas.common import Body

HHMM = Annotated[str, StringConstraints(pattern=r"^\d{2}:\d{2}$")]
# RFC 3339 date-time (section 5.6): seconds required, an offset required.
RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})", re.ASCII
)
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)


def rfc3339_text(value: object) -> object:
    """Only an RFC 3339 string with an offset may become an instant (no numbers, no naive
    times, no bare dates: pydantic's lax parsing would take all three)."""
    if not isinstance(value, str) or not RFC3339.fullmatch(value):
        raise ValueError("give an RFC 3339 time with an offset, e.g. 2026-12-01T09:30:00+01:00")
    return value


def iso_date_text(value: object) -> object:
    """Only ``YYYY-MM-DD`` may become a date (pydantic would also take a midnight datetime
    or a Unix time)."""
    if not isinstance(value, str) or not ISO_DATE.fullmatch(value):
        raise ValueError("give a date as YYYY-MM-DD, e.g. 2026-12-01")
    return value


def check_instant(value: datetime) -> datetime:
    """An aware instant in the supported years, as UTC."""
    if value.tzinfo is None:
        raise ValueError("the time needs an offset, e.g. 2026-12-01T09:30:00+01:00")
    if not 2000 <= value.year < 2200:
        raise ValueError("the time must lie between the years 2000 and 2199")
    return value.astimezone(UTC)


Instant = Annotated[
    datetime, Field(strict=False), BeforeValidator(rfc3339_text), AfterValidator(check_instant)
]
Day = Annotated[date, Field(strict=False), BeforeValidator(iso_date_text)]
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
