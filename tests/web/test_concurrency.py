"""Never double-booked: simultaneous Confirms (both backends, real concurrent transactions)."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import datetime
from typing import Any

import pytest

from parlay.settings import Settings
from tests.conftest import Person
from tests.web.test_scheduling import NOW, share


@pytest.fixture
def settings(make_settings: Any) -> Settings:
    return make_settings(now=NOW)


async def test_fifty_simultaneous_confirms_make_one_meeting(
    room: dict[str, Any], alice: Person, bob: Person, carol: Person
) -> None:
    await alice.client.post(f"/api/v1/rooms/{room['id']}/members", json={"email": carol.email})
    invite = await share(alice, room["id"], duration=30)
    url = f"/api/v1/invites/{invite['id']}/book"
    starts = ["2026-12-01T08:00:00Z", "2026-12-01T08:30:00Z", "2026-12-02T09:00:00Z"]
    requests = [
        (bob if i % 2 else carol).client.post(url, json={"start": starts[i % 3]}) for i in range(50)
    ]
    responses = await asyncio.gather(*requests)
    statuses = Counter(r.status_code for r in responses)
    assert statuses == {201: 1, 409: 49}, statuses
    assert {r.json()["error"]["code"] for r in responses if r.status_code == 409} == {
        "invite_closed"
    }
    meetings = (await alice.client.get("/api/v1/meetings")).json()["meetings"]
    assert len(meetings) == 1
    winner = next(r.json() for r in responses if r.status_code == 201)
    assert meetings[0]["id"] == winner["id"]
    kinds = [
        m["kind"]
        for m in (await alice.client.get(f"/api/v1/rooms/{room['id']}/messages")).json()["messages"]
    ]
    assert kinds.count("meeting") == 1


async def test_same_host_two_rooms_same_instant(
    room: dict[str, Any], other_room: dict[str, Any], alice: Person, bob: Person, carol: Person
) -> None:
    for start in ("2026-12-01T08:00:00Z", "2026-12-02T09:00:00Z", "2026-12-03T10:00:00Z"):
        first = await share(alice, room["id"], duration=30)
        second = await share(alice, other_room["id"], duration=60)
        a, b = await asyncio.gather(
            bob.client.post(f"/api/v1/invites/{first['id']}/book", json={"start": start}),
            carol.client.post(f"/api/v1/invites/{second['id']}/book", json={"start": start}),
        )
        assert sorted([a.status_code, b.status_code]) == [201, 409], (a.text, b.text)
        loser = a if a.status_code == 409 else b
        assert loser.json()["error"]["code"] == "slot_taken"
    meetings = (await alice.client.get("/api/v1/meetings")).json()["meetings"]
    assert len(meetings) == 3
    spans = sorted(
        (datetime.fromisoformat(m["start"]), datetime.fromisoformat(m["end"])) for m in meetings
    )
    assert all(prev[1] <= nxt[0] for prev, nxt in zip(spans, spans[1:], strict=False))
