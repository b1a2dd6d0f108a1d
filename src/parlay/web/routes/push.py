"""Web Push: the VAPID public key, this browser's subscription, and the service worker."""

from __future__ import annotations

from importlib.resources import files
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from parlay.services import push
from parlay.services.push_keys import VapidKeys, vapid_keys
from parlay.settings import Settings
from parlay.web.deps import CtxDep, UserDep
from parlay.web.schemas.webhooks import PushSubscriptionIn

router = APIRouter(tags=["push"])


def keys_of(settings: Settings) -> VapidKeys:
    configured = settings.vapid_private_key
    return vapid_keys(
        settings.data_dir,
        configured.get_secret_value() if configured else None,
        settings.vapid_subject,
        settings.base_url.rstrip("/"),
        settings.mail_from,
    )


async def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(_settings)]


@router.get("/api/v1/push/key")
async def push_key(_user: UserDep, settings: SettingsDep) -> dict[str, str]:
    return {"public_key": keys_of(settings).public_key}


@router.post("/api/v1/me/push-subscriptions", status_code=201)
async def subscribe(
    body: PushSubscriptionIn, ctx: CtxDep, user: UserDep, settings: SettingsDep
) -> dict[str, str]:
    subscription_id = await push.do_subscribe(
        ctx,
        user,
        body.endpoint,
        body.keys.p256dh,
        body.keys.auth,
        production=settings.env == "production",
    )
    return {"id": subscription_id}


@router.delete("/api/v1/me/push-subscriptions/{subscription_id}", status_code=204)
async def unsubscribe(subscription_id: str, ctx: CtxDep, user: UserDep) -> Response:
    await push.do_unsubscribe(ctx, user, subscription_id)
    return Response(status_code=204)


@router.get("/sw.js", include_in_schema=False)
async def service_worker() -> Response:
    """Served from the root so its scope is the whole app (a worker under /static/ could only
    control /static/)."""
    script = files("parlay.web").joinpath("static/sw.js").read_bytes()
    return Response(
        script,
        media_type="text/javascript",
        headers={"Cache-Control": "no-cache", "Service-Worker-Allowed": "/"},
    )
