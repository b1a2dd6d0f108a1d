"""Meeting notices carry structured data (``notice``) so each reader renders them in their own
zone; ``body`` stays a plain fallback written in UTC (both backends, clock pinned).

Alice's account is Europe/Berlin and she shares Berlin mornings; Bob's is America/New_York.
Neither zone may leak into the bodies: they are the same for every reader.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import null, update

from parlay.db.models import Message
from parlay.settings import Settings
from tests.conftest import Person
from tests.web.test_live import connect, next_of_type, token_of
from tests.web.test_scheduling import NOW, book, messages_of, share


@pytest.fixture
def settings(make_settings: Any) -> Settings:
    return make_settings(now=NOW)


def notices(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [m for m in history if m["kind"] in ("meeting", "meeting_update")]


async def test_notices_carry_instants_and_bodies_say_utc(
    room: dict[str, Any], alice: Person, bob: Person
) -> None:
    invite = await share(alice, room["id"])
    meeting = await book(bob, invite, "2026-12-01T09:45:00+01:00")  # 08:45 UTC
    url = f"/api/v1/meetings/{meeting['id']}"
    r = await bob.client.post(
        f"{url}/reschedule", json={"start": "2026-12-02T10:30:00+01:00", "reason": "Train"}
    )
    assert r.status_code == 200, r.text
    r = await alice.client.post(f"{url}/cancel", json={"reason": "Ill"})
    assert r.status_code == 200, r.text

    booked, moved, cancelled = notices(await messages_of(alice, room["id"]))
    bob_member = {"id": bob.id, "display_name": "Bob Brown"}
    alice_member = {"id": alice.id, "display_name": "Alice Adams"}

    assert booked["kind"] == "meeting"
    assert booked["notice"] == {
        "action": "booked",
        "actor": bob_member,
        "host": alice_member,
        "start": "2026-12-01T08:45:00Z",
        "end": "2026-12-01T09:30:00Z",
        "from_start": None,
        "to_start": None,
        "reason": None,
    }
    assert (
        booked["body"] == "Bob Brown booked a meeting with Alice Adams: Tue 01 Dec 2026, 08:45 UTC."
    )

    assert moved["kind"] == "meeting_update"
    assert moved["notice"]["action"] == "rescheduled"
    assert moved["notice"]["actor"] == bob_member
    assert moved["notice"]["from_start"] == "2026-12-01T08:45:00Z"
    assert moved["notice"]["to_start"] == moved["notice"]["start"] == "2026-12-02T09:30:00Z"
    assert moved["notice"]["end"] == "2026-12-02T10:15:00Z"
    assert moved["notice"]["reason"] == "Train"
    assert moved["body"] == (
        "Bob Brown moved the meeting from Tue 01 Dec 2026, 08:45 UTC "
        "to Wed 02 Dec 2026, 09:30 UTC. Reason: Train"
    )

    assert cancelled["notice"]["action"] == "cancelled"
    assert cancelled["notice"]["actor"] == alice_member
    assert cancelled["notice"]["start"] == "2026-12-02T09:30:00Z"
    assert cancelled["notice"]["end"] == "2026-12-02T10:15:00Z"
    assert cancelled["notice"]["reason"] == "Ill"
    assert cancelled["body"] == "Alice Adams cancelled the meeting. Reason: Ill"

    for message in (booked, moved, cancelled):
        assert "Europe/" not in message["body"] and "America/" not in message["body"]
    # The same data for every reader: Bob's history is Alice's.
    assert [m["notice"] for m in notices(await messages_of(bob, room["id"]))] == [
        booked["notice"],
        moved["notice"],
        cancelled["notice"],
    ]
    # Other kinds carry no notice.
    others = [
        m for m in await messages_of(alice, room["id"]) if m not in (booked, moved, cancelled)
    ]
    assert others and all(m["notice"] is None for m in others)


async def test_live_notices_carry_the_same_data(
    server: str, room: dict[str, Any], alice: Person, bob: Person
) -> None:
    alice_ws, _ = await connect(server, await token_of(alice))
    try:
        invite = await share(alice, room["id"])
        await next_of_type(alice_ws, "message.created")  # the invite
        meeting = await book(bob, invite, "2026-12-01T08:00:00Z")
        created = await next_of_type(alice_ws, "message.created")
        assert created["data"]["notice"]["action"] == "booked"
        assert created["data"]["notice"]["start"] == "2026-12-01T08:00:00Z"
        await bob.client.post(
            f"/api/v1/meetings/{meeting['id']}/reschedule", json={"start": "2026-12-01T08:45:00Z"}
        )
        created = await next_of_type(alice_ws, "message.created")
        assert created["data"]["notice"]["action"] == "rescheduled"
        assert created["data"]["notice"]["from_start"] == "2026-12-01T08:00:00Z"
        assert created["data"]["notice"]["to_start"] == "2026-12-01T08:45:00Z"
        assert created["data"]["notice"]["reason"] is None
    finally:
        await alice_ws.close()


async def test_notices_written_before_0005_fall_back_to_body(
    app: Any, room: dict[str, Any], alice: Person, bob: Person
) -> None:
    invite = await share(alice, room["id"])
    await book(bob, invite, "2026-12-01T08:00:00Z")
    async with app.state.ctx.db.write() as session:
        await session.execute(update(Message).values(data=null()))
    booked = notices(await messages_of(alice, room["id"]))[0]
    assert booked["notice"] is None
    assert booked["body"].startswith("Bob Brown booked a meeting with Alice Adams")
