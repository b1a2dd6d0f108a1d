"""Share availability, book, reschedule, cancel over HTTP, with the clock pinned (both backends).

Now is Monday 2026-11-30 08:00 UTC.  Alice (Europe/Berlin, UTC+1 in winter) shares
Mon–Fri 09:00–12:00 Berlin time.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from parlay.settings import Settings
from tests.conftest import Person

NOW = datetime.fromisoformat("2026-11-30T08:00:00+00:00")
MORNINGS = {d: [{"start": "09:00", "end": "12:00"}] for d in ("mon", "tue", "wed", "thu", "fri")}


@pytest.fixture
def settings(make_settings: Any) -> Settings:
    return make_settings(now=NOW)


async def share(person: Person, room_id: str, duration: int = 45, **extra: Any) -> dict[str, Any]:
    body = {"time_zone": "Europe/Berlin", "weekly": MORNINGS, "duration_minutes": duration, **extra}
    r = await person.client.post(f"/api/v1/rooms/{room_id}/invites", json=body)
    assert r.status_code == 201, r.text
    return dict(r.json())


async def book(person: Person, invite: dict[str, Any], start: str) -> dict[str, Any]:
    """Book ``start`` on ``invite`` as ``person``; the booking must succeed."""
    r = await person.client.post(f"/api/v1/invites/{invite['id']}/book", json={"start": start})
    assert r.status_code == 201, r.text
    return dict(r.json())


async def messages_of(person: Person, room_id: str) -> list[dict[str, Any]]:
    r = await person.client.get(f"/api/v1/rooms/{room_id}/messages", params={"limit": 200})
    return list(r.json()["messages"])


async def test_invite_posts_a_message_with_its_state(
    room: dict[str, Any], alice: Person, bob: Person
) -> None:
    invite = await share(alice, room["id"])
    assert invite["status"] == "open" and invite["host"]["id"] == alice.id
    assert invite["weekly"]["mon"] == [{"start": "09:00", "end": "12:00"}]
    assert invite["weekly"]["sat"] == []
    last = (await messages_of(bob, room["id"]))[-1]
    assert last["kind"] == "meeting_invite"
    assert last["meeting_invite"]["id"] == invite["id"]
    assert last["meeting_invite"]["status"] == "open"
    seen = await bob.client.get(f"/api/v1/invites/{invite['id']}")
    assert seen.status_code == 200 and seen.json()["duration_minutes"] == 45


@pytest.mark.parametrize(
    ("change", "code", "field"),
    [
        ({"time_zone": "Europe/Atlantis"}, "unknown_time_zone", "time_zone"),
        ({"duration_minutes": 20}, "invalid_duration", "duration_minutes"),
        ({"duration_minutes": "30"}, "invalid", "duration_minutes"),
        ({"horizon_days": 91}, "invalid", "horizon_days"),
        ({"min_notice_minutes": -1}, "invalid", "min_notice_minutes"),
        ({"weekly": {"mon": [{"start": "09:10", "end": "10:00"}]}}, "invalid_availability", None),
        (
            {
                "weekly": {
                    "mon": [{"start": "09:00", "end": "11:00"}, {"start": "10:00", "end": "12:00"}]
                }
            },
            "invalid_availability",
            None,
        ),
        ({"weekly": {"mon": [{"start": "12:00", "end": "09:00"}]}}, "invalid_availability", None),
        ({"weekly": {"funday": [{"start": "09:00", "end": "10:00"}]}}, "invalid", "weekly.funday"),
        ({"weekly": {}}, "invalid_availability", "weekly"),
    ],
)
async def test_invalid_invites_are_refused_and_write_nothing(
    room: dict[str, Any], alice: Person, change: dict[str, Any], code: str, field: str | None
) -> None:
    before = await messages_of(alice, room["id"])
    body = {"time_zone": "Europe/Berlin", "weekly": MORNINGS, "duration_minutes": 30, **change}
    r = await alice.client.post(f"/api/v1/rooms/{room['id']}/invites", json=body)
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == code
    if field is not None:
        assert error["field"] == field
    else:
        assert error["field"].startswith("weekly.mon")
    assert await messages_of(alice, room["id"]) == before


async def test_outsiders_cannot_see_or_share(
    room: dict[str, Any], alice: Person, carol: Person
) -> None:
    invite = await share(alice, room["id"])
    r = await carol.client.post(
        f"/api/v1/rooms/{room['id']}/invites",
        json={"time_zone": "UTC", "weekly": MORNINGS, "duration_minutes": 30},
    )
    assert r.status_code == 404
    for path in ("", "/dates?from=2026-12-01&to=2026-12-02", "/slots?date=2026-12-01"):
        assert (await carol.client.get(f"/api/v1/invites/{invite['id']}{path}")).status_code == 404
    r = await carol.client.post(
        f"/api/v1/invites/{invite['id']}/book", json={"start": "2026-12-01T08:00:00Z"}
    )
    assert r.status_code == 404


async def test_dates_and_slots_in_the_viewers_zone(
    room: dict[str, Any], alice: Person, bob: Person
) -> None:
    invite = await share(alice, room["id"])
    url = f"/api/v1/invites/{invite['id']}"
    dates = (
        await bob.client.get(
            f"{url}/dates", params={"from": "2026-11-29", "to": "2026-12-06", "tz": "Europe/Berlin"}
        )
    ).json()
    # Monday's 09:00 Berlin (08:00Z) is inside the 60-minute notice; 09:45 is not: Monday counts.
    assert dates == {
        "dates": ["2026-11-30", "2026-12-01", "2026-12-02", "2026-12-03", "2026-12-04"]
    }

    r = await bob.client.get(f"{url}/slots", params={"date": "2026-12-01", "tz": "Europe/Berlin"})
    assert [s["start"] for s in r.json()["slots"]] == [
        "2026-12-01T09:00:00+01:00",
        "2026-12-01T09:45:00+01:00",
        "2026-12-01T10:30:00+01:00",
        "2026-12-01T11:15:00+01:00",
    ]
    monday = (
        await bob.client.get(f"{url}/slots", params={"date": "2026-11-30", "tz": "Europe/Berlin"})
    ).json()
    # Now is 09:00 in Berlin; with 60 minutes' notice the first slot is 10:30.
    assert [s["start"][11:16] for s in monday["slots"]] == ["10:30", "11:15"]

    # Bob's own zone (America/New_York) is the default: the same instants, other wall times.
    ny = (await bob.client.get(f"{url}/slots", params={"date": "2026-12-01"})).json()
    assert ny["time_zone"] == "America/New_York"
    assert ny["slots"][0] == {
        "start": "2026-12-01T03:00:00-05:00",
        "end": "2026-12-01T03:45:00-05:00",
        "viewer_busy": False,
    }

    # Kiritimati (UTC+14) sees Tuesday's morning in Berlin on its Tuesday evening.
    kiri = (
        await bob.client.get(
            f"{url}/dates",
            params={"from": "2026-12-01", "to": "2026-12-01", "tz": "Pacific/Kiritimati"},
        )
    ).json()
    assert kiri == {"dates": ["2026-12-01"]}

    for params, field in [
        ({"from": "2026-12-05", "to": "2026-12-01"}, "to"),
        ({"from": "2026-12-01", "to": "2027-03-05"}, "to"),
        ({"from": "2026-12-01", "to": "2026-12-02", "tz": "Nope/Nope"}, "tz"),
        ({"from": "yesterday", "to": "2026-12-02"}, "from"),
    ]:
        r = await bob.client.get(f"{url}/dates", params=params)
        assert r.status_code == 422 and r.json()["error"]["field"] == field, (params, r.text)


async def test_book_then_everything_reflects_it(
    room: dict[str, Any], alice: Person, bob: Person
) -> None:
    invite = await share(alice, room["id"])
    r = await bob.client.post(
        f"/api/v1/invites/{invite['id']}/book", json={"start": "2026-12-01T09:45:00+01:00"}
    )
    assert r.status_code == 201, r.text
    meeting = r.json()
    assert meeting["start"] == "2026-12-01T08:45:00Z" and meeting["end"] == "2026-12-01T09:30:00Z"
    assert meeting["status"] == "scheduled" and meeting["sequence"] == 0
    assert meeting["host"]["id"] == alice.id and meeting["booked_by"]["id"] == bob.id
    assert {p["id"] for p in meeting["participants"]} == {alice.id, bob.id}
    assert meeting["join_url"].endswith("/m/" + meeting["join_url"].rsplit("/", 1)[1])
    assert (
        "calendar.google.com" in meeting["google_url"]
        and "20261201T084500Z" in meeting["google_url"]
    )
    assert (
        "outlook" in meeting["outlook_url"] and "2026-12-01T08%3A45%3A00Z" in meeting["outlook_url"]
    )

    again = await bob.client.post(
        f"/api/v1/invites/{invite['id']}/book", json={"start": "2026-12-01T10:30:00+01:00"}
    )
    assert again.status_code == 409 and again.json()["error"]["code"] == "invite_closed"

    shown = (await alice.client.get(f"/api/v1/invites/{invite['id']}")).json()
    assert shown["status"] == "booked" and shown["meeting"]["id"] == meeting["id"]
    history = await messages_of(alice, room["id"])
    assert history[-1]["kind"] == "meeting" and history[-1]["meeting"]["id"] == meeting["id"]
    invite_message = next(m for m in history if m["kind"] == "meeting_invite")
    assert invite_message["meeting_invite"]["status"] == "booked"

    # The booked invite still answers slots (for Reschedule): its own meeting is not busy.
    slots = (
        await bob.client.get(
            f"/api/v1/invites/{invite['id']}/slots", params={"date": "2026-12-01", "tz": "UTC"}
        )
    ).json()
    assert "2026-12-01T08:45:00+00:00" in [s["start"] for s in slots["slots"]]
    listed = (await bob.client.get("/api/v1/meetings")).json()
    assert [m["id"] for m in listed["meetings"]] == [meeting["id"]]


@pytest.mark.parametrize(
    ("start", "code", "status"),
    [
        ("2026-12-01T09:50:00+01:00", "not_a_slot", 422),  # off the 45-minute steps
        ("2026-12-01T11:45:00+01:00", "not_a_slot", 422),  # would end after 12:00
        ("2026-11-30T09:00:00+01:00", "not_a_slot", 422),  # inside the minimum notice
        ("2026-11-27T09:00:00+01:00", "not_a_slot", 422),  # in the past
        ("2026-12-05T09:00:00+01:00", "not_a_slot", 422),  # a Saturday
        ("2027-01-05T09:00:00+01:00", "not_a_slot", 422),  # past the 30-day horizon
        ("2026-12-01T09:00:00", "invalid", 422),  # no offset
        ("tomorrow", "invalid", 422),
    ],
)
async def test_bad_starts_are_refused(
    room: dict[str, Any], alice: Person, bob: Person, start: str, code: str, status: int
) -> None:
    invite = await share(alice, room["id"])
    r = await bob.client.post(f"/api/v1/invites/{invite['id']}/book", json={"start": start})
    assert r.status_code == status and r.json()["error"]["code"] == code
    assert r.json()["error"]["field"] == "start"
    assert (await bob.client.get(f"/api/v1/invites/{invite['id']}")).json()["status"] == "open"


async def test_host_cannot_book_own_invite(room: dict[str, Any], alice: Person) -> None:
    invite = await share(alice, room["id"])
    r = await alice.client.post(
        f"/api/v1/invites/{invite['id']}/book", json={"start": "2026-12-01T08:00:00Z"}
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "own_invite"


async def test_busy_across_rooms_is_slot_taken(
    room: dict[str, Any], other_room: dict[str, Any], alice: Person, bob: Person, carol: Person
) -> None:
    first = await share(alice, room["id"])
    second = await share(alice, other_room["id"])
    assert (
        await bob.client.post(
            f"/api/v1/invites/{first['id']}/book", json={"start": "2026-12-01T08:45:00Z"}
        )
    ).status_code == 201
    r = await carol.client.post(
        f"/api/v1/invites/{second['id']}/book", json={"start": "2026-12-01T08:45:00Z"}
    )
    assert r.status_code == 409 and r.json()["error"]["code"] == "slot_taken"
    slots = (
        await carol.client.get(
            f"/api/v1/invites/{second['id']}/slots", params={"date": "2026-12-01", "tz": "UTC"}
        )
    ).json()
    assert [s["start"][11:16] for s in slots["slots"]] == ["08:00", "09:30", "10:15"]


async def test_idempotent_confirm(room: dict[str, Any], alice: Person, bob: Person) -> None:
    invite = await share(alice, room["id"])
    url = f"/api/v1/invites/{invite['id']}/book"
    key = {"Idempotency-Key": "confirm-7f3a"}
    first = await bob.client.post(url, json={"start": "2026-12-01T08:00:00Z"}, headers=key)
    second = await bob.client.post(url, json={"start": "2026-12-01T08:00:00Z"}, headers=key)
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert len((await bob.client.get("/api/v1/meetings")).json()["meetings"]) == 1


async def test_reschedule_and_cancel_with_reasons(
    room: dict[str, Any], alice: Person, bob: Person
) -> None:
    invite = await share(alice, room["id"])
    meeting = await book(bob, invite, "2026-12-01T08:00:00Z")
    url = f"/api/v1/meetings/{meeting['id']}"

    r = await bob.client.post(
        f"{url}/reschedule", json={"start": "2026-12-02T09:30:00Z", "reason": "Train delayed"}
    )
    assert r.status_code == 200, r.text
    moved = r.json()
    assert moved["start"] == "2026-12-02T09:30:00Z" and moved["sequence"] == 1
    assert moved["history"][-1]["action"] == "rescheduled"
    assert moved["history"][-1]["reason"] == "Train delayed"
    assert moved["history"][-1]["from_start"] == "2026-12-01T08:00:00Z"
    history = await messages_of(alice, room["id"])
    assert history[-1]["kind"] == "meeting_update" and "Train delayed" in history[-1]["body"]
    meeting_message = next(m for m in history if m["kind"] == "meeting")
    assert meeting_message["meeting"]["start"] == "2026-12-02T09:30:00Z"  # updated in place

    bad = await bob.client.post(f"{url}/reschedule", json={"start": "2026-12-02T09:40:00Z"})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "not_a_slot"

    r = await alice.client.post(f"{url}/cancel", json={"reason": "Something came up"})
    assert r.status_code == 200 and r.json()["status"] == "cancelled" and r.json()["sequence"] == 2
    for path, body in (("cancel", {}), ("reschedule", {"start": "2026-12-03T08:00:00Z"})):
        r = await bob.client.post(f"{url}/{path}", json=body)
        assert r.status_code == 409 and r.json()["error"]["code"] == "meeting_cancelled"
    # Cancelling does not reopen the invite, and the time is free again for other invites.
    assert (await bob.client.get(f"/api/v1/invites/{invite['id']}")).json()["status"] == "booked"
    fresh = await share(alice, room["id"])
    again = await bob.client.post(
        f"/api/v1/invites/{fresh['id']}/book", json={"start": "2026-12-02T09:30:00Z"}
    )
    assert again.status_code == 201


async def test_cancel_needs_no_body_and_outsiders_get_404(
    room: dict[str, Any], alice: Person, bob: Person, carol: Person
) -> None:
    invite = await share(alice, room["id"])
    meeting = await book(bob, invite, "2026-12-01T08:00:00Z")
    url = f"/api/v1/meetings/{meeting['id']}"
    for method, path in (
        ("GET", ""),
        ("GET", "/ics"),
        ("POST", "/cancel"),
        ("POST", "/reschedule"),
    ):
        r = await carol.client.request(
            method, url + path, json={"start": "2026-12-02T08:00:00Z"} if "res" in path else None
        )
        assert r.status_code == 404, (path, r.text)
    r = await alice.client.post(f"{url}/cancel")
    assert r.status_code == 200 and r.json()["history"][-1]["reason"] is None


async def test_ics_follows_the_meeting(room: dict[str, Any], alice: Person, bob: Person) -> None:
    invite = await share(alice, room["id"])
    meeting = await book(bob, invite, "2026-12-01T08:00:00Z")
    url = f"/api/v1/meetings/{meeting['id']}"
    ics = await bob.client.get(f"{url}/ics")
    assert ics.headers["content-type"].startswith("text/calendar")
    text = ics.text
    assert f"UID:{meeting['id']}@parlay" in text and "SEQUENCE:0" in text
    assert "DTSTART:20261201T080000Z" in text and "METHOD" not in text
    unfolded = text.replace("\r\n ", "")
    organizer = next(line for line in unfolded.splitlines() if line.startswith("ORGANIZER"))
    assert "Alice Adams" in organizer and organizer.endswith(":mailto:alice@example.com")
    assert "mailto:bob@example.com" in unfolded and f"LOCATION:{meeting['join_url']}" in unfolded
    await bob.client.post(f"{url}/reschedule", json={"start": "2026-12-01T08:45:00Z"})
    await bob.client.post(f"{url}/cancel", json={"reason": "no"})
    text = (await bob.client.get(f"{url}/ics")).text
    assert f"UID:{meeting['id']}@parlay" in text and "SEQUENCE:2" in text
    assert "METHOD:CANCEL" in text and "STATUS:CANCELLED" in text


async def test_withdraw(room: dict[str, Any], alice: Person, bob: Person, carol: Person) -> None:
    invite = await share(alice, room["id"])
    url = f"/api/v1/invites/{invite['id']}"
    r = await bob.client.delete(url)
    assert r.status_code == 403 and r.json()["error"]["code"] == "not_host"
    assert (await carol.client.delete(url)).status_code == 404
    assert (await alice.client.delete(url)).status_code == 204
    assert (await alice.client.delete(url)).status_code == 409
    r = await bob.client.get(f"{url}/dates", params={"from": "2026-12-01", "to": "2026-12-02"})
    assert r.status_code == 409 and r.json()["error"]["code"] == "invite_closed"
    r = await bob.client.post(f"{url}/book", json={"start": "2026-12-01T08:00:00Z"})
    assert r.status_code == 409 and r.json()["error"]["code"] == "invite_closed"
    message = next(m for m in await messages_of(bob, room["id"]) if m["kind"] == "meeting_invite")
    assert message["meeting_invite"]["status"] == "withdrawn"


async def test_typical_availability_round_trip(alice: Person) -> None:
    default = (await alice.client.get("/api/v1/me/availability")).json()
    assert default["time_zone"] == "Europe/Berlin" and default["weekly"]["mon"] == [
        {"start": "09:00", "end": "17:00"}
    ]
    weekly = {"tue": [{"start": "13:00", "end": "24:00"}, {"start": "08:00", "end": "10:00"}]}
    r = await alice.client.put(
        "/api/v1/me/availability", json={"time_zone": "Asia/Kathmandu", "weekly": weekly}
    )
    assert r.status_code == 200
    saved = (await alice.client.get("/api/v1/me/availability")).json()
    assert saved["time_zone"] == "Asia/Kathmandu"
    assert saved["weekly"]["tue"] == [
        {"start": "08:00", "end": "10:00"},
        {"start": "13:00", "end": "24:00"},
    ]
    assert saved["weekly"]["mon"] == []
    r = await alice.client.put(
        "/api/v1/me/availability",
        json={"time_zone": "UTC", "weekly": {"tue": [{"start": "10:00", "end": "25:00"}]}},
    )
    assert r.status_code == 422
    assert (await alice.client.get("/api/v1/me/availability")).json()[
        "time_zone"
    ] == "Asia/Kathmandu"


async def test_far_dates_are_clear_errors(room: dict[str, Any], alice: Person, bob: Person) -> None:
    invite = await share(alice, room["id"])
    url = f"/api/v1/invites/{invite['id']}"
    for path, params, field in [
        ("/slots", {"date": "9999-12-31", "tz": "Pacific/Kiritimati"}, "date"),
        ("/dates", {"from": "0001-01-01", "to": "0001-01-02", "tz": "America/Adak"}, "from"),
    ]:
        r = await bob.client.get(url + path, params=params)
        assert r.status_code == 422 and r.json()["error"]["field"] == field
    for start in ("9999-12-31T23:59:00+00:00", "0001-01-01T00:00:00+00:00"):
        r = await bob.client.post(f"{url}/book", json={"start": start})
        assert r.status_code == 422 and r.json()["error"]["field"] == "start"


async def test_meeting_list_pages(room: dict[str, Any], alice: Person, bob: Person) -> None:
    for start in ("2026-12-02T08:00:00Z", "2026-12-01T08:00:00Z", "2026-12-03T08:00:00Z"):
        invite = await share(alice, room["id"])
        r = await bob.client.post(f"/api/v1/invites/{invite['id']}/book", json={"start": start})
        assert r.status_code == 201
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await alice.client.get("/api/v1/meetings", params=params)).json()
        seen += [m["start"][:10] for m in page["meetings"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ["2026-12-01", "2026-12-02", "2026-12-03"]
    window = await alice.client.get(
        "/api/v1/meetings", params={"from": "2026-12-02T00:00:00Z", "to": "2026-12-03T00:00:00Z"}
    )
    assert [m["start"][:10] for m in window.json()["meetings"]] == ["2026-12-02"]
    r = await alice.client.get("/api/v1/meetings", params={"from": "0001-01-01T00:00:00+01:00"})
    assert r.status_code == 422 and r.json()["error"]["field"] == "from"
