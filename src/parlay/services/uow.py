"""The unit of work: one write transaction, its live events, and their announcement after
commit (never before: a client must not hear of a change it cannot yet read)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from parlay.services.context import Context
from parlay.services.events import append_event


class UnitOfWork:
    def __init__(self, session: AsyncSession, ctx: Context) -> None:
        self.session = session
        self.ctx = ctx
        self.now = ctx.now()
        self.events = 0

    async def emit(self, type: str, data: dict[str, Any], recipients: set[str]) -> None:
        await append_event(
            self.session,
            type=type,
            data=data,
            recipients=recipients,
            now=self.now,
            locked=self.events > 0,
        )
        self.events += 1


@asynccontextmanager
async def unit_of_work(ctx: Context) -> AsyncIterator[UnitOfWork]:
    async with ctx.db.write() as session:
        uow = UnitOfWork(session, ctx)
        yield uow
    if uow.events:
        await ctx.broker.notify()
