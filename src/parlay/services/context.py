"""What every use case needs, injected by the composition root (``parlay.container``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

from pwdlib import PasswordHash

from parlay.db.session import Database
from parlay.domain.intervals import Interval
from parlay.realtime.broker import Broker
from parlay.services.busy import BusySource
from parlay.services.principals import PrincipalCache
from parlay.services.ratelimits import RateLimiter


@dataclass
class Context:
    db: Database
    broker: Broker
    clock: Callable[[], datetime]
    base_url: str
    passwords: PasswordHash
    session_days: int = 30
    limiter: RateLimiter = field(default_factory=RateLimiter)
    #: Who recently authenticated, per process (see parlay.services.principals).
    principals: PrincipalCache = field(default_factory=PrincipalCache)
    #: External busy times (linked calendars); Parlay's own meetings are always counted.
    busy_sources: list[BusySource] = field(default_factory=list)
    #: Book and Reschedule's fresh read of a host's conflict calendars (API.md rule 2), set by
    #: the container; None: the stored busy times alone decide.
    fresh_busy: Callable[[str, Interval], Awaitable[list[Interval]]] | None = None

    def now(self) -> datetime:
        return self.clock()
