"""Schemathesis against the in-process app: no generated request may get a 5xx.

Requests go through schemathesis' ASGI client, authenticated with a personal access token, so
authenticated operations run their real code.  Half of the generated ``room_id`` /
``invite_id`` / ``meeting_id`` values (chosen by the generated value itself, so a failure
replays) are swapped for ids that exist and that the caller may see, so the handlers behind the
404 are exercised too.  SQLite only; ``MAX_EXAMPLES`` random examples per operation
(positive and negative) after schemathesis' boundary cases.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from parlay.main import create_app
from parlay.settings import Settings
from tests.conftest import Person, sign_up_and_in

#: Random examples per operation, on top of schemathesis' boundary ("coverage") cases.
MAX_EXAMPLES = 25
#: No generated request may take longer than this (they take milliseconds).
REQUEST_TIMEOUT_SECONDS = 60
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass
class Api:
    """The caller (Alice) and ids of things she can see."""

    token: str
    ids: dict[str, str] = field(default_factory=dict)

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


async def _try(what: str, response: httpx.Response, expected: int) -> dict[str, Any] | None:
    """The JSON of a setup step, or None (the step is skipped, with a note) if it failed."""
    if response.status_code != expected:
        print(f"schemathesis setup: {what} gave {response.status_code}: {response.text[:200]}")
        return None
    return dict(response.json())


async def _seed(settings_: Settings) -> Api:
    """Alice and Bob share a room; Bob shares availability; Alice books a meeting from it."""
    app = create_app(settings_)
    async with app.router.lifespan_context(app):
        alice: Person = await sign_up_and_in(app, "alice")
        bob: Person = await sign_up_and_in(app, "bob")
        try:
            r = await alice.client.post("/api/v1/me/tokens", json={"name": "schemathesis"})
            assert r.status_code == 201, r.text
            api = Api(token=r.json()["token"])
            r = await alice.client.post(
                "/api/v1/rooms", json={"title": "Fuzz room", "member_emails": [bob.email]}
            )
            assert r.status_code == 201, r.text
            api.ids["room_id"] = r.json()["id"]
            await _seed_scheduling(api, alice, bob)
        finally:
            await alice.client.aclose()
            await bob.client.aclose()
    return api


async def _seed_scheduling(api: Api, alice: Person, bob: Person) -> None:
    """Best effort: an invite by Bob and a meeting Alice booked from it (and a second invite)."""
    weekly = {day: [{"start": "00:00", "end": "24:00"}] for day in WEEKDAYS}
    body = {"time_zone": "UTC", "weekly": weekly, "duration_minutes": 30, "min_notice_minutes": 0}
    url = f"/api/v1/rooms/{api.ids['room_id']}/invites"
    booked = await _try("invite", await bob.client.post(url, json=body), 201)
    if booked is None:
        return
    api.ids["invite_id"] = booked["id"]
    first = date.today() + timedelta(days=2)
    r = await alice.client.get(
        f"/api/v1/invites/{booked['id']}/slots", params={"date": first.isoformat(), "tz": "UTC"}
    )
    slots = await _try("slots", r, 200)
    if not slots or not slots.get("slots"):
        return
    r = await alice.client.post(
        f"/api/v1/invites/{booked['id']}/book", json={"start": slots["slots"][0]["start"]}
    )
    meeting = await _try("book", r, 201)
    if meeting is not None:
        api.ids["meeting_id"] = meeting["id"]
        # The booked invite stays reachable through the meeting; fuzz an open one as well.
        fresh = await _try("second invite", await bob.client.post(url, json=body), 201)
        if fresh is not None:
            api.ids["invite_id"] = fresh["id"]


class _Forward:
    """The ASGI app schemathesis calls: forwards to the app the module fixture builds.

    The schema is needed when tests are collected, the database only when they run; the
    operations do not depend on the database, so the schema comes from an app built for it.
    """

    app: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        assert self.app is not None, "the api fixture has not run"
        await self.app(scope, receive, send)


_target = _Forward()
_openapi = create_app(
    Settings(env="test", database_url="sqlite:///:memory:", secret_key="schema-only")
).openapi()
schema = schemathesis.openapi.from_dict(_openapi)
schema.app = _target


@pytest.fixture(scope="module")
def api(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    base = tmp_path_factory.mktemp("schemathesis")
    shutil.copy(sqlite_template, base / "parlay.db")
    settings_ = Settings(
        env="test",
        database_url=f"sqlite:///{base / 'parlay.db'}",
        data_dir=base / "var",
        secret_key="test-secret-key",
        event_poll_seconds=0.2,
    )
    seeded = asyncio.run(_seed(settings_))
    # A second app on the same database for schemathesis: its ASGI client runs the lifespan
    # on its own event-loop thread, where this app's engine and hub then live.
    _target.app = create_app(settings_)
    try:
        yield seeded
    finally:
        with contextlib.suppress(Exception):
            from schemathesis.python import asgi

            asgi.shutdown_lifespans()  # stop the app's hub and close its database
        _target.app = None


def _use_real_ids(case: Any, api: Api) -> None:
    for params in (case.path_parameters, case.query):
        if not isinstance(params, dict):
            continue
        for name, real in api.ids.items():
            if name in params and len(str(params[name])) % 2 == 0:
                params[name] = real


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors(case: Any, api: Api) -> None:
    _use_real_ids(case, api)
    # A request that never answers fails its operation (by name) instead of hanging the suite.
    case.call_and_validate(
        headers=api.auth, checks=[not_a_server_error], timeout=REQUEST_TIMEOUT_SECONDS
    )
