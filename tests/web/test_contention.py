"""A crowd on PostgreSQL: simultaneous bookings, reschedules, idempotent retries and posts give
answers (201 or a clear 409), never a 500, and never leave anyone in two meetings at once.

Each scenario runs many rounds; the requests of a round are released together.  The same tests
run on SQLite, where writers are serialized, as a check of the expected answers.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from parlay.settings import Settings
from tests.conftest import Person, sign_up_and_in

NOW = datetime.fromisoformat("2026-11-30T00:00:00+00:00")
ALL_DAY = {
    d: [{"start": "00:00", "end": "24:00"}]
    for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
}
DURATIONS = (15, 30, 45, 60)
_serial = itertools.count()


@pytest.fixture
def settings(make_settings: Any) -> Settings:
    return make_settings(now=NOW)


async def person(app: Any, name: str) -> Person:
    return await sign_up_and_in(app, name, email=f"{name}-{next(_serial)}@example.com")


async def room_of(owner: Person, *others: Person) -> str:
    r = await owner.client.post(
        "/api/v1/rooms", json={"title": owner.name, "member_emails": [o.email for o in others]}
    )
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def invite(host: Person, room_id: str, duration: int) -> str:
    body = {
        "time_zone": "UTC",
        "weekly": ALL_DAY,
        "duration_minutes": duration,
        "min_notice_minutes": 0,
    }
    r = await host.client.post(f"/api/v1/rooms/{room_id}/invites", json=body)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def book(
    p: Person, invite_id: str, start: datetime, key: str | None = None
) -> httpx.Response:
    headers = {"Idempotency-Key": key} if key else {}
    return await p.client.post(
        f"/api/v1/invites/{invite_id}/book", json={"start": start.isoformat()}, headers=headers
    )


async def meetings_of(p: Person) -> list[dict[str, Any]]:
    r = await p.client.get("/api/v1/meetings", params={"limit": 200})
    assert r.status_code == 200, r.text
    return list(r.json()["meetings"])


def assert_no_overlap(meetings: list[dict[str, Any]]) -> None:
    spans = sorted(
        (datetime.fromisoformat(m["start"]), datetime.fromisoformat(m["end"]), m["id"])
        for m in meetings
        if m["status"] == "scheduled"
    )
    for a, b in itertools.pairwise(spans):
        assert a[1] <= b[0], f"overlapping meetings {a} and {b}"


def codes(responses: list[httpx.Response]) -> Counter[Any]:
    return Counter(
        r.status_code if r.status_code < 400 else (r.status_code, r.json()["error"]["code"])
        for r in responses
    )


async def test_many_rooms_book_one_host_at_once(app: Any) -> None:
    """Eight members, each in a room of their own with the host, book the same instant."""
    host = await person(app, "host")
    members = [await person(app, f"m{i}") for i in range(8)]
    rooms = [await room_of(host, m) for m in members]
    for round_ in range(12):
        start = datetime(2026, 12, 3, tzinfo=NOW.tzinfo) + timedelta(hours=3 * round_)
        invites = [await invite(host, r, DURATIONS[i % 4]) for i, r in enumerate(rooms)]
        responses = await asyncio.gather(
            *(book(m, inv, start) for m, inv in zip(members, invites, strict=True))
        )
        assert codes(list(responses)) == {201: 1, (409, "slot_taken"): 7}, [
            r.text for r in responses
        ]
    assert_no_overlap(await meetings_of(host))
    for m in members:
        await m.client.aclose()
    await host.client.aclose()


async def test_reschedule_races_a_booking(app: Any) -> None:
    host, a, b = await person(app, "host"), await person(app, "a"), await person(app, "b")
    room_a, room_b = await room_of(host, a), await room_of(host, b)
    for round_ in range(10):
        base = datetime(2026, 12, 5, tzinfo=NOW.tzinfo) + timedelta(hours=3 * round_)
        first = await book(a, await invite(host, room_a, 30), base)
        assert first.status_code == 201, first.text
        target = base + timedelta(hours=1)
        other = await invite(host, room_b, 60)
        moved, booked = await asyncio.gather(
            a.client.post(
                f"/api/v1/meetings/{first.json()['id']}/reschedule",
                json={"start": target.isoformat()},
            ),
            book(b, other, target),
        )
        won = [r for r in (moved, booked) if r.status_code in (200, 201)]
        assert len(won) == 1 and {moved.status_code, booked.status_code} & {409}, (
            moved.text,
            booked.text,
        )
        loser = moved if moved.status_code == 409 else booked
        assert loser.json()["error"]["code"] == "slot_taken"
    assert_no_overlap(await meetings_of(host))


async def test_one_idempotency_key_raced_over_two_invites(app: Any) -> None:
    """The same person sends one Idempotency-Key to two invites at once: one booking, and the
    other request replays it (or is told the key is in use)."""
    h1, h2, booker = await person(app, "h1"), await person(app, "h2"), await person(app, "booker")
    r1, r2 = await room_of(h1, booker), await room_of(h2, booker)
    for round_ in range(10):
        start = datetime(2026, 12, 7, tzinfo=NOW.tzinfo) + timedelta(hours=2 * round_)
        i1, i2 = await invite(h1, r1, 30), await invite(h2, r2, 30)
        key = f"confirm-{round_}"
        x, y = await asyncio.gather(
            book(booker, i1, start, key), book(booker, i2, start + timedelta(hours=1), key)
        )
        assert {x.status_code, y.status_code} <= {201, 409}, (x.text, y.text)
        created = [r for r in (x, y) if r.status_code == 201]
        assert created, (x.text, y.text)
        assert len({r.json()["id"] for r in created}) == 1  # a replay, never a second booking
        for r in (x, y):
            if r.status_code == 409:
                assert r.json()["error"]["code"] == "idempotency_key_in_use"
    mine = await meetings_of(booker)
    assert len(mine) == 10
    assert_no_overlap(mine)


async def test_booker_cannot_be_in_two_meetings_whatever_the_order(app: Any) -> None:
    alice, bob, carol = (
        await person(app, "alice"),
        await person(app, "bob"),
        await person(app, "carol"),
    )
    ab, ac = await room_of(alice, bob), await room_of(carol, alice)
    nine = datetime(2026, 12, 2, 9, tzinfo=NOW.tzinfo)
    # Bob books Alice at 09:00, then Alice tries to book Carol at 09:00.
    assert (await book(bob, await invite(alice, ab, 30), nine)).status_code == 201
    r = await book(alice, await invite(carol, ac, 30), nine)
    assert r.status_code == 409 and r.json()["error"]["code"] == "booker_busy", r.text
    # Alice's own slots on Carol's invite mark that time as hers busy (viewer_busy).
    inv = await invite(carol, ac, 30)
    slots = (
        await alice.client.get(
            f"/api/v1/invites/{inv}/slots", params={"date": "2026-12-02", "tz": "UTC"}
        )
    ).json()["slots"]
    busy = [datetime.fromisoformat(s["start"]) for s in slots if s["viewer_busy"]]
    assert busy == [nine], slots
    assert len(slots) == 48  # busy times are marked, not hidden
    # The reverse order on another day: Alice books Carol, then Bob books Alice at that time.
    ten = nine + timedelta(days=1)
    assert (await book(alice, inv, ten)).status_code == 201
    r = await book(bob, await invite(alice, ab, 30), ten)
    assert r.status_code == 409 and r.json()["error"]["code"] == "slot_taken", r.text
    # At the same moment, both orders at once: exactly one wins, nobody overlaps.
    for round_ in range(8):
        when = nine + timedelta(days=2, hours=round_)
        x, y = await asyncio.gather(
            book(bob, await invite(alice, ab, 30), when),
            book(alice, await invite(carol, ac, 30), when),
        )
        assert sorted([x.status_code, y.status_code]) == [201, 409], (x.text, y.text)
    assert_no_overlap(await meetings_of(alice))


async def test_room_activity_never_goes_back(app: Any) -> None:
    """Simultaneous posts across many rooms: each room's place in the list follows its newest
    message."""
    a, b = await person(app, "a"), await person(app, "b")
    rooms = [await room_of(a, b) for _ in range(20)]
    posts = [
        (a if i % 2 else b).client.post(
            f"/api/v1/rooms/{rooms[i % 20]}/messages", json={"body": f"m{i}"}
        )
        for i in range(120)
    ]
    assert codes(list(await asyncio.gather(*posts))) == {201: 120}
    listed = (await a.client.get("/api/v1/rooms", params={"limit": 200})).json()["rooms"]
    newest = {}
    for room_id in rooms:
        page = (await a.client.get(f"/api/v1/rooms/{room_id}/messages", params={"limit": 1})).json()
        newest[room_id] = page["messages"][-1]["id"]
    order = [r["id"] for r in listed if r["id"] in newest]
    assert order == sorted(newest, key=lambda r: newest[r], reverse=True)
