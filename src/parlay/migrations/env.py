"""Alembic environment: runs migrations through the same async drivers as the app."""

from __future__ import annotations

import asyncio
from typing import Any

from alembic import context
from sqlalchemy.ext.asyncio import create_async_engine

import parlay.db.calendar_models  # noqa: F401  (registers tables)
import parlay.db.notification_models  # noqa: F401  (registers tables)
import parlay.db.scheduling_models  # noqa: F401  (registers tables)
import parlay.db.webhook_models  # noqa: F401  (registers tables)
from parlay.db.base import Base
from parlay.settings import Settings, to_async_url

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    return to_async_url(url) if url else Settings().resolved_database_url


def _run(connection: Any) -> None:
    if connection.dialect.name == "postgresql":
        # Two nodes starting at once on a fresh database migrate one after the other.
        connection.exec_driver_sql("SELECT pg_advisory_xact_lock(727002)")
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_online() -> None:
    engine = create_async_engine(_url())
    async with engine.begin() as connection:
        await connection.run_sync(_run)
    await engine.dispose()


if context.is_offline_mode():
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(_run_online())
