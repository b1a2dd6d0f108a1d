"""CalDAV end to end (issue 9): Alice links a real Radicale calendar through the API, its busy
events leave Bob's slots with no provider call on the read path, and disconnecting brings them
back at once.  Plus: refusals store nothing, the password is encrypted at rest, other people's
connections are invisible, the flags and the sync job behave as API.md "Calendars" says."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import func, select

from parlay.db.calendar_models import BusyBlock, CalendarConnection, LinkedCalendar
from parlay.services.calendars import SYNC_KIND, sync_key
from parlay.settings import Settings
from tests.conftest import Person
from tests.providers import conftest as caldav_fixtures
from tests.providers.conftest import Radicale
from tests.web.test_scheduling import NOW

DAY = "2026-12-01"  # a Tuesday inside the pinned window (NOW is 2026-11-30 08:00 UTC)
# The real Radicale and the non-CalDAV web page of the provider tests (session fixtures).
radicale = caldav_fixtures.radicale
web_page_server = caldav_fixtures.web_page_server

ALL_DAY_SLOTS = ["09:00", "10:00", "11:00", "12:00", "13:00", "14:00", "15:00", "16:00"]


@pytest.fixture
def settings(make_settings: Any) -> Settings:
    return make_settings(now=NOW)


def event(uid: str, start: str, end: str, extra: str = "") -> str:
    return (
        "BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//test//EN\nBEGIN:VEVENT\n"
        f"UID:{uid}\nDTSTAMP:20261101T000000Z\nDTSTART:{start}\nDTEND:{end}\n"
        f"SUMMARY:Busy\n{extra}END:VEVENT\nEND:VCALENDAR\n"
    )


def alice_calendar(radicale: Radicale) -> str:
    """A fresh calendar of Alice's with one event on DAY 15:00-17:00 UTC (and one that
    rule 1 does not count: transparent)."""
    calendar = radicale.make_calendar("alice", display="Work")
    radicale.put(
        "alice", calendar, "busy", event(uuid.uuid4().hex, "20261201T150000Z", "20261201T170000Z")
    )
    radicale.put(
        "alice",
        calendar,
        "free",
        event(uuid.uuid4().hex, "20261201T090000Z", "20261201T100000Z", "TRANSP:TRANSPARENT\n"),
    )
    return calendar


async def link(person: Person, radicale: Radicale, calendar: str, password: str = "") -> Any:
    return await person.client.post(
        "/api/v1/calendars/caldav",
        json={
            "url": radicale.url + calendar,
            "username": person.name,
            "password": password or "alice-app-password",
        },
    )


async def share(alice: Person, room: dict[str, Any]) -> str:
    r = await alice.client.post(
        f"/api/v1/rooms/{room['id']}/invites",
        json={
            "time_zone": "UTC",
            "weekly": {"tue": [{"start": "09:00", "end": "17:00"}]},
            "duration_minutes": 60,
        },
    )
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def slots(bob: Person, invite: str) -> list[str]:
    r = await bob.client.get(f"/api/v1/invites/{invite}/slots", params={"date": DAY, "tz": "UTC"})
    assert r.status_code == 200, r.text
    return [s["start"][11:16] for s in r.json()["slots"]]


async def count(app: Any, model: Any) -> int:
    async with app.state.ctx.db.read() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_linked_caldav_busy_time_leaves_the_offer_until_disconnected(
    app: Any, room: dict[str, Any], alice: Person, bob: Person, radicale: Radicale
) -> None:
    calendar = alice_calendar(radicale)
    invite = await share(alice, room)
    assert await slots(bob, invite) == ALL_DAY_SLOTS

    r = await link(alice, radicale, calendar)
    assert r.status_code == 201, r.text
    connection = r.json()
    assert connection["provider"] == "caldav"
    assert connection["account_email"] == "alice"
    assert connection["status"] == "active"
    assert connection["last_synced_at"] is not None  # linking fetches at once
    linked = {c["external_id"]: c for c in connection["calendars"]}
    assert linked[calendar] == {
        "external_id": calendar,
        "name": "Work",
        "primary": True,
        "check_conflicts": True,
        "write_events": True,
    }
    assert all(
        not c["check_conflicts"] and not c["write_events"]
        for key, c in linked.items()
        if key != calendar
    )

    # Busy 15:00-17:00 in her calendar: Bob's slots that day end at 15:00 (the transparent
    # 09:00 event does not count).
    assert await slots(bob, invite) == ALL_DAY_SLOTS[:6]
    r = await bob.client.post(f"/api/v1/invites/{invite}/book", json={"start": f"{DAY}T15:00:00Z"})
    assert r.status_code == 409 and r.json()["error"]["code"] == "slot_taken"

    r = await alice.client.get("/api/v1/calendars")
    assert r.status_code == 200
    assert r.json() == {"calendars": [connection], "next_cursor": None}

    r = await alice.client.delete(f"/api/v1/calendars/{connection['id']}")
    assert r.status_code == 204
    assert await slots(bob, invite) == ALL_DAY_SLOTS
    assert (await alice.client.get("/api/v1/calendars")).json()["calendars"] == []
    assert await count(app, BusyBlock) == 0


async def test_wrong_password_or_no_caldav_server_stores_nothing(
    app: Any, alice: Person, radicale: Radicale, web_page_server: str
) -> None:
    calendar = radicale.make_calendar("alice")
    r = await link(alice, radicale, calendar, password="wrong-password")
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "caldav_auth"
    r = await alice.client.post(
        "/api/v1/calendars/caldav",
        json={"url": web_page_server, "username": "alice", "password": "x"},
    )
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "caldav_unreachable"
    for model in (CalendarConnection, LinkedCalendar, BusyBlock):
        assert await count(app, model) == 0
    assert (await alice.client.get("/api/v1/calendars")).json()["calendars"] == []


async def test_the_password_is_encrypted_at_rest(
    app: Any, alice: Person, radicale: Radicale
) -> None:
    r = await link(alice, radicale, radicale.make_calendar("alice"))
    assert r.status_code == 201, r.text
    assert "password" not in r.text and "alice-app-password" not in r.text
    async with app.state.ctx.db.read() as session:
        secret = await session.scalar(select(CalendarConnection.secret))
    assert secret and "alice-app-password" not in secret and "alice" not in secret
    # ... and decryptable with the application's key only.
    credentials = app.state.container.calendars.unseal(secret)
    assert credentials.password == "alice-app-password"


async def test_other_people_cannot_see_change_sync_or_delete_a_connection(
    app: Any, alice: Person, bob: Person, radicale: Radicale
) -> None:
    calendar = radicale.make_calendar("alice")
    connection = (await link(alice, radicale, calendar)).json()
    url = f"/api/v1/calendars/{connection['id']}"
    assert (await bob.client.get("/api/v1/calendars")).json()["calendars"] == []
    for answer in (
        await bob.client.delete(url),
        await bob.client.post(f"{url}/sync"),
        await bob.client.patch(
            url, json={"calendars": [{"external_id": calendar, "check_conflicts": False}]}
        ),
    ):
        assert answer.status_code == 404
        assert answer.json()["error"]["code"] == "not_found"
    assert (await alice.client.get("/api/v1/calendars")).json()["calendars"] == [connection]


async def test_flags_reconnecting_in_place_and_the_sync_job(
    app: Any, room: dict[str, Any], alice: Person, bob: Person, radicale: Radicale
) -> None:
    calendar = alice_calendar(radicale)
    other = radicale.make_calendar("alice", display="Other")
    invite = await share(alice, room)
    connection = (await link(alice, radicale, calendar)).json()
    url = f"/api/v1/calendars/{connection['id']}"

    # check_conflicts off: the busy time stops counting at once.
    r = await alice.client.patch(
        url, json={"calendars": [{"external_id": calendar, "check_conflicts": False}]}
    )
    assert r.status_code == 200, r.text
    assert await slots(bob, invite) == ALL_DAY_SLOTS
    # write_events on another calendar turns it off for the first (one per user).
    r = await alice.client.patch(
        url, json={"calendars": [{"external_id": other, "write_events": True}]}
    )
    flags = {c["external_id"]: c["write_events"] for c in r.json()["calendars"]}
    assert flags[other] is True and flags[calendar] is False and sum(flags.values()) == 1
    r = await alice.client.patch(
        url, json={"calendars": [{"external_id": "/alice/nope/", "write_events": True}]}
    )
    assert r.status_code == 422

    # check_conflicts back on queues a sync; the worker runs it and the busy time is back.
    r = await alice.client.patch(
        url, json={"calendars": [{"external_id": calendar, "check_conflicts": True}]}
    )
    assert r.status_code == 200
    worker = app.state.container.worker()
    assert await worker.run_one()
    assert await slots(bob, invite) == ALL_DAY_SLOTS[:6]

    # A new event and POST /sync (202): after the worker's sync, 10:00-11:00 is busy too.
    radicale.put(
        "alice", calendar, "late", event(uuid.uuid4().hex, "20261201T100000Z", "20261201T110000Z")
    )
    r = await alice.client.post(f"{url}/sync")
    assert r.status_code == 202
    async with app.state.ctx.db.read() as session:
        from parlay.db.scheduling_models import OutboxJob

        jobs = (
            await session.execute(
                select(OutboxJob.kind, OutboxJob.dedupe_key).where(OutboxJob.status == "pending")
            )
        ).all()
    assert [(SYNC_KIND, sync_key(connection["id"]))] == [tuple(j) for j in jobs]
    assert await worker.run_one()
    assert await slots(bob, invite) == ["09:00", "11:00", "12:00", "13:00", "14:00"]

    # Linking the same account again restores the connection in place, flags kept.
    again = (await link(alice, radicale, calendar)).json()
    assert again["id"] == connection["id"]
    assert {c["external_id"]: c["write_events"] for c in again["calendars"]}[other] is True
    assert len((await alice.client.get("/api/v1/calendars")).json()["calendars"]) == 1


def test_secrets_survive_a_key_rotation_and_refuse_a_foreign_key() -> None:
    from parlay.services.secrets import SecretBox, SecretUnreadable

    old = SecretBox("old-key")
    sealed = old.encrypt({"password": "p"})
    rotated = SecretBox("new-key", "old-key")
    assert rotated.decrypt(sealed) == {"password": "p"}
    assert SecretBox("new-key").decrypt(rotated.rotate(sealed)) == {"password": "p"}
    with pytest.raises(SecretUnreadable):
        SecretBox("someone-else").decrypt(sealed)
    assert "old-key" not in repr(old)


async def test_a_refused_password_asks_to_reconnect_and_reconnecting_restores(
    app: Any, room: dict[str, Any], alice: Person, bob: Person, radicale: Radicale
) -> None:
    from parlay.db.models import Event
    from parlay.providers.dto import Credentials

    calendar = alice_calendar(radicale)
    invite = await share(alice, room)
    connection = (await link(alice, radicale, calendar)).json()
    service = app.state.container.calendars
    # The app password is revoked at the server (here: the stored one no longer matches).
    async with app.state.ctx.db.write() as session:
        row = await session.get(CalendarConnection, connection["id"])
        row.secret = service.seal(
            Credentials(url=radicale.url + calendar, username="alice", password="revoked")
        )
    assert (
        await alice.client.post(f"/api/v1/calendars/{connection['id']}/sync")
    ).status_code == 202
    assert await app.state.container.worker().run_one()
    [seen] = (await alice.client.get("/api/v1/calendars")).json()["calendars"]
    assert seen["status"] == "needs_reauth" and seen["status_detail"]
    async with app.state.ctx.db.read() as session:
        events = (
            (await session.execute(select(Event.data).where(Event.type == "calendar.status")))
            .scalars()
            .all()
        )
    assert events == [
        {"id": connection["id"], "status": "needs_reauth", "status_detail": seen["status_detail"]}
    ]
    # Bookings go on, with the busy times last stored.
    assert await slots(bob, invite) == ALL_DAY_SLOTS[:6]
    # Connecting the same account again restores the connection in place.
    again = (await link(alice, radicale, calendar)).json()
    assert again["id"] == connection["id"] and again["status"] == "active"
    assert again.get("status_detail") is None
    async with app.state.ctx.db.read() as session:
        last = await session.scalar(
            select(Event.data).where(Event.type == "calendar.status").order_by(Event.id.desc())
        )
    assert last == {"id": connection["id"], "status": "active"}
