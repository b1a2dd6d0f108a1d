"""Webhooks (API.md "Notifications"): a receiver started by the test verifies every signature
and sees each meeting event once after failing the first two attempts; the delivery log says
so; only the owner's own meetings are sent; production refuses private and loopback URLs and
the server itself (SSRF)."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections import Counter
from typing import Any

import httpx
import pytest

from parlay.settings import Settings
from tests.conftest import Person
from tests.web.local_http import Received, Recorder, serving
from tests.web.test_notification_mail import drain
from tests.web.test_scheduling import NOW, book, share


@pytest.fixture
def settings(make_settings: Any) -> Settings:
    return make_settings(now=NOW)


def verify(secret: str, request: Received) -> dict[str, Any]:
    """What a receiver does: check ``Parlay-Signature`` over ``"<t>.<body>"``, then parse."""
    fields = dict(part.split("=", 1) for part in request.headers["parlay-signature"].split(","))
    signed = f"{fields['t']}.".encode() + request.body
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(fields["v1"], expected), "bad signature"
    event: dict[str, Any] = json.loads(request.body)
    assert request.headers["parlay-event-id"] == event["id"]
    assert request.headers["content-type"] == "application/json"
    return event


def fail_twice() -> Recorder:
    """A receiver that answers 500 to the first two attempts of every event, then 200."""
    seen: Counter[str] = Counter()

    def answer(request: Received) -> int:
        event = request.headers.get("parlay-event-id", "")
        seen[event] += 1
        return 500 if seen[event] <= 2 else 200

    return Recorder(answer)


async def register(person: Person, url: str, events: list[str] | None = None) -> dict[str, Any]:
    r = await person.client.post(
        "/api/v1/webhooks",
        json={
            "url": url,
            "events": events or ["meeting.scheduled", "meeting.rescheduled", "meeting.cancelled"],
        },
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


async def test_each_event_arrives_signed_once_after_two_failures(
    app: Any, room: dict[str, Any], alice: Person, bob: Person, carol: Person
) -> None:
    receiver = fail_twice()
    async with serving(receiver) as origin:
        hook = await register(alice, f"{origin}/alice")
        assert hook["secret"] and hook["url"] == f"{origin}/alice"
        outsider = await register(carol, f"{origin}/carol")  # not in the room
        listed = (await alice.client.get("/api/v1/webhooks")).json()
        assert [h["id"] for h in listed["webhooks"]] == [hook["id"]]
        assert "secret" not in listed["webhooks"][0]  # shown once

        meeting = await book(
            bob, await share(alice, room["id"], duration=30), "2026-12-01T08:00:00Z"
        )
        r = await bob.client.post(
            f"/api/v1/meetings/{meeting['id']}/reschedule",
            json={"start": "2026-12-01T09:00:00Z", "reason": "clash"},
        )
        assert r.status_code == 200, r.text
        r = await alice.client.post(f"/api/v1/meetings/{meeting['id']}/cancel", json={})
        assert r.status_code == 200, r.text
        assert receiver.requests == []  # never inside the request
        await drain(app, limit=200)
        await drain(app, limit=200)  # nothing is left to send

    assert all(r.path == "/alice" for r in receiver.requests)  # Carol's meeting? none
    events = [verify(hook["secret"], r) for r in receiver.requests]
    ids = list(dict.fromkeys(e["id"] for e in events))
    assert len(ids) == 3
    for event_id in ids:  # two failures, then one success, then nothing more
        statuses = [
            r.status for r, e in zip(receiver.requests, events, strict=True) if e["id"] == event_id
        ]
        assert statuses == [500, 500, 200]
    delivered = {
        e["id"]: e for e, r in zip(events, receiver.requests, strict=True) if r.status == 200
    }
    by_type = {e["type"]: e for e in delivered.values()}
    assert set(by_type) == {"meeting.scheduled", "meeting.rescheduled", "meeting.cancelled"}
    assert by_type["meeting.scheduled"]["data"]["id"] == meeting["id"]
    assert by_type["meeting.scheduled"]["data"]["start"].startswith("2026-12-01T08:00:00")
    assert by_type["meeting.rescheduled"]["data"]["start"].startswith("2026-12-01T09:00:00")
    assert by_type["meeting.cancelled"]["data"]["status"] == "cancelled"
    assert {e["created_at"] for e in delivered.values()} == {NOW.isoformat()}

    r = await alice.client.get(f"/api/v1/webhooks/{hook['id']}/deliveries")
    assert r.status_code == 200, r.text
    log = r.json()["deliveries"]
    assert [d["type"] for d in log] == [
        "meeting.cancelled",
        "meeting.rescheduled",
        "meeting.scheduled",
    ]
    for entry in log:
        assert entry["status"] == "delivered" and entry["attempts"] == 3
        assert entry["last_status_code"] == 200 and entry["event_id"] in delivered
    r = await carol.client.get(f"/api/v1/webhooks/{outsider['id']}/deliveries")
    assert r.json()["deliveries"] == []
    # Nobody else reads (or deletes) Alice's webhook.
    r = await bob.client.get(f"/api/v1/webhooks/{hook['id']}/deliveries")
    assert r.status_code == 404
    assert (await bob.client.delete(f"/api/v1/webhooks/{hook['id']}")).status_code == 404


async def test_only_the_chosen_events_and_deleted_webhooks_send_nothing(
    app: Any, room: dict[str, Any], alice: Person, bob: Person
) -> None:
    receiver = Recorder(lambda _r: 204)
    async with serving(receiver) as origin:
        cancels = await register(alice, f"{origin}/cancels", ["meeting.cancelled"])
        gone = await register(bob, f"{origin}/gone")
        r = await bob.client.delete(f"/api/v1/webhooks/{gone['id']}")
        assert r.status_code == 204
        meeting = await book(bob, await share(alice, room["id"]), "2026-12-01T08:00:00Z")
        await drain(app, limit=100)
        assert receiver.requests == []
        r = await bob.client.post(f"/api/v1/meetings/{meeting['id']}/cancel", json={})
        assert r.status_code == 200, r.text
        await drain(app, limit=100)
    (request,) = receiver.requests
    assert request.path == "/cancels"
    assert verify(cancels["secret"], request)["type"] == "meeting.cancelled"


@pytest.mark.parametrize(
    "body",
    [
        {"url": "ftp://example.com/x", "events": ["meeting.scheduled"]},
        {"url": "https://example.com/x", "events": []},
        {"url": "https://example.com/x", "events": ["meeting.moved"]},
        {"url": "https://example.com/x"},
        {"url": "https://[broken/x", "events": ["meeting.scheduled"]},
    ],
)
async def test_bad_webhooks_are_refused(alice: Person, body: dict[str, Any]) -> None:
    r = await alice.client.post("/api/v1/webhooks", json=body)
    assert r.status_code == 422, r.text
    assert "error" in r.json()
    assert (await alice.client.get("/api/v1/webhooks")).json()["webhooks"] == []


@pytest.fixture
def production(make_settings: Any) -> Settings:
    return make_settings(env="production", secret_key="p" * 40, base_url="https://parlay.example")


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_production_refuses_private_loopback_and_itself(production: Settings) -> None:
    from parlay.main import create_app

    app = create_app(production)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="https://testserver"
        ) as client,
    ):
        r = await client.post(
            "/api/v1/auth/signup",
            json={
                "email": "ops@example.com",
                "password": "correct horse battery",
                "display_name": "Ops",
                "time_zone": "UTC",
            },
        )
        assert r.status_code == 201, r.text
        r = await client.post(
            "/api/v1/auth/login",
            json={"email": "ops@example.com", "password": "correct horse battery"},
        )
        client.headers["X-CSRF-Token"] = r.json()["csrf_token"]
        for url in (
            "http://127.0.0.1:8080/hook",
            "http://localhost/hook",
            "http://10.1.2.3/hook",
            "http://[::1]/hook",
            "http://169.254.169.254/latest/meta-data",
            "https://parlay.example/api/v1/rooms",
        ):
            r = await client.post(
                "/api/v1/webhooks", json={"url": url, "events": ["meeting.scheduled"]}
            )
            assert r.status_code == 422, (url, r.text)
            assert r.json()["error"]["code"] == "url_not_allowed"
            assert r.json()["error"]["field"] == "url"
        r = await client.post(
            "/api/v1/webhooks",
            json={"url": "https://93.184.215.14/hook", "events": ["meeting.scheduled"]},
        )
        assert r.status_code == 201, r.text
