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

A credential in steady use never waits for that round trip: once its entry is half its
``ttl`` old, the request that finds it is answered from it and a read in the background
replaces it (one at a time per credential, ``refresh``); the entry is still never served
past its ``ttl``, a read that finds the credential gone forgets it, and a read that was on its
way when the credential was forgotten (logout, revocation, profile change) is dropped, so a
refresh can never bring an ended credential back.

It also remembers when this process last wrote a token's ``last_used_at``
(``due_for_use_write``), so that column is written at most about once a minute per token.

Only the SHA-256 digest of a credential is kept, never the credential.  The cached ``User``
is shared by the requests that hit it: it is detached from any session and only ever read
(the models define no relationships that could cascade it into one).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from parlay.db.models import User

log = logging.getLogger(__name__)
#: What a caller's credential reads as: its user, its session's CSRF token and expiry (None
#: for a token); None when the credential is gone.
Read = Callable[[], Awaitable[tuple[User, str | None, datetime | None] | None]]


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
    #: Background work in flight (refreshes, last-use writes) by key, kept so that it is
    #: neither collected nor started twice, and cancelled by ``close``.
    _tasks: dict[str, asyncio.Task[None]] = field(default_factory=dict, repr=False)
    #: Counts forgets: a refresh started before one may not store what it read.
    _forgets: int = field(default=0, repr=False)

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
        read_at: float | None = None,
    ) -> CachedCaller:
        """Remember ``key``'s caller as read at ``read_at`` (``monotonic`` time; now if not
        given): it is served until ``ttl`` after that."""
        at = self.monotonic() if read_at is None else read_at
        entry = CachedCaller(user, csrf_token, expires_at, at)
        if self.ttl > 0:
            if len(self._entries) >= self.max_entries:
                self._entries.pop(next(iter(self._entries)))  # the oldest
            self._entries[key] = entry
        return entry

    def forget(self, key: str) -> None:
        self._forgets += 1
        self._entries.pop(key, None)

    def forget_user(self, user_id: str) -> None:
        self._forgets += 1
        for key in [k for k, v in self._entries.items() if v.user.id == user_id]:
            del self._entries[key]

    def refresh(self, key: str, found: CachedCaller, read: Read) -> None:
        """If ``found`` (``key``'s entry, just served) is half its ``ttl`` old and no read of
        it is on its way, read it again in the background: ``read()`` answers what ``put``
        takes, or None if the credential is gone."""
        if self.monotonic() - found.cached_at < self.ttl / 2 or "r" + key in self._tasks:
            return
        forgets = self._forgets

        async def again() -> None:
            read_at = self.monotonic()
            try:
                fresh = await read()
            except Exception:  # the entry simply ages out; the next miss reads inline
                log.warning("could not refresh a cached caller", exc_info=True)
                return
            if self._forgets != forgets:
                return  # something was forgotten meanwhile: what was read may be stale
            if fresh is None:
                self.forget(key)
            else:
                user, csrf_token, expires_at = fresh
                self.put(key, user, csrf_token=csrf_token, expires_at=expires_at, read_at=read_at)

        self._start("r" + key, again())

    def in_background(self, name: str, work: Coroutine[Any, Any, None]) -> None:
        """Run ``work`` without waiting for it (at most one per ``name``; a second is
        dropped while the first runs)."""
        if name in self._tasks:
            work.close()
            return
        self._start(name, work)

    def _start(self, name: str, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks[name] = task
        task.add_done_callback(lambda _t: self._tasks.pop(name, None))

    async def settled(self) -> None:
        """Wait for the background work in flight (tests: a last use just recorded)."""
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)

    async def close(self) -> None:
        """Cancel the background work still in flight (the app is stopping)."""
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

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
