"""The meeting state machine."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from parlay.domain.errors import InvalidInput, MeetingCancelled
from parlay.domain.meetings import MeetingState, compute_cancel, compute_reschedule

START = datetime(2026, 3, 2, 9, tzinfo=UTC)
HOUR = timedelta(hours=1)
SCHEDULED = MeetingState(status="scheduled", start=START, end=START + HOUR)


def test_reschedule_moves_and_bumps_sequence() -> None:
    moved = compute_reschedule(SCHEDULED, START + HOUR, START + 2 * HOUR)
    assert moved == MeetingState("scheduled", START + HOUR, START + 2 * HOUR, 1)
    assert compute_reschedule(moved, START, START + HOUR).sequence == 2
    assert SCHEDULED.sequence == 0  # inputs are never mutated


def test_reschedule_to_the_same_time_is_rejected() -> None:
    with pytest.raises(InvalidInput) as info:
        compute_reschedule(SCHEDULED, START, START + HOUR)
    assert info.value.field == "start"
    assert info.value.message == "The meeting is already at this time."


def test_reschedule_needs_a_positive_length() -> None:
    with pytest.raises(InvalidInput) as info:
        compute_reschedule(SCHEDULED, START + HOUR, START + HOUR)
    assert info.value.field == "end"


def test_cancel_is_final() -> None:
    cancelled = compute_cancel(SCHEDULED)
    assert cancelled.status == "cancelled" and cancelled.sequence == 1
    assert (cancelled.start, cancelled.end) == (SCHEDULED.start, SCHEDULED.end)
    with pytest.raises(MeetingCancelled):
        compute_cancel(cancelled)
    with pytest.raises(MeetingCancelled) as info:
        compute_reschedule(cancelled, START + HOUR, START + 2 * HOUR)
    assert info.value.code == "meeting_cancelled"
