"""Both people see booking, rescheduling and cancelling live over their sockets."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from parlay.settings import Settings
from tests.conftest import Person
from tests.web.test_live import connect, next_of_type, token_of
from tests.web.test_scheduling import NOW, share


@pytest.fixture
def settings(make_settings: Any) -> Settings:
    return make_settings(now=NOW)


async def test_meeting_life_arrives_live(
    server: str, room: dict[str, Any], alice: Person, bob: Person
) -> None:
    alice_ws, _ = await connect(server, await token_of(alice))
    bob_ws, _ = await connect(server, await token_of(bob))
    invite = await share(alice, room["id"])
    for ws in (alice_ws, bob_ws):
        created = await next_of_type(ws, "message.created")
        assert created["data"]["kind"] == "meeting_invite"
        assert created["data"]["meeting_invite"]["id"] == invite["id"]

    booked = await bob.client.post(
        f"/api/v1/invites/{invite['id']}/book", json={"start": "2026-12-01T08:00:00Z"}
    )
    meeting_id = booked.json()["id"]
    for ws in (alice_ws, bob_ws):
        # One transaction, three events, in order: the meeting message, the invite message
        # updated in place, the meeting itself.
        frames = [json.loads(await asyncio.wait_for(ws.recv(), 5)) for _ in range(3)]
        assert [f["type"] for f in frames] == [
            "message.created",
            "message.updated",
            "meeting.scheduled",
        ]
        assert frames[0]["data"]["meeting"]["id"] == meeting_id
        assert frames[1]["data"]["meeting_invite"]["status"] == "booked"
        assert frames[2]["data"]["id"] == meeting_id

    await bob.client.post(
        f"/api/v1/meetings/{meeting_id}/reschedule",
        json={"start": "2026-12-01T08:45:00Z", "reason": "later please"},
    )
    moved = await next_of_type(alice_ws, "meeting.rescheduled")
    assert moved["data"]["start"] == "2026-12-01T08:45:00Z"

    await alice.client.post(f"/api/v1/meetings/{meeting_id}/cancel", json={"reason": "sick"})
    cancelled = await next_of_type(bob_ws, "meeting.cancelled")
    assert cancelled["data"]["status"] == "cancelled"
    assert cancelled["data"]["history"][-1]["reason"] == "sick"
    await alice_ws.close()
    await bob_ws.close()
