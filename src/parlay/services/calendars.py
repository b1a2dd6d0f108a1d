"""Linked calendars: link (CalDAV today), list, change, sync and disconnect connections.

A connection is one linked account; its credentials are sealed with ``SecretBox`` before they
are stored.  Provider calls never run inside a database transaction: linking verifies first
(nothing is stored when the provider refuses), then stores the connection, then reads its busy
times at once (in the request: ``link_caldav`` returns with ``last_synced_at`` set unless the
provider failed meanwhile, when a sync job is queued instead).  Every sync is the outbox job
``calendar.sync`` (dedupe ``sync:<connection>``) and queues the next one, ``sync_seconds``
later, so the mirror read by ``dates``/``slots`` (``parlay.services.calendar_busy``) stays fresh.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, true
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from parlay.db.base import new_id
from parlay.db.calendar_models import CalendarConnection, LinkedCalendar
from parlay.domain.errors import (
    CaldavAuth,
    CaldavUnreachable,
    ConnectionNotFound,
    InvalidInput,
)
from parlay.providers import errors as perr
from parlay.providers.base import CalendarProvider, LinkedAccount, RefreshCallback
from parlay.providers.dto import Credentials
from parlay.providers.oauth import OAuthClient
from parlay.providers.registry import provider_class
from parlay.services.calendar_busy import drop_blocks
from parlay.services.calendar_sync import SYNC_KIND, BusySync, sync_key
from parlay.services.calendar_writes import CalendarWrites, requeue_for_connection
from parlay.services.context import Context
from parlay.services.notifications import notify_needs_reauth
from parlay.services.outbound import AddressNotAllowed, check_public_url
from parlay.services.outbox import Handler, Job, Permanent, Retryable, wall_clock
from parlay.services.secrets import SecretBox, SecretUnreadable
from parlay.services.uow import unit_of_work

log = logging.getLogger(__name__)

DEFAULT_SYNC_SECONDS = 300.0

ProviderFactory = Callable[[str, Credentials, str, RefreshCallback | None], CalendarProvider]
"""(provider key, credentials, connection id, refresh callback) -> an adapter; the container's
builds adapters with the endpoints from settings."""


def default_providers(
    key: str, credentials: Credentials, connection_id: str, refresh: RefreshCallback | None
) -> CalendarProvider:
    return provider_class(key)(credentials, connection_id=connection_id, refresh=refresh)


@dataclass(frozen=True)
class CalendarView:
    external_id: str
    name: str
    primary: bool
    check_conflicts: bool
    write_events: bool


@dataclass(frozen=True)
class ConnectionView:
    id: str
    provider: str
    account_email: str
    status: str
    status_detail: str | None
    connected_at: datetime
    last_synced_at: datetime | None
    calendars: tuple[CalendarView, ...]


@dataclass(frozen=True)
class CalendarChange:
    """One entry of a PATCH: None leaves that flag as it is."""

    external_id: str
    check_conflicts: bool | None = None
    write_events: bool | None = None


def _seal_fields(credentials: Credentials) -> dict[str, Any]:
    values: dict[str, Any] = {
        "url": credentials.url,
        "username": credentials.username,
        "password": credentials.password,
        "access_token": credentials.access_token,
        "refresh_token": credentials.refresh_token,
        "expires_at": credentials.expires_at.isoformat() if credentials.expires_at else None,
    }
    return {k: v for k, v in values.items() if v is not None}


class CalendarService:
    """The calendar use cases; built once by the container (it owns the secret box)."""

    def __init__(
        self,
        ctx: Context,
        secrets: SecretBox,
        *,
        providers: ProviderFactory = default_providers,
        sync_seconds: float = DEFAULT_SYNC_SECONDS,
        allow_private_urls: bool = True,
        oauth: Mapping[str, OAuthClient] | None = None,
    ) -> None:
        self.allow_private_urls = allow_private_urls
        #: The configured OAuth providers (key -> client); a provider absent here is not offered.
        self.oauth: Mapping[str, OAuthClient] = oauth or {}
        self.ctx = ctx
        self.secrets = secrets
        self.providers = providers
        self.sync_seconds = sync_seconds

    def handlers(self) -> dict[str, Handler]:
        """Outbox handlers to inject into the workers (``Container.handlers``)."""
        return {SYNC_KIND: self.handle_sync, **CalendarWrites(self).handlers()}

    # ---- credentials -------------------------------------------------------------------

    def seal(self, credentials: Credentials) -> str:
        return self.secrets.encrypt(_seal_fields(credentials))

    def unseal(self, secret: str) -> Credentials:
        values = self.secrets.decrypt(secret)
        expires = values.pop("expires_at", None)
        return Credentials(
            **values, expires_at=datetime.fromisoformat(expires) if expires else None
        )

    # ---- adapters --------------------------------------------------------------------------

    def provider(self, key: str, credentials: Credentials, connection_id: str) -> CalendarProvider:
        """An adapter for a stored connection: OAuth tokens refresh themselves through
        ``refresh_tokens`` (the new ones stored at once, a rotated refresh token included)."""
        refresh: RefreshCallback | None = None
        client = self.oauth.get(key)
        if client is not None and connection_id:

            async def refresh(stale: Credentials) -> Credentials:
                return await self.refresh_tokens(client, connection_id, stale)

        return self.providers(key, credentials, connection_id, refresh)

    async def open_provider(self, connection_id: str) -> tuple[CalendarProvider, str] | None:
        """The adapter of a stored connection and its owner's id; None when it is gone.
        Unreadable credentials (a changed secret key) set ``needs_reauth`` and give None."""
        async with self.ctx.db.read() as session:
            connection = await session.get(CalendarConnection, connection_id)
            if connection is None:
                return None
            key, secret, user_id = connection.provider, connection.secret, connection.user_id
        try:
            credentials = self.unseal(secret)
        except SecretUnreadable:
            await self.set_status(connection_id, user_id, "needs_reauth", "secret_unreadable")
            return None
        return self.provider(key, credentials, connection_id), user_id

    async def refresh_tokens(
        self, client: OAuthClient, connection_id: str, stale: Credentials
    ) -> Credentials:
        """Refresh a connection's tokens and store them.  If another process refreshed them
        meanwhile (the stored tokens differ from ``stale``), use those instead of refreshing
        again, which with rotating refresh tokens could spend a token twice."""
        async with self.ctx.db.read() as session:
            connection = await session.get(CalendarConnection, connection_id)
            if connection is None:
                raise perr.AuthExpired("connection removed")
            stored = self.unseal(connection.secret)
        if (
            stored.access_token != stale.access_token
            and stored.expires_at
            and (stored.expires_at > wall_clock())
        ):
            return stored
        fresh = await client.refresh(stored)
        async with unit_of_work(self.ctx) as uow:
            row = await uow.session.get(CalendarConnection, connection_id, with_for_update=True)
            if row is None:
                raise perr.AuthExpired("connection removed")
            row.secret = self.seal(fresh)
        return fresh

    # ---- use cases ---------------------------------------------------------------------

    async def link_caldav(
        self, user_id: str, url: str, username: str, password: str
    ) -> ConnectionView:
        """Verify, store (in place of an earlier link of the same account) and sync."""
        if not self.allow_private_urls:
            try:
                await check_public_url(url)
            except AddressNotAllowed as exc:
                raise CaldavUnreachable(
                    f"{exc} Parlay connects only to public calendar servers.", field="url"
                ) from None
        credentials = Credentials(url=url, username=username, password=password)
        try:
            linked = await self.provider("caldav", credentials, "").link()
        except perr.InvalidCredentials:
            raise CaldavAuth(field="password") from None
        except perr.ProviderError:
            raise CaldavUnreachable(field="url") from None
        for attempt in (1, 2):
            try:
                connection_id = await self.store_link(user_id, "caldav", linked, credentials)
                break
            except IntegrityError:
                if attempt == 2:  # a concurrent link of the same account won the first race
                    raise
        try:
            await self.sync(connection_id)
        except (Retryable, Permanent):
            await self.queue_sync(connection_id)
        return await self.get(user_id, connection_id)

    async def store_link(
        self, user_id: str, provider: str, linked: LinkedAccount, credentials: Credentials
    ) -> str:
        """Store a verified link: a new connection, or the earlier one of the same account
        restored in place (its calendars' flags kept, vanished calendars dropped)."""
        async with unit_of_work(self.ctx) as uow:
            session = uow.session
            connection = (
                await session.execute(
                    select(CalendarConnection).where(
                        CalendarConnection.user_id == user_id,
                        CalendarConnection.provider == provider,
                        CalendarConnection.account_email == linked.account_email,
                    )
                )
            ).scalar_one_or_none()
            if connection is None:
                connection = CalendarConnection(
                    id=new_id(),
                    user_id=user_id,
                    provider=provider,
                    account_email=linked.account_email,
                    connected_at=uow.now,
                )
                session.add(connection)
                existing: dict[str, LinkedCalendar] = {}
            else:
                existing = {c.external_id: c for c in await _calendars(session, connection.id)}
                if connection.status != "active":
                    connection.status, connection.status_detail = "active", None
                    await _emit_status(uow, connection)
            connection.secret = self.seal(credentials)
            connection.status = "active"
            connection.status_detail = None
            has_writer = (
                await session.scalar(
                    select(LinkedCalendar.id)
                    .where(LinkedCalendar.user_id == user_id, LinkedCalendar.write_events == true())
                    .limit(1)
                )
            ) is not None
            for info in linked.calendars:
                row = existing.pop(info.external_id, None)
                if row is not None:
                    row.name, row.primary = info.name, info.primary
                    continue
                session.add(
                    LinkedCalendar(
                        connection_id=connection.id,
                        user_id=user_id,
                        external_id=info.external_id,
                        name=info.name,
                        primary=info.primary,
                        check_conflicts=info.primary,
                        write_events=info.primary and not has_writer,
                    )
                )
                has_writer = has_writer or info.primary
            await drop_blocks(session, (gone.id for gone in existing.values()))
            for gone in existing.values():
                await session.delete(gone)
            await session.flush()
            # Upcoming meetings go into the (re)linked calendar, and events written before a
            # needs_reauth catch up with what happened meanwhile.
            await requeue_for_connection(uow, connection.id)
            return connection.id

    async def list_connections(
        self, user_id: str, *, after: str | None = None, limit: int = 50
    ) -> tuple[list[ConnectionView], str | None]:
        """The user's connections by id, ``limit`` at a time; the id to continue after."""
        async with self.ctx.db.read() as session:
            query = select(CalendarConnection).where(CalendarConnection.user_id == user_id)
            if after is not None:
                query = query.where(CalendarConnection.id > after)
            rows = list(
                (await session.execute(query.order_by(CalendarConnection.id).limit(limit + 1)))
                .scalars()
                .all()
            )
            more = len(rows) > limit
            rows = rows[:limit]
            views = [_view(row, await _calendars(session, row.id)) for row in rows]
        return views, (rows[-1].id if more else None)

    async def get(self, user_id: str, connection_id: str) -> ConnectionView:
        async with self.ctx.db.read() as session:
            connection = await _own(session, user_id, connection_id)
            return _view(connection, await _calendars(session, connection.id))

    async def update(
        self, user_id: str, connection_id: str, changes: list[CalendarChange]
    ) -> ConnectionView:
        """Change check_conflicts / write_events.  Turning check_conflicts off stops that
        calendar counting at once; on, queues a sync.  write_events on turns it off for the
        user's other calendars (at most one per user)."""
        async with unit_of_work(self.ctx) as uow:
            session = uow.session
            connection = await _own(session, user_id, connection_id, lock=True)
            calendars = {c.external_id: c for c in await _calendars(session, connection.id)}
            for change in changes:
                if change.external_id not in calendars:
                    raise InvalidInput(
                        f"This connection has no calendar {change.external_id!r}.",
                        field="calendars",
                    )
            resync = False
            for change in changes:
                calendar = calendars[change.external_id]
                if change.check_conflicts is not None:
                    if change.check_conflicts and not calendar.check_conflicts:
                        resync = True
                    if not change.check_conflicts:
                        await drop_blocks(session, [calendar.id])
                    calendar.check_conflicts = change.check_conflicts
                if change.write_events:
                    writers = await session.execute(
                        select(LinkedCalendar).where(
                            LinkedCalendar.user_id == user_id,
                            LinkedCalendar.write_events == true(),
                        )
                    )
                    for other in writers.scalars():
                        other.write_events = False
                    calendar.write_events = True
                elif change.write_events is False:
                    calendar.write_events = False
            if resync:
                await uow.enqueue(SYNC_KIND, sync_key(connection.id), {"connection": connection.id})
        return await self.get(user_id, connection_id)

    async def request_sync(self, user_id: str, connection_id: str) -> None:
        """Queue a sync now (the 202 of ``POST /calendars/{id}/sync``)."""
        async with unit_of_work(self.ctx) as uow:
            await _own(uow.session, user_id, connection_id)
            await uow.enqueue(SYNC_KIND, sync_key(connection_id), {"connection": connection_id})

    async def queue_sync(self, connection_id: str) -> None:
        """Let the worker read the connection's busy times as soon as it can."""
        async with unit_of_work(self.ctx) as uow:
            await uow.enqueue(SYNC_KIND, sync_key(connection_id), {"connection": connection_id})

    async def disconnect(self, user_id: str, connection_id: str) -> None:
        """Forget the connection, its calendars and their busy times (at once); events
        Parlay wrote stay in the external calendar."""
        async with unit_of_work(self.ctx) as uow:
            session = uow.session
            connection = await _own(session, user_id, connection_id, lock=True)
            calendars = await _calendars(session, connection.id)
            await drop_blocks(session, (c.id for c in calendars))
            for calendar in calendars:
                await session.delete(calendar)
            await session.flush()
            await session.delete(connection)

    # ---- the sync (parlay.services.calendar_sync) --------------------------------------

    @functools.cached_property
    def busy_sync(self) -> BusySync:
        return BusySync(self.ctx, self, sync_seconds=self.sync_seconds)

    async def handle_sync(self, job: Job) -> None:
        await self.busy_sync.handle(job)

    async def sync(self, connection_id: str) -> None:
        await self.busy_sync.sync(connection_id)

    async def set_status(
        self, connection_id: str, user_id: str, status: str, detail: str | None
    ) -> None:
        log.info("calendar connection=%s status=%s detail=%s", connection_id, status, detail)
        async with unit_of_work(self.ctx) as uow:
            connection = await uow.session.get(
                CalendarConnection, connection_id, with_for_update=True
            )
            if connection is None or (connection.status, connection.status_detail) == (
                status,
                detail,
            ):
                return
            was = connection.status
            connection.status, connection.status_detail = status, detail
            await _emit_status(uow, connection)
            if status == "needs_reauth" and was != "needs_reauth":
                await notify_needs_reauth(uow, connection.user_id, connection)


async def _emit_status(uow: Any, connection: CalendarConnection) -> None:
    data: dict[str, Any] = {"id": connection.id, "status": connection.status}
    if connection.status_detail:
        data["status_detail"] = connection.status_detail
    await uow.emit("calendar.status", data, {connection.user_id})


async def _own(
    session: AsyncSession, user_id: str, connection_id: str, *, lock: bool = False
) -> CalendarConnection:
    """The caller's connection; another user's id is indistinguishable from a missing one."""
    query = select(CalendarConnection).where(
        CalendarConnection.id == connection_id, CalendarConnection.user_id == user_id
    )
    if lock:
        query = query.with_for_update()
    connection = (await session.execute(query)).scalar_one_or_none()
    if connection is None:
        raise ConnectionNotFound()
    return connection


async def _calendars(session: AsyncSession, connection_id: str) -> list[LinkedCalendar]:
    rows = await session.execute(
        select(LinkedCalendar)
        .where(LinkedCalendar.connection_id == connection_id)
        .order_by(LinkedCalendar.primary.desc(), LinkedCalendar.name, LinkedCalendar.id)
    )
    return list(rows.scalars().all())


def _view(connection: CalendarConnection, calendars: list[LinkedCalendar]) -> ConnectionView:
    return ConnectionView(
        id=connection.id,
        provider=connection.provider,
        account_email=connection.account_email,
        status=connection.status,
        status_detail=connection.status_detail,
        connected_at=connection.connected_at,
        last_synced_at=connection.last_synced_at,
        calendars=tuple(
            CalendarView(
                external_id=c.external_id,
                name=c.name,
                primary=c.primary,
                check_conflicts=c.check_conflicts,
                write_events=c.write_events,
            )
            for c in calendars
        ),
    )
