"""In-app notifications (API.md "Notifications"), both backends: who is told of a booking, a
reschedule and a cancel, in their own zone and with the reason; unread counts overall and per
room; marking read by id, by room and all; the live ``notification.created``; preferences."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest

from parlay.settings import Settings
from tests.conftest import Person
from tests.web.test_live import connect, next_of_type, token_of
from tests.web.test_scheduling import NOW, book, share


@pytest.fixture
def settings(make_settings: Any) -> Settings:
    return make_settings(now=NOW)


async def inbox(person: Person, **params: Any) -> dict[str, Any]:
    r = await person.client.get("/api/v1/notifications", params=params)
    assert r.status_code == 200, r.text
    return dict(r.json())


async def mark(person: Person, body: dict[str, Any]) -> None:
    r = await person.client.post("/api/v1/notifications/read", json=body)
    assert r.status_code == 204, r.text


async def test_every_participant_but_the_actor_is_told_of_each_change(
    room: dict[str, Any], alice: Person, bob: Person, carol: Person
) -> None:
    await alice.client.post(f"/api/v1/rooms/{room['id']}/members", json={"email": carol.email})
    invite = await share(alice, room["id"], duration=30)
    meeting = await book(bob, invite, "2026-12-01T08:00:00Z")

    assert (await inbox(bob))["notifications"] == []  # the actor is not told
    for person in (alice, carol):
        got = await inbox(person)
        assert got["unread_count"] == 1
        (note,) = got["notifications"]
        assert note["kind"] == "meeting.scheduled"
        assert note["meeting_id"] == meeting["id"] and note["room_id"] == room["id"]
        assert note["read_at"] is None
        assert "Bob Brown" in note["title"] + note["body"]
    # Times in each recipient's saved zone: 08:00 UTC is 09:00 in Berlin, 17:00 in Tokyo.
    assert "09:00 (Europe/Berlin)" in (await inbox(alice))["notifications"][0]["body"]
    assert "17:00 (Asia/Tokyo)" in (await inbox(carol))["notifications"][0]["body"]

    r = await carol.client.post(
        f"/api/v1/meetings/{meeting['id']}/reschedule",
        json={"start": "2026-12-01T09:00:00Z", "reason": "train is late"},
    )
    assert r.status_code == 200, r.text
    r = await alice.client.post(
        f"/api/v1/meetings/{meeting['id']}/cancel", json={"reason": "roof on fire"}
    )
    assert r.status_code == 200, r.text

    def kinds(got: dict[str, Any]) -> list[str]:
        return [n["kind"] for n in got["notifications"]]

    assert kinds(await inbox(bob)) == ["meeting.cancelled", "meeting.rescheduled"]
    assert kinds(await inbox(alice)) == ["meeting.rescheduled", "meeting.scheduled"]
    assert kinds(await inbox(carol)) == ["meeting.cancelled", "meeting.scheduled"]
    bobs = (await inbox(bob))["notifications"]
    assert "Reason: roof on fire" in bobs[0]["body"]
    assert "Reason: train is late" in bobs[1]["body"]
    assert "04:00 (America/New_York)" in bobs[1]["body"]  # moved to 09:00 UTC


async def test_unread_counts_and_marking_read(
    room: dict[str, Any], other_room: dict[str, Any], alice: Person, bob: Person, carol: Person
) -> None:
    first = await book(bob, await share(alice, room["id"], duration=30), "2026-12-01T08:00:00Z")
    await book(bob, await share(alice, room["id"], duration=30), "2026-12-02T08:00:00Z")
    await book(carol, await share(alice, other_room["id"], duration=30), "2026-12-03T08:00:00Z")

    got = await inbox(alice)
    assert got["unread_count"] == 3
    assert got["unread_by_room"] == {room["id"]: 2, other_room["id"]: 1}

    one = next(n for n in got["notifications"] if n["meeting_id"] == first["id"])
    await mark(alice, {"ids": [one["id"]]})
    got = await inbox(alice)
    assert got["unread_count"] == 2
    assert [n["id"] for n in got["notifications"] if n["read_at"]] == [one["id"]]
    assert [n["id"] for n in (await inbox(alice, unread="true"))["notifications"]] == [
        n["id"] for n in got["notifications"] if n["id"] != one["id"]
    ]

    await mark(alice, {"room_id": room["id"]})
    assert (await inbox(alice))["unread_by_room"] == {other_room["id"]: 1}

    # Someone else's ids and rooms mark nothing of theirs (and are not an error that leaks).
    carols = (await inbox(carol))["notifications"]
    await mark(alice, {"ids": [n["id"] for n in carols] or [999999]})
    await mark(bob, {"room_id": other_room["id"]})
    assert (await inbox(alice))["unread_count"] == 1

    await mark(alice, {"all": True})
    assert (await inbox(alice))["unread_count"] == 0
    assert (await inbox(alice, unread="true"))["notifications"] == []


async def test_pages_newest_first_with_a_cursor(
    room: dict[str, Any], alice: Person, bob: Person
) -> None:
    for day in ("01", "02", "03"):
        await book(bob, await share(alice, room["id"], duration=30), f"2026-12-{day}T08:00:00Z")
    page1 = await inbox(alice, limit=2)
    assert len(page1["notifications"]) == 2 and page1["next_cursor"]
    page2 = await inbox(alice, limit=2, cursor=page1["next_cursor"])
    assert len(page2["notifications"]) == 1 and page2["next_cursor"] is None
    ids = [n["id"] for n in page1["notifications"] + page2["notifications"]]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == 3
    bodies = [n["body"] for n in page1["notifications"] + page2["notifications"]]
    assert ["3 Dec" in bodies[0], "2 Dec" in bodies[1], "1 Dec" in bodies[2]] == [True] * 3


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"all": False},
        {"ids": []},
        {"ids": ["1"]},
        {"ids": [2**63]},
        {"all": True, "ids": [1]},
        {"x": 1},
    ],
)
async def test_mark_read_refuses_bodies_that_name_nothing(
    alice: Person, body: dict[str, Any]
) -> None:
    r = await alice.client.post("/api/v1/notifications/read", json=body)
    assert r.status_code == 422, r.text
    assert "error" in r.json()


async def test_list_refuses_bad_parameters(alice: Person, anon: Any) -> None:
    for params in ({"limit": 0}, {"limit": 201}, {"cursor": "not-ours"}, {"unread": "maybe"}):
        r = await alice.client.get("/api/v1/notifications", params=params)
        assert r.status_code == 422, (params, r.text)
    assert (await anon.get("/api/v1/notifications")).status_code == 401


async def test_the_recipient_hears_of_it_live_with_the_new_count(
    server: str, room: dict[str, Any], alice: Person, bob: Person
) -> None:
    alice_ws, _ = await connect(server, await token_of(alice))
    bob_ws, _ = await connect(server, await token_of(bob))
    invite = await share(alice, room["id"])
    meeting = await book(bob, invite, "2026-12-01T08:00:00Z")
    frame = await next_of_type(alice_ws, "notification.created")
    assert frame["data"]["kind"] == "meeting.scheduled"
    assert frame["data"]["meeting_id"] == meeting["id"]
    assert frame["data"]["unread_count"] == 1
    assert frame["data"]["id"] == (await inbox(alice))["notifications"][0]["id"]

    await alice.client.post(f"/api/v1/meetings/{meeting['id']}/cancel", json={"reason": "ill"})
    frame = await next_of_type(bob_ws, "notification.created")
    assert frame["data"]["kind"] == "meeting.cancelled"
    assert "Reason: ill" in frame["data"]["body"]
    # Alice acted: the next thing she hears of notifications is her own marking read.
    await mark(alice, {"all": True})
    read = await next_of_type(alice_ws, "notification.read")
    assert read["data"] == {"unread_count": 0, "unread_by_room": {}}
    for ws in (alice_ws, bob_ws):
        await ws.close()


async def test_simultaneous_bookings_in_one_room_tell_each_person_once(
    room: dict[str, Any], alice: Person, bob: Person, carol: Person
) -> None:
    """Two invites of one room booked at once (plus losers racing each): every recipient gets
    exactly one notification per meeting that was booked, none for the attempts that lost."""
    await alice.client.post(f"/api/v1/rooms/{room['id']}/members", json={"email": carol.email})
    first = await share(alice, room["id"], duration=30)
    second = await share(bob, room["id"], duration=30)
    attempts = [
        carol.client.post(f"/api/v1/invites/{first['id']}/book", json={"start": start})
        for start in ("2026-12-01T08:00:00Z", "2026-12-01T09:00:00Z", "2026-12-02T08:00:00Z")
    ] + [
        carol.client.post(f"/api/v1/invites/{second['id']}/book", json={"start": start})
        for start in ("2026-12-03T08:00:00Z", "2026-12-03T09:00:00Z", "2026-12-04T08:00:00Z")
    ]
    responses = await asyncio.gather(*attempts)
    booked = {r.json()["id"] for r in responses if r.status_code == 201}
    assert len(booked) == 2, [r.text for r in responses]
    for person in (alice, bob):
        got = (await inbox(person, limit=200))["notifications"]
        assert Counter((n["meeting_id"], n["kind"]) for n in got) == {
            (m, "meeting.scheduled"): 1 for m in booked
        }
    assert (await inbox(carol))["notifications"] == []


async def test_preferences_default_then_partial_updates(alice: Person, bob: Person) -> None:
    r = await alice.client.get("/api/v1/me/preferences")
    assert r.status_code == 200
    assert r.json() == {"email": True, "reminders": True, "reminder_minutes": 10}

    r = await alice.client.patch("/api/v1/me/preferences", json={"reminder_minutes": 30})
    assert r.status_code == 200
    assert r.json() == {"email": True, "reminders": True, "reminder_minutes": 30}
    r = await alice.client.patch("/api/v1/me/preferences", json={"email": False})
    assert r.json() == {"email": False, "reminders": True, "reminder_minutes": 30}
    assert (await alice.client.get("/api/v1/me/preferences")).json() == r.json()
    # Someone else's stay at the defaults.
    assert (await bob.client.get("/api/v1/me/preferences")).json()["email"] is True

    for bad in (
        {"reminder_minutes": 4},
        {"reminder_minutes": 1441},
        {"reminder_minutes": "10"},
        {"email": "yes"},
        {"email": None},
        {"push": True, "colour": 1},
    ):
        r = await alice.client.patch("/api/v1/me/preferences", json=bad)
        assert r.status_code == 422, (bad, r.text)
    assert (await alice.client.get("/api/v1/me/preferences")).json()["reminder_minutes"] == 30


async def test_simultaneous_first_saves_of_preferences_both_land(alice: Person) -> None:
    a, b = await asyncio.gather(
        alice.client.patch("/api/v1/me/preferences", json={"email": False}),
        alice.client.patch("/api/v1/me/preferences", json={"reminders": False}),
    )
    assert (a.status_code, b.status_code) == (200, 200), (a.text, b.text)
    got = (await alice.client.get("/api/v1/me/preferences")).json()
    assert got == {"email": False, "reminders": False, "reminder_minutes": 10}
