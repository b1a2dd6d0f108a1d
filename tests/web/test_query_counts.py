"""Room history and the meeting list cost a fixed number of SQL statements, whatever the page
size (both backends): a page of 50 scheduling messages must not run ten times the queries of a
page of 5, or a busy room loads slower with every meeting booked in it.

Statements are counted on the app's own engines (every statement SQLAlchemy sends), so the
test sees what the server does for one request, not what the client sees.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import event

from parlay.settings import Settings
from tests.conftest import Person

NOW = datetime.fromisoformat("2026-11-30T08:00:00+00:00")
MORNINGS = {d: [{"start": "09:00", "end": "12:00"}] for d in ("mon", "tue", "wed", "thu", "fri")}
#: Nine bookable starts (30-minute slots inside Berlin mornings, UTC).
STARTS = [f"2026-12-0{day}T{hour:02d}:00:00Z" for day in (1, 2, 3) for hour in (8, 9, 10)]


@pytest.fixture
def settings(make_settings: Any) -> Settings:
    return make_settings(now=NOW)


@contextmanager
def counting(app: Any) -> Iterator[list[str]]:
    """The SQL statements the app sends while the block runs."""
    db = app.state.ctx.db
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    engines = {id(e): e for e in (db.write_engine, db.read_engine)}.values()
    for engine in engines:
        event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        for engine in engines:
            event.remove(engine.sync_engine, "before_cursor_execute", count)


async def _share(alice: Person, room_id: str) -> dict[str, Any]:
    r = await alice.client.post(
        f"/api/v1/rooms/{room_id}/invites",
        json={"time_zone": "Europe/Berlin", "weekly": MORNINGS, "duration_minutes": 30},
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


async def _busy_room(room_id: str, alice: Person, bob: Person) -> list[dict[str, Any]]:
    """Nine booked meetings (one moved, one cancelled), an open invite and chat, so that the
    newest five messages already show every kind: invite, notices, text."""
    meetings = []
    for start in STARTS:
        invite = await _share(alice, room_id)
        r = await bob.client.post(f"/api/v1/invites/{invite['id']}/book", json={"start": start})
        assert r.status_code == 201, r.text
        meetings.append(r.json())
        r = await bob.client.post(f"/api/v1/rooms/{room_id}/messages", json={"body": "booked"})
        assert r.status_code == 201
    await _share(alice, room_id)
    moved = await bob.client.post(
        f"/api/v1/meetings/{meetings[0]['id']}/reschedule",
        json={"start": "2026-12-04T08:00:00Z", "reason": "Train"},
    )
    assert moved.status_code == 200, moved.text
    cancelled = await alice.client.post(f"/api/v1/meetings/{meetings[1]['id']}/cancel", json={})
    assert cancelled.status_code == 200, cancelled.text
    for body in ("see you", "then"):
        r = await bob.client.post(f"/api/v1/rooms/{room_id}/messages", json={"body": body})
        assert r.status_code == 201
    return meetings


async def test_history_pages_of_5_and_50_cost_the_same_statements(
    app: Any, room: dict[str, Any], alice: Person, bob: Person
) -> None:
    await _busy_room(room["id"], alice, bob)
    url = f"/api/v1/rooms/{room['id']}/messages"
    counts, pages = [], []
    for limit in (5, 50):
        with counting(app) as seen:
            r = await alice.client.get(url, params={"limit": limit})
        assert r.status_code == 200
        pages.append(r.json()["messages"])
        counts.append(len(seen))
    small, large = pages
    assert len(small) == 5 and len(large) > 25
    assert {m["kind"] for m in small} >= {"meeting_invite", "meeting_update", "text"}
    assert {m["kind"] for m in large} >= {"meeting_invite", "meeting", "meeting_update", "text"}
    assert counts[0] == counts[1], counts
    # The batch read shows the same truth a message-by-message read did: the moved meeting's
    # booking notice embeds its new time and its history; the invite its meeting.
    booked = [m for m in large if m["kind"] == "meeting"]
    first = next(m for m in booked if m["meeting"]["history"][-1]["action"] == "rescheduled")
    assert first["meeting"]["start"] == "2026-12-04T08:00:00Z"
    assert first["meeting"]["history"][-1]["by"]["id"] == bob.id
    invites = [m for m in large if m["kind"] == "meeting_invite"]
    assert sum(1 for m in invites if m["meeting_invite"]["meeting"] is not None) == len(STARTS)
    assert all(m["sender"]["id"] in {alice.id, bob.id} for m in large if m["kind"] == "text")


async def test_meeting_list_pages_of_5_and_50_cost_the_same_statements(
    app: Any, room: dict[str, Any], alice: Person, bob: Person
) -> None:
    await _busy_room(room["id"], alice, bob)
    counts, pages = [], []
    for limit in (5, 50):
        with counting(app) as seen:
            r = await bob.client.get("/api/v1/meetings", params={"limit": limit})
        assert r.status_code == 200
        pages.append(r.json()["meetings"])
        counts.append(len(seen))
    assert len(pages[0]) == 5 and len(pages[1]) == len(STARTS)
    assert counts[0] == counts[1], counts
    assert sum(1 for m in pages[1] if m["status"] == "cancelled") == 1
    assert all({p["id"] for p in m["participants"]} == {alice.id, bob.id} for m in pages[1])
