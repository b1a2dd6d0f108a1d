"""Throttles for guessing: failed logins and e-mail lookups (who has an account?).

Logins (API.md: 429 ``rate_limited`` with ``Retry-After``):

- per (e-mail, address) pair: 5 failures in 15 minutes lock that pair only;
- per address: 20 failures in 15 minutes lock the address;
- per e-mail, from any address: after 5 failures in a day each further attempt must come
  ``2**k`` seconds after the previous failure (k = 1, 2, ..., at most ``EMAIL_CAP`` seconds).
  An attacker spread over many addresses is slowed to one guess per cap, while the owner, from
  an address of their own, gets in with the right password after at most the cap.

Each attempt is recorded *before* the password is checked (so simultaneous attempts see each
other) and forgotten again if it succeeds; a correct login also clears its pair.  A refused
attempt (429) is not recorded, so hammering does not lengthen the owner's wait.

E-mail lookups (adding room members): an answer that reveals whether e-mails have accounts
without adding anyone (422 ``unknown_user``) costs the caller one lookup per e-mail it reveals;
20 an hour, then 429 (see ``parlay.services.rooms``).

The counts live in a ``MemoryStore`` (per node, bounded: entries expire, and each kind of key
is capped, least recently failed evicted first) or, with ``PARLAY_REDIS_URL``, in Redis, shared
by every node (sorted sets that expire; one Lua script decides and records atomically).  If
Redis fails the node counts locally for a while and logs a warning: a login never fails because
Redis does.  The ``limits`` library covers fixed windows but reads ``time.time()`` itself (no
pinned clock for tests), caps no keys, and cannot express "wait 2**k after the newest failure".
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

from parlay.domain.errors import RateLimited

log = logging.getLogger(__name__)

EMAIL_CAP = 300.0


@dataclass(frozen=True)
class Rule:
    """At most ``limit`` entries per key within ``window`` seconds.  With ``cap`` set, past
    ``limit`` an attempt is instead allowed ``min(cap, 2**(n - limit + 1))`` seconds after the
    newest entry (n = entries in the window)."""

    kind: str
    window: float
    limit: int
    cap: float = 0.0

    @property
    def keep(self) -> int:
        """Entries worth keeping per key (the newest): past this the answer no longer changes."""
        return self.limit + (math.ceil(math.log2(self.cap)) if self.cap else 0)


PAIR = Rule("pair", window=15 * 60, limit=5)
ADDRESS = Rule("addr", window=15 * 60, limit=20)
EMAIL = Rule("email", window=24 * 3600, limit=5, cap=EMAIL_CAP)
LOOKUP = Rule("lookup", window=3600, limit=20)

Check = tuple[Rule, str]  # a rule and the key it counts under


def wait_for(rule: Rule, times: Sequence[float], now: float, adding: int = 1) -> float:
    """Seconds until ``rule`` allows ``adding`` more entries (<= 0: now; at most ``limit``),
    given the entries' times (ascending, inside the window).  ``ACQUIRE_LUA`` mirrors this."""
    n = len(times)
    if n + adding <= rule.limit:
        return 0.0
    if rule.cap:
        return times[-1] + min(rule.cap, 2.0 ** (n - rule.limit + 1)) - now
    return times[n + adding - 1 - rule.limit] + rule.window - now


class Store(Protocol):
    async def acquire(self, checks: Sequence[Check], now: float, members: Sequence[str]) -> float:
        """If every check allows ``len(members)`` more entries (1 when there are none), record
        ``members`` under each key and return 0; else record nothing and return the seconds
        to wait."""
        ...

    async def forget(self, check: Check, member: str) -> None: ...
    async def clear(self, check: Check) -> None: ...
    async def close(self) -> None: ...


