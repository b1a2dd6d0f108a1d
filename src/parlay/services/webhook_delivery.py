"""Sending webhook deliveries (the ``webhook.delivery`` outbox handler) and signing them.

Each attempt POSTs the delivery's stored body with ``Parlay-Event-Id`` and
``Parlay-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`` (API.md), so a
receiver can check the sender and refuse replays of old requests by ``t``; receivers
deduplicate by the event id.  Any 2xx delivers; anything else (a 3xx too: redirects are not
followed, they could lead anywhere) is a failed attempt, logged on the delivery row.

Retries: the worker's backoff for ``QUICK_ATTEMPTS`` attempts, then, like e-mail, a fresh job of
the same key every ``DEFER_SECONDS`` (with its own quick attempts) for ``DEFER_LIMIT`` rounds,
about a day; after that the delivery is ``dead``.  A receiver down for hours loses nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from typing import Any

import httpx
from sqlalchemy import update

from parlay.db.webhook_models import Webhook, WebhookDelivery
from parlay.domain.errors import InvalidInput
from parlay.services.context import Context
from parlay.services.delivery_targets import check_webhook_url
from parlay.services.outbox import Handler, Job, Permanent, Retryable, enqueue, wall_clock
from parlay.services.secrets import SecretBox
from parlay.services.uow import unit_of_work
from parlay.services.webhooks import DELIVERY_KIND

log = logging.getLogger(__name__)

QUICK_ATTEMPTS = 5
DEFER_SECONDS = 3600.0
DEFER_LIMIT = 24
TIMEOUT_SECONDS = 10.0
USER_AGENT = "Parlay-Webhooks/1"


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The ``Parlay-Signature`` header value for ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


class WebhookDeliveries:
    def __init__(self, ctx: Context, box: SecretBox, *, allow_private: bool) -> None:
        self.ctx = ctx
        self.box = box
        self.allow_private = allow_private

    def handlers(self) -> dict[str, Handler]:
        return {DELIVERY_KIND: self.handle}

    async def handle(self, job: Job) -> None:
        delivery_id = int(job.payload["delivery"])
        async with self.ctx.db.read() as session:
            delivery = await session.get(WebhookDelivery, delivery_id)
            hook = await session.get(Webhook, delivery.webhook_id) if delivery else None
        if delivery is None or hook is None or delivery.status != "pending":
            return  # the webhook was deleted, or this delivery already settled
        try:
            await check_webhook_url(hook.url, self.ctx.base_url, allow_private=self.allow_private)
        except InvalidInput as exc:
            await self._record(delivery_id, None, exc.message, "dead")
            raise Permanent(exc.message) from None
        secret = str(self.box.decrypt(hook.secret)["secret"])
        body = delivery.body.encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "Parlay-Event-Id": delivery.event_id,
            "Parlay-Signature": signature(secret, int(wall_clock().timestamp()), body),
        }
        code, error = await self._post(hook.url, body, headers)
        if code is not None and 200 <= code < 300:
            await self._record(delivery_id, code, None, "delivered")
            return
        if job.attempts < QUICK_ATTEMPTS:
            await self._record(delivery_id, code, error, "pending")
            raise Retryable(f"webhook delivery failed: {error}")
        rounds = int(job.payload.get("deferred", 0)) + 1
        if rounds > DEFER_LIMIT or job.dedupe_key is None:
            await self._record(delivery_id, code, error, "dead")
            raise Permanent(f"webhook undeliverable: {error}")
        await self._record(delivery_id, code, error, "pending", defer=(job, rounds))

    async def _post(
        self, url: str, body: bytes, headers: dict[str, str]
    ) -> tuple[int | None, str | None]:
        try:
            async with httpx.AsyncClient(timeout=TIMEOUT_SECONDS) as client:
                response = await client.post(url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            return None, f"{type(exc).__name__}: {exc}"[:500]
        return response.status_code, f"HTTP {response.status_code}"

    async def _record(
        self,
        delivery_id: int,
        code: int | None,
        error: str | None,
        status: str,
        *,
        defer: tuple[Job, int] | None = None,
    ) -> None:
        """Log the attempt on the delivery (and, when deferring, hand over to a later job in
        the same transaction)."""
        now = wall_clock()
        values: dict[str, Any] = {
            "attempts": WebhookDelivery.attempts + 1,
            "last_status_code": code,
            "last_error": error if status != "delivered" else None,
            "last_attempt_at": now,
            "status": status,
        }
        if status == "delivered":
            values["delivered_at"] = now
        async with unit_of_work(self.ctx) as uow:
            await uow.session.execute(
                update(WebhookDelivery)
                .where(WebhookDelivery.id == delivery_id)
                .values(**values)
                .execution_options(synchronize_session=False)
            )
            if defer is not None:
                job, rounds = defer
                assert job.dedupe_key is not None
                log.info("webhook delivery %s deferred (%d): %s", delivery_id, rounds, error)
                await enqueue(
                    uow.session,
                    DELIVERY_KIND,
                    job.dedupe_key,
                    {**job.payload, "deferred": rounds},
                    delay=DEFER_SECONDS,
                    now=now,
                )
