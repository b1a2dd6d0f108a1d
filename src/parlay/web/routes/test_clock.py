"""``POST /api/v1/test/clock``: only with ``PARLAY_ENV=test`` and ``PARLAY_NOW`` set (else 404)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict

from parlay.domain.errors import NotFound
from parlay.services.reminders import do_send_due_reminders
from parlay.services.test_clock import do_move_clock
from parlay.web.deps import CtxDep

router = APIRouter(prefix="/api/v1/test", tags=["test"], include_in_schema=False)


class ClockIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    now: datetime


@router.post("/clock", status_code=204)
async def move_clock(body: ClockIn, request: Request, ctx: CtxDep) -> Response:
    settings = request.app.state.settings
    if settings.env != "test" or settings.now is None:
        raise NotFound()
    do_move_clock(ctx, body.now)
    await do_send_due_reminders(ctx)  # API.md: "due reminders then fire"
    return Response(status_code=204)
