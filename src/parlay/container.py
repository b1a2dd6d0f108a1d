"""Composition root: builds the database, broker, hub and clock from Settings."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any

from parlay.db.session import Database
from parlay.jobs.runner import Worker, WorkerConfig
from parlay.mail.sender import FileMailer, Mailer, SmtpMailer
from parlay.providers.base import CalendarProvider, RefreshCallback
from parlay.providers.dto import Credentials
from parlay.providers.oauth import OAuthClient, google_config, microsoft_config
from parlay.providers.registry import provider_class
from parlay.realtime.broker import Broker, MemoryBroker, RedisBroker
from parlay.realtime.hub import Hub
from parlay.realtime.signaling import Relay
from parlay.services import events
from parlay.services.accounts import STRONG_HASHING, TEST_HASHING
from parlay.services.calendar_busy import StoredCalendarBusy
from parlay.services.calendar_fresh import FreshCalendarBusy
from parlay.services.calendar_oauth import CalendarOAuth
from parlay.services.calendars import CalendarService, ProviderFactory
from parlay.services.context import Context
from parlay.services.notification_mail import NotificationMail
from parlay.services.outbox import Handler
from parlay.services.principals import PrincipalCache
from parlay.services.push_delivery import PushDeliveries
from parlay.services.push_keys import VapidKeys, vapid_keys
from parlay.services.ratelimits import MemoryStore, RateLimiter, RedisStore, Store
from parlay.services.reminders import Reminders
from parlay.services.secrets import SecretBox
from parlay.services.video import VideoService
from parlay.services.video_ice import IceConfig
from parlay.services.video_passes import GuestPasses
from parlay.services.webhook_delivery import WebhookDeliveries
from parlay.settings import Settings


def make_clock(settings: Settings) -> Callable[[], datetime]:
    pinned = settings.now
    if pinned is not None:
        return lambda: pinned
    return lambda: datetime.now(UTC)


def make_limit_store(settings: Settings) -> Store:
    """Rate-limit counts: shared through Redis when configured, else this node's memory."""
    if settings.redis_url:
        return RedisStore(settings.redis_url, prefix=settings.redis_key_prefix)
    return MemoryStore()


def provider_factory(settings: Settings) -> ProviderFactory:
    """Adapters pointed at the endpoints the settings name (real providers or emulators)."""
    options: dict[str, dict[str, Any]] = {
        "google": {
            "api_url": settings.google_api_url,
            "userinfo_url": settings.google_userinfo_url,
        },
        "microsoft": {"graph_url": settings.microsoft_graph_url},
    }

    def build(
        key: str, credentials: Credentials, connection_id: str, refresh: RefreshCallback | None
    ) -> CalendarProvider:
        adapter: type[CalendarProvider] = provider_class(key)
        return adapter(
            credentials, connection_id=connection_id, refresh=refresh, **options.get(key, {})
        )

    return build


def oauth_clients(settings: Settings) -> dict[str, OAuthClient]:
    """The OAuth providers this deployment offers: those whose client id is set."""
    clients: dict[str, OAuthClient] = {}
    if settings.google_client_id:
        secret = settings.google_client_secret
        clients["google"] = OAuthClient(
            google_config(
                settings.google_client_id,
                secret.get_secret_value() if secret else None,
                settings.google_auth_url,
                settings.google_token_url,
            )
        )
    if settings.microsoft_client_id:
        secret = settings.microsoft_client_secret
        clients["microsoft"] = OAuthClient(
            microsoft_config(
                settings.microsoft_client_id,
                secret.get_secret_value() if secret else None,
                settings.microsoft_authority,
            )
        )
    return clients


def make_mailer(settings: Settings) -> Mailer:
    """SMTP when a host is set, else ``.eml`` files under ``{data_dir}/mail/``."""
    if not settings.smtp_host:
        return FileMailer(settings.data_dir / "mail")
    password = settings.smtp_password
    return SmtpMailer(
        settings.smtp_host,
        settings.smtp_port,
        settings.smtp_username,
        password.get_secret_value() if password else None,
        settings.smtp_starttls,
    )


def push_keys(settings: Settings) -> VapidKeys:
    """The VAPID pair: from the settings, else generated once into ``data_dir``."""
    key = settings.vapid_private_key
    return vapid_keys(
        settings.data_dir,
        key.get_secret_value() if key else None,
        settings.vapid_subject,
        settings.base_url.rstrip("/"),
        settings.mail_from,
    )


def build_video(settings: Settings, ctx: Context) -> VideoService:
    turn = settings.video_turn_secret
    return VideoService(
        ctx,
        Relay(ctx.broker, heartbeat_seconds=settings.video_heartbeat_seconds),
        GuestPasses(settings.resolved_secret_key()),
        early_minutes=settings.video_early_minutes,
        grace_minutes=settings.video_grace_minutes,
        ice=IceConfig.parse(
            settings.video_ice_urls,
            turn.get_secret_value() if turn else None,
            settings.video_turn_ttl_seconds,
        ),
        janus_url=settings.janus_url,
    )


