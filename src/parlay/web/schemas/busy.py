"""``GET /me/busy`` answers."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel

from parlay.services.busy_overview import BusyTime

Source = Literal["parlay", "google", "microsoft", "caldav"]


class BusyRead(BaseModel):
    start: datetime
    end: datetime
    source: Source

    @classmethod
    def of(cls, busy: BusyTime) -> BusyRead:
        return cls(start=busy.start, end=busy.end, source=busy.source)  # type: ignore[arg-type]


class BusyList(BaseModel):
    busy: list[BusyRead]
