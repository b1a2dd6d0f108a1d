"""Request bodies of webhooks and Web Push subscriptions."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from parlay.web.schemas.common import Body

EventType = Literal["meeting.scheduled", "meeting.rescheduled", "meeting.cancelled"]


class WebhookIn(Body):
    url: Annotated[str, Field(min_length=1, max_length=2000)]
    events: Annotated[list[EventType], Field(min_length=1, max_length=3)]


class PushKeysIn(Body):
    #: The browser's P-256 public key (uncompressed point, base64url) and auth secret.
    p256dh: Annotated[str, Field(min_length=80, max_length=100, pattern=r"^[A-Za-z0-9_-]+=*$")]
    auth: Annotated[str, Field(min_length=16, max_length=40, pattern=r"^[A-Za-z0-9_-]+=*$")]


class PushSubscriptionIn(Body):
    """``PushSubscription.toJSON()``: ``expirationTime`` is accepted and ignored."""

    endpoint: Annotated[str, Field(min_length=1, max_length=2000)]
    keys: PushKeysIn
    expirationTime: int | float | None = None  # noqa: N815 (the browser's spelling)
