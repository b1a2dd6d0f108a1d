"""The database itself refuses what must never happen, and migrations run both ways."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.exc import IntegrityError

from parlay.db.base import new_id
from parlay.db.migrate import downgrade, upgrade
from parlay.db.models import Room, User
from parlay.db.scheduling_models import Invite, Meeting
from parlay.db.session import Database
from parlay.settings import to_async_url

T0 = datetime(2026, 12, 1, 9, tzinfo=UTC)


async def _seed(db: Database) -> tuple[str, list[str]]:
    host = User(email="h@x.io", display_name="H", time_zone="UTC", password_hash="x", created_at=T0)
    async with db.write() as session:
        session.add(host)
        await session.flush()
        room = Room(title="r", created_by=host.id, created_at=T0)
        session.add(room)
        await session.flush()
        invites = []
        for _ in range(3):
            invite = Invite(
                room_id=room.id,
                host_id=host.id,
                time_zone="UTC",
                weekly={},
                duration_minutes=30,
                horizon_days=30,
                min_notice_minutes=0,
                status="open",
                created_at=T0,
            )
            session.add(invite)
            await session.flush()
            invites.append(invite.id)
    return host.id, invites


def _meeting(host: str, invite: str, start: datetime, minutes: int = 30) -> Meeting:
    return Meeting(
        invite_id=invite,
        room_id=None,
        host_id=host,
        booked_by=host,
        start=start,
        end=start + timedelta(minutes=minutes),
        status="scheduled",
        sequence=0,
        join_token=new_id(),
        created_at=T0,
    )


async def test_postgres_refuses_overlapping_meetings_of_one_host(
    backend: str, database_url: str
) -> None:
    if backend != "postgres":
        pytest.skip("SQLite relies on serialized writes instead (see test_concurrency)")
    db = Database(to_async_url(database_url))
    try:
        host, invites = await _seed(db)
        async with db.write() as session:
            room_id = (await session.get(Invite, invites[0])).room_id  # type: ignore[union-attr]
        first = _meeting(host, invites[0], T0)
        first.room_id = room_id
        async with db.write() as session:
            session.add(first)
        overlapping = _meeting(host, invites[1], T0 + timedelta(minutes=15))
        overlapping.room_id = room_id
        with pytest.raises(IntegrityError):
            async with db.write() as session:
                session.add(overlapping)
        # Touching is not overlapping, and a cancelled meeting blocks nothing.
        touching = _meeting(host, invites[1], T0 + timedelta(minutes=30))
        touching.room_id = room_id
        async with db.write() as session:
            session.add(touching)
            first_row = await session.get(Meeting, first.id)
            assert first_row is not None
            first_row.status = "cancelled"
        again = _meeting(host, invites[2], T0)
        again.room_id = room_id
        async with db.write() as session:
            session.add(again)
    finally:
        await db.dispose()


def test_migrations_downgrade_and_upgrade_again(tmp_path: pytest.TempPathFactory) -> None:
    path = tmp_path / "m.db"  # type: ignore[operator]
    url = f"sqlite+aiosqlite:///{path}"

    def tables() -> set[str]:
        with sqlite3.connect(path) as db:
            return {r[0] for r in db.execute("select name from sqlite_master where type='table'")}

    upgrade(url)
    assert {"users", "rooms", "messages", "events", "invites", "meetings"} <= tables()
    downgrade(url, "base")
    assert tables() <= {"alembic_version"}
    upgrade(url)
    assert "meetings" in tables()


def test_migrations_build_the_schema_the_models_describe(tmp_path: pytest.TempPathFactory) -> None:
    """No drift: after upgrading, alembic finds nothing to autogenerate (tables, columns,
    indexes such as the booked-by index that busy-time reads need)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlalchemy import create_engine

    from parlay.db.base import Base

    path = tmp_path / "drift.db"  # type: ignore[operator]
    upgrade(f"sqlite+aiosqlite:///{path}")
    engine = create_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as connection:
            diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    finally:
        engine.dispose()
    assert diff == []
