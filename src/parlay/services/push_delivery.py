"""Sending a push (the ``push.notification`` outbox handler): RFC 8030 POST to the
subscription's endpoint, the payload ``{title, body, url}`` encrypted per RFC 8291
(``aes128gcm``, ``http_ece``) to the browser's keys, signed with VAPID (RFC 8292), with a
``TTL`` (a reminder is worthless once the meeting began; other news keeps a day).

What the push service answers: 2xx sent; 404/410 the subscription is gone for good (deleted
here, so nothing more is sent to it); 429 and 5xx (or no answer) retry, after its
Retry-After when given; other 4xx are our fault and retrying cannot help.
"""

from __future__ import annotations

import json
import logging

import http_ece
import httpx
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import delete

from parlay.db.notification_models import Notification
from parlay.db.webhook_models import PushSubscription
from parlay.domain.errors import InvalidInput
from parlay.services.context import Context
from parlay.services.delivery_targets import check_push_endpoint
from parlay.services.outbox import Handler, Job, Permanent, Retryable
from parlay.services.push import PUSH_KIND
from parlay.services.push_keys import VapidKeys, b64url_decode
from parlay.services.uow import unit_of_work

log = logging.getLogger(__name__)

TIMEOUT_SECONDS = 10.0
TTL_SECONDS = 24 * 3600
REMINDER_TTL_SECONDS = 15 * 60
MAX_RETRY_AFTER = 3600.0


def encrypt(payload: bytes, p256dh: str, auth: str) -> bytes:
    """``payload`` as an ``aes128gcm`` body for the browser holding ``p256dh``/``auth``: a
    fresh sender key pair each time, whose public key ``http_ece`` puts in the header's keyid
    (RFC 8291 section 4)."""
    sender = ec.generate_private_key(ec.SECP256R1())
    body: bytes = http_ece.encrypt(
        payload,
        private_key=sender,
        dh=b64url_decode(p256dh),
        auth_secret=b64url_decode(auth),
        version="aes128gcm",
    )
    return body


def target_url(base_url: str, notification: Notification) -> str:
    """Where tapping the notification leads: its room, else the calendars page."""
    if notification.room_id:
        return f"{base_url}/rooms/{notification.room_id}"
    if notification.kind == "calendar.needs_reauth":
        return f"{base_url}/calendars"
    return f"{base_url}/"


class PushDeliveries:
    def __init__(self, ctx: Context, keys: VapidKeys, *, production: bool) -> None:
        self.ctx = ctx
        self.keys = keys
        self.production = production

    def handlers(self) -> dict[str, Handler]:
        return {PUSH_KIND: self.handle}

    async def handle(self, job: Job) -> None:
        async with self.ctx.db.read() as session:
            notification = await session.get(Notification, int(job.payload["notification"]))
            subscription = await session.get(PushSubscription, str(job.payload["subscription"]))
        if notification is None or subscription is None:
            return  # unsubscribed (or the notification is gone): nothing to send
        if subscription.user_id != notification.user_id:
            return  # the browser now belongs to someone else
        try:
            await check_push_endpoint(subscription.endpoint, production=self.production)
        except InvalidInput as exc:
            raise Permanent(exc.message) from None
        message = {
            "title": notification.title,
            "body": notification.body,
            "url": target_url(self.ctx.base_url, notification),
        }
        reminder = notification.kind == "meeting.reminder"
        headers = {
            "Authorization": self.keys.authorization(subscription.endpoint),
            "TTL": str(REMINDER_TTL_SECONDS if reminder else TTL_SECONDS),
            "Urgency": "high" if reminder else "normal",
            "Content-Encoding": "aes128gcm",
            "Content-Type": "application/octet-stream",
        }
        body = encrypt(json.dumps(message).encode(), subscription.p256dh, subscription.auth)
        try:
            async with httpx.AsyncClient(timeout=TIMEOUT_SECONDS) as client:
                response = await client.post(subscription.endpoint, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise Retryable(f"push service unreachable: {type(exc).__name__}") from None
        code = response.status_code
        if 200 <= code < 300:
            return
        if code in (404, 410):
            await self._forget(subscription.id)
            return
        if code == 429 or code >= 500:
            raise Retryable(f"push service answered {code}", _retry_after(response))
        raise Permanent(f"push service refused the message: {code} {response.text[:200]}")

    async def _forget(self, subscription_id: str) -> None:
        log.info("push subscription %s expired; deleted", subscription_id)
        async with unit_of_work(self.ctx) as uow:
            await uow.session.execute(
                delete(PushSubscription).where(PushSubscription.id == subscription_id)
            )


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "")
    try:
        return min(MAX_RETRY_AFTER, max(0.0, float(value)))
    except ValueError:
        return None
