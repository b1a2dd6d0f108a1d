"""The one interface for a linked calendar account (after Radicale's plug-in base classes).

Every public method is ``@final`` and does the shared safety work once: argument checks, a
timeout, error classification into :mod:`parlay.providers.errors`, logging without secrets and
a credential refresh serialized per connection through an injected callback.  Adapters fill in
the small ``_hooks`` (and ``_classify`` for their library's exceptions) and nothing else.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, TypeVar, final

from parlay.providers.dto import (
    BusyEvent,
    CalendarInfo,
    Credentials,
    EventRef,
    MeetingEvent,
    SyncResult,
)
from parlay.providers.errors import (
    AuthExpired,
    InvalidCredentials,
    MailboxNotSupported,
    ProviderError,
    SyncTokenExpired,
    Transient,
    Unreachable,
)

log = logging.getLogger("parlay.providers")
T = TypeVar("T")

RefreshCallback = Callable[[Credentials], Awaitable[Credentials]]
"""Called with the credentials that stopped working; returns working ones (new tokens, stored
by the caller) or raises AuthExpired.  If another holder already refreshed them, return those."""

DEFAULT_TIMEOUT = 20.0
REFRESH_MARGIN = timedelta(seconds=60)


@dataclass(frozen=True)
class LinkedAccount:
    """What linking found: the account's identity and every calendar it holds."""

    account_email: str
    calendars: tuple[CalendarInfo, ...]


def _aware(moment: datetime, name: str) -> datetime:
    if moment.tzinfo is None:
        raise ValueError(f"{name} must be timezone-aware")
    return moment.astimezone(UTC)


