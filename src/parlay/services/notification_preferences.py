"""Each user's notification preferences: e-mail and reminders on or off, and how many minutes
before a meeting its reminder comes.  No stored row means the defaults, so nobody has to save
anything to be told of their meetings."""

from __future__ import annotations

from pydantic import BaseModel
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from parlay.db.models import User
from parlay.db.notification_models import NotificationPreference
from parlay.services.context import Context
from parlay.services.uow import retrying, unit_of_work


class PreferencesRead(BaseModel):
    email: bool = True
    reminders: bool = True
    reminder_minutes: int = 10


DEFAULTS = PreferencesRead()


async def preferences_of(session: AsyncSession, user_id: str) -> PreferencesRead:
    row = await session.get(NotificationPreference, user_id)
    if row is None:
        return DEFAULTS
    return PreferencesRead(
        email=row.email, reminders=row.reminders, reminder_minutes=row.reminder_minutes
    )


async def get_preferences(ctx: Context, user: User) -> PreferencesRead:
    async with ctx.db.read() as session:
        return await preferences_of(session, user.id)


@retrying
async def do_update_preferences(
    ctx: Context,
    user: User,
    *,
    email: bool | None = None,
    reminders: bool | None = None,
    reminder_minutes: int | None = None,
) -> PreferencesRead:
    """Change the given preferences (input already valid), keep the others."""
    async with unit_of_work(ctx) as uow:
        session = uow.session
        # The first save creates the row; two first saves at once must not collide.
        insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
        await session.execute(
            insert(NotificationPreference)
            .values(user_id=user.id, **DEFAULTS.model_dump(), updated_at=uow.now)
            .on_conflict_do_nothing(index_elements=["user_id"])
        )
        row = await session.get(
            NotificationPreference, user.id, with_for_update=True, populate_existing=True
        )
        assert row is not None
        if email is not None:
            row.email = email
        if reminders is not None:
            row.reminders = reminders
        if reminder_minutes is not None:
            row.reminder_minutes = reminder_minutes
        row.updated_at = uow.now
        await session.flush()
        return PreferencesRead(
            email=row.email, reminders=row.reminders, reminder_minutes=row.reminder_minutes
        )
