"""Meetings out against the Microsoft emulator (Graph over real HTTP): a booking's event is
written once though the first POST's answer was lost (Graph ``transactionId``), follows the
reschedule and the cancel."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from parlay.settings import Settings
from tests.conftest import Person
from tests.providers.microsoft_fixtures import (
    add_account,
    calendar_ids,
    control_fixture,
    emulator_fixture,
    fault,
    requests_log,
    sign_in,
    stored,
)
from tests.web.test_calendar_writes import book, cancel, drain, reschedule
from tests.web.test_calendars_caldav import DAY, share
from tests.web.test_scheduling import NOW

control = control_fixture
emulator = emulator_fixture


@pytest.fixture
def settings(make_settings: Any, emulator: str) -> Settings:
    return make_settings(now=NOW, microsoft_graph_url=f"{emulator}/v1.0")


async def test_book_reschedule_cancel_and_a_lost_answer(
    app: Any, room: dict[str, Any], alice: Person, bob: Person, control: httpx.Client
) -> None:
    add_account(control)
    credentials = sign_in(control, "alice@outlook.com")
    service = app.state.container.calendars
    linked = await service.provider("microsoft", credentials, "").link()
    await service.store_link(alice.id, "microsoft", linked, credentials)
    calendar = calendar_ids(control)["Calendar"]

    invite = await share(alice, room)
    fault(
        control,
        path=f"/v1.0/me/calendars/{calendar}/events",
        method="POST",
        status=504,
        when="after",
    )
    meeting = await book(bob, invite, "10:00")
    await drain(app)
    [event] = stored(control)
    posts = [r["status"] for r in requests_log(control) if r.get("method") == "POST"]
    assert posts[-2:] == [504, 201]  # the lost answer, then the retry finding the first event
    assert event["subject"] == "Meeting: Alice Adams and Bob Brown"
    assert meeting["join_url"] in str(event)
    assert event["start"]["dateTime"].startswith(f"{DAY}T10:00")

    await reschedule(bob, meeting, "12:00")
    await drain(app)
    [moved] = stored(control)
    assert moved["id"] == event["id"]
    assert moved["start"]["dateTime"].startswith(f"{DAY}T12:00")

    await cancel(alice, meeting)
    await drain(app)
    assert stored(control) == []
