"""Shared pieces of the outbox tests: a settable transport clock, enqueue through the unit of
work, and reading jobs back."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from parlay.db.scheduling_models import OutboxJob
from parlay.db.session import Database
from parlay.services.context import Context
from parlay.services.uow import unit_of_work


class FakeClock:
    """Transport time under the test's control; starts a minute ahead of the real clock, so
    jobs enqueued (on the real clock) during the test are already due."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC) + timedelta(minutes=1)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


async def enqueue(
    ctx: Context, kind: str, key: str, payload: dict[str, Any], delay: float = 0.0
) -> None:
    async with unit_of_work(ctx) as uow:
        await uow.enqueue(kind, key, payload, delay=delay)


async def jobs(db: Database, key: str | None = None) -> list[OutboxJob]:
    async with db.read() as session:
        query = select(OutboxJob).order_by(OutboxJob.id)
        if key is not None:
            query = query.where(OutboxJob.dedupe_key == key)
        return list((await session.scalars(query)).all())


async def job(db: Database, key: str) -> OutboxJob:
    (row,) = await jobs(db, key)
    return row


async def eventually(condition: Callable[[], Awaitable[bool]], seconds: float = 30.0) -> None:
    """Wait until ``condition()`` holds (polling); fail after ``seconds``."""
    for _ in range(int(seconds / 0.02)):
        if await condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition never held")
