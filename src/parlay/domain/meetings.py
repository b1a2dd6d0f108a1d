"""A meeting's life cycle as a pure state machine.

Every change bumps ``sequence`` (the iCalendar SEQUENCE), so calendar clients replace the
previous version of the event.  A cancelled meeting is final.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal

from parlay.domain.errors import InvalidInput, MeetingCancelled

MeetingStatus = Literal["scheduled", "cancelled"]


@dataclass(frozen=True, slots=True)
class MeetingState:
    status: MeetingStatus
    start: datetime
    end: datetime
    sequence: int = 0


def compute_reschedule(state: MeetingState, new_start: datetime, new_end: datetime) -> MeetingState:
    """The meeting moved to ``[new_start, new_end)``; raises if cancelled or unchanged."""
    if state.status == "cancelled":
        raise MeetingCancelled()
    if new_end <= new_start:
        raise InvalidInput("The end must be after the start.", field="end")
    if new_start == state.start:
        raise InvalidInput("The meeting is already at this time.", field="start")
    return replace(state, start=new_start, end=new_end, sequence=state.sequence + 1)


def compute_cancel(state: MeetingState) -> MeetingState:
    """The meeting cancelled; raises MeetingCancelled if it already is."""
    if state.status == "cancelled":
        raise MeetingCancelled()
    return replace(state, status="cancelled", sequence=state.sequence + 1)
