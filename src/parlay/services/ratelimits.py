"""A sliding-window limiter for failed logins (per email and per client address).

In-process: each app node counts its own attempts, which bounds guessing per node; with
several nodes behind a balancer the effective limit is multiplied by their number.
"""

from __future__ import annotations

import math
from collections import defaultdict, deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from parlay.domain.errors import RateLimited


@dataclass
class RateLimiter:
    enabled: bool = True
    per_email: int = 5
    per_address: int = 20
    window: timedelta = timedelta(minutes=15)
    _hits: dict[str, deque[datetime]] = field(default_factory=lambda: defaultdict(deque))

    def _recent(self, key: str, now: datetime) -> deque[datetime]:
        hits = self._hits[key]
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        return hits

    def check_login(self, email: str, address: str, now: datetime) -> None:
        """Raise RateLimited when either key has too many recent failures."""
        if not self.enabled:
            return
        for key, limit in ((f"e:{email}", self.per_email), (f"a:{address}", self.per_address)):
            hits = self._recent(key, now)
            if len(hits) >= limit:
                wait = (hits[0] + self.window - now).total_seconds()
                raise RateLimited(retry_after=max(1, math.ceil(wait)))

    def record_failure(self, email: str, address: str, now: datetime) -> None:
        if self.enabled:
            self._hits[f"e:{email}"].append(now)
            self._hits[f"a:{address}"].append(now)

    def record_success(self, email: str) -> None:
        self._hits.pop(f"e:{email}", None)
