"""Web Push (API.md "Notifications"): the browsers' subscriptions, and one push per in-app
notification to each of its recipient's subscriptions, through the outbox.

``enqueue_push`` runs in the transaction that creates notifications (``add_notifications``):
one ``push.notification`` job per notification and subscription, keyed by both, so a push
exists exactly when its notification committed and is never sent twice.  Sending (RFC 8291
encryption, VAPID, what a push service's answer means) is ``parlay.services.push_delivery``.

A subscription is the browser's: the same endpoint subscribing again (for whoever is signed in
there now) updates the row and keeps its id.  A user keeps at most ``MAX_PER_USER`` devices;
subscribing one more forgets the least recently renewed.
"""

from __future__ import annotations

import binascii
from collections.abc import Sequence

from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from parlay.db.base import new_id
from parlay.db.models import User
from parlay.db.notification_models import Notification
from parlay.db.webhook_models import PushSubscription
from parlay.domain.errors import InvalidInput, NotFound
from parlay.services.context import Context
from parlay.services.delivery_targets import check_push_endpoint
from parlay.services.push_keys import b64url_decode
from parlay.services.uow import UnitOfWork, retrying, unit_of_work

PUSH_KIND = "push.notification"
MAX_PER_USER = 20


def push_key(notification_id: int, subscription_id: str) -> str:
    return f"push:{notification_id}:{subscription_id}"


def _check_keys(p256dh: str, auth: str) -> None:
    """The browser's keys as RFC 8291 needs them: a P-256 point and a 16-byte secret."""
    try:
        point = b64url_decode(p256dh)
        secret = b64url_decode(auth)
    except (binascii.Error, ValueError):
        raise InvalidInput("The keys must be base64url.", field="keys") from None
    try:
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    except ValueError:
        raise InvalidInput("keys.p256dh is not a P-256 public key.", field="keys.p256dh") from None
    if len(secret) != 16:
        raise InvalidInput("keys.auth must be 16 bytes.", field="keys.auth")


@retrying
async def do_subscribe(
    ctx: Context, user: User, endpoint: str, p256dh: str, auth: str, *, production: bool
) -> str:
    """Store (or update) this browser's subscription for ``user``; its id."""
    await check_push_endpoint(endpoint, production=production)
    _check_keys(p256dh, auth)
    async with unit_of_work(ctx) as uow:
        session = uow.session
        insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
        statement = insert(PushSubscription).values(
            id=new_id(),
            user_id=user.id,
            endpoint=endpoint,
            p256dh=p256dh,
            auth=auth,
            created_at=uow.now,
            updated_at=uow.now,
        )
        upsert = statement.on_conflict_do_update(
            index_elements=["endpoint"],
            set_={
                "user_id": statement.excluded.user_id,
                "p256dh": statement.excluded.p256dh,
                "auth": statement.excluded.auth,
                "updated_at": statement.excluded.updated_at,
            },
        ).returning(PushSubscription.id)
        subscription_id = str(await session.scalar(upsert))
        stale = list(
            await session.scalars(
                select(PushSubscription.id)
                .where(PushSubscription.user_id == user.id)
                .order_by(PushSubscription.updated_at.desc(), PushSubscription.id)
                .offset(MAX_PER_USER)
            )
        )
        if stale:
            await session.execute(delete(PushSubscription).where(PushSubscription.id.in_(stale)))
        return subscription_id


@retrying
async def do_unsubscribe(ctx: Context, user: User, subscription_id: str) -> None:
    async with unit_of_work(ctx) as uow:
        result = await uow.session.execute(
            delete(PushSubscription)
            .where(PushSubscription.id == subscription_id, PushSubscription.user_id == user.id)
            .execution_options(synchronize_session=False)
        )
        if not getattr(result, "rowcount", 0):
            raise NotFound("No such push subscription.")


async def enqueue_push(uow: UnitOfWork, created: Sequence[Notification]) -> None:
    """In the notifications' transaction: a push of each to its recipient's devices."""
    users = {n.user_id for n in created}
    if not users:
        return
    devices: dict[str, list[str]] = {}
    for user_id, subscription_id in await uow.session.execute(
        select(PushSubscription.user_id, PushSubscription.id).where(
            PushSubscription.user_id.in_(users)
        )
    ):
        devices.setdefault(user_id, []).append(subscription_id)
    for notification in created:
        for subscription_id in devices.get(notification.user_id, []):
            await uow.enqueue(
                PUSH_KIND,
                push_key(notification.id, subscription_id),
                {"notification": notification.id, "subscription": subscription_id},
            )