class CalendarProvider(ABC):
    """One linked account at one provider; create one per connection (and per task if you like)."""

    key: ClassVar[str]
    """Stable registry key (``google``, ``microsoft``, ``caldav``); never reused."""

    _refresh_locks: ClassVar[weakref.WeakValueDictionary[str, asyncio.Lock]] = (
        weakref.WeakValueDictionary()
    )

    _FINAL: ClassVar[frozenset[str]] = frozenset(
        {
            "link",
            "account_email",
            "list_calendars",
            "busy_events",
            "sync_busy",
            "create_event",
            "update_event",
            "delete_event",
            "_call",
            "_attempt",
            "_refresh_credentials",
        }
    )

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # @final is only read by type checkers; this makes "cannot bypass" hold at run time.
        super().__init_subclass__(**kwargs)
        overridden = CalendarProvider._FINAL & set(vars(cls))
        if overridden:
            raise TypeError(f"{cls.__name__} may not override {sorted(overridden)}; fill the hooks")

    def __init__(
        self,
        credentials: Credentials,
        *,
        connection_id: str = "",
        refresh: RefreshCallback | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self._credentials = credentials
        self.connection_id = connection_id
        self._refresh = refresh
        self.timeout = timeout

    @property
    def credentials(self) -> Credentials:
        """The credentials in use (after a refresh, the new ones)."""
        return self._credentials

    # ---- public operations: final, safe ---------------------------------------------------

    @final
    async def link(self) -> LinkedAccount:
        """Verify the credentials and discover the account, for the moment of linking.

        A refusal of the credentials is :class:`InvalidCredentials`; anything else that keeps
        us from a usable answer (down, timeout, not a calendar server, garbage) is
        :class:`Unreachable`, except a mailbox the provider cannot serve
        (:class:`MailboxNotSupported`), which passes through as it is.
        """
        try:
            email = await self._call("link.account_email", self._account_email)
            calendars = await self._call("link.list_calendars", self._list_calendars)
        except (AuthExpired, InvalidCredentials) as exc:
            raise InvalidCredentials(str(exc)) from exc
        except MailboxNotSupported:
            raise  # the account itself cannot be linked: say so, not "unreachable"
        except ProviderError as exc:
            raise Unreachable(str(exc)) from exc
        return LinkedAccount(account_email=email, calendars=tuple(calendars))

    @final
    async def account_email(self) -> str:
        return await self._call("account_email", self._account_email)

    @final
    async def list_calendars(self) -> list[CalendarInfo]:
        return await self._call("list_calendars", self._list_calendars)

    @final
    async def busy_events(
        self, calendar_id: str, start: datetime, end: datetime
    ) -> list[BusyEvent]:
        """Every event occurrence overlapping [start, end), unfiltered (see ``blocking_events``)."""
        start, end = _aware(start, "start"), _aware(end, "end")
        if end <= start:
            raise ValueError("end must be after start")
        return await self._call("busy_events", self._busy_events, calendar_id, start, end)

    @final
    async def sync_busy(
        self, calendar_id: str, start: datetime, end: datetime, sync_token: str | None = None
    ) -> SyncResult:
        """Changes since ``sync_token`` (None: everything); an expired token means a full resync."""
        start, end = _aware(start, "start"), _aware(end, "end")
        if end <= start:
            raise ValueError("end must be after start")
        try:
            return await self._call(
                "sync_busy", self._sync_busy, calendar_id, start, end, sync_token
            )
        except SyncTokenExpired:
            if sync_token is None:
                raise Transient("sync_busy: server refused a full sync") from None
            log.info(
                "provider=%s connection=%s op=sync_busy token expired, full resync",
                self.key,
                self.connection_id,
            )
            return await self._call("sync_busy", self._sync_busy, calendar_id, start, end, None)

    @final
    async def create_event(self, calendar_id: str, event: MeetingEvent) -> EventRef:
        """Create the meeting's event; if it is already there (a retry), update it instead."""
        self._check_event(event)
        return await self._call("create_event", self._create_event, calendar_id, event)

    @final
    async def update_event(
        self, calendar_id: str, event: MeetingEvent, ref: EventRef | None = None
    ) -> EventRef:
        """Bring the meeting's event to ``event``; recreates it if it was deleted meanwhile."""
        self._check_event(event)
        return await self._call("update_event", self._update_event, calendar_id, event, ref)

    @final
    async def delete_event(
        self, calendar_id: str, meeting_id: str, ref: EventRef | None = None
    ) -> None:
        """Delete the meeting's event; one that is already gone is fine."""
        await self._call("delete_event", self._delete_event, calendar_id, meeting_id, ref)

    # ---- hooks: adapters fill these -------------------------------------------------------

    @abstractmethod
    async def _account_email(self) -> str: ...

    @abstractmethod
    async def _list_calendars(self) -> list[CalendarInfo]: ...

    @abstractmethod
    async def _busy_events(
        self, calendar_id: str, start: datetime, end: datetime
    ) -> list[BusyEvent]: ...

    async def _sync_busy(
        self, calendar_id: str, start: datetime, end: datetime, sync_token: str | None
    ) -> SyncResult:
        """Default for providers without incremental sync: a full read every time."""
        events = await self._busy_events(calendar_id, start, end)
        items: dict[str, list[BusyEvent]] = {}
        for index, event in enumerate(events):
            items.setdefault(event.uid or f"#{index}", []).append(event)
        return SyncResult(
            full=True,
            changed={key: tuple(value) for key, value in items.items()},
            removed=frozenset(),
            next_token=None,
        )

    @abstractmethod
    async def _create_event(self, calendar_id: str, event: MeetingEvent) -> EventRef: ...

    @abstractmethod
    async def _update_event(
        self, calendar_id: str, event: MeetingEvent, ref: EventRef | None
    ) -> EventRef: ...

    @abstractmethod
    async def _delete_event(
        self, calendar_id: str, meeting_id: str, ref: EventRef | None
    ) -> None: ...

    def _classify(self, exc: Exception) -> ProviderError | None:
        """Map a library exception to the taxonomy; None leaves it to the base (Transient)."""
        return None

    # ---- shared safety work ---------------------------------------------------------------

    @staticmethod
    def _check_event(event: MeetingEvent) -> None:
        if _aware(event.end, "event.end") <= _aware(event.start, "event.start"):
            raise ValueError("event must end after it starts")
        if not event.meeting_id:
            raise ValueError("event needs a meeting_id")

    @final
    async def _call(self, op: str, hook: Callable[..., Awaitable[T]], *args: Any) -> T:
        creds = self._credentials
        expires = creds.expires_at
        if self._refresh is not None and expires and expires - REFRESH_MARGIN <= datetime.now(UTC):
            await self._refresh_credentials(creds, op)
        try:
            return await self._attempt(op, hook, *args)
        except AuthExpired:
            if self._refresh is None:
                raise
            await self._refresh_credentials(creds, op)
            return await self._attempt(op, hook, *args)

    async def _attempt(self, op: str, hook: Callable[..., Awaitable[T]], *args: Any) -> T:
        began = time.monotonic()
        try:
            async with asyncio.timeout(self.timeout):
                result = await hook(*args)
        except ProviderError as exc:
            self._log(op, began, type(exc).__name__)
            raise
        except TimeoutError:
            self._log(op, began, "timeout")
            raise Transient(f"{op}: no answer within {self.timeout:g}s") from None
        except Exception as exc:
            mapped = self._classify(exc) or Transient(f"{op}: {type(exc).__name__}")
            self._log(op, began, f"{type(mapped).__name__} ({type(exc).__name__})")
            raise mapped from exc
        self._log(op, began, "ok")
        return result

    async def _refresh_credentials(self, stale: Credentials, op: str) -> None:
        """Refresh once per connection at a time; a waiter reuses what the first one got."""
        assert self._refresh is not None
        lock_key = f"{self.key}:{self.connection_id or id(self)}"
        lock = self._refresh_locks.get(lock_key)
        if lock is None:
            lock = asyncio.Lock()
            self._refresh_locks[lock_key] = lock
        async with lock:
            if self._credentials is not stale:
                return  # refreshed by another call of this instance while we waited
            began = time.monotonic()
            try:
                async with asyncio.timeout(self.timeout):
                    fresh = await self._refresh(stale)
            except ProviderError as exc:
                self._log(f"{op}.refresh", began, type(exc).__name__)
                raise
            except TimeoutError:
                self._log(f"{op}.refresh", began, "timeout")
                raise Transient("credential refresh timed out") from None
            self._credentials = fresh
            self._credentials_changed()
            self._log(f"{op}.refresh", began, "ok")

    def _credentials_changed(self) -> None:  # noqa: B027 - optional hook
        """Adapters that cache a client built from the credentials drop it here."""

    def _log(self, op: str, began: float, outcome: str) -> None:
        # Only the provider key, connection id, operation, outcome and duration: no arguments,
        # URLs with user info, tokens or passwords ever reach the log.
        log.info(
            "provider=%s connection=%s op=%s outcome=%s ms=%d",
            self.key,
            self.connection_id or "-",
            op,
            outcome,
            (time.monotonic() - began) * 1000,
        )
