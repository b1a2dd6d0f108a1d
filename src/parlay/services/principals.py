"""Recently authenticated callers, kept per process for a couple of seconds.

Every API request authenticates, and a page load or a live scheduling window sends bursts of
them.  Remembering who a session or token belonged to for ``ttl`` seconds saves a database
round trip on most of them.  What it can get wrong is bounded and stated:

- this process forgets a session at logout and a user's entries when their profile changes,
  at once;
- another app process may still accept an ended session, or show a just-changed name, for at
  most ``ttl`` seconds (``PARLAY_AUTH_CACHE_SECONDS``, 2 by default; 0 turns the cache off);
- a session's expiry is checked on every use, cached or not;
- a logout or token revocation is announced through the broker, and every process forgets that
  credential when it hears it (``forget``), so the ``ttl`` bound above only holds when the
  broker is down.

It also remembers when this process last wrote a token's ``last_used_at``
(``due_for_use_write``), so that column is written at most about once a minute per token.

Only the SHA-256 digest of a credential is kept, never the credential.  The cached ``User``
is shared by the requests that hit it: it is detached from any session and only ever read
(the models define no relationships that could cascade it into one).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from parlay.db.models import User


@dataclass(frozen=True, slots=True)
class CachedCaller:
    user: User
    csrf_token: str | None
    expires_at: datetime | None
    cached_at: float


@dataclass
class PrincipalCache:
    ttl: float = 2.0
    max_entries: int = 10_000
    monotonic: Callable[[], float] = time.monotonic
    #: Seconds between two writes of one token's last use by this process.
    use_write_every: float = 60.0
    _entries: dict[str, CachedCaller] = field(default_factory=dict, repr=False)
    _use_marks: dict[str, float] = field(default_factory=dict, repr=False)

    def get(self, key: str) -> CachedCaller | None:
        found = self._entries.get(key)
        if found is not None and self.monotonic() - found.cached_at >= self.ttl:
            del self._entries[key]
            return None
        return found

    def put(
        self,
        key: str,
        user: User,
        *,
        csrf_token: str | None = None,
        expires_at: datetime | None = None,
    ) -> CachedCaller:
        entry = CachedCaller(user, csrf_token, expires_at, self.monotonic())
        if self.ttl > 0:
            if len(self._entries) >= self.max_entries:
                self._entries.pop(next(iter(self._entries)))  # the oldest
            self._entries[key] = entry
        return entry

    def forget(self, key: str) -> None:
        self._entries.pop(key, None)

    def forget_user(self, user_id: str) -> None:
        for key in [k for k, v in self._entries.items() if v.user.id == user_id]:
            del self._entries[key]

    def due_for_use_write(self, key: str) -> bool:
        """Whether ``key``'s last use should be written now; if so, it counts as written."""
        now = self.monotonic()
        marks = self._use_marks
        last = marks.get(key)
        if last is not None and now - last < self.use_write_every:
            return False
        marks.pop(key, None)  # re-inserted last: the dict stays ordered oldest mark first
        while marks and (
            len(marks) >= self.max_entries
            or now - next(iter(marks.values())) >= self.use_write_every
        ):
            marks.pop(next(iter(marks)))
        marks[key] = now
        return True