log = logging.getLogger(__name__)
#: How long stopping the app waits for its in-process worker to hand back the job in hand.
WORKER_STOP_SECONDS = 10.0
#: The hub's reads of the live event log start at least this far apart under load (bench
#: ws_delivery, PostgreSQL: 1,200 -> ~1,300 posts/s on one node, ~950 -> ~1,100 on two; at most
#: this much more latency, and none when a message arrives alone).
LIVE_READ_GAP_SECONDS = 0.005


@dataclass
class Container:
    settings: Settings
    ctx: Context
    hub: Hub
    #: Outbox job handlers by kind, injected into every worker this container makes.
    handlers: dict[str, Handler] = field(default_factory=dict)
    #: Linked calendars (their use cases, the secret box, the sync handler).
    calendars: CalendarService | None = None
    #: Linking Google and Microsoft calendars (the OAuth flow).
    calendar_oauth: CalendarOAuth | None = None
    #: Video meetings: admission, lobby and the signaling relay (see parlay.services.video).
    video: VideoService | None = None
    _worker: asyncio.Task[None] | None = field(default=None, repr=False)
    _worker_stop: asyncio.Event | None = field(default=None, repr=False)

    @classmethod
    def build(cls, settings: Settings) -> Container:
        db = Database(settings.resolved_database_url)
        broker: Broker = RedisBroker(settings.redis_url) if settings.redis_url else MemoryBroker()
        ctx = Context(
            db=db,
            broker=broker,
            clock=make_clock(settings),
            base_url=settings.base_url.rstrip("/"),
            passwords=TEST_HASHING if settings.env == "test" else STRONG_HASHING,
            session_days=settings.session_days,
            limiter=RateLimiter(
                enabled=settings.rate_limits == "on", store=make_limit_store(settings)
            ),
            principals=PrincipalCache(ttl=settings.auth_cache_seconds),
        )
        ctx.limiter.clock = ctx.now  # the throttle's windows follow the (pinnable) clock
        hub = Hub(
            fetch_after=partial(events.fetch_after, db),
            last_id=partial(events.last_event_id, db),
            poll_seconds=settings.event_poll_seconds,
            batch=events.BATCH,
            min_gap=LIVE_READ_GAP_SECONDS,
        )
        box = SecretBox(settings.resolved_secret_key())
        production = settings.env == "production"
        calendars = CalendarService(
            ctx,
            box,
            providers=provider_factory(settings),
            sync_seconds=settings.calendar_sync_seconds,
            allow_private_urls=settings.private_calendar_urls_allowed,
            oauth=oauth_clients(settings),
        )
        ctx.busy_sources.append(StoredCalendarBusy(db))  # the linked calendars' busy mirror
        ctx.fresh_busy = FreshCalendarBusy(calendars).busy  # rule 2 at Book and Reschedule
        return cls(
            settings=settings,
            ctx=ctx,
            hub=hub,
            handlers={
                **calendars.handlers(),
                **NotificationMail(ctx, make_mailer(settings), settings.mail_from).handlers(),
                **Reminders(ctx).handlers(),
                **WebhookDeliveries(ctx, box, allow_private=not production).handlers(),
                **PushDeliveries(ctx, push_keys(settings), production=production).handlers(),
            },
            calendars=calendars,
            calendar_oauth=CalendarOAuth(calendars, ctx.base_url),
            video=build_video(settings, ctx),
        )

    async def start(self) -> None:
        await self.hub.start()
        await self.ctx.broker.start(self.hub.wake, self._revoked)
        if self.settings.inprocess_worker:
            self._worker_stop = asyncio.Event()
            self._worker = asyncio.create_task(
                self.worker().run(self._worker_stop), name="parlay-outbox-worker"
            )

    def worker(self) -> Worker:
        """An outbox worker over this container's database and handlers (real transport
        clock; the user-facing clock only for housekeeping of user-facing records)."""
        config = WorkerConfig(calendar_sync_seconds=self.settings.calendar_sync_seconds)
        return Worker(self.ctx.db, self.handlers, user_clock=self.ctx.now, config=config)

    def _revoked(self, keys: Sequence[str]) -> None:
        """A session ended or a token was revoked (on any node): forget it, close its sockets."""
        for key in keys:
            self.ctx.principals.forget(key)
        self.hub.revoke(keys)

    async def stop(self) -> None:
        await self._stop_worker()
        await self.ctx.broker.stop()
        if self.video is not None:
            await self.video.close()  # the Janus sessions and connection, if any
        await self.hub.stop()
        await self.ctx.principals.close()
        await self.ctx.limiter.close()
        await self.ctx.db.dispose()

    async def _stop_worker(self) -> None:
        """Stop the in-process worker: the job in hand is cancelled and handed back to the
        queue.  Shutting down never waits more than ``WORKER_STOP_SECONDS`` for it (a handler
        that ignores its cancellation is left behind, with an error in the log)."""
        worker = self._worker
        if worker is None or worker.done():
            return
        if self._worker_stop is not None:
            self._worker_stop.set()  # the loop ends at its next turn even if a cancel is lost
        worker.cancel()
        done, _ = await asyncio.wait({worker}, timeout=WORKER_STOP_SECONDS)
        if not done:
            log.error("the in-process worker did not stop within %ss", WORKER_STOP_SECONDS)
        elif not worker.cancelled() and worker.exception() is not None:
            log.error("the in-process worker had failed", exc_info=worker.exception())
