"""Provider-neutral values: what an adapter returns and what it is asked to write.

All instants are timezone-aware UTC.  Every class is a frozen dataclass so values can be
shared between tasks and compared in tests.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

EventStatus = Literal["confirmed", "tentative", "cancelled"]


@dataclass(frozen=True)
class Credentials:
    """What an adapter needs to talk to one account; secrets are kept out of ``repr``.

    CalDAV uses ``url``/``username``/``password``; OAuth providers use the token fields.
    """

    url: str | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    access_token: str | None = field(default=None, repr=False)
    refresh_token: str | None = field(default=None, repr=False)
    expires_at: datetime | None = None


@dataclass(frozen=True)
class CalendarInfo:
    external_id: str
    name: str
    primary: bool


@dataclass(frozen=True)
class BusyEvent:
    """One occurrence of an event in an external calendar, as rule 1 needs to judge it."""

    start: datetime
    end: datetime
    all_day: bool = False
    transparent: bool = False
    status: EventStatus = "confirmed"
    declined: bool = False
    parlay_meeting_id: str | None = None
    uid: str | None = None


@dataclass(frozen=True)
class SyncResult:
    """One sync of a calendar's busy events within a window.

    ``full``: the items listed are everything; replace what is stored for the calendar.
    Otherwise apply ``changed`` (item id -> its occurrences in the window, possibly none) and
    drop ``removed``.  Keep ``next_token`` for the next call (None: no incremental sync).
    """

    full: bool
    changed: Mapping[str, tuple[BusyEvent, ...]]
    removed: frozenset[str]
    next_token: str | None


@dataclass(frozen=True)
class MeetingEvent:
    """The state of one Parlay meeting to bring into an external calendar."""

    meeting_id: str
    title: str
    start: datetime
    end: datetime
    description: str = ""
    location: str = ""
    url: str = ""
    sequence: int = 0


@dataclass(frozen=True)
class EventRef:
    """Where a written event lives: the provider's id for it and its current etag."""

    external_id: str
    etag: str | None = None


def blocking_events(events: Iterable[BusyEvent]) -> list[BusyEvent]:
    """Rule 1: the events that make their owner busy.

    Counted: confirmed and tentative (including unanswered) events and all-day events.
    Not counted: cancelled, transparent/free, declined, and events Parlay wrote for a meeting
    (the meeting itself is already busy time).
    """
    return [
        event
        for event in events
        if event.status != "cancelled"
        and not event.transparent
        and not event.declined
        and event.parlay_meeting_id is None
        and event.end > event.start
    ]
