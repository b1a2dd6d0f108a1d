"""Reminders (API.md "Notifications"), both backends: ``reminder_minutes`` before the start, by
the pinned clock (``POST /api/v1/test/clock``), an in-app notification and an e-mail to each
participant with reminders on, exactly once per person and start time, even when scans run at
once; rescheduling moves them, cancelling drops them."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import select

from parlay.db.scheduling_models import OutboxJob
from parlay.services.reminder_scans import SCAN_KIND
from parlay.services.reminders import do_send_due_reminders
from parlay.settings import Settings
from tests.conftest import Person
from tests.web.test_notification_mail import (
    Catcher,
    drain,
    invitation,
    smtp,  # noqa: F401  (fixture)
    smtp_port,  # noqa: F401  (fixture)
    text_of,
)
from tests.web.test_scheduling import NOW, book, share

START = "2026-12-01T08:00:00Z"  # a Tuesday, 09:00 in Berlin


@pytest.fixture
def settings(make_settings: Any, smtp_port: int) -> Settings:  # noqa: F811
    return make_settings(
        now=NOW, base_url="https://parlay.example", smtp_host="127.0.0.1", smtp_port=smtp_port
    )


async def clock(person: Person, now: str) -> None:
    r = await person.client.post("/api/v1/test/clock", json={"now": now})
    assert r.status_code == 204, r.text


async def reminders_of(person: Person) -> list[dict[str, Any]]:
    r = await person.client.get("/api/v1/notifications", params={"limit": 100})
    assert r.status_code == 200, r.text
    return [n for n in r.json()["notifications"] if n["kind"] == "meeting.reminder"]


async def prefs(person: Person, **values: Any) -> None:
    r = await person.client.patch("/api/v1/me/preferences", json=values)
    assert r.status_code == 200, r.text


def reminder_mail(catcher: Catcher, person: Person) -> list[Any]:
    return [m for m in catcher.to(person.email) if "Reminder" in str(m["Subject"])]


async def test_reminder_fires_once_at_each_persons_time(
    app: Any,
    room: dict[str, Any],
    alice: Person,
    bob: Person,
    carol: Person,
    smtp: Catcher,  # noqa: F811
) -> None:
    r = await alice.client.post(f"/api/v1/rooms/{room['id']}/members", json={"email": carol.email})
    assert r.status_code < 300, r.text
    await prefs(bob, reminder_minutes=30)
    await prefs(carol, reminders=False)
    meeting = await book(bob, await share(alice, room["id"], duration=30), START)
    await drain(app)  # the booking's own e-mails
    booked = len(smtp.messages)

    await clock(alice, "2026-12-01T07:29:59Z")
    assert [await reminders_of(p) for p in (alice, bob, carol)] == [[], [], []]

    await clock(alice, "2026-12-01T07:30:00Z")  # Bob's 30 minutes
    (note,) = await reminders_of(bob)
    assert note["meeting_id"] == meeting["id"] and note["room_id"] == room["id"]
    assert "30 minutes" in note["body"] and "03:00 (America/New_York)" in note["body"]
    assert await reminders_of(alice) == []

    await clock(alice, "2026-12-01T07:50:00Z")  # Alice's default 10
    (note,) = await reminders_of(alice)
    assert "10 minutes" in note["body"] and "09:00 (Europe/Berlin)" in note["body"]
    assert len(await reminders_of(bob)) == 1
    await drain(app)
    for person in (alice, bob):
        (message,) = reminder_mail(smtp, person)
        assert invitation(message) is None  # the event was sent already
        assert meeting["join_url"] in text_of(message)[0]

    await clock(alice, "2026-12-01T07:59:00Z")  # moved again: nothing more
    await drain(app)
    assert [len(await reminders_of(p)) for p in (alice, bob, carol)] == [1, 1, 0]
    assert len(smtp.messages) == booked + 2


async def test_rescheduling_moves_the_reminder_and_cancelling_drops_it(
    app: Any,
    room: dict[str, Any],
    alice: Person,
    bob: Person,
    smtp: Catcher,  # noqa: F811
) -> None:
    moved = await book(bob, await share(alice, room["id"], duration=30), START)
    dropped = await book(bob, await share(alice, room["id"], duration=30), "2026-12-01T10:00:00Z")
    await clock(alice, "2026-12-01T07:50:00Z")
    assert len(await reminders_of(alice)) == 1  # the 08:00 meeting's
    await drain(app)

    r = await bob.client.post(
        f"/api/v1/meetings/{moved['id']}/reschedule", json={"start": "2026-12-01T09:00:00Z"}
    )
    assert r.status_code == 200, r.text
    r = await bob.client.post(f"/api/v1/meetings/{dropped['id']}/cancel", json={})
    assert r.status_code == 200, r.text

    await clock(alice, "2026-12-01T08:49:59Z")
    assert len(await reminders_of(alice)) == 1
    await clock(alice, "2026-12-01T08:50:00Z")  # the new start's reminder
    notes = await reminders_of(alice)
    assert len(notes) == 2 and {n["meeting_id"] for n in notes} == {moved["id"]}
    assert "10:00 (Europe/Berlin)" in notes[0]["body"]
    await clock(alice, "2026-12-01T09:55:00Z")  # the cancelled meeting's time: nothing
    assert len(await reminders_of(alice)) == 2
    await drain(app)
    assert len(reminder_mail(smtp, alice)) == 2 and len(reminder_mail(smtp, bob)) == 2


async def test_scans_at_once_send_each_reminder_once(
    app: Any,
    room: dict[str, Any],
    alice: Person,
    bob: Person,
    smtp: Catcher,  # noqa: F811
) -> None:
    """Several scans of one instant (workers on PostgreSQL, each in its own transaction)."""
    await book(bob, await share(alice, room["id"], duration=30), START)
    await drain(app)
    booked = len(smtp.messages)
    ctx = app.state.ctx
    ctx.clock = lambda: NOW.replace(day=1, month=12, hour=7, minute=51)
    results = await asyncio.gather(*(do_send_due_reminders(ctx) for _ in range(4)))
    assert sum(sent for sent, _ in results) == 2
    await drain(app)
    assert len(await reminders_of(alice)) == 1 and len(await reminders_of(bob)) == 1
    assert len(smtp.messages) == booked + 2


async def test_the_outbox_scan_fires_due_reminders_and_keeps_scanning(
    app: Any,
    room: dict[str, Any],
    alice: Person,
    bob: Person,
    smtp: Catcher,  # noqa: F811
) -> None:
    """Without the test clock's nudge: the booking queued a scan; the worker runs it by the
    (pinned) user clock, and it queues the next while the meeting lies ahead."""
    await book(bob, await share(alice, room["id"], duration=30), START)
    app.state.ctx.clock = lambda: NOW.replace(day=1, month=12, hour=7, minute=51)
    await drain(app)
    assert len(await reminders_of(alice)) == 1 and len(await reminders_of(bob)) == 1
    assert len(reminder_mail(smtp, alice)) == 1
    async with app.state.ctx.db.read() as session:
        scans = list(
            await session.scalars(
                select(OutboxJob).where(OutboxJob.kind == SCAN_KIND, OutboxJob.status == "pending")
            )
        )
    assert len(scans) == 1
