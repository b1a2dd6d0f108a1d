"""Webhooks: register (the secret shown once), list, delete, and each one's delivery log."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response

from parlay.services import webhooks
from parlay.services.secrets import SecretBox
from parlay.settings import Settings
from parlay.web.deps import CtxDep, UserDep
from parlay.web.pagination import CursorParam, Limit, decode_cursor, encode_cursor
from parlay.web.schemas.webhooks import WebhookIn

router = APIRouter(prefix="/api/v1", tags=["webhooks"])


async def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(_settings)]


@router.post("/webhooks", status_code=201)
async def create_webhook(
    body: WebhookIn, ctx: CtxDep, user: UserDep, settings: SettingsDep
) -> dict[str, Any]:
    hook, secret = await webhooks.do_create_webhook(
        ctx,
        user,
        body.url,
        list(body.events),
        SecretBox(settings.resolved_secret_key()),
        allow_private=settings.env != "production",
    )
    return {**hook.model_dump(mode="json"), "secret": secret}


@router.get("/webhooks")
async def list_webhooks(
    ctx: CtxDep, user: UserDep, cursor: CursorParam = None, limit: Limit = 50
) -> dict[str, Any]:
    page, after = await webhooks.list_webhooks(
        ctx, user, after=decode_cursor(cursor, str), limit=limit
    )
    return {
        "webhooks": [h.model_dump(mode="json") for h in page],
        "next_cursor": encode_cursor(after),
    }


@router.delete("/webhooks/{webhook_id}", status_code=204)
async def delete_webhook(webhook_id: str, ctx: CtxDep, user: UserDep) -> Response:
    await webhooks.do_delete_webhook(ctx, user, webhook_id)
    return Response(status_code=204)


@router.get("/webhooks/{webhook_id}/deliveries")
async def list_deliveries(
    webhook_id: str, ctx: CtxDep, user: UserDep, cursor: CursorParam = None, limit: Limit = 50
) -> dict[str, Any]:
    page, before = await webhooks.list_deliveries(
        ctx, user, webhook_id, before=decode_cursor(cursor, int), limit=limit
    )
    return {
        "deliveries": [d.model_dump(mode="json") for d in page],
        "next_cursor": encode_cursor(before),
    }