class MemoryStore:
    """Per-node counts: one LRU map per kind of key, at most ``max_keys`` keys each."""

    def __init__(self, max_keys: int = 10_000) -> None:
        self.max_keys = max_keys
        self._kinds: dict[str, OrderedDict[str, deque[tuple[float, str]]]] = {}

    def sizes(self) -> dict[str, int]:
        return {kind: len(keys) for kind, keys in self._kinds.items()}

    def _entries(self, check: Check) -> deque[tuple[float, str]]:
        keys = self._kinds.get(check[0].kind)
        found = keys.get(check[1]) if keys is not None else None
        return found if found is not None else deque()

    def _live(self, check: Check, now: float) -> deque[tuple[float, str]]:
        entries = self._entries(check)
        while entries and entries[0][0] <= now - check[0].window:
            entries.popleft()
        return entries

    async def acquire(self, checks: Sequence[Check], now: float, members: Sequence[str]) -> float:
        adding = max(1, len(members))
        wait = max(
            (wait_for(c[0], [t for t, _ in self._live(c, now)], now, adding) for c in checks),
            default=0.0,
        )
        if wait > 0:
            return wait
        for check in checks:
            self._add(check, now, members)
        return 0.0

    def _add(self, check: Check, now: float, members: Sequence[str]) -> None:
        if not members:
            return
        rule, key = check
        keys = self._kinds.setdefault(rule.kind, OrderedDict())
        entries = keys.pop(key, None) or deque(maxlen=rule.keep)
        entries.extend((now, m) for m in members)
        keys[key] = entries  # the most recently failed key goes last
        while keys:  # drop expired keys from the front (the least recently failed)
            first = next(iter(keys.values()))
            if first and first[-1][0] > now - rule.window:
                break
            keys.popitem(last=False)
        while len(keys) > self.max_keys:
            keys.popitem(last=False)

    async def forget(self, check: Check, member: str) -> None:
        entries = self._entries(check)
        kept = [e for e in entries if e[1] != member]
        entries.clear()
        entries.extend(kept)

    async def clear(self, check: Check) -> None:
        self._entries(check).clear()  # an empty key is dropped by the next expiry pass

    async def close(self) -> None:
        return None


#: KEYS: one per rule.  ARGV: now, then window, limit, cap, keep for each key, then the
#: members to record.  Decides as ``wait_for`` does, and records only if every key allows.
ACQUIRE_LUA = """
local now = tonumber(ARGV[1])
local first_member = 2 + #KEYS * 4
local adding = math.max(1, #ARGV - first_member + 1)
local wait = 0
for i, key in ipairs(KEYS) do
  local window = tonumber(ARGV[i * 4 - 2])
  local limit = tonumber(ARGV[i * 4 - 1])
  local cap = tonumber(ARGV[i * 4])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  local n = redis.call('ZCARD', key)
  if n + adding > limit then
    local retry
    if cap > 0 then
      local newest = tonumber(redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')[2])
      retry = newest + math.min(cap, 2 ^ (n - limit + 1)) - now
    else
      local at = n + adding - 1 - limit
      retry = tonumber(redis.call('ZRANGE', key, at, at, 'WITHSCORES')[2]) + window - now
    end
    if retry > wait then wait = retry end
  end
end
if wait > 0 then return tostring(wait) end
for i, key in ipairs(KEYS) do
  for m = first_member, #ARGV do
    redis.call('ZADD', key, ARGV[1], ARGV[m])
  end
  redis.call('ZREMRANGEBYRANK', key, 0, -(tonumber(ARGV[i * 4 + 1]) + 1))
  redis.call('PEXPIRE', key, math.ceil(tonumber(ARGV[i * 4 - 2]) * 1000))
end
return '0'
"""

T = TypeVar("T")


