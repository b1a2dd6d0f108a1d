"""Demo data for ``make run``: alice, bob and carol, and a room between alice and bob."""

from __future__ import annotations

import contextlib

from sqlalchemy import select

from parlay.container import Container
from parlay.db.models import Room, RoomMember
from parlay.domain.errors import EmailTaken
from parlay.services import accounts, rooms
from parlay.services.messages import do_post_message
from parlay.settings import Settings

DEMO_PASSWORD = "parlay-demo-password"
PEOPLE = [
    ("alice@example.com", "Alice Adams", "Europe/Berlin"),
    ("bob@example.com", "Bob Brown", "America/New_York"),
    ("carol@example.com", "Carol Chen", "Asia/Tokyo"),
]


async def create_user(
    settings: Settings, email: str, password: str, display_name: str, time_zone: str
) -> None:
    container = Container.build(settings)
    try:
        await accounts.do_signup(
            container.ctx,
            email=email,
            password=password,
            display_name=display_name,
            time_zone=time_zone,
        )
    finally:
        await container.ctx.db.dispose()


async def seed_demo(settings: Settings) -> list[str]:
    """Idempotent: people and the room are created only when missing."""
    container = Container.build(settings)
    ctx = container.ctx
    try:
        for email, name, zone in PEOPLE:
            with contextlib.suppress(EmailTaken):
                await accounts.do_signup(
                    ctx, email=email, password=DEMO_PASSWORD, display_name=name, time_zone=zone
                )
        alice = await accounts.get_user_by_email(ctx, PEOPLE[0][0])
        bob = await accounts.get_user_by_email(ctx, PEOPLE[1][0])
        assert alice is not None and bob is not None
        async with ctx.db.read() as session:
            shared = await session.scalar(
                select(Room.id)
                .join(RoomMember, RoomMember.room_id == Room.id)
                .where(RoomMember.user_id == alice.id, Room.title == "Alice & Bob")
            )
        if shared is None:
            room = await rooms.do_create_room(
                ctx, alice, title="Alice & Bob", member_emails=[bob.email]
            )
            await do_post_message(ctx, bob, room.id, "Hi Alice! When are you free to talk?")
    finally:
        await ctx.db.dispose()
    return [email for email, _, _ in PEOPLE]
