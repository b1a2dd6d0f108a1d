"""The shared safety work of the provider base class, seen through a small in-memory adapter."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

import pytest

from parlay.providers.base import CalendarProvider
from parlay.providers.dto import (
    BusyEvent,
    CalendarInfo,
    Credentials,
    EventRef,
    MeetingEvent,
    SyncResult,
    blocking_events,
)
from parlay.providers.errors import (
    AuthExpired,
    InvalidCredentials,
    NotFound,
    RateLimited,
    SyncTokenExpired,
    Transient,
    Unreachable,
)
from parlay.providers.registry import PROVIDERS, provider_class

START = datetime(2030, 3, 4, tzinfo=UTC)
END = START + timedelta(days=7)


class Memory(CalendarProvider):
    """Accepts only the access token ``good``; behaviour is steered by attributes."""

    key = "memory"

    def __init__(self, token: str = "good", **kw: object) -> None:
        super().__init__(Credentials(access_token=token), **kw)  # type: ignore[arg-type]
        self.fail_with: Exception | None = None
        self.hang = False
        self.events: dict[str, MeetingEvent] = {}

    async def _check(self) -> None:
        if self.hang:
            await asyncio.sleep(3600)
        if self.fail_with is not None:
            raise self.fail_with
        if self.credentials.access_token != "good":
            raise AuthExpired("401")

    async def _account_email(self) -> str:
        await self._check()
        return "me@example.com"

    async def _list_calendars(self) -> list[CalendarInfo]:
        await self._check()
        return [CalendarInfo("primary", "Me", True)]

    async def _busy_events(
        self, calendar_id: str, start: datetime, end: datetime
    ) -> list[BusyEvent]:
        await self._check()
        return [BusyEvent(start, start + timedelta(hours=1), uid="a")]

    async def _sync_busy(
        self, calendar_id: str, start: datetime, end: datetime, sync_token: str | None
    ) -> SyncResult:
        await self._check()
        if sync_token == "old":
            raise SyncTokenExpired()
        return SyncResult(full=sync_token is None, changed={}, removed=frozenset(), next_token="t2")

    async def _create_event(self, calendar_id: str, event: MeetingEvent) -> EventRef:
        await self._check()
        self.events[event.meeting_id] = event
        return EventRef(event.meeting_id)

    async def _update_event(
        self, calendar_id: str, event: MeetingEvent, ref: EventRef | None
    ) -> EventRef:
        return await self._create_event(calendar_id, event)

    async def _delete_event(self, calendar_id: str, meeting_id: str, ref: EventRef | None) -> None:
        await self._check()
        self.events.pop(meeting_id, None)


def test_registry_has_stable_keys_for_what_exists() -> None:
    assert set(PROVIDERS) <= {"google", "microsoft", "caldav"}
    assert provider_class("caldav").key == "caldav"
    with pytest.raises(KeyError):
        provider_class("icloud")


def test_adapters_cannot_override_the_public_methods() -> None:
    with pytest.raises(TypeError, match="busy_events"):

        class Sneaky(Memory):
            async def busy_events(self, *a: object) -> list[BusyEvent]:  # type: ignore[override]
                return []


async def test_a_hook_that_hangs_becomes_transient_after_the_timeout() -> None:
    adapter = Memory(timeout=0.05)
    adapter.hang = True
    with pytest.raises(Transient):
        await adapter.list_calendars()


async def test_unknown_library_errors_become_transient_and_taxonomy_passes_through() -> None:
    adapter = Memory()
    adapter.fail_with = ConnectionResetError("peer reset")
    with pytest.raises(Transient):
        await adapter.account_email()
    adapter.fail_with = RateLimited(retry_after=7)
    with pytest.raises(RateLimited) as caught:
        await adapter.account_email()
    assert caught.value.retry_after == 7 and caught.value.retryable
    adapter.fail_with = NotFound()
    with pytest.raises(NotFound):
        await adapter.delete_event("primary", "m")


async def test_link_maps_refusal_and_everything_else() -> None:
    with pytest.raises(InvalidCredentials):
        await Memory("bad").link()
    broken = Memory()
    broken.fail_with = OSError("connection refused")
    with pytest.raises(Unreachable):
        await broken.link()
    linked = await Memory().link()
    assert linked.account_email == "me@example.com" and linked.calendars[0].primary


async def test_refresh_runs_once_for_concurrent_calls_on_one_connection() -> None:
    calls: list[str] = []

    async def refresh(stale: Credentials) -> Credentials:
        calls.append(stale.access_token or "")
        await asyncio.sleep(0.01)
        return Credentials(access_token="good", refresh_token="rotated")

    adapter = Memory("expired", connection_id="c1", refresh=refresh)
    results = await asyncio.gather(*(adapter.list_calendars() for _ in range(5)))
    assert all(r[0].external_id == "primary" for r in results)
    assert calls == ["expired"]
    assert adapter.credentials.refresh_token == "rotated"


async def test_credentials_about_to_expire_are_refreshed_first() -> None:
    calls: list[str] = []

    async def refresh(stale: Credentials) -> Credentials:
        calls.append("refresh")
        return Credentials(access_token="good", expires_at=datetime.now(UTC) + timedelta(hours=1))

    adapter = Memory(connection_id="c2", refresh=refresh)
    adapter._credentials = Credentials(access_token="good", expires_at=datetime.now(UTC))
    await adapter.account_email()
    await adapter.account_email()
    assert calls == ["refresh"]


async def test_a_refused_refresh_is_auth_expired() -> None:
    async def refresh(stale: Credentials) -> Credentials:
        raise AuthExpired("invalid_grant")

    with pytest.raises(AuthExpired):
        await Memory("expired", connection_id="c3", refresh=refresh).busy_events("p", START, END)


async def test_an_expired_sync_token_means_a_full_resync() -> None:
    result = await Memory().sync_busy("primary", START, END, "old")
    assert result.full and result.next_token == "t2"


async def test_arguments_are_checked_before_any_call() -> None:
    adapter = Memory()
    with pytest.raises(ValueError):
        await adapter.busy_events("p", END, START)
    with pytest.raises(ValueError):
        await adapter.busy_events("p", START.replace(tzinfo=None), END)
    with pytest.raises(ValueError):
        await adapter.create_event("p", MeetingEvent("m", "t", END, START))


async def test_the_log_names_operation_and_outcome_but_no_secret(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="parlay.providers")
    await Memory(connection_id="c4").account_email()
    assert "op=account_email outcome=ok" in caplog.text and "connection=c4" in caplog.text
    assert "good" not in caplog.text
    assert "good" not in repr(Credentials(access_token="good", password="good"))


def test_rule_one_counts_only_real_busy_events() -> None:
    hour = timedelta(hours=1)
    events = [
        BusyEvent(START, START + hour, uid="confirmed"),
        BusyEvent(START, START + hour, status="tentative", uid="tentative"),
        BusyEvent(START, START + timedelta(days=1), all_day=True, uid="all-day"),
        BusyEvent(START, START + hour, status="cancelled", uid="cancelled"),
        BusyEvent(START, START + hour, transparent=True, uid="free"),
        BusyEvent(START, START + hour, declined=True, uid="declined"),
        BusyEvent(START, START + hour, parlay_meeting_id="m1", uid="ours"),
    ]
    assert [e.uid for e in blocking_events(events)] == ["confirmed", "tentative", "all-day"]
