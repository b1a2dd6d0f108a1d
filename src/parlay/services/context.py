"""What every use case needs, injected by the composition root (``parlay.container``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from parlay.db.session import Database
from parlay.realtime.broker import Broker
from parlay.services.ratelimits import RateLimiter


@dataclass
class Context:
    db: Database
    broker: Broker
    clock: Callable[[], datetime]
    base_url: str
    session_days: int = 30
    limiter: RateLimiter = field(default_factory=RateLimiter)

    def now(self) -> datetime:
        return self.clock()