class RedisStore:
    """Counts shared by every node through Redis; ``fallback`` counts while Redis fails."""

    #: After a Redis error, count locally this long (seconds) before trying Redis again.
    RETRY_AFTER = 5.0

    def __init__(self, url: str, *, prefix: str, fallback: MemoryStore | None = None) -> None:
        import redis.asyncio as redis

        self._redis = redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        self._acquire = self._redis.register_script(ACQUIRE_LUA)
        self.prefix = f"{prefix}:rl"
        self.fallback = fallback or MemoryStore()
        self._down_until = 0.0

    def _key(self, check: Check) -> str:
        return f"{self.prefix}:{check[0].kind}:{check[1]}"

    async def _either(
        self, remote: Callable[[], Awaitable[T]], local: Callable[[], Awaitable[T]]
    ) -> T:
        if time.monotonic() >= self._down_until:
            try:
                return await remote()
            except Exception as exc:  # any Redis failure: count here rather than fail a login
                self._down_until = time.monotonic() + self.RETRY_AFTER
                log.warning(
                    "rate limits: Redis failed (%r); counting on this node for %.0f s",
                    exc,
                    self.RETRY_AFTER,
                )
        return await local()

    async def acquire(self, checks: Sequence[Check], now: float, members: Sequence[str]) -> float:
        async def remote() -> float:
            args: list[Any] = [now]
            for rule, _ in checks:
                args += [rule.window, rule.limit, rule.cap, rule.keep]
            found = await self._acquire(keys=[self._key(c) for c in checks], args=[*args, *members])
            return float(found)

        return await self._either(remote, lambda: self.fallback.acquire(checks, now, members))

    async def forget(self, check: Check, member: str) -> None:
        async def remote() -> None:
            await self._redis.zrem(self._key(check), member)

        await self._either(remote, lambda: self.fallback.forget(check, member))

    async def clear(self, check: Check) -> None:
        async def remote() -> None:
            await self._redis.delete(self._key(check))

        await self._either(remote, lambda: self.fallback.clear(check))

    async def close(self) -> None:
        await self._redis.aclose()


def _digest(value: str) -> str:
    """Keys carry no e-mail or address in clear, and have a bounded length."""
    return hashlib.blake2b(value.encode(), digest_size=16).hexdigest()


@dataclass(frozen=True)
class Attempt:
    """An attempt recorded (as a failure, until it succeeds) under ``checks``."""

    checks: tuple[Check, ...]
    member: str


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class RateLimiter:
    enabled: bool = True
    store: Store = field(default_factory=MemoryStore)
    clock: Callable[[], datetime] = field(default_factory=lambda: _utc_now)

    def _now(self) -> float:
        return self.clock().timestamp()

    async def _acquire(self, checks: tuple[Check, ...], members: Sequence[str]) -> None:
        wait = await self.store.acquire(checks, self._now(), members)
        if wait > 0:
            raise RateLimited(retry_after=max(1, math.ceil(round(wait, 3))))

    async def cancel(self, attempt: Attempt | None) -> None:
        """Forget an attempt that turned out not to be a failure."""
        if attempt is None:
            return
        for check in attempt.checks:
            await self.store.forget(check, attempt.member)

    async def begin_login(self, email: str, address: str) -> Attempt | None:
        """Raise RateLimited, or record the attempt as a failure until ``login_succeeded``."""
        if not self.enabled:
            return None
        e, a = _digest(email), _digest(address)
        attempt = Attempt(((PAIR, f"{e}:{a}"), (ADDRESS, a), (EMAIL, e)), uuid.uuid4().hex)
        await self._acquire(attempt.checks, [attempt.member])
        return attempt

    async def login_succeeded(self, attempt: Attempt | None) -> None:
        if attempt is None:
            return
        await self.store.clear(attempt.checks[0])  # the pair starts afresh
        await self.cancel(attempt)

    async def check_lookups(self, caller_id: str) -> None:
        """Raise RateLimited if ``caller_id`` has spent its e-mail lookups for now."""
        if self.enabled:
            await self._acquire(((LOOKUP, _digest(caller_id)),), [])

    async def spend_lookups(self, caller_id: str, revealed: int) -> None:
        """Charge an answer that reveals something about ``revealed`` e-mails, or raise
        RateLimited (and answer nothing) when that is more than ``caller_id`` has left."""
        if self.enabled and revealed > 0:
            spent = [uuid.uuid4().hex for _ in range(min(revealed, LOOKUP.limit))]
            await self._acquire(((LOOKUP, _digest(caller_id)),), spent)

    async def close(self) -> None:
        await self.store.close()
