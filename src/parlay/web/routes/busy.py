"""``GET /api/v1/me/busy``: the caller's busy times and their sources (API.md "Calendars")."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from parlay.services.busy_overview import list_busy
from parlay.web.deps import CtxDep, UserDep
from parlay.web.schemas.busy import BusyList, BusyRead
from parlay.web.schemas.scheduling import Instant

router = APIRouter(prefix="/api/v1", tags=["calendars"])


@router.get("/me/busy", response_model=BusyList)
async def my_busy(
    ctx: CtxDep,
    user: UserDep,
    start: Annotated[Instant, Query(alias="from")],
    end: Annotated[Instant, Query(alias="to")],
) -> BusyList:
    found = await list_busy(ctx, user.id, start, end)
    return BusyList(busy=[BusyRead.of(b) for b in found])
