"""ORM models of webhooks (a user's endpoint and the events it wants, with a delivery log) and
Web Push subscriptions (one row per browser, unique by its push endpoint).

A ``WebhookDelivery`` is one event for one webhook: its body is built once, in the transaction of
the meeting change, so every retry sends the same bytes (and the same ``Parlay-Event-Id``);
``status`` and ``attempts`` are what ``GET /api/v1/webhooks/{id}/deliveries`` shows.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

import parlay.db.models  # noqa: F401  (the tables referenced below)
from parlay.db.base import ID, Base, UTCDateTime, new_id
from parlay.db.models import BigInt


class Webhook(Base):
    __tablename__ = "webhooks"
    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    url: Mapped[str] = mapped_column(String(2000))
    #: The event types wanted (meeting.scheduled | meeting.rescheduled | meeting.cancelled).
    events: Mapped[list[str]] = mapped_column(JSON)
    #: The signing secret, encrypted with the secret box (shown in clear once, at creation).
    secret: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_webhooks_user_id_id", "user_id", "id"),)


class WebhookDelivery(Base):
    __tablename__ = "webhook_deliveries"
    id: Mapped[int] = mapped_column(BigInt, primary_key=True, autoincrement=True)
    webhook_id: Mapped[str] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"))
    #: The ``Parlay-Event-Id`` (and the body's ``id``): receivers deduplicate by it.
    event_id: Mapped[str] = mapped_column(String(36))
    type: Mapped[str] = mapped_column(String(40))
    meeting_id: Mapped[str] = mapped_column(ID)
    body: Mapped[str] = mapped_column(Text)
    #: pending (not yet delivered, retrying) | delivered | dead (gave up)
    status: Mapped[str] = mapped_column(String(12), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_error: Mapped[str | None] = mapped_column(String(500), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    __table_args__ = (Index("ix_webhook_deliveries_webhook_id_id", "webhook_id", "id"),)


class PushSubscription(Base):
    """A browser's ``PushSubscription``: the push service's endpoint and the keys (RFC 8291)
    its payloads are encrypted to.  The endpoint names the browser, so it is unique: the same
    browser subscribing again (for whoever is signed in there now) updates the row."""

    __tablename__ = "push_subscriptions"
    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    endpoint: Mapped[str] = mapped_column(String(2000), unique=True)
    p256dh: Mapped[str] = mapped_column(String(200))
    auth: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
