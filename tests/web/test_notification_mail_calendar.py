"""No duplicate event (API.md "Notifications"): someone whose linked calendar (a real Radicale)
receives the meeting gets the e-mail without the invitation; the others get the invitation."""

from __future__ import annotations

from typing import Any

import pytest

from parlay.settings import Settings
from tests.conftest import Person
from tests.providers import conftest as caldav_fixtures
from tests.providers.conftest import Radicale
from tests.web.test_calendar_writes import held, linked
from tests.web.test_notification_mail import (
    Catcher,
    drain,
    invitation,
    smtp,  # noqa: F401  (fixture)
    smtp_port,  # noqa: F401  (fixture)
    text_of,
)
from tests.web.test_scheduling import NOW, book, share

radicale = caldav_fixtures.radicale


@pytest.fixture
def settings(make_settings: Any, smtp_port: int) -> Settings:  # noqa: F811
    return make_settings(
        now=NOW, base_url="https://parlay.example", smtp_host="127.0.0.1", smtp_port=smtp_port
    )


async def test_a_linked_calendar_gets_the_event_and_the_mail_no_invitation(
    app: Any,
    room: dict[str, Any],
    alice: Person,
    bob: Person,
    radicale: Radicale,
    smtp: Catcher,  # noqa: F811
) -> None:
    calendar, _ = await linked(app, alice, radicale)
    meeting = await book(bob, await share(alice, room["id"], duration=30), "2026-12-01T08:00:00Z")
    await drain(app)
    assert len(held(radicale, calendar)) == 1  # the one event she gets

    (alices,) = smtp.to(alice.email)
    assert invitation(alices) is None
    plain, html = text_of(alices)
    assert meeting["join_url"] in plain and "09:00 (Europe/Berlin)" in plain
    assert "linked calendar" in plain and "linked calendar" in html

    (bobs,) = smtp.to(bob.email)
    bob_calendar = invitation(bobs)
    assert bob_calendar is not None and bob_calendar["METHOD"] == "REQUEST"
