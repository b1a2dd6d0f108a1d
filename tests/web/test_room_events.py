"""Chat messages are addressed to their room (one event row, no row per member): the hub and a
resuming socket still see exactly the room's members as their recipients, in log order, mixed
with the events that list their recipients."""

from __future__ import annotations

from typing import Any

from parlay.services import events
from tests.conftest import Person, sign_up_and_in


async def test_room_events_reach_exactly_the_rooms_members_in_order(
    app: Any, alice: Person, bob: Person
) -> None:
    carol = await sign_up_and_in(app, "carol")
    r = await alice.client.post("/api/v1/rooms", json={"title": "AB", "member_emails": [bob.email]})
    ab = r.json()["id"]
    r = await bob.client.post("/api/v1/rooms", json={"title": "BC", "member_emails": [carol.email]})
    bc = r.json()["id"]
    db = app.state.ctx.db
    start = await events.last_event_id(db)
    for n in range(3):
        for sender, room in ((alice, ab), (carol, bc)):
            r = await sender.client.post(f"/api/v1/rooms/{room}/messages", json={"body": f"m{n}"})
            assert r.status_code == 201, r.text
        # An event that lists its recipients (an invite posted in the room) between them.
        body = {"time_zone": "UTC", "weekly": {"mon": [{"start": "09:00", "end": "10:00"}]}}
        r = await bob.client.post(
            f"/api/v1/rooms/{ab}/invites", json={**body, "duration_minutes": 30}
        )
        assert r.status_code == 201, r.text
    # A room's new member gets its messages from then on.
    r = await bob.client.post(f"/api/v1/rooms/{ab}/members", json={"email": carol.email})
    assert r.status_code == 201, r.text
    r = await alice.client.post(f"/api/v1/rooms/{ab}/messages", json={"body": "welcome"})
    assert r.status_code == 201, r.text

    ids = {alice.id: "alice", bob.id: "bob", carol.id: "carol"}
    seen = []
    for event in await events.fetch_after(db, start):
        if event.type == "message.created" and event.data.get("kind") == "text":
            who = sorted(ids[u] for u in event.recipients if u in ids)
            seen.append((event.data["body"], event.data["room_id"], who))
    assert seen == [
        ("m0", ab, ["alice", "bob"]),
        ("m0", bc, ["bob", "carol"]),
        ("m1", ab, ["alice", "bob"]),
        ("m1", bc, ["bob", "carol"]),
        ("m2", ab, ["alice", "bob"]),
        ("m2", bc, ["bob", "carol"]),
        ("welcome", ab, ["alice", "bob", "carol"]),
    ]

    for person, name in ((alice, "alice"), (bob, "bob"), (carol, "carol")):
        mine = await events.fetch_for_user(db, person.id, start)
        expected = [e.id for e in await events.fetch_after(db, start) if person.id in e.recipients]
        assert [e.id for e in mine] == expected, name
        assert [e.id for e in mine] == sorted(set(e.id for e in mine))
    texts = [
        e.data["body"]
        for e in await events.fetch_for_user(db, alice.id, start)
        if e.data.get("kind") == "text"
    ]
    assert texts == ["m0", "m1", "m2", "welcome"]
    await carol.client.aclose()
