"""Webhooks for platforms that embed Parlay (API.md "Notifications"): register, list, delete,
read the delivery log, and queue one delivery per change of a meeting the owner takes part in.

"The caller's own meetings only" means the meetings where the webhook's owner is a participant
(the room's members at booking time, ``meeting_participants``: the host, the booker and everyone
else in the room then).  Someone who could read the meeting in the app gets it by webhook; nobody
else's meetings are ever sent.

``enqueue_meeting_webhooks`` runs in the transaction of the change: one ``WebhookDelivery`` row
(the body built once, so every retry sends the same bytes and event id) and one outbox job per
matching webhook.  The secret is kept encrypted with the secret box and shown once, at creation.
Where a webhook may point is ``parlay.services.delivery_targets``; sending, signing and retrying
is ``parlay.services.webhook_delivery``.
"""

from __future__ import annotations

import json
import secrets
import uuid
from datetime import datetime

from pydantic import BaseModel
from sqlalchemy import delete, func, select

from parlay.db.models import User
from parlay.db.scheduling_models import Meeting, MeetingParticipant
from parlay.db.webhook_models import Webhook, WebhookDelivery
from parlay.domain.errors import InvalidInput, NotFound
from parlay.services.context import Context
from parlay.services.delivery_targets import check_webhook_url
from parlay.services.scheduling_views import meeting_read
from parlay.services.secrets import SecretBox
from parlay.services.uow import UnitOfWork, retrying, unit_of_work

EVENTS = ("meeting.scheduled", "meeting.rescheduled", "meeting.cancelled")
DELIVERY_KIND = "webhook.delivery"
MAX_WEBHOOKS = 20


class TooManyWebhooks(InvalidInput):
    kind = "conflict"
    code = "too_many_webhooks"
    default_message = f"A user may have at most {MAX_WEBHOOKS} webhooks."


class WebhookRead(BaseModel):
    id: str
    url: str
    events: list[str]
    created_at: datetime

    @classmethod
    def of(cls, row: Webhook) -> WebhookRead:
        return cls(id=row.id, url=row.url, events=list(row.events), created_at=row.created_at)


class DeliveryRead(BaseModel):
    id: int
    event_id: str
    type: str
    meeting_id: str
    status: str
    attempts: int
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    last_attempt_at: datetime | None
    delivered_at: datetime | None

    @classmethod
    def of(cls, row: WebhookDelivery) -> DeliveryRead:
        return cls(
            id=row.id,
            event_id=row.event_id,
            type=row.type,
            meeting_id=row.meeting_id,
            status=row.status,
            attempts=row.attempts,
            last_status_code=row.last_status_code,
            last_error=row.last_error,
            created_at=row.created_at,
            last_attempt_at=row.last_attempt_at,
            delivered_at=row.delivered_at,
        )


def delivery_key(delivery_id: int) -> str:
    return f"webhook:{delivery_id}"


@retrying
async def do_create_webhook(
    ctx: Context,
    user: User,
    url: str,
    events: list[str],
    box: SecretBox,
    *,
    allow_private: bool,
) -> tuple[WebhookRead, str]:
    """Register ``url`` for ``events``; the webhook and its secret (returned only here)."""
    await check_webhook_url(url, ctx.base_url, allow_private=allow_private)
    wanted = [e for e in EVENTS if e in set(events)]  # each once, in a stable order
    secret = "whsec_" + secrets.token_urlsafe(32)
    async with unit_of_work(ctx) as uow:
        count = await uow.session.scalar(
            select(func.count()).select_from(Webhook).where(Webhook.user_id == user.id)
        )
        if int(count or 0) >= MAX_WEBHOOKS:
            raise TooManyWebhooks()
        row = Webhook(
            user_id=user.id,
            url=url,
            events=wanted,
            secret=box.encrypt({"secret": secret}),
            created_at=uow.now,
        )
        uow.session.add(row)
        await uow.session.flush()
        return WebhookRead.of(row), secret


async def list_webhooks(
    ctx: Context, user: User, *, after: str | None, limit: int
) -> tuple[list[WebhookRead], str | None]:
    query = select(Webhook).where(Webhook.user_id == user.id)
    if after is not None:
        query = query.where(Webhook.id > after)
    async with ctx.db.read() as session:
        rows = list(await session.scalars(query.order_by(Webhook.id).limit(limit + 1)))
    page = rows[:limit]
    return [WebhookRead.of(r) for r in page], (page[-1].id if len(rows) > limit else None)


@retrying
async def do_delete_webhook(ctx: Context, user: User, webhook_id: str) -> None:
    """Delete the caller's webhook (its log with it); pending deliveries then send nothing."""
    async with unit_of_work(ctx) as uow:
        result = await uow.session.execute(
            delete(Webhook)
            .where(Webhook.id == webhook_id, Webhook.user_id == user.id)
            .execution_options(synchronize_session=False)
        )
        if not getattr(result, "rowcount", 0):
            raise NotFound("No such webhook.")


async def list_deliveries(
    ctx: Context, user: User, webhook_id: str, *, before: int | None, limit: int
) -> tuple[list[DeliveryRead], int | None]:
    """The webhook's delivery log, newest first."""
    query = select(WebhookDelivery).where(WebhookDelivery.webhook_id == webhook_id)
    if before is not None:
        query = query.where(WebhookDelivery.id < before)
    async with ctx.db.read() as session:
        owner = await session.scalar(select(Webhook.user_id).where(Webhook.id == webhook_id))
        if owner != user.id:
            raise NotFound("No such webhook.")
        rows = list(
            await session.scalars(query.order_by(WebhookDelivery.id.desc()).limit(limit + 1))
        )
    page = rows[:limit]
    return [DeliveryRead.of(r) for r in page], (page[-1].id if len(rows) > limit else None)


async def enqueue_meeting_webhooks(uow: UnitOfWork, meeting: Meeting, kind: str) -> None:
    """In the change's transaction: a delivery of ``kind`` to each webhook that wants it and
    whose owner takes part in ``meeting``."""
    hooks = [
        hook
        for hook in await uow.session.scalars(
            select(Webhook)
            .join(MeetingParticipant, MeetingParticipant.user_id == Webhook.user_id)
            .where(MeetingParticipant.meeting_id == meeting.id)
            .order_by(Webhook.id)
        )
        if kind in hook.events
    ]
    if not hooks:
        return
    data = (await meeting_read(uow.session, meeting, uow.ctx.base_url)).model_dump(mode="json")
    rows = []
    for hook in hooks:
        event_id = str(uuid.uuid4())
        body = {"id": event_id, "type": kind, "created_at": uow.now.isoformat(), "data": data}
        rows.append(
            WebhookDelivery(
                webhook_id=hook.id,
                event_id=event_id,
                type=kind,
                meeting_id=meeting.id,
                body=json.dumps(body, separators=(",", ":")),
                status="pending",
                attempts=0,
                created_at=uow.now,
            )
        )
    uow.session.add_all(rows)
    await uow.session.flush()
    for row in rows:
        await uow.enqueue(DELIVERY_KIND, delivery_key(row.id), {"delivery": row.id})
